// target serverless: the serverless.* keys, checked before any API call like every other key.
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, stackFields } from "../../components/config";
import { MockRecorder, installMocks, unwrap } from "../helpers/pulumiMocks";
import { FAKE_API_KEY, IMAGE, P, ROOT, assertKeyProblem, parseOk, problemFor, problemsOf, raw } from "../helpers/stackConfig";

const SERVERLESS = { "image.ref": IMAGE, target: "serverless" };
const BUCKET_SECRETS = [`${P}serverless.bucketAccessKeyId`, `${P}serverless.bucketSecretAccessKey`];

describe("stack config: target serverless", function () {
  this.timeout(10000);

  before(async () => {
    await installMocks(new MockRecorder());
  });

  it("applies RunPod's documented defaults where they fit, and says which checks run", () => {
    const config = parseOk(raw(SERVERLESS));
    assert.equal(config.target, "serverless");
    assert.deepEqual(config.serverless, {
      gpuTypes: ["NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA A100 80GB PCIe"],
      gpuCount: 1,
      workersMin: 0,
      workersMax: 3,
      idleTimeoutSeconds: 60,
      scalerType: "QUEUE_DELAY",
      scalerValue: 4,
      flashboot: true,
      executionTimeoutSeconds: 1800,
      dataCenterIds: [],
      networkVolumeId: undefined,
      containerDiskGb: 60,
      maxInlineVideoMb: 10,
      bucket: undefined,
    });
    assert.deepEqual([config.checks.health, config.checks.vram, config.checks.generate], [true, false, true], "no vram check");
    assert.deepEqual(config.ignoredKeys, []);
    assert.deepEqual(config.warnings, []);
    // The pod target is unchanged by the new section, and warns of nothing.
    const pod = parseOk(raw({ "image.ref": IMAGE }));
    assert.equal(pod.checks.vram, true);
    assert.deepEqual(pod.warnings, []);
  });

  it("needs the RunPod API key, except in a preview", () => {
    const none = problemsOf(raw(SERVERLESS, { env: {} }));
    assert.match(problemFor(none, "runpod:apiKey"), /is not set: required for target serverless, and RUNPOD_API_KEY is not set either.*Fix: pulumi config set --secret runpod:apiKey/);
    assert.equal(none.length, 1, none.join("\n"));
    parseOk(raw(SERVERLESS, { env: {}, preview: true }));
  });

  it("reads every serverless key from its text", async () => {
    const config = parseOk(
      raw(
        {
          ...SERVERLESS,
          "serverless.gpuTypes": '["NVIDIA H100 80GB HBM3","NVIDIA A100 80GB PCIe"]',
          "serverless.gpuCount": "2",
          "serverless.workersMin": "1",
          "serverless.workersMax": "4",
          "serverless.idleTimeoutSeconds": "120",
          "serverless.scalerValue": "2.5",
          "serverless.flashboot": "false",
          "serverless.executionTimeoutSeconds": "3600",
          "serverless.dataCenterIds": '["EU-RO-1"]',
          "serverless.networkVolumeId": "vol-models-1",
          "serverless.containerDiskGb": "80",
          "serverless.maxInlineVideoMb": "20",
          "serverless.bucketEndpointUrl": "https://acct.r2.cloudflarestorage.com",
          "serverless.bucketName": "videos",
          "serverless.bucketAccessKeyId": "AKIDEXAMPLE_ID_1",
          "serverless.bucketSecretAccessKey": "SECRET_bucket_key_222",
        },
        { secretKeys: BUCKET_SECRETS },
      ),
    );
    const { bucket, ...rest } = config.serverless;
    assert.deepEqual(rest, {
      gpuTypes: ["NVIDIA H100 80GB HBM3", "NVIDIA A100 80GB PCIe"],
      gpuCount: 2,
      workersMin: 1,
      workersMax: 4,
      idleTimeoutSeconds: 120,
      scalerType: "QUEUE_DELAY",
      scalerValue: 2.5,
      flashboot: false,
      executionTimeoutSeconds: 3600,
      dataCenterIds: ["EU-RO-1"],
      networkVolumeId: "vol-models-1",
      containerDiskGb: 80,
      maxInlineVideoMb: 20,
    });
    assert.ok(bucket, "the bucket is configured");
    assert.equal(bucket.endpointUrl, "https://acct.r2.cloudflarestorage.com");
    assert.equal(bucket.name, "videos");
    for (const [name, output, value] of [
      ["accessKeyId", bucket.accessKeyId, "AKIDEXAMPLE_ID_1"],
      ["secretAccessKey", bucket.secretAccessKey, "SECRET_bucket_key_222"],
    ] as const) {
      assert.ok(await pulumi.isSecret(output), `${name} must be a secret Output`);
      assert.equal(await unwrap(output), value);
    }
  });

  const badInputs: [key: string, value: string, reason: RegExp][] = [
    ["serverless.gpuTypes", "[]", /empty/],
    ["serverless.gpuTypes", '["NVIDIA L40S","NVIDIA L40S"]', /more than once/],
    ["serverless.gpuCount", "0", /out of range/],
    ["serverless.workersMin", "-1", /out of range/],
    ["serverless.workersMin", "one", /not a whole number/],
    ["serverless.workersMax", "0", /out of range/],
    ["serverless.idleTimeoutSeconds", "0", /out of range/],
    ["serverless.idleTimeoutSeconds", "3601", /out of range/],
    ["serverless.scalerType", "CPU", /unknown scaler type/],
    ["serverless.scalerValue", "0.1", /out of range/],
    ["serverless.flashboot", "yes", /not true or false/],
    ["serverless.executionTimeoutSeconds", "5", /out of range/],
    ["serverless.executionTimeoutSeconds", "90000", /out of range/],
    ["serverless.dataCenterIds", '["EU RO 1"]', /whitespace/],
    ["serverless.networkVolumeId", "vol 1", /whitespace/],
    ["serverless.containerDiskGb", "10", /out of range/],
    ["serverless.maxInlineVideoMb", "0", /out of range/],
    ["serverless.bucketEndpointUrl", "http://minio.local:9000", /not an https URL/],
    ["serverless.bucketEndpointUrl", "s3.example.com", /not a URL/],
  ];
  for (const [key, value, reason] of badInputs) {
    it(`rejects ${key} = ${value} naming the key, the value, the expected form and a fix`, () => {
      const bucket: Record<string, string> =
        key === "serverless.bucketEndpointUrl" ? { "serverless.bucketAccessKeyId": "id-1234", "serverless.bucketSecretAccessKey": "sk-x" } : {};
      assertKeyProblem(problemsOf(raw({ ...SERVERLESS, ...bucket, [key]: value }, { secretKeys: BUCKET_SECRETS })), key, value, reason);
    });
  }

  it("refuses Blackwell GPUs for the workers as for a pod, naming the reason", () => {
    const problem = problemFor(
      problemsOf(raw({ ...SERVERLESS, "serverless.gpuTypes": '["NVIDIA L40S","NVIDIA B200"]' })),
      `${P}serverless.gpuTypes`,
    );
    assert.match(problem, /"NVIDIA B200" is a Blackwell .*PyTorch 2\.5\.1\+cu124 has kernels up to sm_90 only/);
    assert.doesNotMatch(problem, /item "NVIDIA L40S"/);
  });

  it("needs workersMax at least workersMin, and warns that always-on workers bill while idle", () => {
    const problem = problemFor(
      problemsOf(raw({ ...SERVERLESS, "serverless.workersMin": "3", "serverless.workersMax": "2" })),
      `${P}serverless.workersMax`,
    );
    assert.match(problem, /= "2": 2 is below serverless\.workersMin 3\..*Fix: pulumi config set serverless\.workersMax 3/);
    const warm = parseOk(raw({ ...SERVERLESS, "serverless.workersMin": "1" }));
    assert.equal(warm.warnings.length, 1);
    assert.match(warm.warnings[0] ?? "", /serverless\.workersMin is 1: 1 worker stays running and billed every second, busy or idle.*serverless\.workersMin 0/);
    // The warning belongs to the serverless target only.
    assert.deepEqual(parseOk(raw({ "image.ref": IMAGE, "serverless.workersMin": "1" })).warnings, []);
  });

  it("takes no idle timeout with REQUEST_COUNT scaling, and a whole number of jobs as its value", () => {
    const rc = { ...SERVERLESS, "serverless.scalerType": "REQUEST_COUNT" };
    const config = parseOk(raw({ ...rc, "serverless.scalerValue": "2" }));
    assert.equal(config.serverless.scalerType, "REQUEST_COUNT");
    assert.equal(config.serverless.scalerValue, 2);
    assert.equal(config.serverless.idleTimeoutSeconds, undefined, "RunPod rejects an idle timeout with REQUEST_COUNT");
    const problems = problemsOf(raw({ ...rc, "serverless.idleTimeoutSeconds": "30", "serverless.scalerValue": "2.5" }));
    assert.match(problemFor(problems, `${P}serverless.idleTimeoutSeconds`), /QUEUE_DELAY scaling only.*Fix: pulumi config rm serverless\.idleTimeoutSeconds/);
    assert.match(problemFor(problems, `${P}serverless.scalerValue`), /= "2\.5": with REQUEST_COUNT scaling it is a whole number of jobs per worker/);
    assert.equal(problems.length, 2, problems.join("\n"));
  });

  it("takes the bucket's endpoint with both keys or not at all, the keys only as secrets, never printing them", () => {
    const keyId = "AKIAIOSFODNN7EXAMPLE";
    const secretKey = "wJalrXUtnFEMI_SECRET_bucket_333";
    const urlOnly = problemsOf(raw({ ...SERVERLESS, "serverless.bucketEndpointUrl": "https://s3.example.com" }));
    for (const key of ["serverless.bucketAccessKeyId", "serverless.bucketSecretAccessKey"]) {
      assert.match(problemFor(urlOnly, `${P}${key}`), /is not set: serverless\.bucketEndpointUrl is set, so the worker needs both bucket keys.*pulumi config set --secret/);
    }
    const keysOnly = problemsOf(
      raw({ ...SERVERLESS, "serverless.bucketAccessKeyId": keyId, "serverless.bucketSecretAccessKey": secretKey }, { secretKeys: BUCKET_SECRETS }),
    );
    assert.match(problemFor(keysOnly, `${P}serverless.bucketEndpointUrl`), /is not set: serverless\.bucketAccessKeyId, serverless\.bucketSecretAccessKey are set, but without a bucket endpoint/);

    const plaintext = problemsOf(
      raw({ ...SERVERLESS, "serverless.bucketEndpointUrl": "https://s3.example.com", "serverless.bucketAccessKeyId": keyId, "serverless.bucketSecretAccessKey": secretKey }),
    );
    assert.match(problemFor(plaintext, `${P}serverless.bucketSecretAccessKey`), /= \[secret\]: is stored in plaintext.*pulumi config set --secret serverless\.bucketSecretAccessKey/);
    assert.match(problemFor(plaintext, `${P}serverless.bucketAccessKeyId`), /= \[secret\]: is stored in plaintext/);
    const withPassword = problemsOf(raw({ ...SERVERLESS, "serverless.bucketEndpointUrl": `https://user:${secretKey}@s3.example.com` }));
    assert.match(problemFor(withPassword, `${P}serverless.bucketEndpointUrl`), /carries credentials.*as secrets in serverless\.bucketAccessKeyId/);
    for (const text of [keysOnly, plaintext, withPassword].map((p) => p.join("\n"))) {
      assert.ok(!text.includes(secretKey) && !text.includes(keyId), `a problem shows a bucket key:\n${text}`);
    }
  });

  it("names the pod-only keys a serverless stack sets but does not use, and keeps pod.env", () => {
    const config = parseOk(
      raw({
        ...SERVERLESS,
        "pod.publicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop",
        "pod.idleStopMinutes": "30",
        "pod.ports": '["8188/http","22/tcp","8888/http"]',
        "pod.env": '["COMFYUI_ARGS=--lowvram"]',
        "local.port": "9000",
        "comfy.auth": "false",
      }),
    );
    assert.deepEqual(config.ignoredKeys, ["comfy.auth", "local.port", "pod.idleStopMinutes", "pod.ports", "pod.publicKey"]);
    assert.deepEqual(config.pod.env, { COMFYUI_ARGS: "--lowvram" }, "pod.env is the container env on every target");
    // And the other way round: a pod stack names the serverless keys it does not use.
    assert.deepEqual(parseOk(raw({ "image.ref": IMAGE, "serverless.workersMax": "5" })).ignoredKeys, ["serverless.workersMax"]);
  });

  it("says that the vram check does not apply when checks.vram is set", () => {
    const config = parseOk(raw({ ...SERVERLESS, "checks.vram": "true" }));
    assert.equal(config.checks.vram, false);
    assert.equal(config.warnings.length, 1);
    assert.match(config.warnings[0] ?? "", /checks\.vram does not apply to target serverless.*the health and generate checks run/);
  });

  it("requires runpod:jobApiUrl (or RUNPOD_JOB_API_URL), when set, to be an http(s) URL", () => {
    parseOk(raw({ ...SERVERLESS, "runpod:jobApiUrl": "http://127.0.0.1:8090/v2" }));
    const fromEnv = problemsOf(raw(SERVERLESS, { env: { RUNPOD_API_KEY: FAKE_API_KEY, RUNPOD_JOB_API_URL: "api.runpod.ai" } }));
    assert.match(problemFor(fromEnv, "RUNPOD_JOB_API_URL (environment)"), /= "api\.runpod\.ai": is not an http\(s\) URL/);
  });

  describe("loadStackConfig", () => {
    let savedKey: string | undefined;
    before(() => {
      savedKey = process.env.RUNPOD_API_KEY;
      delete process.env.RUNPOD_API_KEY;
    });
    after(() => {
      if (savedKey === undefined) delete process.env.RUNPOD_API_KEY;
      else process.env.RUNPOD_API_KEY = savedKey;
      pulumi.runtime.setAllConfig({});
    });

    it("warns of the unused pod keys, pointing at the target that reads them, and of billed idle workers", () => {
      pulumi.runtime.setAllConfig(
        {
          [`${P}image.ref`]: IMAGE,
          [`${P}target`]: "serverless",
          [`${P}pod.maxLifetimeHours`]: "8",
          [`${P}serverless.workersMin`]: "2",
          "runpod:apiKey": FAKE_API_KEY,
        },
        ["runpod:apiKey"],
      );
      const warnings: string[] = [];
      const warn = pulumi.log.warn;
      pulumi.log.warn = (message: string) => {
        warnings.push(message);
        return Promise.resolve();
      };
      try {
        assert.equal(loadStackConfig({}).target, "serverless");
      } finally {
        pulumi.log.warn = warn;
      }
      assert.equal(warnings.length, 2, warnings.join("\n"));
      assert.match(warnings[0] ?? "", /target serverless does not use pod\.maxLifetimeHours; .*pulumi config rm <key>.*pulumi config set target runpod/);
      assert.match(warnings[1] ?? "", /serverless\.workersMin is 2: 2 workers stay running/);
    });
  });

  describe("project files", () => {
    const keys = [...Object.keys(stackFields()).filter((k) => k.startsWith("serverless.")), "runpod:jobApiUrl"];

    it("Pulumi.yaml documents every serverless key in its comments only", () => {
      const text = readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
      const comments = text.split("\n").filter((line) => line.startsWith("#")).join("\n");
      for (const key of keys) assert.ok(comments.includes(key), `Pulumi.yaml's comments document ${key}`);
      assert.doesNotMatch(text, /^ {2}serverless\./m, "no serverless key is declared under config:");
    });

    it("README's configuration table has a row for every serverless key", () => {
      const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
      const rows = readme.split("\n").filter((line) => line.startsWith("| `"));
      for (const key of keys) assert.ok(rows.some((row) => row.includes(`\`${key}\``)), `README documents ${key}`);
    });
  });
});
