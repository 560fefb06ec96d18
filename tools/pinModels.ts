// `npm run models:pin [-- --manifest <file>] [--endpoint <url>] [--dry-run]`: pins every file of the model manifest
// for a user who has network, and rewrites the manifest. The file's branch or tag (`trackedRevision`, else
// `revision`) is resolved to a commit sha with `GET /api/models/{repo}/revision/{revision}` (huggingface_hub
// `model_info`, field `sha`); that sha becomes the file's `revision` and part of its `url`, and `size` and `sha256`
// come from the tree API at that commit. A later push to the branch then changes nothing the download script
// fetches; running models:pin again moves the pins to the branch's new head.
// An LFS entry carries its sha256 as `lfs.oid`; a plain git file only has its git blob sha1 (`oid`), so its sha256
// stays null and download-models.sh checks its size. HF_TOKEN (sent as a Bearer header, never printed) opens gated
// or private repos; HF_ENDPOINT points at a mirror.
// A file published on its own host instead (a direct `url`, DIRECT_URL_HOSTS) is pinned by tools/pinDirect.ts:
// size from HEAD, sha256 by streaming it, never with HF_TOKEN; its mirror variable (OPENMMLAB_ENDPOINT) is honoured.
import * as fs from "fs";
import axios, { type AxiosInstance } from "axios";
import { z } from "zod";
import {
  DEFAULT_HF_ENDPOINT,
  defaultManifestPath,
  hubResolveUrl,
  isCommitSha,
  parseModelManifest,
  type HubModelFile,
} from "../models";
import { pinDirectFile, type DirectPinOutcome } from "./pinDirect";

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
/** One entry of `GET /api/models/{repo}/tree/{revision}/{dir}` (huggingface.js `ListFileEntry`). */
const treeEntrySchema = z.object({
  type: z.enum(["file", "directory", "unknown"]),
  oid: z.string(),
  size: z.number().int().nonnegative(),
  path: z.string(),
  lfs: z.object({ oid: z.string(), size: z.number().int().nonnegative(), pointerSize: z.number().int() }).optional(),
  xetHash: z.string().optional(),
});
type TreeEntry = z.infer<typeof treeEntrySchema>;
const treePageSchema = z.array(treeEntrySchema);
/** The part of `GET /api/models/{repo}/revision/{revision}` (huggingface_hub `ModelInfo`) used here. */
const modelInfoSchema = z.looseObject({ sha: z.string().regex(/^[0-9a-f]{40}$/, "must be a 40-hex commit sha") });

/** The manifest file as JSON, kept as read so that key order and unknown fields survive the rewrite. */
const rawManifestSchema = z.looseObject({
  files: z.array(z.looseObject({ id: z.string(), repo: z.string().optional(), revision: z.string().optional(), trackedRevision: z.string().optional(), path: z.string().optional() })),
});
type RawFile = z.infer<typeof rawManifestSchema>["files"][number];

export interface PinOptions {
  manifestPath: string;
  endpoint?: string;
  token?: string;
  dryRun?: boolean;
  timeoutMs?: number;
  retries?: number;
  /** Base delay of the exponential backoff between retries. */
  retryDelayMs?: number;
  log?: (line: string) => void;
  /** Where direct-URL mirror variables (OPENMMLAB_ENDPOINT) are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** `revision` is the commit the file was pinned at, `trackedRevision` the branch or tag resolved to it. */
export type PinOutcome =
  | { id: string; status: "pinned" | "unchanged" | "changed"; size: number; sha256: string; revision: string; trackedRevision: string; previous?: { size: number | null; sha256: string | null } }
  | { id: string; status: "size-only"; size: number; reason: string; revision: string; trackedRevision: string }
  | { id: string; status: "failed"; reason: string }
  | DirectPinOutcome;

export interface PinReport {
  outcomes: PinOutcome[];
  written: boolean;
  failed: number;
}

class HubError extends Error {
  constructor(message: string, readonly unreachable = false) {
    super(message);
  }
}

/** GET with a timeout, retrying network errors, 429 and 5xx with exponential backoff (Retry-After when given). */
async function getWithRetry(http: AxiosInstance, url: string, retries: number, baseDelayMs: number): Promise<{ data: unknown; headers: Record<string, unknown> }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await http.get<unknown>(url, { validateStatus: () => true });
      if (res.status === 200) return { data: res.data, headers: res.headers };
      const code = typeof res.headers["x-error-code"] === "string" ? res.headers["x-error-code"] : "";
      const message = typeof res.headers["x-error-message"] === "string" ? res.headers["x-error-message"] : errorText(res.data);
      const transient = res.status === 429 || res.status >= 500;
      if (!transient || attempt >= retries) throw new HubError(describeStatus(res.status, code, message));
      const retryAfter = Number(res.headers["retry-after"]);
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : baseDelayMs * 2 ** attempt);
    } catch (err) {
      if (err instanceof HubError) throw err;
      if (attempt >= retries) throw new HubError(`cannot reach ${new URL(url).origin}: ${axios.isAxiosError(err) ? err.code ?? err.message : String(err)}`, true);
      await sleep(baseDelayMs * 2 ** attempt);
    }
  }
}

function errorText(data: unknown): string {
  const parsed = z.object({ error: z.string() }).safeParse(data);
  return parsed.success ? parsed.data.error : "";
}

function describeStatus(status: number, code: string, message: string): string {
  const detail = `HTTP ${status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
  if (status === 401 || status === 403) {
    return `${detail} (the repo is gated, private or missing: set HF_TOKEN to a token that has accepted its licence)`;
  }
  if (status === 404) return `${detail} (check the repo, revision and folder in the manifest)`;
  return detail;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function nextLink(headers: Record<string, unknown>): string | undefined {
  const link = headers.link;
  if (typeof link !== "string") return undefined;
  return /<([^>]+)>\s*;\s*rel="next"/.exec(link)?.[1];
}

/** The commit sha a branch, tag or sha of a repo points at now. */
async function resolveCommit(http: AxiosInstance, endpoint: string, repo: string, revision: string, retries: number, delayMs: number): Promise<string> {
  const url = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
  const { data } = await getWithRetry(http, url, retries, delayMs);
  const info = modelInfoSchema.safeParse(data);
  if (!info.success) throw new HubError(`unexpected model info from ${url}: ${z.prettifyError(info.error)}`);
  return info.data.sha;
}

/** All entries of one folder of a repo at a revision, following the tree API's pagination. */
async function listFolder(http: AxiosInstance, endpoint: string, repo: string, revision: string, dir: string, retries: number, delayMs: number): Promise<TreeEntry[]> {
  const dirPart = dir === "" ? "" : `/${dir.split("/").map(encodeURIComponent).join("/")}`;
  let url: string | undefined = `${endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}${dirPart}?recursive=false`;
  const entries: TreeEntry[] = [];
  for (let pages = 0; url !== undefined; pages++) {
    if (pages > 1000) throw new HubError("the tree API kept paginating: giving up after 1000 pages");
    const { data, headers }: { data: unknown; headers: Record<string, unknown> } = await getWithRetry(http, url, retries, delayMs);
    const page = treePageSchema.safeParse(data);
    if (!page.success) throw new HubError(`unexpected tree API answer from ${url}: ${z.prettifyError(page.error)}`);
    entries.push(...page.data);
    url = nextLink(headers);
  }
  return entries;
}

const folderOf = (p: string): string => (p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "");

/** Names in the folder that look like the one asked for: same extension first, then by shared prefix. */
function lookalikes(wanted: string, entries: TreeEntry[]): string[] {
  const name = wanted.split("/").pop() ?? wanted;
  const ext = name.includes(".") ? name.slice(name.lastIndexOf(".")) : "";
  const common = (a: string, b: string): number => {
    let i = 0;
    while (i < a.length && i < b.length && a[i]?.toLowerCase() === b[i]?.toLowerCase()) i++;
    return i;
  };
  return entries
    .filter((e) => e.type === "file" && (ext === "" || e.path.endsWith(ext)))
    .map((e) => e.path)
    .sort((a, b) => common(name, b.split("/").pop() ?? b) - common(name, a.split("/").pop() ?? a))
    .slice(0, 5);
}

function pinOne(file: HubModelFile, entries: TreeEntry[], commit: string, tracked: string): PinOutcome {
  const entry = entries.find((e) => e.type === "file" && e.path === file.path);
  if (!entry) {
    const near = lookalikes(file.path, entries);
    return {
      id: file.id,
      status: "failed",
      reason: `${file.path} is not in ${file.repo}@${tracked}${tracked === commit ? "" : ` (commit ${commit})`}${near.length ? `; that folder has: ${near.join(", ")}` : ""}`,
    };
  }
  if (!entry.lfs) {
    return {
      id: file.id,
      status: "size-only",
      size: entry.size,
      revision: commit,
      trackedRevision: tracked,
      reason: `not stored in LFS: the tree gives only its git blob sha1 (${entry.oid}), not a sha256; sha256 stays null and downloads are checked by size`,
    };
  }
  const sha = sha256Hex.safeParse(entry.lfs.oid);
  if (!sha.success) return { id: file.id, status: "failed", reason: `the tree API gave an LFS oid that is not a sha256: ${entry.lfs.oid}` };
  const previous = { size: file.size, sha256: file.sha256 };
  const status = file.sha256 === null && file.size === null ? "pinned" : file.sha256 === sha.data && file.size === entry.lfs.size ? "unchanged" : "changed";
  return { id: file.id, status, size: entry.lfs.size, sha256: sha.data, revision: commit, trackedRevision: tracked, ...(status === "changed" ? { previous } : {}) };
}

/**
 * The manifest entry pinned at `commit`, remembering the branch or tag it came from right after `revision` (key
 * order kept, so the rewrite stays a small diff).
 */
function withRevision(entry: RawFile, commit: string, tracked: string): RawFile {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) {
    if (k === "trackedRevision") continue;
    if (k === "revision") {
      out.revision = commit;
      if (tracked !== commit && !isCommitSha(tracked)) out.trackedRevision = tracked;
      continue;
    }
    out[k] = v;
  }
  return out as RawFile;
}

export async function pinManifest(opts: PinOptions): Promise<PinReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const endpoint = (opts.endpoint ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, "");
  const text = fs.readFileSync(opts.manifestPath, "utf8");
  const json = JSON.parse(text) as unknown;
  const manifest = parseModelManifest(json, opts.manifestPath);
  // Edited in place (zod would hand back a copy with its own key order) once its shape is checked.
  rawManifestSchema.parse(json);
  const raw = json as z.infer<typeof rawManifestSchema>;
  const http = axios.create({
    timeout: opts.timeoutMs ?? 30000,
    headers: { "User-Agent": "steadydancer-models-pin/1", ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}) },
    maxRedirects: 5,
  });

  const retries = opts.retries ?? 4;
  const delayMs = opts.retryDelayMs ?? 1000;
  const byId = new Map<string, PinOutcome>();
  let unreachable: string | undefined;
  const fail = (files: HubModelFile[], reason: string): void => {
    for (const f of files) byId.set(f.id, { id: f.id, status: "failed", reason });
  };

  // One commit lookup per repo and branch, then one listing per folder at that commit.
  const refs = new Map<string, { repo: string; tracked: string; files: HubModelFile[] }>();
  for (const f of manifest.files) {
    if (f.source !== "huggingface") continue;
    const tracked = f.trackedRevision ?? f.revision;
    const key = `${f.repo}@${tracked}`;
    const group = refs.get(key) ?? { repo: f.repo, tracked, files: [] };
    group.files.push(f);
    refs.set(key, group);
  }
  for (const ref of refs.values()) {
    const where = `${ref.repo}@${ref.tracked}`;
    if (unreachable !== undefined) {
      fail(ref.files, unreachable);
      continue;
    }
    let commit: string;
    try {
      commit = await resolveCommit(http, endpoint, ref.repo, ref.tracked, retries, delayMs);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      if (err.unreachable) unreachable = err.message; // no point asking again for every repo
      fail(ref.files, `resolving ${where} to a commit: ${err.message}`);
      continue;
    }
    const moved = [...new Set(ref.files.map((f) => f.revision).filter((r) => r !== commit))];
    log(`${where} is commit ${commit}${moved.length > 0 ? ` (was ${moved.join(", ")})` : ""}`);
    const folders = new Map<string, HubModelFile[]>();
    for (const f of ref.files) folders.set(folderOf(f.path), [...(folders.get(folderOf(f.path)) ?? []), f]);
    for (const [dir, files] of folders) {
      if (unreachable !== undefined) {
        fail(files, unreachable);
        continue;
      }
      try {
        const entries = await listFolder(http, endpoint, ref.repo, commit, dir, retries, delayMs);
        for (const f of files) byId.set(f.id, pinOne(f, entries, commit, ref.tracked));
      } catch (err) {
        if (!(err instanceof HubError)) throw err;
        if (err.unreachable) unreachable = err.message;
        fail(files, `listing ${where}/${dir} (commit ${commit}): ${err.message}`);
      }
    }
  }

  for (const f of manifest.files) {
    if (f.source !== "url") continue;
    byId.set(f.id, await pinDirectFile(f, { env: opts.env ?? process.env, timeoutMs: opts.timeoutMs ?? 30000, retries, retryDelayMs: delayMs, log }));
  }

  const outcomes = manifest.files.map((f) => byId.get(f.id) ?? { id: f.id, status: "failed" as const, reason: "not looked up" });
  for (const [i, f] of manifest.files.entries()) {
    const o = outcomes[i];
    const entry = raw.files[i];
    if (!o || !entry) continue;
    if (o.status === "failed") {
      log(`FAILED    ${o.id}: ${o.reason}`);
      continue;
    }
    if ("source" in o) {
      const was = o.status === "changed" && o.previous ? ` (was ${o.previous.size ?? "null"} bytes, sha256 ${o.previous.sha256 ?? "null"})` : "";
      log(`${o.status.padEnd(9)} ${o.id}: ${o.size} bytes, sha256 ${o.sha256} from ${new URL(f.url).host}${was}`);
      entry.size = o.size;
      entry.sizeEstimate = o.size;
      entry.sha256 = o.sha256;
      continue;
    }
    if (f.source !== "huggingface") continue;
    if (o.status === "size-only") {
      log(`size only ${o.id}: ${o.size} bytes at ${o.revision.slice(0, 12)}; ${o.reason}`);
      entry.size = o.size;
      entry.sizeEstimate = o.size;
      entry.sha256 = null;
    } else {
      const was = o.status === "changed" && o.previous ? ` (was ${o.previous.size ?? "null"} bytes, sha256 ${o.previous.sha256 ?? "null"})` : "";
      log(`${o.status.padEnd(9)} ${o.id}: ${o.size} bytes, sha256 ${o.sha256} at ${o.revision.slice(0, 12)}${was}`);
      entry.size = o.size;
      entry.sizeEstimate = o.size;
      entry.sha256 = o.sha256;
    }
    const pinned = withRevision(entry, o.revision, o.trackedRevision);
    pinned.url = hubResolveUrl({ ...f, revision: o.revision });
    raw.files[i] = pinned;
  }

  const failed = outcomes.filter((o) => o.status === "failed").length;
  const next = `${JSON.stringify(raw, null, 2)}\n`;
  parseModelManifest(JSON.parse(next) as unknown, "the pinned manifest");
  const changed = next !== text;
  let written = false;
  if (opts.dryRun) {
    log(changed ? `dry run: ${opts.manifestPath} would change` : `dry run: ${opts.manifestPath} is up to date`);
  } else if (changed) {
    const tmp = `${opts.manifestPath}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, next);
    fs.renameSync(tmp, opts.manifestPath);
    written = true;
    log(`wrote ${opts.manifestPath}`);
  } else {
    log(`${opts.manifestPath} is up to date`);
  }
  return { outcomes, written, failed };
}

const argsSchema = z.object({
  manifest: z.string().min(1).optional(),
  endpoint: z.url().optional(),
  dryRun: z.boolean(),
});

function parseArgs(argv: string[]): z.infer<typeof argsSchema> {
  const out: { manifest?: string; endpoint?: string; dryRun: boolean } = { dryRun: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--manifest") out.manifest = value();
    else if (a === "--endpoint") out.endpoint = value();
    else if (a === "--dry-run") out.dryRun = true;
    else if (a === "--help" || a === "-h") {
      console.log("usage: npm run models:pin [-- --manifest <file>] [--endpoint <url>] [--dry-run]\n" +
        "Pins every manifest file at the commit its branch (trackedRevision, else revision) points at now: writes that\n" +
        "commit as revision and into url, and size and sha256 from the Hugging Face tree API at it.\n" +
        "A file with a direct url (download.openmmlab.com) gets its size from a HEAD and its sha256 by downloading it,\n" +
        "checked against its sha256Prefix, without HF_TOKEN; OPENMMLAB_ENDPOINT points that at a mirror.\n" +
        "HF_TOKEN opens gated repos; HF_ENDPOINT sets the Hub URL.");
      process.exit(0);
    } else throw new Error(`unknown argument ${a ?? ""} (try --help)`);
  }
  const parsed = argsSchema.safeParse(out);
  if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
  return parsed.data;
}

export async function main(argv: string[]): Promise<number> {
  let args: z.infer<typeof argsSchema>;
  try {
    args = parseArgs(argv);
  } catch (err) {
    console.error(`models:pin: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const token = process.env.HF_TOKEN?.trim() || undefined;
  const endpoint = args.endpoint ?? (process.env.HF_ENDPOINT?.trim() || undefined);
  const report = await pinManifest({
    manifestPath: args.manifest ?? defaultManifestPath(),
    dryRun: args.dryRun,
    ...(endpoint ? { endpoint } : {}),
    ...(token ? { token } : {}),
  });
  if (report.failed > 0) {
    const rest = report.outcomes.length - report.failed;
    console.error(`models:pin: ${report.failed} of ${report.outcomes.length} file(s) could not be pinned (see FAILED above)${rest > 0 ? `; the other ${rest} were ${args.dryRun ? "checked" : "pinned"}` : ""}`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      console.error(`models:pin: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
