// Local stand-in for the Hugging Face Hub as the model download and pinning code sees it:
//  - `/{owner}/{name}/resolve/{revision}/{path}` (GET/HEAD). An LFS file answers 302 to a CDN-like URL with
//    `X-Linked-Etag: "<sha256>"`, `X-Linked-Size` and `X-Repo-Commit`; a plain git file answers 200 with its
//    git blob sha1 as ETag. Errors carry `X-Error-Code`/`X-Error-Message` and a JSON `{"error": …}` body:
//    401 GatedRepo / RepoNotFound without a token, 403 GatedRepo for a token without access, 404 EntryNotFound /
//    RevisionNotFound.
//  - `/cdn/{sha256}?X-Amz-…` (GET/HEAD) on a DIFFERENT host name (`cdnHost`, default `localhost`; the Hub is
//    `127.0.0.1`), like huggingface.co redirecting to cdn-lfs.hf.co / cas-bridge.xethub.hf.co: the object behind a
//    pre-signed URL, with byte ranges (206 + Content-Range, 416 with `Content-Range: bytes */size`, Accept-Ranges).
//    A request that carries an `Authorization` header next to the URL's signature gets S3's answer to two auth
//    mechanisms: 400 with an XML `<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed…`
//    (S3's documented behaviour, which hf_transfer PR #42 and bumblebee PR #314 ran into when the Hub's redirect
//    led to S3 directly; a CloudFront edge may ignore the header instead: either way the token must not go there).
//    A signed URL past `X-Amz-Date` + `X-Amz-Expires` gets 403 AccessDenied "Request has expired". Faults are
//    injected here.
//  - `/api/models/{owner}/{name}/tree/{revision}[/{dir}]`: the tree API, entries
//    `{type, oid, size, path, lfs?: {oid, size, pointerSize}, xetHash?}`, paginated with a `Link: <…>; rel="next"` header.
//  - `/api/models/{owner}/{name}/revision/{revision}`: the model info at a revision (huggingface_hub `model_info`),
//    whose `sha` is the commit the branch, tag or sha points at. A gated repo's info is public (only its files
//    need access), as `model_info` works without a token on gated models.
//  - any path published with `hostDirect` (GET/HEAD, on either host name): a publisher's own file server, like
//    download.openmmlab.com, where OpenMMLab keeps its checkpoints: 200 or 206 with Content-Length, byte ranges,
//    Accept-Ranges and an MD5 ETag, none of the Hub's headers. How that host treats an Authorization header is not
//    known (it is never meant to get one), so the emulator only records it; tests assert it was absent.
// Revisions are git-like: every `host()` is a commit on its branch (default `main`) that moves the branch; a commit
// keeps serving what it had, so resolve/tree at an older commit sha give the older files.
// Sources: huggingface_hub `file_download.get_hf_file_metadata` / `utils/_http.hf_raise_for_status` / `hf_api.model_info`,
// huggingface.js `ListFileEntry`. Listens on 127.0.0.1, port 0; `localhost` must resolve to 127.0.0.1 (it does in
// /etc/hosts almost everywhere; curl and aria2c try the next address when ::1 comes first and refuses).
import http from "node:http";
import { listenOnLoopback, trackSockets } from "./loopback";
import type { Socket } from "node:net";
import { createHash, randomBytes } from "node:crypto";

export interface HostedFile {
  repo: string;
  path: string;
  data: Buffer;
  /** Branch the file is committed to (default `main`). */
  revision?: string;
  /** Stored through LFS (default): resolved by a 302 to the CDN with X-Linked-Etag. */
  lfs?: boolean;
  /** Xet-backed LFS file: the tree entry also carries `xetHash`. */
  xet?: boolean;
}

export type Fault =
  /** Closes the connection after `afterBytes` body bytes of the next `times` CDN GETs (default 1). */
  | { kind: "cut"; afterBytes: number; times?: number }
  /** Answers `status` to the next `times` requests of `route` (default the CDN GET), with `Retry-After: 1` on the
   *  CDN unless `retryAfter` says otherwise (null: no header, like most CloudFront/S3 503s). */
  | { kind: "status"; status: number; times: number; route?: "cdn" | "resolve" | "direct"; retryAfter?: number | null }
  /** Flips one byte at `offset` in the next `times` CDN responses that cover it (same length, wrong content). */
  | { kind: "corrupt"; offset: number; times: number };

export interface RecordedRequest {
  method: string;
  url: string;
  route: "resolve" | "cdn" | "tree" | "revision" | "direct" | "other";
  /** Host name the request was addressed to (the Host header without the port). */
  host: string;
  /** Arrival time (ms since the epoch). */
  at: number;
  /** `repo/path` of the file the request is about, when known. */
  file?: string;
  range?: string;
  /** First byte offset served (0 for a full body), for GETs that sent a body. */
  rangeStart?: number;
  status: number;
  /** Body bytes actually written to the socket. */
  bytesSent: number;
  authorization: "none" | "valid" | "other";
}

export interface ModelServerOptions {
  /** Token with access to every repo, gated ones included. */
  token?: string;
  /** A valid token that has not accepted the licence of gated repos (403 there). */
  ungrantedToken?: string;
  /** Repos that need an accepted licence. */
  gatedRepos?: string[];
  /** Per-connection rate limit for CDN bodies (bytes/s), like a CDN edge; unlimited when absent. */
  bytesPerSecondPerConnection?: number;
  /** Tree API page size (the Hub uses 1000). */
  treePageSize?: number;
  /** Host name of the CDN that signed URLs point at; must differ from the Hub's 127.0.0.1 (default `localhost`). */
  cdnHost?: string;
  /** Lifetime of a signed CDN URL (`X-Amz-Expires`, the Hub's are 3600 s); fractions work (the emulator keeps
   *  the exact expiry of every signature it issued). */
  signedUrlTtlSeconds?: number;
}

interface StoredFile {
  repo: string;
  path: string;
  data: Buffer;
  lfs: boolean;
  xet: boolean;
  sha256: string;
  gitOid: string;
}

interface StoredRepo {
  /** Branch name -> commit sha. */
  branches: Map<string, string>;
  /** Commit sha -> the files at that commit, by path. */
  commits: Map<string, Map<string, StoredFile>>;
}

interface ErrorReply { status: number; code: string; message: string }

const LFS_POINTER_SIZE_BASE = "version https://git-lfs.github.com/spec/v1\noid sha256:\nsize \n".length;

const gitBlobSha1 = (content: Buffer): string =>
  createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");

function lfsPointer(sha256: string, size: number): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`);
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null; // malformed: ignored, like most servers
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}

export class ModelServer {
  readonly requests: RecordedRequest[] = [];
  private readonly repos = new Map<string, StoredRepo>();
  private commitCount = 0;
  /** Expiry (ms since the epoch) of every signature issued. */
  private readonly signatures = new Map<string, number>();
  private readonly faults = new Map<string, Fault[]>();
  private readonly routeFaults: Array<{ route: RecordedRequest["route"]; status: number; times: number }> = [];
  private readonly sockets = new Set<Socket>();
  /** Files of the publisher's own host, by URL path. */
  private readonly directFiles = new Map<string, StoredFile>();

  /** Base URL of the CDN host that the Hub's redirects point at. */
  readonly cdnOrigin: string;
  readonly cdnHost: string;

  private constructor(
    private readonly server: http.Server,
    readonly endpoint: string,
    private readonly opts: ModelServerOptions,
  ) {
    this.cdnHost = opts.cdnHost ?? "localhost";
    if (this.cdnHost === new URL(endpoint).hostname) throw new Error("the CDN must be on another host name than the Hub");
    this.cdnOrigin = `http://${this.cdnHost}:${new URL(endpoint).port}`;
  }

  static async start(opts: ModelServerOptions = {}): Promise<ModelServer> {
    const server = http.createServer();
    const port = await listenOnLoopback(server);
    const ms = new ModelServer(server, `http://127.0.0.1:${port}`, opts);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => ms.onRequest(req, res));
    trackSockets(server, ms.sockets);
    return ms;
  }

  /** Publishes a file; returns its sha256 (the LFS oid). */
  host(file: HostedFile): string {
    const sha256 = createHash("sha256").update(file.data).digest("hex");
    const lfs = file.lfs ?? true;
    const stored: StoredFile = {
      repo: file.repo,
      path: file.path,
      data: file.data,
      lfs,
      xet: file.xet ?? false,
      sha256,
      gitOid: gitBlobSha1(lfs ? lfsPointer(sha256, file.data.length) : file.data),
    };
    const repo = this.repos.get(file.repo) ?? { branches: new Map<string, string>(), commits: new Map<string, Map<string, StoredFile>>() };
    this.repos.set(file.repo, repo);
    const branch = file.revision ?? "main";
    const parent = repo.branches.get(branch);
    const tree = new Map(parent === undefined ? [] : repo.commits.get(parent));
    tree.set(stored.path, stored);
    this.commitCount += 1;
    const commit = createHash("sha1").update(`commit ${this.commitCount} ${file.repo} ${branch} ${parent ?? ""} ${file.path} ${sha256}`).digest("hex");
    repo.commits.set(commit, tree);
    repo.branches.set(branch, commit);
    return sha256;
  }

  /**
   * Publishes a file at `urlPath` (e.g. `/mmdetection/v2.0/yolox/…/x-d3bd2b23.pth`) as a plain file server does;
   * returns its sha256. Faults: `addFault(ModelServer.DIRECT, urlPath, …)`, a status fault with `route: "direct"`.
   */
  hostDirect(urlPath: string, data: Buffer): string {
    const sha256 = createHash("sha256").update(data).digest("hex");
    this.directFiles.set(urlPath, { repo: ModelServer.DIRECT, path: urlPath, data, lfs: false, xet: false, sha256, gitOid: "" });
    return sha256;
  }

  /** The `repo` under which faults and `requestsFor` address the files of `hostDirect`. */
  static readonly DIRECT = "(direct)";

  /** The commit sha a branch of a repo points at now. */
  commitOf(repo: string, branch = "main"): string | undefined {
    return this.repos.get(repo)?.branches.get(branch);
  }

  /** Resolve URL of a hosted (or not hosted) file, as a manifest would carry it. */
  resolveUrl(repo: string, path: string, revision = "main"): string {
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** Faults apply to the file at any revision. */
  addFault(repo: string, path: string, fault: Fault): void {
    const key = this.key(repo, path);
    this.faults.set(key, [...(this.faults.get(key) ?? []), { ...fault }]);
  }

  /** Answers `status` to the next `times` requests of a whole route (e.g. the tree API). */
  failRoute(route: RecordedRequest["route"], status: number, times: number): void {
    this.routeFaults.push({ route, status, times });
  }

  /** Requests addressed to the CDN host, in arrival order. */
  cdnRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.host === this.cdnHost);
  }

  /** Requests about one file (`repo/path`), in arrival order. */
  requestsFor(repo: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.file === `${repo}/${path}`);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------------ routing

  private key(repo: string, path: string): string {
    return `${repo}:${path}`;
  }

  /** Commit sha of a branch name or of a full commit sha, in a repo. */
  private resolveRevision(repo: StoredRepo, revision: string): string | undefined {
    return repo.branches.get(revision) ?? (repo.commits.has(revision) ? revision : undefined);
  }

  private authorization(req: http.IncomingMessage): RecordedRequest["authorization"] {
    const h = req.headers.authorization;
    if (!h) return "none";
    const token = /^Bearer (.+)$/.exec(h)?.[1];
    return token !== undefined && token === this.opts.token ? "valid" : "other";
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", this.endpoint);
    const segments = url.pathname.split("/").slice(1).map((s) => decodeURIComponent(s));
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      route: "other",
      host,
      at: Date.now(),
      status: 0,
      bytesSent: 0,
      authorization: this.authorization(req),
    };
    if (typeof req.headers.range === "string") record.range = req.headers.range;
    this.requests.push(record);
    res.on("finish", () => { record.status = res.statusCode; });
    res.on("close", () => { if (record.status === 0) record.status = res.statusCode; });
    const direct = this.directFiles.get(url.pathname);
    if (direct) {
      record.route = "direct";
      record.file = `${ModelServer.DIRECT}/${direct.path}`;
      if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405).end();
      const key = this.key(ModelServer.DIRECT, direct.path);
      const failing = this.takeFault(key, "status", (f) => f.route === "direct");
      if (failing) {
        res.writeHead(failing.status, { "Content-Type": "text/html", ...(failing.retryAfter ? { "Retry-After": String(failing.retryAfter) } : {}) });
        return void res.end(req.method === "HEAD" ? undefined : `<html><body>${failing.status}</body></html>`);
      }
      return this.sendBody(req, res, direct, key, record, `"${createHash("md5").update(direct.data).digest("hex").toUpperCase()}"`);
    }
    if (host === this.cdnHost) {
      res.setHeader("x-amz-request-id", randomBytes(8).toString("hex").toUpperCase());
      if (segments[0] === "cdn" && segments.length === 2) {
        record.route = "cdn";
        return this.onCdn(req, res, url, segments[1] ?? "", record);
      }
      return this.sendS3Error(req, res, 403, "AccessDenied", "Access Denied");
    }
    res.setHeader("X-Request-Id", `Root=1-${randomBytes(12).toString("hex")}`);
    if (segments[0] === "api" && segments[1] === "models" && (segments[4] === "tree" || segments[4] === "revision")) {
      const route = segments[4] === "tree" ? "tree" : "revision";
      record.route = route;
      const failing = this.routeFaults.find((f) => f.route === route && f.times > 0);
      if (failing) {
        failing.times -= 1;
        return this.sendError(req, res, { status: failing.status, code: "", message: "Service Unavailable" });
      }
      return route === "tree" ? this.onTree(req, res, url, segments) : this.onRevision(req, res, segments);
    }
    if (segments[2] === "resolve" && segments.length >= 5) {
      record.route = "resolve";
      return this.onResolve(req, res, segments, record);
    }
    this.sendError(req, res, { status: 404, code: "", message: "Not Found" });
  }

  /**
   * The access check the Hub applies to every repo route (resolve and API alike), then the revision lookup.
   * `filesGated` is false for the model info, which a gated repo shows to anyone.
   */
  private checkRepoAccess(req: http.IncomingMessage, repo: string, revision: string, filesGated = true): ErrorReply | { commit: string; files: Map<string, StoredFile> } {
    const auth = this.authorization(req);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const knownToken = bearer !== undefined && (bearer === this.opts.token || bearer === this.opts.ungrantedToken);
    if (bearer !== undefined && !knownToken) {
      return { status: 401, code: "", message: "Invalid credentials in Authorization header" };
    }
    const stored = this.repos.get(repo);
    if (!stored) {
      // The Hub does not tell anonymous callers whether a private repo exists.
      return auth === "none"
        ? { status: 401, code: "RepoNotFound", message: "Repository not found" }
        : { status: 404, code: "RepoNotFound", message: "Repository not found" };
    }
    if (filesGated && this.opts.gatedRepos?.includes(repo) && auth !== "valid") {
      return auth === "none"
        ? { status: 401, code: "GatedRepo", message: `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.` }
        : { status: 403, code: "GatedRepo", message: `Access to model ${repo} is restricted and you are not in the authorized list. Visit https://huggingface.co/${repo} to ask for access.` };
    }
    const commit = this.resolveRevision(stored, revision);
    const files = commit === undefined ? undefined : stored.commits.get(commit);
    if (commit === undefined || !files) return { status: 404, code: "RevisionNotFound", message: `Invalid rev id: ${revision}` };
    return { commit, files };
  }

  private sendError(req: http.IncomingMessage, res: http.ServerResponse, e: ErrorReply): void {
    const body = JSON.stringify({ error: e.message });
    if (e.code) res.setHeader("X-Error-Code", e.code);
    res.setHeader("X-Error-Message", e.message);
    res.writeHead(e.status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  private takeFault<K extends Fault["kind"]>(key: string, kind: K, match: (f: Extract<Fault, { kind: K }>) => boolean = () => true): Extract<Fault, { kind: K }> | undefined {
    const list = this.faults.get(key) ?? [];
    for (const f of list) {
      if (f.kind !== kind) continue;
      const fault = f as Extract<Fault, { kind: K }>;
      const left = "times" in fault && fault.times !== undefined ? fault.times : 1;
      if (left <= 0 || !match(fault)) continue;
      (fault as { times?: number }).times = left - 1;
      return fault;
    }
    return undefined;
  }

  private onResolve(req: http.IncomingMessage, res: http.ServerResponse, segments: string[], record: RecordedRequest): void {
    const repo = `${segments[0]}/${segments[1]}`;
    const revision = segments[3] ?? "";
    const path = segments.slice(4).join("/");
    record.file = `${repo}/${path}`;
    if (req.method !== "GET" && req.method !== "HEAD") return this.sendError(req, res, { status: 405, code: "", message: "Method Not Allowed" });
    const access = this.checkRepoAccess(req, repo, revision);
    if ("status" in access) return this.sendError(req, res, access);
    const file = access.files.get(path);
    const key = this.key(repo, path);
    if (this.takeFault(key, "status", (f) => f.route === "resolve")) {
      return this.sendError(req, res, { status: 503, code: "", message: "Service Unavailable" });
    }
    if (!file) return this.sendError(req, res, { status: 404, code: "EntryNotFound", message: "Entry not found" });
    res.setHeader("X-Repo-Commit", access.commit);
    if (file.lfs) {
      const signed = this.signedUrl(file.sha256);
      const body = `Found. Redirecting to ${signed}`;
      res.writeHead(302, {
        Location: signed,
        "X-Linked-Etag": `"${file.sha256}"`,
        "X-Linked-Size": String(file.data.length),
        ETag: `W/"${createHash("sha1").update(body).digest("hex").slice(0, 27)}"`,
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": Buffer.byteLength(body),
        Vary: "Origin, Accept",
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    this.sendBody(req, res, file, key, record, `"${file.gitOid}"`);
  }

  /** A pre-signed URL (SigV4 query parameters) on the CDN host, valid for `signedUrlTtlSeconds` from now. */
  private signedUrl(sha256: string): string {
    const now = Date.now();
    const ttl = this.opts.signedUrlTtlSeconds ?? 3600;
    const date = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    const signature = randomBytes(32).toString("hex");
    this.signatures.set(signature, now + ttl * 1000);
    const q = new URLSearchParams({
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
      "X-Amz-Credential": `EMULATORKEY/${date.slice(0, 8)}/us-east-1/s3/aws4_request`,
      "X-Amz-Date": date,
      "X-Amz-Expires": String(Math.ceil(ttl)),
      "X-Amz-Signature": signature,
      "X-Amz-SignedHeaders": "host",
      "x-id": "GetObject",
    });
    return `${this.cdnOrigin}/cdn/${sha256}?${q.toString()}`;
  }

  /** S3's XML error document (the CDN's errors are S3's). */
  private sendS3Error(req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
    const esc = (v: string): string => v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const fields = Object.entries({ Code: code, Message: message, ...extra, RequestId: randomBytes(8).toString("hex").toUpperCase(), HostId: randomBytes(24).toString("base64") })
      .map(([k, v]) => `<${k}>${esc(v)}</${k}>`).join("");
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${fields}</Error>`;
    res.writeHead(status, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  private onCdn(req: http.IncomingMessage, res: http.ServerResponse, url: URL, sha256: string, record: RecordedRequest): void {
    const file = this.allFiles().find((f) => f.lfs && f.sha256 === sha256);
    if (file) record.file = `${file.repo}/${file.path}`;
    const expires = this.signatures.get(url.searchParams.get("X-Amz-Signature") ?? "");
    if (expires === undefined) return this.sendS3Error(req, res, 403, "AccessDenied", "Access Denied");
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      // S3 echoes the header value back in ArgumentValue.
      return this.sendS3Error(req, res, 400, "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        { ArgumentName: "Authorization", ArgumentValue: authorization });
    }
    if (Date.now() > expires) {
      return this.sendS3Error(req, res, 403, "AccessDenied", "Request has expired",
        { "X-Amz-Expires": url.searchParams.get("X-Amz-Expires") ?? "", Expires: new Date(expires).toISOString(), ServerTime: new Date().toISOString() });
    }
    if (!file) return this.sendS3Error(req, res, 404, "NoSuchKey", "The specified key does not exist.");
    const key = this.key(file.repo, file.path);
    const failing = req.method === "GET" ? this.takeFault(key, "status", (f) => (f.route ?? "cdn") === "cdn") : undefined;
    if (failing) {
      const retryAfter = failing.retryAfter === undefined ? 1 : failing.retryAfter;
      res.writeHead(failing.status, { "Content-Type": "text/html", ...(retryAfter === null ? {} : { "Retry-After": String(retryAfter) }) });
      res.end(`<html><body>${failing.status}</body></html>`);
      return;
    }
    // CloudFront-style entity tag of the object (not the sha256).
    this.sendBody(req, res, file, key, record, `"${createHash("md5").update(file.data).digest("hex")}"`);
  }

  private sendBody(req: http.IncomingMessage, res: http.ServerResponse, file: StoredFile, key: string, record: RecordedRequest, etag: string): void {
    const size = file.data.length;
    const range = parseRange(typeof req.headers.range === "string" ? req.headers.range : undefined, size);
    const common = {
      "Accept-Ranges": "bytes",
      ETag: etag,
      "Content-Type": "application/octet-stream",
      "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(file.path.split("/").pop() ?? "file")}`,
      "Last-Modified": "Tue, 02 Dec 2025 10:00:00 GMT",
    };
    if (range === "unsatisfiable") {
      res.writeHead(416, { ...common, "Content-Range": `bytes */${size}`, "Content-Length": 0 });
      res.end();
      return;
    }
    const start = range ? range.start : 0;
    const end = range ? range.end : size - 1;
    const length = end - start + 1;
    res.writeHead(range ? 206 : 200, {
      ...common,
      "Content-Length": length,
      ...(range ? { "Content-Range": `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === "HEAD") return void res.end();
    record.rangeStart = start;

    let body = file.data.subarray(start, end + 1);
    const corrupt = this.takeFault(key, "corrupt", (f) => f.offset >= start && f.offset <= end);
    if (corrupt) {
      body = Buffer.from(body);
      const i = corrupt.offset - start;
      body[i] = (body[i] ?? 0) ^ 0xff;
    }
    const cut = this.takeFault(key, "cut", (f) => f.afterBytes < length);
    const limit = cut ? cut.afterBytes : length;
    this.stream(res, body.subarray(0, limit), record, () => {
      if (cut) res.socket?.destroy();
      else res.end();
    });
  }

  /** Writes `data` in chunks, throttled when a per-connection rate is set; `done` runs once all is flushed. */
  private stream(res: http.ServerResponse, data: Buffer, record: RecordedRequest, done: () => void): void {
    const rate = this.opts.bytesPerSecondPerConnection;
    const chunk = 64 * 1024;
    const began = Date.now();
    let offset = 0;
    const pump = (): void => {
      while (offset < data.length) {
        if (res.destroyed) return;
        if (rate) {
          const due = began + (offset / rate) * 1000;
          const wait = due - Date.now();
          if (wait > 1) return void setTimeout(pump, wait);
        }
        const piece = data.subarray(offset, offset + chunk);
        offset += piece.length;
        const last = offset >= data.length;
        const ok = res.write(piece, () => {
          record.bytesSent += piece.length;
          if (last) done();
        });
        if (!ok && !last) return void res.once("drain", pump);
      }
      if (data.length === 0) done();
    };
    pump();
  }

  private allFiles(): StoredFile[] {
    return [...this.repos.values()].flatMap((r) => [...r.commits.values()].flatMap((t) => [...t.values()]));
  }

  /** `GET /api/models/{repo}/revision/{revision}`: huggingface_hub's `ModelInfo` fields, `sha` the commit. */
  private onRevision(req: http.IncomingMessage, res: http.ServerResponse, segments: string[]): void {
    const repo = `${segments[2]}/${segments[3]}`;
    const revision = segments.slice(5).join("/");
    if (req.method !== "GET") return this.sendError(req, res, { status: 405, code: "", message: "Method Not Allowed" });
    const access = this.checkRepoAccess(req, repo, revision, false);
    if ("status" in access) return this.sendError(req, res, access);
    const when = "2025-12-02T10:00:00.000Z";
    const body = JSON.stringify({
      _id: createHash("md5").update(repo).digest("hex").slice(0, 24),
      id: repo,
      modelId: repo,
      author: segments[2],
      sha: access.commit,
      lastModified: when,
      private: false,
      disabled: false,
      gated: this.opts.gatedRepos?.includes(repo) ? "manual" : false,
      downloads: 0,
      likes: 0,
      tags: [],
      siblings: [...access.files.keys()].sort().map((rfilename) => ({ rfilename })),
      spaces: [],
      createdAt: when,
      usedStorage: [...access.files.values()].reduce((n, f) => n + f.data.length, 0),
    });
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }

  private onTree(req: http.IncomingMessage, res: http.ServerResponse, url: URL, segments: string[]): void {
    const repo = `${segments[2]}/${segments[3]}`;
    const revision = segments[5] ?? "";
    const dir = segments.slice(6).filter((s) => s !== "").join("/");
    if (req.method !== "GET") return this.sendError(req, res, { status: 405, code: "", message: "Method Not Allowed" });
    const access = this.checkRepoAccess(req, repo, revision);
    if ("status" in access) return this.sendError(req, res, access);
    const recursive = url.searchParams.get("recursive") === "true" || url.searchParams.get("recursive") === "1";
    const inRev = [...access.files.values()];
    const prefix = dir === "" ? "" : `${dir}/`;
    const below = inRev.filter((f) => f.path.startsWith(prefix));
    if (dir !== "" && below.length === 0) {
      const isFile = inRev.some((f) => f.path === dir);
      return this.sendError(req, res, isFile
        ? { status: 400, code: "", message: `${dir} is not a directory` }
        : { status: 404, code: "EntryNotFound", message: `${dir} does not exist on "${revision}"` });
    }
    type Entry = { type: "file" | "directory"; oid: string; size: number; path: string; lfs?: { oid: string; size: number; pointerSize: number }; xetHash?: string };
    const entries = new Map<string, Entry>();
    for (const f of below) {
      const rest = f.path.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash >= 0 && !recursive) {
        const sub = prefix + rest.slice(0, slash);
        entries.set(sub, { type: "directory", oid: gitBlobSha1(Buffer.from(sub)), size: 0, path: sub });
        continue;
      }
      if (recursive) {
        const parts = rest.split("/");
        for (let i = 1; i < parts.length; i++) {
          const sub = prefix + parts.slice(0, i).join("/");
          entries.set(sub, { type: "directory", oid: gitBlobSha1(Buffer.from(sub)), size: 0, path: sub });
        }
      }
      const entry: Entry = { type: "file", oid: f.gitOid, size: f.data.length, path: f.path };
      if (f.lfs) entry.lfs = { oid: f.sha256, size: f.data.length, pointerSize: LFS_POINTER_SIZE_BASE + f.sha256.length + String(f.data.length).length };
      if (f.xet) entry.xetHash = createHash("sha256").update("xet").update(f.data).digest("hex");
      entries.set(f.path, entry);
    }
    const all = [...entries.values()].sort((a, b) => (a.type === b.type ? a.path.localeCompare(b.path) : a.type === "directory" ? -1 : 1));
    const pageSize = this.opts.treePageSize ?? 1000;
    const cursor = Number(url.searchParams.get("cursor") ?? "0");
    const page = all.slice(cursor, cursor + pageSize);
    const headers: Record<string, string | number> = { "Content-Type": "application/json; charset=utf-8" };
    if (cursor + pageSize < all.length) {
      const next = new URL(url.toString());
      next.searchParams.set("cursor", String(cursor + pageSize));
      headers.Link = `<${next.toString()}>; rel="next"`;
    }
    const body = JSON.stringify(page);
    headers["Content-Length"] = Buffer.byteLength(body);
    res.writeHead(200, headers);
    res.end(body);
  }
}
