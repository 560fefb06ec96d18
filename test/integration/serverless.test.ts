// target serverless under the real Pulumi engine: the program deploys a serverless template and a queue endpoint
// to the RunPod v2 emulator, and the endpoint checks run for real through the job API emulator, whose workers are
// the image's real worker (docker/worker on the pinned runpod SDK, `python -m worker`) against the ComfyUI
// emulator. Then a no-change preview, an in-place update, the state's secrets, and destroy. Run with
// `npm run engine:build && npm run test:engine`; skipped (saying what is missing) without the engine or the SDK.
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { z } from "zod";
import { endpointGenerateResultSchema, endpointHealthResultSchema } from "../../checks";
import { ComfyUIEmulator } from "../emulators/comfyui";
import { RunPodEmulator } from "../emulators/runpod";
import { RunPodJobEmulator } from "../emulators/runpodJobs";
import { sdkPython } from "../helpers/runpodSdk";
import { ENGINE_DIR, REPO, StepLog, backendFiles, engineEnv, engineMissing, leakedSecrets } from "./engine";
import { PodProxy, makeProxyCertificate } from "./podProxy";

const execFileAsync = promisify(execFile);
const TEMPLATE = "pulumi-nodejs:dynamic/runpod:ServerlessTemplate";
const ENDPOINT = "pulumi-nodejs:dynamic/runpod:QueueEndpoint";
const COMMAND = "command:local:Command";
const digest = (hex: string) => `ghcr.io/example/comfyui-steadydancer@sha256:${hex.repeat(64)}`;
const MUTATING = new Set(["POST", "PATCH", "PUT", "DELETE"]);
const SECRETS = { "runpod:apiKey": "rp-key-serverless-3e8a1c", hfToken: "hf_tok_serverless_6b2d90" };

const outputsSchema = z.object({
  imageRef: z.string(),
  endpointId: z.string().min(1),
  jobApiUrl: z.string().url(),
  gpuPools: z.array(z.string()),
  healthCheck: endpointHealthResultSchema.extend({ ok: z.literal(true) }),
  generateCheck: endpointGenerateResultSchema.extend({ ok: z.literal(true) }),
  coldStartSeconds: z.number().nonnegative(),
  runSeconds: z.number().nonnegative(),
});

describe("target serverless under the real Pulumi engine (npm run test:engine)", function () {
  this.timeout(300_000);
  let runpod: RunPodEmulator;
  let jobs: RunPodJobEmulator;
  let comfy: ComfyUIEmulator;
  let proxy: PodProxy;
  let backend: string;
  let outDir: string;
  let stack: Stack;

  const outputs = async () => outputsSchema.parse(Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value])));
  const comfyPrompts = () => comfy.requests.filter((r) => r.method === "POST" && /^(\/api)?\/prompt$/.test(r.path)).length;

  before(async function () {
    const missing = engineMissing();
    const python = sdkPython();
    if (missing || !python) {
      const why = missing ?? "no Python with the pinned runpod SDK for the real worker (.ci/run installs it into .venv-test)";
      if (process.env.CI && !missing) throw new Error(why);
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    runpod = await RunPodEmulator.start({ apiKey: SECRETS["runpod:apiKey"] });
    comfy = await ComfyUIEmulator.start({ jobMs: 150 });
    jobs = await RunPodJobEmulator.start({
      endpoints: (id) => runpod.serverlessEndpoint(id),
      apiKey: SECRETS["runpod:apiKey"],
      coldStartMs: 800,
      worker: { process: { command: python ?? "python3", args: ["-m", "worker"], cwd: path.join(REPO, "docker"), env: { COMFYUI_URL: comfy.url } } },
    });
    backend = fs.mkdtempSync(path.join(os.tmpdir(), "steadydancer-state-"));
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), "steadydancer-checks-"));
    // No pod is reached through RunPod's https proxy here; engineEnv still wants one to point at.
    const certificate = makeProxyCertificate(outDir);
    proxy = await PodProxy.start(certificate, () => undefined);
    const env = engineEnv(backend, proxy.url, certificate.certFile);
    const pulumiCommand = await PulumiCommand.get({ root: ENGINE_DIR, skipVersionCheck: true });
    stack = await LocalWorkspace.createOrSelectStack({ stackName: `it-sls-${process.pid}`, workDir: REPO }, { envVars: env, pulumiCommand });
    await stack.setAllConfig({
      target: { value: "serverless" },
      "image.ref": { value: digest("a") },
      "image.build": { value: "false" },
      "serverless.gpuTypes": { value: JSON.stringify(["NVIDIA L40S"]) },
      "serverless.workersMax": { value: "2" },
      hfToken: { value: SECRETS.hfToken, secret: true },
      "checks.workflow": { value: "smoke" },
      "checks.outDir": { value: outDir },
      "checks.healthTimeoutMinutes": { value: "2" },
      "checks.generateTimeoutMinutes": { value: "2" },
      "runpod:apiUrl": { value: runpod.baseUrl },
      "runpod:jobApiUrl": { value: jobs.baseUrl },
      "runpod:apiKey": { value: SECRETS["runpod:apiKey"], secret: true },
    });
  });

  after(async () => {
    if (stack) {
      await stack.destroy().catch(() => undefined);
      await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
      fs.rmSync(path.join(REPO, `Pulumi.${stack.name}.yaml`), { force: true });
    }
    await jobs?.close();
    await proxy?.close();
    await comfy?.close();
    await runpod?.close();
    for (const dir of [backend, outDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("previews the template, the endpoint and two checks, with no mutating RunPod request", async () => {
    const log = new StepLog();
    await stack.preview({ onEvent: log.onEvent });
    assert.deepEqual(log.ops(TEMPLATE), ["create"]);
    assert.deepEqual(log.ops(ENDPOINT), ["create"]);
    assert.deepEqual(log.ops(COMMAND), ["create", "create"], "health and generate; no vram check on serverless");
    assert.deepEqual(runpod.calls.filter((c) => MUTATING.has(c.method)).map((c) => `${c.method} ${c.path}`), []);
    assert.equal(jobs.calls.length, 0, "a preview runs no job");
  });

  it("up creates the endpoint on the L40S pool, a real worker scales up from zero and makes the video", async () => {
    const up = await stack.up();
    assert.equal(up.summary.result, "succeeded");
    const out = await outputs();
    assert.deepEqual(runpod.serverless.endpointIds(), [out.endpointId]);
    assert.equal(runpod.serverless.templateIds().length, 1);
    assert.equal(out.jobApiUrl, jobs.jobApiUrl(out.endpointId));
    assert.deepEqual(out.gpuPools, ["ADA_48_PRO"]);
    assert.equal(out.generateCheck.jobStatus, "COMPLETED");
    assert.ok(out.coldStartSeconds >= 0.8, `the first job waited for a cold start: ${out.coldStartSeconds} s`);
    assert.ok(out.generateCheck.videoPath && fs.existsSync(out.generateCheck.videoPath), "the video was saved");
    assert.equal(comfyPrompts(), 1, "the worker queued exactly one prompt");
  });

  it("then previews no changes, and a refresh finds no drift", async () => {
    await stack.preview({ expectNoChanges: true });
    const refresh = await stack.refresh();
    assert.deepEqual(Object.entries(refresh.summary.resourceChanges ?? {}).filter(([op]) => op !== "same"), []);
  });

  it("a new image digest updates the template and the endpoint in place and runs the checks again", async () => {
    const before = (await outputs()).endpointId;
    const prompts = comfyPrompts();
    await stack.setConfig("image.ref", { value: digest("b") });
    const log = new StepLog();
    await stack.up({ onEvent: log.onEvent });
    const out = await outputs();
    assert.equal(out.endpointId, before, "same endpoint");
    assert.deepEqual(log.ops(TEMPLATE), ["update"]);
    assert.deepEqual(log.ops(ENDPOINT), ["update"], "the endpoint re-applies the changed template");
    assert.equal(comfyPrompts(), prompts + 1);
  });

  it("a job ComfyUI refuses fails up with ComfyUI's own words, and the endpoint stays in state", async () => {
    const { endpointId } = await outputs();
    const workflow = path.join(outDir, "unknown-node.json");
    fs.writeFileSync(workflow, JSON.stringify({ "1": { class_type: "NoSuchNodeClass", inputs: {} } }));
    await stack.setConfig("checks.workflow", { value: workflow });
    await assert.rejects(stack.up(), (error: Error) => {
      assert.match(error.message, /"check":"endpointGenerate","ok":false,"message":"The endpoint.s worker failed job [^"]*ComfyUI rejected the workflow[^"]*NoSuchNodeClass does not exist/);
      return true;
    });
    assert.deepEqual(runpod.serverless.endpointIds(), [endpointId]);
    await stack.setConfig("checks.workflow", { value: "smoke" });
  });

  it("holds no secret in plain text in the export or the state files", async () => {
    const exported = (
      await execFileAsync(path.join(ENGINE_DIR, "bin", "pulumi"), ["stack", "export", "--stack", stack.name], {
        cwd: REPO,
        env: { ...process.env, ...engineEnv(backend, proxy.url, path.join(outDir, "unused")) },
        maxBuffer: 64 << 20,
      })
    ).stdout;
    assert.ok(exported.includes(ENDPOINT));
    assert.deepEqual(leakedSecrets(exported, SECRETS), []);
    for (const { file, text } of backendFiles(backend)) assert.deepEqual(leakedSecrets(text, SECRETS), [], file);
  });

  it("destroy leaves no endpoint and no template", async () => {
    await stack.destroy();
    assert.deepEqual(runpod.serverless.endpointIds(), []);
    assert.deepEqual(runpod.serverless.templateIds(), []);
  });
});
