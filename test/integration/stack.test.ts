// The whole program under the real Pulumi engine (Automation API, file backend) against the RunPod v2
// emulator and the ComfyUI emulator: the engine serializes the dynamic providers and runs them in
// pulumi-resource-pulumi-nodejs, sends unknowns in preview and secrets wrapped, writes state, and runs the
// checks through the command plugin. Run it with `npm run engine:build && npm run test:engine`; under plain
// `npm test` it is reported as skipped. The steps share one stack and run in order.
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { z } from "zod";
import { generateResultSchema, healthResultSchema, vramResultSchema } from "../../checks";
import { ComfyUIEmulator } from "../emulators/comfyui";
import { RunPodEmulator } from "../emulators/runpod";
import { ENGINE_DIR, REPO, StepLog, backendFiles, cliVersion, engineEnv, engineMissing, installedPlugins, leakedSecrets } from "./engine";
import { PodProxy, makeProxyCertificate } from "./podProxy";

const execFileAsync = promisify(execFile);
const POD = "pulumi-nodejs:dynamic/runpod:Pod";
const COMMAND = "command:local:Command";
const digest = (hex: string) => `ghcr.io/example/comfyui-steadydancer@sha256:${hex.repeat(64)}`;
const MUTATING = new Set(["POST", "PATCH", "PUT", "DELETE"]);

// Distinct values, so a leak of any of them can be told apart.
const SECRETS = {
  "runpod:apiKey": "rp-key-7f3c9e1d2b",
  "registry.password": "reg-pass-4a8b6c2e0f",
  hfToken: "hf_tok_91d3e5f7a2",
  "checks.authHeader": "Bearer auth-5c7e9a1b3d",
};

const outputsSchema = z.object({
  imageRef: z.string().regex(/^[^@\s]+@sha256:[0-9a-f]{64}$/),
  previousImageRef: z.union([z.literal(""), z.string().regex(/^[^@\s]+@sha256:[0-9a-f]{64}$/)]),
  podId: z.string().min(1),
  comfyUrl: z.string().regex(/^https:\/\/[a-z0-9]+-8188\.proxy\.runpod\.net$/),
  sshCommand: z.string().nullable(),
  costPerHour: z.number().nonnegative(),
  gpuType: z.string().min(1),
  healthCheck: healthResultSchema.extend({ ok: z.literal(true) }),
  vramCheck: vramResultSchema.extend({ ok: z.literal(true) }),
  generateCheck: generateResultSchema.extend({ ok: z.literal(true) }),
});

const stateSchema = z.object({
  deployment: z.object({ resources: z.array(z.object({ type: z.string(), outputs: z.object({ podId: z.string().optional() }).optional() })) }),
});

describe("the program under the real Pulumi engine (npm run test:engine)", function () {
  this.timeout(300_000);
  let runpod: RunPodEmulator;
  let comfy: ComfyUIEmulator;
  let proxy: PodProxy;
  let backend: string;
  let outDir: string;
  let env: Record<string, string>;
  let pulumiCommand: PulumiCommand;
  const stacks: Stack[] = [];
  let stack: Stack;
  let firstPodId = "";

  const open = async (name: string): Promise<Stack> => {
    const s = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: REPO }, { envVars: env, pulumiCommand });
    stacks.push(s);
    return s;
  };
  const comfyPrompts = () => comfy.requests.filter((r) => r.method === "POST" && /^(\/api)?\/prompt$/.test(r.path)).length;
  // `pulumi stack export` as a user runs it (the Automation API's exportStack adds --show-secrets).
  const plainExport = async () =>
    (await execFileAsync(path.join(ENGINE_DIR, "bin", "pulumi"), ["stack", "export", "--stack", stack.name], { cwd: REPO, env: { ...process.env, ...env }, maxBuffer: 64 << 20 })).stdout;
  const outputs = async () => outputsSchema.parse(Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value])));

  before(async function () {
    const missing = engineMissing();
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    console.log(`      engine: pulumi ${cliVersion()} from ${ENGINE_DIR}; plugins: ${installedPlugins().join(", ")}`);
    runpod = await RunPodEmulator.start({ apiKey: SECRETS["runpod:apiKey"], timings: { provisionMs: 200, startMs: 200, runtimeNullMs: 0 } });
    const [name, value] = ["Authorization", SECRETS["checks.authHeader"]];
    comfy = await ComfyUIEmulator.start({ jobMs: 150, requiredHeader: { name, value } });
    backend = fs.mkdtempSync(path.join(os.tmpdir(), "steadydancer-state-"));
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), "steadydancer-checks-"));
    const certificate = makeProxyCertificate(outDir);
    proxy = await PodProxy.start(certificate, (podId, port) =>
      port === 8188 && runpod.podById(podId)?.status === "RUNNING" ? comfy.url : undefined,
    );
    env = engineEnv(backend, proxy.url, certificate.certFile);
    pulumiCommand = await PulumiCommand.get({ root: ENGINE_DIR, skipVersionCheck: true });
    stack = await open(`it-${process.pid}`);
    await stack.setAllConfig({
      "image.ref": { value: digest("a") },
      "image.build": { value: "false" },
      "pod.gpuTypes": { value: JSON.stringify(["NVIDIA L40S"]) },
      "pod.readyTimeoutMinutes": { value: "2" },
      "registry.username": { value: "robot" },
      "registry.password": { value: SECRETS["registry.password"], secret: true },
      hfToken: { value: SECRETS.hfToken, secret: true },
      "checks.workflow": { value: "smoke" },
      "checks.outDir": { value: outDir },
      "checks.healthTimeoutMinutes": { value: "2" },
      "checks.generateTimeoutMinutes": { value: "2" },
      // The header of a proxy of the user's own (comfy.auth false): a secret whose plain value the leak step knows.
      "comfy.auth": { value: "false" },
      "checks.authHeader": { value: `Authorization: ${SECRETS["checks.authHeader"]}`, secret: true },
      "runpod:apiUrl": { value: runpod.baseUrl },
      "runpod:apiKey": { value: SECRETS["runpod:apiKey"], secret: true },
    });
  });

  after(async () => {
    for (const s of stacks.reverse()) {
      await s.destroy().catch(() => undefined);
      await s.workspace.removeStack(s.name, { force: true }).catch(() => undefined);
      fs.rmSync(path.join(REPO, `Pulumi.${s.name}.yaml`), { force: true });
    }
    await proxy?.close();
    await comfy?.close();
    await runpod?.close();
    for (const dir of [backend, outDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("previews a fresh stack: the pod and the three checks as creates, and RunPod sees nothing that changes anything", async () => {
    const log = new StepLog();
    const preview = await stack.preview({ onEvent: log.onEvent });
    assert.deepEqual(log.ops(POD), ["create"]);
    assert.deepEqual(log.ops(COMMAND), ["create", "create", "create"]);
    assert.ok((preview.changeSummary.create ?? 0) >= 5, JSON.stringify(preview.changeSummary));
    const mutating = runpod.calls.filter((c) => MUTATING.has(c.method));
    assert.deepEqual(mutating.map((c) => `${c.method} ${c.path}`), []);
    assert.equal(proxy.requests.length, 0, "a preview must not run the checks");
  });

  it("up creates one ready pod, really runs health, VRAM and generation against ComfyUI, and sets every output", async () => {
    const up = await stack.up();
    assert.equal(up.summary.result, "succeeded");
    const out = await outputs();
    firstPodId = out.podId;
    assert.deepEqual(runpod.livePods().map((p) => [p.id, p.status]), [[out.podId, "RUNNING"]]);
    assert.equal(out.comfyUrl, `https://${out.podId}-8188.proxy.runpod.net`);
    assert.equal(out.imageRef, digest("a"));
    assert.equal(runpod.podById(out.podId)?.image, digest("a"));
    assert.equal(out.gpuType, "NVIDIA L40S");
    assert.equal(out.previousImageRef, "", "first deploy: no image before this one");
    // The checks went through the pod's URL (the proxy) with the secret header, and generated a video.
    assert.ok(proxy.requests.some((r) => r.podId === out.podId && /^(\/api)?\/system_stats$/.test(r.path) && r.status === 200));
    assert.equal(comfyPrompts(), 1);
    assert.ok(comfy.requests.every((r) => r.headers.authorization === SECRETS["checks.authHeader"]));
    assert.ok(out.generateCheck.videoPath && fs.existsSync(out.generateCheck.videoPath), "the generated video was saved");
    // A digest-pinned image.ref with image.build false needs no docker plugin (none is installed, none downloaded).
    assert.deepEqual(installedPlugins().filter((name) => name.includes("docker")), []);
  });

  it("then previews no changes (--expect-no-changes) and a refresh finds no drift", async () => {
    await stack.preview({ expectNoChanges: true });
    const refresh = await stack.refresh();
    const changed = Object.entries(refresh.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
    assert.deepEqual(changed, []);
    await stack.preview({ expectNoChanges: true });
  });

  it("a new image digest updates the pod in place (same pod id) and runs the checks again", async () => {
    const prompts = comfyPrompts();
    await stack.setConfig("image.ref", { value: digest("b") });
    const log = new StepLog();
    await stack.up({ onEvent: log.onEvent });
    const out = await outputs();
    assert.equal(out.podId, firstPodId);
    assert.deepEqual(log.ops(POD), ["update"]);
    assert.equal(runpod.podById(firstPodId)?.image, digest("b"));
    assert.equal(out.imageRef, digest("b"));
    assert.equal(out.previousImageRef, digest("a"), "previousImageRef names the digest deployed before");
    assert.equal(comfyPrompts(), prompts + 1, "the generation check ran again");
  });

  it("a new GPU type replaces the pod, and exactly one pod exists afterwards", async () => {
    await stack.setConfig("pod.gpuTypes", { value: JSON.stringify(["NVIDIA RTX 6000 Ada Generation"]) });
    const log = new StepLog();
    await stack.up({ onEvent: log.onEvent });
    const out = await outputs();
    assert.notEqual(out.podId, firstPodId);
    assert.ok(log.ops(POD).includes("replace") || log.ops(POD).includes("create-replacement"), JSON.stringify(log.ops(POD)));
    assert.equal(out.gpuType, "NVIDIA RTX 6000 Ada Generation");
    assert.deepEqual(runpod.livePods().map((p) => p.id), [out.podId]);
  });

  it("a failing check fails up with the check's own message, and the pod stays in state", async () => {
    const podId = (await outputs()).podId;
    // A workflow whose node class ComfyUI lacks: only the generation check, run against the server, can tell
    // (a VRAM demand no GPU meets is refused earlier now, by the catalog pre-flight).
    const workflow = path.join(outDir, "unknown-node.json");
    fs.writeFileSync(workflow, JSON.stringify({ "1": { class_type: "NoSuchNodeClass", inputs: {} } }));
    await stack.setConfig("checks.workflow", { value: workflow });
    await assert.rejects(stack.up(), (error: Error) => {
      // The verdict the check printed, as the command's failure carries it.
      assert.match(error.message, /"check":"generate","ok":false,"message":"[^"]*NoSuchNodeClass[^"]*"/);
      return true;
    });
    const state = stateSchema.parse(JSON.parse(await plainExport()));
    const pods = state.deployment.resources.filter((r) => r.type === POD);
    assert.deepEqual(pods.map((p) => p.outputs?.podId), [podId]);
    assert.equal(runpod.podById(podId)?.status, "RUNNING");
    await stack.setConfig("checks.workflow", { value: "smoke" });
  });

  it("a bad config (no image.ref) fails preview with the config error, before any RunPod request", async () => {
    const bad = await open(`it-bad-${process.pid}`);
    await bad.setAllConfig({
      "runpod:apiUrl": { value: runpod.baseUrl },
      "runpod:apiKey": { value: SECRETS["runpod:apiKey"], secret: true },
    });
    runpod.resetCalls();
    await assert.rejects(bad.preview(), (error: Error) => {
      assert.match(error.message, /image\.ref/);
      return true;
    });
    assert.equal(runpod.calls.length, 0);
  });

  it("pulumi stack export and the raw state files hold none of the secrets in plain text", async () => {
    const exported = await plainExport();
    assert.ok(exported.includes(POD), "the export holds the pod");
    assert.deepEqual(leakedSecrets(exported, SECRETS), []);
    const files = backendFiles(backend);
    assert.ok(files.some((f) => f.text.includes(POD)), "the backend holds the state");
    for (const { file, text } of files) assert.deepEqual(leakedSecrets(text, SECRETS), [], file);
    const stackFile = fs.readFileSync(path.join(REPO, `Pulumi.${stack.name}.yaml`), "utf8");
    assert.deepEqual(leakedSecrets(stackFile, SECRETS), [], "Pulumi.<stack>.yaml");
  });

  it("destroy leaves no pod and no registry credentials", async () => {
    await stack.destroy();
    assert.deepEqual(runpod.livePods().map((p) => p.id), []);
    assert.deepEqual(runpod.registries(), []);
  });
});
