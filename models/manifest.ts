// The model manifest (docker/models/manifest.json): the one list of model files per SteadyDancer variant.
// The download script reads the JSON directly; TypeScript code reads it through this schema.
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

// The GGUF builds (MCG-NJU/SteadyDancer-GGUF) are not offered: no source reachable here confirms the names of
// its Q8_0 and Q4_K_M files, and stored third-party scripts disagree on them. A GGUF file put into
// diffusion_models by hand still loads through WanVideoModelLoader.
export const MODEL_VARIANTS = ["fp8", "fp16"] as const;
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

const MANIFEST_IN_REPO = path.join("docker", "models", "manifest.json");

/** docker/models/manifest.json of this checkout, found from here whether running from source or from dist/. */
export function defaultManifestPath(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, MANIFEST_IN_REPO);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`cannot find ${MANIFEST_IN_REPO} above ${__dirname}`);
  }
}

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");
/** A folder under ComfyUI's models/ directory, relative, without `..`. */
const targetFolder = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be relative to models/ without '..'");

export function modelManifestSchema() {
  const variant = z.enum(MODEL_VARIANTS);
  const file = z.object({
    /** Stable name used in messages. */
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
    /** Variants that need this file; "*" = all. */
    variants: z.array(z.union([variant, z.literal("*")])).min(1),
    /** Hugging Face repository (owner/name) and revision the file comes from. */
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
    /** A commit sha once pinned (`npm run models:pin` writes it), so the size and sha256 cannot move under it. */
    revision: z.string().min(1),
    /** Branch or tag that `npm run models:pin` resolves to the commit in `revision` (absent: `revision` itself). */
    trackedRevision: z.string().min(1).optional(),
    /** Path of the file inside the repository. */
    path: z.string().min(1),
    /** Full download URL on huggingface.co; the script rebuilds it from HF_ENDPOINT when that is set. */
    url: z.url(),
    /** Folder under ComfyUI's models/ where the file goes. */
    target: targetFolder,
    /** Exact size in bytes, null until `npm run models:pin` has filled it. */
    size: z.number().int().positive().nullable(),
    /** Size estimate in bytes for the free-disk check while `size` is still null. */
    sizeEstimate: z.number().int().positive(),
    /** sha256 of the file, null until pinned; the script then checks the server's LFS hash instead. */
    sha256: sha256.nullable(),
    /** Where the name or size estimate comes from while unpinned, or what else to know about the file. */
    note: z.string().optional(),
  });
  return z
    .object({
      schemaVersion: z.literal(1),
      variants: z.record(
        variant,
        z.object({
          description: z.string(),
          /** Minimum GPU memory for the shipped workflows at 512×512, used as the default VRAM check. */
          minVramGb: z.number().positive(),
          /** Variant to fall back to when this one's files cannot be had. */
          fallback: variant.nullable(),
        }),
      ),
      files: z.array(file).min(1),
    })
    .superRefine((m, ctx) => {
      const ids = new Set<string>();
      m.files.forEach((f, i) => {
        if (ids.has(f.id)) ctx.addIssue({ code: "custom", message: `duplicate id ${f.id}`, path: ["files", i, "id"] });
        ids.add(f.id);
      });
      for (const v of MODEL_VARIANTS) {
        if (!m.files.some((f) => f.variants.includes(v) || f.variants.includes("*"))) {
          ctx.addIssue({ code: "custom", message: `variant ${v} has no files`, path: ["files"] });
        }
      }
    });
}

export type ModelManifest = z.infer<ReturnType<typeof modelManifestSchema>>;
export type ModelFile = ModelManifest["files"][number];

export function parseModelManifest(json: unknown, source = "manifest"): ModelManifest {
  const parsed = modelManifestSchema().safeParse(json);
  if (!parsed.success) throw new Error(`${source} is not a valid model manifest:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function loadModelManifest(file = defaultManifestPath()): ModelManifest {
  return parseModelManifest(JSON.parse(fs.readFileSync(file, "utf8")) as unknown, file);
}

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

/** A full git commit sha, as the Hub gives in `sha` and `X-Repo-Commit`: a revision that cannot move. */
export const isCommitSha = (revision: string): boolean => /^[0-9a-f]{40}$/.test(revision);

/** The Hub URL of a file (`{endpoint}/{repo}/resolve/{revision}/{path}`), as download-models.sh rebuilds it. */
export function hubResolveUrl(file: Pick<ModelFile, "repo" | "revision" | "path">, endpoint = DEFAULT_HF_ENDPOINT): string {
  const pathPart = file.path.split("/").map(encodeURIComponent).join("/");
  return `${endpoint.replace(/\/+$/, "")}/${file.repo}/resolve/${encodeURIComponent(file.revision)}/${pathPart}`;
}

/** The files a variant needs, in manifest order. */
export function filesFor(manifest: ModelManifest, variant: ModelVariant): ModelFile[] {
  return manifest.files.filter((f) => f.variants.includes(variant) || f.variants.includes("*"));
}

export function minVramGbFor(manifest: ModelManifest, variant: ModelVariant): number {
  return manifest.variants[variant].minVramGb;
}

/** Bytes a variant needs on disk: exact sizes where pinned, estimates otherwise. */
export function bytesFor(manifest: ModelManifest, variant: ModelVariant): number {
  return filesFor(manifest, variant).reduce((sum, f) => sum + (f.size ?? f.sizeEstimate), 0);
}
