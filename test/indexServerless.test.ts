// The program with target serverless, under Pulumi's mocks: the same image as a serverless template and a queue
// endpoint placed by the catalog's GPU pools, proven by the endpoint checks; no pod, no ComfyUI token, no vram check.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_NAME } from "../components/config";
import {
  COMMAND_TYPE,
  ENDPOINT_CHECKS_TYPE,
  GPU_CATALOG_CHECK_TYPE,
  MockRecorder,
  POD_TYPE,
  QUEUE_ENDPOINT_TYPE,
  RANDOM_PASSWORD_TYPE,
  SERVERLESS_ENDPOINT_TYPE,
  TEMPLATE_TYPE,
  anyInputContains,
  installMocks,
  plain,
  plaintextPaths,
  settled,
  unwrap,
} from "./helpers/pulumiMocks";

const P = `${PROJECT_NAME}:`;
const IMAGE = "ghcr.io/org/comfyui-steadydancer:0.1.0";
const FAKE_API_KEY = "rpa_FAKEKEY_serverless_0123456789";
const HF_TOKEN = "hf_FAKETOKEN_serverless_4242";
const BUCKET_SECRET = "bucket_SECRET_never_plain_77";
const PROGRAM = require.resolve("../index");

function runProgram(): Promise<typeof import("../index")> {
  delete require.cache[PROGRAM];
  return import("../index");
}

function setConfig(values: Record<string, string>, secrets: string[] = []): void {
  const full = Object.fromEntries(Object.entries(values).map(([k, v]) => [k.includes(":") ? k : P + k, v]));
  pulumi.runtime.setAllConfig({ ...full, "runpod:apiKey": FAKE_API_KEY }, [...secrets.map((k) => P + k), "runpod:apiKey"]);
}

describe("program (index.ts) with target serverless", function () {
  this.timeout(20000);
  let mocks: MockRecorder;
  let savedEnv: string | undefined;

  before(() => {
    savedEnv = process.env.RUNPOD_API_KEY;
    delete process.env.RUNPOD_API_KEY;
  });
  after(() => {
    if (savedEnv === undefined) delete process.env.RUNPOD_API_KEY;
    else process.env.RUNPOD_API_KEY = savedEnv;
    pulumi.runtime.setAllConfig({});
    delete require.cache[PROGRAM];
  });
  beforeEach(async () => {
    mocks = new MockRecorder();
    await installMocks(mocks);
  });

  const base = {
    target: "serverless",
    "image.ref": IMAGE,
    "image.build": "false",
    "serverless.gpuTypes": '["NVIDIA L40S"]',
    "serverless.workersMax": "2",
    "serverless.bucketEndpointUrl": "https://s3.example.com",
    "serverless.bucketAccessKeyId": "AKIAEXAMPLEKEYID",
    "serverless.bucketSecretAccessKey": BUCKET_SECRET,
    hfToken: HF_TOKEN,
  };
  const secrets = ["hfToken", "serverless.bucketAccessKeyId", "serverless.bucketSecretAccessKey"];

  it("deploys a template and a queue endpoint on the catalog's pools, checks it through the job API and exports its times", async () => {
    setConfig(base, secrets);
    const program = await runProgram();
    const out = {
      endpointId: await unwrap(program.endpointId),
      jobApiUrl: await unwrap(program.jobApiUrl),
      podId: await unwrap(program.podId),
      healthCheck: await unwrap(program.healthCheck),
      generateCheck: await unwrap(program.generateCheck),
      coldStartSeconds: await unwrap(program.coldStartSeconds),
      runSeconds: await unwrap(program.runSeconds),
    };
    await settled();

    assert.equal(out.endpointId, "ep-steadydancer-endpoint-id");
    assert.equal(out.jobApiUrl, "https://api.runpod.ai/v2/ep-steadydancer-endpoint-id");
    assert.equal(out.podId, undefined, "no pod");
    assert.equal(out.healthCheck?.check, "endpointHealth");
    assert.equal(out.generateCheck?.check, "endpointGenerate");
    assert.equal(out.coldStartSeconds, 42.5);
    assert.equal(out.runSeconds, 7.25);
    assert.equal(mocks.ofType(POD_TYPE).length, 0);
    assert.equal(mocks.ofType(RANDOM_PASSWORD_TYPE).length, 0, "no ComfyUI token: a worker exposes no port");
    mocks.only(SERVERLESS_ENDPOINT_TYPE);
    mocks.only(ENDPOINT_CHECKS_TYPE);

    const catalog = mocks.only(GPU_CATALOG_CHECK_TYPE);
    assert.equal(catalog.inputs.product, "SERVERLESS");
    const endpoint = mocks.only(QUEUE_ENDPOINT_TYPE);
    assert.deepEqual(plain(endpoint.inputs.gpuPools), ["ADA_48_PRO"]);
    assert.deepEqual(plain(endpoint.inputs.excludedGpuTypes), ["NVIDIA RTX 6000 Ada Generation"]);
    assert.equal(endpoint.inputs.workersMin, 0, "scales from zero by default");
    assert.equal(endpoint.inputs.workersMax, 2);
    assert.equal(endpoint.inputs.flashboot, "FLASHBOOT");
    assert.equal(endpoint.inputs.executionTimeoutMs, 1800 * 1000);
    assert.equal(endpoint.inputs.minCudaVersion, "12.4");
    assert.equal(endpoint.inputs.templateId, "tpl-steadydancer-template-id");
    assert.equal(endpoint.inputs.templateRevision, 1);

    const template = mocks.only(TEMPLATE_TYPE);
    assert.ok(pulumi.runtime.isRpcSecret(template.inputs.env), "the workers' env (HF_TOKEN, bucket keys) is a secret");
    const env = plain(template.inputs.env) as Record<string, string>;
    assert.equal(env.MODE, "serverless");
    assert.equal(env.HF_TOKEN, HF_TOKEN);
    assert.equal(env.BUCKET_ENDPOINT_URL, "https://s3.example.com");
    assert.equal(env.BUCKET_SECRET_ACCESS_KEY, BUCKET_SECRET);
    assert.equal(env.MAX_INLINE_BYTES, String(10 * 1024 * 1024));
    assert.equal(env.STEADYDANCER_VARIANT, "fp8");
    assert.equal(env.COMFYUI_AUTH_TOKEN, undefined);
  });

  it("runs health then generate (no vram) with the API key only as a secret env of the commands", async () => {
    setConfig(base, secrets);
    await runProgram();
    await settled();
    const commands = mocks.ofType(COMMAND_TYPE);
    assert.deepEqual(commands.map((c) => c.name).sort(), ["steadydancer-generate", "steadydancer-health"]);
    for (const cmd of commands) {
      const create = String(cmd.inputs.create);
      assert.match(create, /jobChecksCli\.(js|ts) (health|generate) --endpoint-url https:\/\/api\.runpod\.ai\/v2\/ep-steadydancer-endpoint-id/);
      assert.ok(!create.includes(FAKE_API_KEY), "the key is never on the command line");
      assert.ok(pulumi.runtime.isRpcSecret(cmd.inputs.environment), `${cmd.name}: its environment is a secret`);
      assert.equal((plain(cmd.inputs.environment) as Record<string, string>).RUNPOD_API_KEY, FAKE_API_KEY);
    }
    const generate = commands.find((c) => c.name === "steadydancer-generate");
    assert.ok(generate?.dependencies?.some((urn) => urn.endsWith("steadydancer-health")), "generate waits for health");
    for (const secret of [FAKE_API_KEY, HF_TOKEN, BUCKET_SECRET]) {
      const leaks = anyInputContains(mocks.created, secret).flatMap((r) => plaintextPaths(r.inputs, secret).map((p) => `${r.type} ${r.name} ${p}`));
      assert.deepEqual(leaks, [], `${secret} reached a plain input`);
    }
  });

  it("refuses a pool-less or mistyped GPU list before anything is created", async () => {
    setConfig({ ...base, "serverless.gpuTypes": "[]", "serverless.workersMax": "0" }, secrets);
    await assert.rejects(runProgram(), (err: unknown) => {
      const message = String((err as Error).message);
      assert.match(message, /serverless\.gpuTypes/);
      assert.match(message, /serverless\.workersMax/);
      assert.ok(!message.includes(BUCKET_SECRET) && !message.includes(HF_TOKEN));
      return true;
    });
    assert.deepEqual(mocks.created, []);
  });
});

