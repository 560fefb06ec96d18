// The serverless.* rules that span keys (workers, scaler, bucket), the warnings target serverless gives, and
// the typed serverless section handed to ServerlessEndpoint.
import * as pulumi from "@pulumi/pulumi";
import { failed, issue, type LooseValues, type RefineCtx, type ValuesOf } from "./keyInfo";
import { DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_SCALER_VALUE, type serverlessFields } from "./serverlessFields";

const BUCKET_KEYS = ["serverless.bucketAccessKeyId", "serverless.bucketSecretAccessKey"] as const;

export function checkServerless(v: LooseValues, ctx: RefineCtx): void {
  const min = v["serverless.workersMin"];
  const max = v["serverless.workersMax"];
  if (typeof min === "number" && typeof max === "number" && max < min) {
    issue(
      ctx,
      `${max} is below serverless.workersMin ${min}`,
      "serverless.workersMax",
      `pulumi config set serverless.workersMax ${min} (or pulumi config set serverless.workersMin ${max})`,
    );
  }
  if (v["serverless.scalerType"] === "REQUEST_COUNT") {
    if (v["serverless.idleTimeoutSeconds"] !== undefined) {
      issue(
        ctx,
        "applies to QUEUE_DELAY scaling only: RunPod rejects an idle timeout on an endpoint that scales on REQUEST_COUNT",
        "serverless.idleTimeoutSeconds",
        "pulumi config rm serverless.idleTimeoutSeconds (or pulumi config set serverless.scalerType QUEUE_DELAY)",
      );
    }
    const value = v["serverless.scalerValue"];
    if (typeof value === "number" && !failed(ctx, "serverless.scalerValue") && (!Number.isInteger(value) || value > 1000)) {
      issue(
        ctx,
        "with REQUEST_COUNT scaling it is a whole number of jobs per worker, 1 to 1000",
        "serverless.scalerValue",
        `pulumi config set serverless.scalerValue ${DEFAULT_SCALER_VALUE}`,
      );
    }
  }
  checkBucket(v, ctx);
}

/** The bucket for large videos: an endpoint URL with both keys, or nothing of it. */
function checkBucket(v: LooseValues, ctx: RefineCtx): void {
  const url = v["serverless.bucketEndpointUrl"] !== undefined;
  const set = [...BUCKET_KEYS, "serverless.bucketName"].filter((key) => v[key] !== undefined);
  if (url) {
    for (const key of BUCKET_KEYS.filter((k) => v[k] === undefined)) {
      issue(ctx, "serverless.bucketEndpointUrl is set, so the worker needs both bucket keys to upload to it", key);
    }
  } else if (set.length > 0) {
    issue(
      ctx,
      `${set.join(", ")} ${set.length === 1 ? "is" : "are"} set, but without a bucket endpoint the worker never uses ${set.length === 1 ? "it" : "them"}`,
      "serverless.bucketEndpointUrl",
      `pulumi config set serverless.bucketEndpointUrl https://<bucket endpoint> (or pulumi config rm ${set.join(", pulumi config rm ")})`,
    );
  }
}

/** What target serverless tells the user without refusing the config. */
export function serverlessWarnings(v: LooseValues, given: ReadonlySet<string>): string[] {
  const warnings: string[] = [];
  const min = v["serverless.workersMin"];
  if (typeof min === "number" && min > 0) {
    const workers = min === 1 ? "1 worker stays" : `${min} workers stay`;
    warnings.push(
      `serverless.workersMin is ${min}: ${workers} running and billed every second, busy or idle (RunPod discounts such ` +
        "active workers by up to 30%); pulumi config set serverless.workersMin 0 lets the endpoint scale to zero",
    );
  }
  if (given.has("checks.vram")) {
    warnings.push(
      "checks.vram does not apply to target serverless: its workers are reached only through the job API, which reports " +
        "no GPU memory; the health and generate checks run (pulumi config rm checks.vram)",
    );
  }
  return warnings;
}

export function serverlessSection(v: ValuesOf<ReturnType<typeof serverlessFields>>) {
  const queueDelay = v["serverless.scalerType"] === "QUEUE_DELAY";
  const url = v["serverless.bucketEndpointUrl"];
  const keyId = v["serverless.bucketAccessKeyId"];
  const secretKey = v["serverless.bucketSecretAccessKey"];
  return {
    gpuTypes: v["serverless.gpuTypes"],
    gpuCount: v["serverless.gpuCount"],
    workersMin: v["serverless.workersMin"],
    workersMax: v["serverless.workersMax"],
    /** Undefined with REQUEST_COUNT scaling, which takes no idle timeout. */
    idleTimeoutSeconds: queueDelay ? (v["serverless.idleTimeoutSeconds"] ?? DEFAULT_IDLE_TIMEOUT_SECONDS) : undefined,
    scalerType: v["serverless.scalerType"],
    scalerValue: v["serverless.scalerValue"] ?? DEFAULT_SCALER_VALUE,
    flashboot: v["serverless.flashboot"],
    executionTimeoutSeconds: v["serverless.executionTimeoutSeconds"],
    dataCenterIds: v["serverless.dataCenterIds"],
    networkVolumeId: v["serverless.networkVolumeId"],
    containerDiskGb: v["serverless.containerDiskGb"],
    maxInlineVideoMb: v["serverless.maxInlineVideoMb"],
    bucket:
      url !== undefined && keyId !== undefined && secretKey !== undefined
        ? {
            endpointUrl: url,
            name: v["serverless.bucketName"],
            accessKeyId: pulumi.secret(keyId),
            secretAccessKey: pulumi.secret(secretKey),
          }
        : undefined,
  };
}
