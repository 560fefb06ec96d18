import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bytesStillNeeded, modelFilePaths, parseMeasure } from "../../dockerhost";
import { DockerUnavailable, runDocker } from "../../dockerhost/docker";
import { MODEL_VARIANTS, parseModelManifest } from "../../models";
import { WITHOUT_NVIDIA, WITH_NVIDIA, installStubDocker } from "../helpers/stubDocker";

const CLI = path.resolve(__dirname, "../../dockerhost/cli.js");
const IMAGE = `ghcr.io/org/comfyui-steadydancer@sha256:${"d".repeat(64)}`;

function manifestWith(sizeEstimate: number) {
  const variants = Object.fromEntries(MODEL_VARIANTS.map((v) => [v, { description: v, minVramGb: 16, fallback: null }]));
  const file = (id: string, target: string) => ({
    id,
    variants: ["*"],
    repo: "org/repo",
    revision: "main",
    path: `weights/${id}.safetensors`,
    url: `https://huggingface.co/org/repo/resolve/main/weights/${id}.safetensors`,
    target,
    size: null,
    sizeEstimate,
    sha256: null,
  });
  return { schemaVersion: 1, variants, files: [file("unet", "diffusion_models/WanVideo"), file("vae", "vae")] };
}

describe("local target pre-flight (dockerhost/cli.ts with a stub docker)", function () {
  this.timeout(30000);
  let dir: string;
  let bin: string;
  let log: string;
  let modelsDir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "preflight-"));
    bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    installStubDocker(bin);
    log = path.join(dir, "docker-calls.log");
    fs.writeFileSync(log, "");
    modelsDir = path.join(dir, "workspace", "models");
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function preflight(opts: { env?: Record<string, string>; sizeEstimate?: number; baked?: boolean; path?: string } = {}) {
    const manifest = path.join(dir, "manifest.json");
    fs.writeFileSync(manifest, JSON.stringify(manifestWith(opts.sizeEstimate ?? 1000)));
    const args = [CLI, "--image", IMAGE, "--volume", "sd-test-workspace", "--mount", path.join(dir, "workspace")];
    args.push("--models-dir", modelsDir, "--variant", "fp8", "--manifest", manifest, ...(opts.baked ? ["--baked"] : []));
    const run = spawnSync(process.execPath, args, {
      encoding: "utf8",
      env: { PATH: opts.path ?? `${bin}:/usr/bin:/bin`, STUB_LOG: log, STUB_RUNTIMES: WITH_NVIDIA, ...opts.env },
    });
    const last = run.stdout.trim().split("\n").pop() ?? "";
    const verdict = JSON.parse(last || "{}") as { ok?: boolean; message?: string; needBytes?: number; freeBytes?: number | null };
    return { code: run.status, verdict, stderr: run.stderr, calls: fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) };
  }

  it("fails clearly when the Docker host has no NVIDIA runtime, before measuring anything", () => {
    const r = preflight({ env: { STUB_RUNTIMES: WITHOUT_NVIDIA } });
    assert.equal(r.code, 1);
    assert.equal(r.verdict.ok, false);
    assert.match(r.verdict.message ?? "", /no NVIDIA runtime \(its runtimes: io\.containerd\.runc\.v2, runc\).*NVIDIA Container Toolkit.*nvidia-ctk runtime configure/);
    assert.match(r.stderr, /FAILED: .*no NVIDIA runtime/);
    assert.deepEqual(r.calls, ["info --format {{json .Runtimes}}"]);
  });

  it("fails clearly when the docker CLI is missing or the daemon does not answer", () => {
    const missing = preflight({ path: "/nonexistent" });
    assert.equal(missing.code, 1);
    assert.match(missing.verdict.message ?? "", /docker CLI \(docker\) is not on PATH: install Docker Engine/);
    const down = preflight({ env: { STUB_INFO_EXIT: "1" } });
    assert.equal(down.code, 1);
    assert.match(down.verdict.message ?? "", /docker info failed \(exit 1\): Cannot connect to the Docker daemon.*Fix: start the Docker daemon/);
  });

  it("fails when the variant's weights do not fit in the free disk under the volume, naming both figures", () => {
    const r = preflight({ sizeEstimate: 5e15 }); // two 5 PB files: more than any test machine has free
    assert.equal(r.code, 1);
    assert.match(r.verdict.message ?? "", /not enough disk for the fp8 weights: 10000000\.0 GB still to download into volume sd-test-workspace .* GB free where Docker keeps the volume\. Fix:/);
    assert.equal(r.verdict.needBytes, 1e16);
    const run = r.calls.find((c) => c.startsWith("run "));
    assert.ok(run, `the disk is measured in a container: ${r.calls.join(" | ")}`);
    assert.match(run, new RegExp(`^run --rm --pull never --entrypoint /bin/sh -v sd-test-workspace:${dir}/workspace ${IMAGE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} -c `));
  });

  it("passes when the weights fit, counting files already on the volume and partial downloads", () => {
    fs.mkdirSync(path.join(modelsDir, "vae"), { recursive: true });
    fs.writeFileSync(path.join(modelsDir, "vae", "vae.safetensors"), Buffer.alloc(1000));
    fs.mkdirSync(path.join(modelsDir, "diffusion_models", "WanVideo"), { recursive: true });
    fs.writeFileSync(path.join(modelsDir, "diffusion_models", "WanVideo", "unet.safetensors.part"), Buffer.alloc(400));
    const r = preflight();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.verdict.ok, true);
    assert.equal(r.verdict.needBytes, 600, "1000 present, 400 of 1000 partial: 600 bytes still to fetch");
    assert.ok((r.verdict.freeBytes ?? 0) > 0);
  });

  it("pulls the image first when the host does not have it", () => {
    const r = preflight({ env: { STUB_IMAGE_MISSING: "1" } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.calls.map((c) => c.split(" ")[0]), ["info", "image", "pull", "run"]);
  });

  it("with baked weights checks the runtime only", () => {
    const r = preflight({ baked: true, sizeEstimate: 5e15 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.calls, ["info --format {{json .Runtimes}}"]);
  });

  it("counts need the way download-models.sh does (pure helpers)", () => {
    const manifest = parseModelManifest(manifestWith(100));
    const files = modelFilePaths("/workspace/models", manifest, "fp16");
    assert.deepEqual(files.map((f) => f.dest), ["/workspace/models/diffusion_models/WanVideo/unet.safetensors", "/workspace/models/vae/vae.safetensors"]);
    const measure = parseMeasure(`free 2048\nsize 100 ${files[0]?.dest}\nsize 30 ${files[1]?.part}\n`);
    assert.equal(measure.freeBytes, 2048 * 1024);
    assert.equal(bytesStillNeeded(files, measure.sizes), 70);
    assert.throws(() => parseMeasure("df: no such file\n"), /cannot read the free space/);
  });

  it("gives up on a docker call that hangs, at its deadline", async () => {
    const hanging = path.join(bin, "docker-hangs");
    fs.writeFileSync(hanging, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
    const started = Date.now();
    await assert.rejects(runDocker(["info"], { docker: hanging, timeoutMs: 300 }), (error: unknown) => {
      assert.ok(error instanceof DockerUnavailable);
      assert.match(error.message, /`docker-hangs info` did not finish within 0.3 s/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, "it does not wait for the hung call");
  });
});
