// The committed model manifest (docker/models/manifest.json) and its schema (models/manifest.ts).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  MODEL_VARIANTS,
  bytesFor,
  defaultManifestPath,
  filesFor,
  hubResolveUrl,
  isCommitSha,
  loadModelManifest,
  minVramGbFor,
  parseModelManifest,
  type ModelManifest,
} from "../../models";

const GB = 1e9;
const manifest = loadModelManifest();
/** Where ComfyUI finds a file, as a workflow names it: `<folder>/<path under the folder>`. */
const comfyPaths = (variant: (typeof MODEL_VARIANTS)[number]): string[] =>
  filesFor(manifest, variant).map((f) => `${f.target}/${f.path.split("/").pop() ?? ""}`);

describe("model manifest (docker/models/manifest.json)", () => {
  it("is found from the compiled tests and is valid", () => {
    assert.equal(path.relative(path.resolve(__dirname, "../../.."), defaultManifestPath()), path.join("docker", "models", "manifest.json"));
    assert.equal(manifest.schemaVersion, 1);
  });

  it("is written the way `models:pin` writes it (2-space JSON, final newline)", () => {
    const text = fs.readFileSync(defaultManifestPath(), "utf8");
    assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  });

  it("gives every variant its diffusion model plus the shared encoders, VAE, CLIP vision, LoRA and pose models", () => {
    const shared = [
      "text_encoders/umt5-xxl-enc-bf16.safetensors",
      "vae/wanvideo/Wan2_1_VAE_bf16.safetensors",
      "clip_vision/clip_vision_h.safetensors",
      "loras/WanVideo/Lightx2v/lightx2v_I2V_14B_480p_cfg_step_distill_rank64_bf16.safetensors",
      "detection/onnx/yolov10m.onnx",
      "detection/onnx/vitpose_h_wholebody_model.onnx",
      "detection/onnx/vitpose_h_wholebody_data.bin",
    ];
    const model: Record<(typeof MODEL_VARIANTS)[number], RegExp> = {
      fp8: /^diffusion_models\/WanVideo\/SteadyDancer\/Wan21_SteadyDancer_fp8_e4m3fn_scaled_KJ\.safetensors$/,
      fp16: /^diffusion_models\/WanVideo\/SteadyDancer\/Wan21_I2V_SteadyDancer_fp16\.safetensors$/,
    };
    for (const v of MODEL_VARIANTS) {
      const paths = comfyPaths(v);
      for (const s of shared) assert.ok(paths.includes(s), `${v} lacks ${s}`);
      const models = paths.filter((p) => p.startsWith("diffusion_models/"));
      assert.equal(models.length, 1, `${v} must have exactly one diffusion model: ${models.join(", ")}`);
      assert.match(models[0] ?? "", model[v]);
    }
  });

  it("has a file for every model name the SteadyDancer workflow loads (fp8)", function () {
    const workflow = path.resolve(__dirname, "../../../docker/workflows/steadydancer-dance.json");
    assert.ok(fs.existsSync(workflow), `${workflow} is missing`);
    const names = new Set<string>();
    const walk = (v: unknown): void => {
      if (typeof v === "string" && /\.(safetensors|gguf|onnx|bin|pth|pt)$/.test(v)) names.add(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") Object.values(v).forEach(walk);
    };
    walk(JSON.parse(fs.readFileSync(workflow, "utf8")) as unknown);
    assert.ok(names.size >= 5, `expected the workflow to name its models, found ${[...names].join(", ")}`);
    // A workflow names a file relative to its model folder (`diffusion_models`, `vae`, `detection`, …).
    const available = comfyPaths("fp8").map((p) => p.split("/").slice(1).join("/"));
    for (const name of names) assert.ok(available.includes(name), `${name} is loaded by the workflow but not in the manifest's fp8 files`);
  });

  it("keeps ViTPose's external weights next to its graph under the name the graph refers to", () => {
    const graph = manifest.files.find((f) => f.path.endsWith("vitpose_h_wholebody_model.onnx"));
    const data = manifest.files.find((f) => f.path.endsWith("vitpose_h_wholebody_data.bin"));
    assert.ok(graph && data);
    assert.equal(graph.target, data.target);
    assert.deepEqual(graph.variants, data.variants);
  });

  it("builds every url from repo, revision and path, as download-models.sh does", () => {
    for (const f of manifest.files) {
      assert.equal(f.url, hubResolveUrl(f), f.id);
      assert.match(f.url, /^https:\/\/huggingface\.co\/[\w.-]+\/[\w.-]+\/resolve\/(main|[0-9a-f]{40})\//);
    }
    assert.equal(hubResolveUrl({ repo: "a/b", revision: "refs/pr/1", path: "x y/z.bin" }, "http://mirror:8080/"),
      "http://mirror:8080/a/b/resolve/refs%2Fpr%2F1/x%20y/z.bin");
  });

  it("pins sizes and hashes only at a commit, never on a branch that can move under them", () => {
    for (const f of manifest.files) {
      if (f.sha256 === null && f.size === null) continue;
      assert.ok(isCommitSha(f.revision), `${f.id} pins size/sha256 at revision '${f.revision}', which is not a commit: run npm run models:pin`);
      if (f.trackedRevision !== undefined) assert.ok(!isCommitSha(f.trackedRevision), `${f.id}: trackedRevision names a branch or tag`);
    }
    assert.ok(isCommitSha("0123456789abcdef0123456789abcdef01234567"));
    assert.ok(!isCommitSha("main") && !isCommitSha("0123456"));
  });

  it("states minimum VRAM per variant and lets only fp8 fall back (to fp16)", () => {
    assert.deepEqual(Object.fromEntries(MODEL_VARIANTS.map((v) => [v, minVramGbFor(manifest, v)])),
      { fp8: 24, fp16: 48 });
    assert.deepEqual(Object.fromEntries(MODEL_VARIANTS.map((v) => [v, manifest.variants[v].fallback])),
      { fp8: "fp16", fp16: null });
  });

  it("sizes the variants plausibly while unpinned, and tells where unpinned names come from", () => {
    const total = Object.fromEntries(MODEL_VARIANTS.map((v) => [v, bytesFor(manifest, v)]));
    assert.ok(total.fp8 > 30 * GB && total.fp8 < 40 * GB, `fp8 needs ${total.fp8 / GB} GB`);
    assert.ok(total.fp16 > total.fp8 + 14 * GB, "fp16 weighs about twice the fp8 model");
    for (const f of manifest.files) {
      if (f.sha256 === null) assert.ok(f.size === null || f.size > 0);
      assert.ok(!f.path.endsWith(".gguf"), `${f.id}: no GGUF file name could be confirmed, so none is listed`);
    }
  });

  describe("schema", () => {
    const base = (): ModelManifest => JSON.parse(JSON.stringify(manifest)) as ModelManifest;
    const rejects = (m: unknown, pattern: RegExp): void => assert.throws(() => parseModelManifest(m, "candidate"), pattern);

    it("keeps the branch a pinned file tracks next to its commit", () => {
      const m = base();
      const first = m.files[0];
      assert.ok(first);
      first.revision = "0123456789abcdef0123456789abcdef01234567";
      first.trackedRevision = "main";
      assert.equal(parseModelManifest(m).files[0]?.trackedRevision, "main");
      first.trackedRevision = "";
      rejects(m, /trackedRevision/);
    });

    it("uses the exact size once pinned and the estimate before", () => {
      const m = base();
      const fp8 = filesFor(m, "fp8");
      const estimate = bytesFor(m, "fp8");
      const first = fp8[0];
      assert.ok(first);
      first.size = first.sizeEstimate + 5;
      assert.equal(bytesFor(m, "fp8"), estimate + 5);
    });

    it("rejects duplicate ids, a variant without files, bad hashes and unsafe targets", () => {
      const dup = base();
      const first = dup.files[0];
      assert.ok(first);
      dup.files.push({ ...first });
      rejects(dup, /duplicate id/);

      const noFp16 = base();
      noFp16.files = noFp16.files.filter((f) => !f.variants.includes("fp16") && !f.variants.includes("*"));
      rejects(noFp16, /variant fp16 has no files/);

      const upper = base();
      (upper.files[0] ?? first).sha256 = "A".repeat(64);
      rejects(upper, /64 lowercase hex digits/);

      for (const target of ["/etc", "../outside", "loras/../../x"]) {
        const bad = base();
        (bad.files[0] ?? first).target = target;
        rejects(bad, /relative to models\/ without '\.\.'/);
      }
    });
  });
});
