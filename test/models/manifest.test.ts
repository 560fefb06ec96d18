// The committed model manifest (docker/models/manifest.json) and its schema (models/manifest.ts).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  MODEL_VARIANTS,
  bytesFor,
  defaultManifestPath,
  filesFor,
  directDownloadUrl,
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

  it("builds every Hub url from repo, revision and path, as download-models.sh does", () => {
    for (const f of manifest.files) {
      if (f.source !== "huggingface") continue;
      assert.equal(f.url, hubResolveUrl(f), f.id);
      assert.match(f.url, /^https:\/\/huggingface\.co\/[\w.-]+\/[\w.-]+\/resolve\/(main|[0-9a-f]{40})\//);
    }
    assert.equal(hubResolveUrl({ repo: "a/b", revision: "refs/pr/1", path: "x y/z.bin" }, "http://mirror:8080/"),
      "http://mirror:8080/a/b/resolve/refs%2Fpr%2F1/x%20y/z.bin");
  });

  it("pins sizes and hashes only at a commit, never on a branch that can move under them", () => {
    for (const f of manifest.files) {
      if (f.sha256 === null && f.size === null) continue;
      if (f.source !== "huggingface") continue; // a direct file's url names one immutable object
      assert.ok(isCommitSha(f.revision), `${f.id} pins size/sha256 at revision '${f.revision}', which is not a commit: run npm run models:pin`);
      if (f.trackedRevision !== undefined) assert.ok(!isCommitSha(f.trackedRevision), `${f.id}: trackedRevision names a branch or tag`);
    }
    assert.ok(isCommitSha("0123456789abcdef0123456789abcdef01234567"));
    assert.ok(!isCommitSha("main") && !isCommitSha("0123456"));
  });

  it("lists YOLOX-L from download.openmmlab.com under the name and folder the DWPose alignment loads it from", () => {
    const yolox = manifest.files.find((f) => f.id === "yolox-l-8x8-300e-coco");
    const dwpose = manifest.files.find((f) => f.id === "dwpose-ll-ucoco-384");
    assert.ok(yolox?.source === "url" && dwpose?.source === "huggingface");
    // The Weights URL of yolox_l_8x8_300e_coco in mmdet 3.3.0's configs/yolox/metafile.yml.
    assert.equal(yolox.url, "https://download.openmmlab.com/mmdetection/v2.0/yolox/yolox_l_8x8_300e_coco/yolox_l_8x8_300e_coco_20211126_140236-d3bd2b23.pth");
    // pose_align.py's default --yolox_ckpt is pretrained_weights/dwpose/yolox_l_8x8_300e_coco.pth, next to
    // dw-ll_ucoco_384.pth; start.sh links detection/dwpose/*.pth there.
    assert.equal(yolox.fileName, "yolox_l_8x8_300e_coco.pth");
    assert.equal(yolox.target, dwpose.target);
    assert.deepEqual(yolox.variants, dwpose.variants);
    // OpenMMLab's publish_model.py appends the first 8 hex digits of the file's sha256 to its name.
    assert.equal(yolox.sha256Prefix, /-([0-9a-f]{8})\.pth$/.exec(yolox.url)?.[1]);
    assert.equal(directDownloadUrl(yolox, {}), yolox.url);
    assert.equal(directDownloadUrl(yolox, { OPENMMLAB_ENDPOINT: "http://mirror:8080/" }),
      "http://mirror:8080/mmdetection/v2.0/yolox/yolox_l_8x8_300e_coco/yolox_l_8x8_300e_coco_20211126_140236-d3bd2b23.pth");
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
      assert.ok(first && first.source === "huggingface");
      first.revision = "0123456789abcdef0123456789abcdef01234567";
      first.trackedRevision = "main";
      const parsed = parseModelManifest(m).files[0];
      assert.equal(parsed?.source === "huggingface" ? parsed.trackedRevision : undefined, "main");
      first.trackedRevision = "";
      rejects(m, /trackedRevision/);
    });

    it("parses a parsed manifest to itself (what parsing derives is no second source)", () => {
      assert.deepEqual(parseModelManifest(base()), manifest);
    });

    describe("a file's source", () => {
      const direct = { id: "det", variants: ["*"], url: "https://download.openmmlab.com/a/b/det_20211126-d3bd2b23.pth", target: "detection/dwpose", size: null, sizeEstimate: 5, sha256: null };
      const withFile = (f: Record<string, unknown>): unknown => ({ ...base(), files: [...base().files, f] });
      const parsedLast = (f: Record<string, unknown>) => parseModelManifest(withFile(f)).files.at(-1);

      it("is a direct https url on download.openmmlab.com, stored under fileName or the url's last segment", () => {
        const named = parsedLast({ ...direct, fileName: "det.pth", sha256Prefix: "d3bd2b23" });
        assert.ok(named?.source === "url");
        assert.deepEqual([named.fileName, named.path, named.sha256Prefix], ["det.pth", "det.pth", "d3bd2b23"]);
        assert.equal(parsedLast(direct)?.fileName, "det_20211126-d3bd2b23.pth");
        assert.equal(parsedLast({ ...direct, sha256: `d3bd2b23${"0".repeat(56)}`, sha256Prefix: "d3bd2b23" })?.sha256?.slice(0, 8), "d3bd2b23");
      });

      it("is never both a Hub repo and a direct url, and says so", () => {
        const hub = { repo: "org/models", revision: "main", path: "det.pth" };
        rejects(withFile({ ...direct, ...hub }), /det has both a Hugging Face source \(repo, revision, path\) and a direct one \(a url on download\.openmmlab\.com\)/);
        rejects(withFile({ ...direct, ...hub, url: "https://huggingface.co/org/models/resolve/main/det.pth", fileName: "x.pth" }), /det has both a Hugging Face source .* and a direct one \(fileName\)/);
        rejects(withFile({ ...direct, repo: "org/models", url: "https://huggingface.co/org/models/resolve/main/det.pth" }), /a Hugging Face source needs repo, revision and path; revision is missing/);
      });

      it("refuses a direct url on any other host, over http, or with a sha256 its prefix contradicts", () => {
        rejects(withFile({ ...direct, url: "https://example.com/det.pth" }), /det has no repo, so its url must be a direct https download from download\.openmmlab\.com; got https:\/\/example\.com\/det\.pth/);
        rejects(withFile({ ...direct, url: "http://download.openmmlab.com/det.pth" }), /det: a direct url must be https/);
        rejects(withFile({ ...direct, sha256Prefix: "d3bd2b23", sha256: "f".repeat(64) }), /does not start with its sha256Prefix d3bd2b23/);
        rejects(withFile({ ...direct, sha256Prefix: "D3BD" }), /8-63 lowercase hex digits/);
        rejects(withFile({ ...direct, fileName: "../x.pth" }), /file name without '\/'/);
      });
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
