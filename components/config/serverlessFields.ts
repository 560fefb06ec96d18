// serverless.*: target serverless, the same image as a RunPod queue endpoint whose workers scale from zero.
// Bounds and defaults follow RunPod's v2 spec (runpod/docs api-reference-v2/openapi.json, commit 081392fe:
// CreateEndpointRequest, EndpointWorkers, QueueDelayScaling, RequestCountScaling, BaseEndpointGpuConfig) and
// its endpoint settings page (serverless/endpoints/endpoint-configurations.mdx); where the two differ, the
// chosen default says why.
import { z } from "zod";
import { boolText, intText, numberText, token } from "./codecs";
import { field, issue, type ListFix } from "./keyInfo";
import { DEFAULT_GPU_TYPES, dataCenterList, gpuTypeList } from "./podFields";

export const SCALER_TYPES = ["QUEUE_DELAY", "REQUEST_COUNT"] as const;
/** A worker stays up this long after its last job, so a follow-up job skips the multi-minute model load. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 60;
/** Both scalers default to 4 on RunPod (queue delay 4 s; request count 4 per worker). */
export const DEFAULT_SCALER_VALUE = 4;

export function serverlessFields(listFix: ListFix) {
  return {
    "serverless.gpuTypes": field(
      {
        type: "array",
        expected: "a non-empty list of RunPod GPU type ids for the workers, most preferred first, without repeats (as pod.gpuTypes)",
        fix: listFix("serverless.gpuTypes", DEFAULT_GPU_TYPES),
      },
      gpuTypeList(DEFAULT_GPU_TYPES),
    ),
    "serverless.gpuCount": field(
      { type: "integer", expected: "an integer from 1 to 8 (GPUs per worker)", fix: "pulumi config set serverless.gpuCount 1" },
      intText(1, 8).default(1),
    ),
    "serverless.workersMin": field(
      {
        type: "integer",
        expected: "an integer from 0 to 100 (workers kept running at all times; 0 = scale to zero, nothing billed while idle)",
        fix: "pulumi config set serverless.workersMin 0",
      },
      intText(0, 100).default(0),
    ),
    "serverless.workersMax": field(
      {
        type: "integer",
        expected: "an integer from 1 to 100, at least serverless.workersMin (the most workers, and so GPUs, billed at once)",
        fix: "pulumi config set serverless.workersMax 3",
      },
      // RunPod's default; it also caps the spend: at most this many workers bill at the same time.
      intText(1, 100).default(3),
    ),
    "serverless.idleTimeoutSeconds": field(
      {
        type: "integer",
        expected:
          `an integer from 1 to 3600 (seconds an idle worker stays up, billed, before it scales down; unset = ${DEFAULT_IDLE_TIMEOUT_SECONDS}; ` +
          "queue-delay scaling only)",
        fix: `pulumi config set serverless.idleTimeoutSeconds ${DEFAULT_IDLE_TIMEOUT_SECONDS} (or pulumi config rm serverless.idleTimeoutSeconds)`,
        optional: true,
      },
      intText(1, 3600).optional(),
    ),
    "serverless.scalerType": field(
      {
        type: "string",
        expected: "QUEUE_DELAY (add a worker when a job waits longer than serverless.scalerValue seconds) or REQUEST_COUNT (one worker per serverless.scalerValue jobs)",
        fix: "pulumi config set serverless.scalerType QUEUE_DELAY",
      },
      z.enum(SCALER_TYPES, "unknown scaler type").default("QUEUE_DELAY"),
    ),
    "serverless.scalerValue": field(
      {
        type: "number",
        expected:
          `for QUEUE_DELAY seconds from 0.5 to 3600, for REQUEST_COUNT a whole number of jobs from 1 to 1000 (unset = ${DEFAULT_SCALER_VALUE})`,
        fix: `pulumi config set serverless.scalerValue ${DEFAULT_SCALER_VALUE} (or pulumi config rm serverless.scalerValue)`,
        optional: true,
      },
      numberText(0.5, 3600).optional(),
    ),
    "serverless.flashboot": field(
      {
        type: "boolean",
        expected: "true or false (RunPod keeps a stopped worker's resources for a while so it restarts faster; no extra cost)",
        fix: "pulumi config set serverless.flashboot true",
      },
      boolText().default(true),
    ),
    "serverless.executionTimeoutSeconds": field(
      {
        type: "integer",
        expected: "an integer from 10 to 86400 (seconds one job may run before RunPod stops it; 24 h is RunPod's maximum)",
        fix: "pulumi config set serverless.executionTimeoutSeconds 1800",
      },
      // A SteadyDancer generation takes minutes; RunPod's own default (600 s docs, 300 s spec) would cut it off.
      intText(10, 86400).default(1800),
    ),
    "serverless.dataCenterIds": field(
      {
        type: "array",
        expected: "a list of RunPod data center ids such as EU-RO-1 where workers may run (empty = any)",
        fix: listFix("serverless.dataCenterIds", ["EU-RO-1", "US-KS-2"]),
      },
      dataCenterList(),
    ),
    "serverless.networkVolumeId": field(
      {
        type: "string",
        expected:
          "a RunPod network volume id holding the models (mounted in every worker; pins the workers to the volume's data centre)",
        fix: "pulumi config set serverless.networkVolumeId <volume-id> (or pulumi config rm serverless.networkVolumeId)",
        optional: true,
      },
      token("the id").optional(),
    ),
    "serverless.containerDiskGb": field(
      {
        type: "integer",
        expected: "an integer from 20 to 4096 (GB of each worker's container disk, where the models go without a network volume)",
        fix: "pulumi config set serverless.containerDiskGb 60",
      },
      intText(20, 4096).default(60),
    ),
    "serverless.maxInlineVideoMb": field(
      {
        type: "integer",
        expected: "an integer from 1 to 100 (MiB: a video up to this size comes back in the job output as base64; a larger one goes to the bucket)",
        fix: "pulumi config set serverless.maxInlineVideoMb 10",
      },
      intText(1, 100).default(10),
    ),
    "serverless.bucketEndpointUrl": field(
      {
        type: "string",
        expected:
          "the https URL of an S3-compatible bucket endpoint for videos too large to return inline, without credentials in it " +
          "(together with serverless.bucketAccessKeyId and serverless.bucketSecretAccessKey)",
        fix: "pulumi config set serverless.bucketEndpointUrl https://<account>.r2.cloudflarestorage.com (or pulumi config rm serverless.bucketEndpointUrl)",
        optional: true,
      },
      z
        .string()
        .superRefine((text, ctx) => {
          const problem = bucketUrlProblem(text);
          if (problem) issue(ctx, problem);
        })
        .optional(),
    ),
    "serverless.bucketName": field(
      {
        type: "string",
        expected: "the bucket name at serverless.bucketEndpointUrl (unset = the worker's default)",
        fix: "pulumi config set serverless.bucketName steadydancer-videos (or pulumi config rm serverless.bucketName)",
        optional: true,
      },
      token("the bucket name").optional(),
    ),
    "serverless.bucketAccessKeyId": field(
      {
        type: "string",
        expected: "a secret: the access key id for serverless.bucketEndpointUrl",
        fix: "pulumi config set --secret serverless.bucketAccessKeyId <key id>",
        secret: true,
        optional: true,
      },
      z.string().optional(),
    ),
    "serverless.bucketSecretAccessKey": field(
      {
        type: "string",
        expected: "a secret: the secret access key for serverless.bucketEndpointUrl",
        fix: "pulumi config set --secret serverless.bucketSecretAccessKey <secret key>",
        secret: true,
        optional: true,
      },
      z.string().optional(),
    ),
  };
}

/** What is wrong with a bucket endpoint URL: the worker hands out presigned links to it, so https only. */
function bucketUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL";
  }
  if (url.username || url.password) {
    return "carries credentials, which would sit in plaintext in the stack file and the template: set them as secrets in serverless.bucketAccessKeyId and serverless.bucketSecretAccessKey";
  }
  if (url.protocol !== "https:" || !url.host) return "is not an https URL (the presigned video links the job returns point at it)";
  return undefined;
}
