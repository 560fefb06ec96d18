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

/**
 * Hosts a file may come from directly (not through the Hub), each with the environment variable that points
 * download-models.sh and `models:pin` at a mirror of it (as HF_ENDPOINT does for the Hub). OpenMMLab publishes its
 * checkpoints only there (YOLOX-L of the DWPose alignment).
 */
export const DIRECT_URL_HOSTS: Readonly<Record<string, string>> = { "download.openmmlab.com": "OPENMMLAB_ENDPOINT" };

const HF_FIELDS = ["repo", "revision", "trackedRevision", "path"] as const;
const DIRECT_FIELDS = ["fileName", "sha256Prefix"] as const;

export function modelManifestSchema() {
  const variant = z.enum(MODEL_VARIANTS);
  const rawFile = z.object({
    /** Stable name used in messages. */
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
    /**
     * Not written in the manifest: what parsing adds (with the derived `fileName`, and `path` of a direct file), so
     * that a parsed manifest parses again to itself.
     */
    source: z.enum(["huggingface", "url"]).optional(),
    /** Variants that need this file; "*" = all. */
    variants: z.array(z.union([variant, z.literal("*")])).min(1),
    // A file has ONE source: a Hugging Face repository (repo, revision, path) or a direct https url on a host of
    // DIRECT_URL_HOSTS (url, fileName, sha256Prefix).
    /** Hugging Face repository (owner/name) the file comes from. */
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/).optional(),
    /** A commit sha once pinned (`npm run models:pin` writes it), so the size and sha256 cannot move under it. */
    revision: z.string().min(1).optional(),
    /** Branch or tag that `npm run models:pin` resolves to the commit in `revision` (absent: `revision` itself). */
    trackedRevision: z.string().min(1).optional(),
    /** Path of the file inside the repository. */
    path: z.string().min(1).optional(),
    /**
     * Hugging Face source: the file's URL on huggingface.co (the script rebuilds it from HF_ENDPOINT when that is
     * set). Direct source: the https URL it is published at, on a host of DIRECT_URL_HOSTS.
     */
    url: z.url(),
    /** Direct source: the name the file is stored under in `target` (default: the URL's last segment). */
    fileName: z.string().regex(/^[^/\\]+$/, "must be a file name without '/'").refine((n) => n !== "." && n !== "..", "must be a file name").optional(),
    /**
     * Direct source: the leading hex digits of the file's sha256 that its publisher states (OpenMMLab puts the
     * first 8 into the file name), checked by the download script while the full `sha256` is not pinned.
     */
    sha256Prefix: z.string().regex(/^[0-9a-f]{8,63}$/, "must be 8-63 lowercase hex digits").optional(),
    /** Folder under ComfyUI's models/ where the file goes. */
    target: targetFolder,
    /** Exact size in bytes, null until `npm run models:pin` has filled it. */
    size: z.number().int().positive().nullable(),
    /** Size estimate in bytes for the free-disk check while `size` is still null. */
    sizeEstimate: z.number().int().positive(),
    /** sha256 of the file, null until pinned; the script then checks the server's LFS hash (or sha256Prefix). */
    sha256: sha256.nullable(),
    /** Where the name or size estimate comes from while unpinned, or what else to know about the file. */
    note: z.string().optional(),
  });
  const file = rawFile
    .superRefine((f, ctx) => {
      const issue = (message: string, key?: string): void => ctx.addIssue({ code: "custom", message, ...(key ? { path: [key] } : {}) });
      // What an earlier parse derived is no second source: a direct file's `path`, a Hub file's `fileName`.
      const derivedPath = f.source === "url" && f.path !== undefined && f.path === f.fileName;
      const derivedName = f.source === "huggingface" && f.path !== undefined && f.fileName === f.path.split("/").pop();
      const hf = HF_FIELDS.filter((k) => f[k] !== undefined && !(k === "path" && derivedPath));
      const direct = DIRECT_FIELDS.filter((k) => f[k] !== undefined && !(k === "fileName" && derivedName));
      if (!URL.canParse(f.url)) return; // z.url() has said so
      const host = new URL(f.url).hostname;
      const directHost = Object.hasOwn(DIRECT_URL_HOSTS, host);
      const hosts = Object.keys(DIRECT_URL_HOSTS).join(", ");
      if (hf.length > 0 && (direct.length > 0 || directHost)) {
        const other = direct.length > 0 ? direct.join(", ") : `a url on ${host}`;
        issue(`${f.id} has both a Hugging Face source (${hf.join(", ")}) and a direct one (${other}): give either repo, revision and path, or a direct url (${hosts}) without them`);
        return;
      }
      if (hf.length > 0) {
        for (const k of ["repo", "revision", "path"] as const) {
          if (f[k] === undefined) issue(`${f.id}: a Hugging Face source needs repo, revision and path; ${k} is missing`, k);
        }
        return;
      }
      if (!directHost) {
        issue(`${f.id} has no repo, so its url must be a direct https download from ${hosts}; got ${f.url} (a Hugging Face file needs repo, revision and path)`, "url");
        return;
      }
      if (new URL(f.url).protocol !== "https:") issue(`${f.id}: a direct url must be https, got ${f.url}`, "url");
      if (f.fileName === undefined && !/[^/]$/.test(new URL(f.url).pathname)) issue(`${f.id}: the url ends in '/': give fileName`, "fileName");
      if (f.sha256 !== null && f.sha256Prefix !== undefined && !f.sha256.startsWith(f.sha256Prefix)) {
        issue(`${f.id}: sha256 ${f.sha256} does not start with its sha256Prefix ${f.sha256Prefix}`, "sha256");
      }
    })
    .transform((f) => {
      const common = { id: f.id, variants: f.variants, url: f.url, target: f.target, size: f.size, sizeEstimate: f.sizeEstimate, sha256: f.sha256, ...(f.note !== undefined ? { note: f.note } : {}) };
      if (f.source !== "url" && f.repo !== undefined && f.revision !== undefined && f.path !== undefined) {
        return {
          ...common,
          source: "huggingface" as const,
          repo: f.repo,
          revision: f.revision,
          ...(f.trackedRevision !== undefined ? { trackedRevision: f.trackedRevision } : {}),
          path: f.path,
          fileName: f.path.split("/").pop() ?? f.path,
        };
      }
      const fileName = f.fileName ?? decodeURIComponent(new URL(f.url).pathname.split("/").pop() ?? "");
      return {
        ...common,
        source: "url" as const,
        fileName,
        // No repository path: `path` is the stored name, so that code matching files by basename(path) sees it.
        path: fileName,
        ...(f.sha256Prefix !== undefined ? { sha256Prefix: f.sha256Prefix } : {}),
      };
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
/** A file fetched from a Hugging Face repository. */
export type HubModelFile = Extract<ModelFile, { source: "huggingface" }>;
/** A file fetched from its publisher's own https host (DIRECT_URL_HOSTS), never with the Hugging Face token. */
export type DirectModelFile = Extract<ModelFile, { source: "url" }>;

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
export function hubResolveUrl(file: { repo: string; revision: string; path: string }, endpoint = DEFAULT_HF_ENDPOINT): string {
  const pathPart = file.path.split("/").map(encodeURIComponent).join("/");
  return `${endpoint.replace(/\/+$/, "")}/${file.repo}/resolve/${encodeURIComponent(file.revision)}/${pathPart}`;
}

/**
 * Where a direct file is fetched from: its url, or the same path under the mirror that the host's variable of
 * DIRECT_URL_HOSTS names in `env` (download-models.sh rewrites it the same way).
 */
export function directDownloadUrl(file: Pick<DirectModelFile, "url">, env: NodeJS.ProcessEnv = process.env): string {
  const url = new URL(file.url);
  const variable = DIRECT_URL_HOSTS[url.hostname];
  const mirror = variable === undefined ? undefined : env[variable]?.trim();
  if (!mirror) return file.url;
  return `${mirror.replace(/\/+$/, "")}${url.pathname}${url.search}`;
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
