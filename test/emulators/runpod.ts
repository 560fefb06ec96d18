// Strict local emulator of RunPod REST API v2 (pods, registries, SSH keys, GPU/DC catalog).
// Follows /work/shared/reference/runpod-rest-v2.md (§1–§4, §7). Unemulated routes answer 404 problem+json.
import http from "node:http";
import { listenOnLoopback, trackSockets } from "./loopback";
import type { Socket } from "node:net";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { NetworkVolumeStore, VolumeProblem } from "./runpodNetworkVolumes";
import { ServerlessProblem, ServerlessStore, type EmulatedEndpointSettings } from "./runpodServerless";

export interface StockEntry { gpuId: string; dataCenterId: string; cloud?: "SECURE" | "COMMUNITY"; available?: number }
export interface EmulatorTimings { provisionMs: number; startMs: number; runtimeNullMs: number }
export interface FaultSpec {
  method?: string; path?: RegExp; status?: number; times?: number; applyFirst?: boolean; hangMs?: number;
  retryAfter?: number;
  detail?: string; // extension: problem `detail` for the injected status (default per status)
  /** Drop the connection without answering (after processing the request when applyFirst is set). */
  reset?: boolean;
  /** A 2xx answer is sent cut short: only this fraction (0–1) of its JSON text. */
  truncateBody?: number;
  /** A 2xx answer is sent without these members (dotted paths, e.g. "id", "gpu.vcpuCount"). */
  dropMembers?: string[];
}
export interface EmulatorOptions {
  apiKey?: string; timings?: Partial<EmulatorTimings>; stock?: StockEntry[]; rateLimitPerMinute?: number; balance?: number;
  blockLibraryUserAgents?: boolean; // extension: Cloudflare 1010 for a missing / axios / Python-urllib UA (default true)
}
export interface RecordedCall { method: string; path: string; query: Record<string, string>; status: number; body: unknown; at: number }

export type PodStatus = "PROVISIONING" | "STARTING" | "RUNNING" | "EXITED" | "ERROR" | "TERMINATED";
export type PodAction = "start" | "stop" | "restart" | "terminate";
export interface PodSshEndpoint { host: string; port: number; username: string; command: string }
export interface PodRuntimePort { private: number; public: number | null; type: string; ip: string | null }
export interface PodRuntime {
  uptime: number; gpus: Array<{ util: number; memoryUtil: number }>; cpu: { util: number }; memory: { util: number }; ports: PodRuntimePort[];
}
export interface PodMounts { persistent?: { size: number; path: string }; network?: Array<{ volumeId: string; path: string }> }
export interface EmulatedPod {
  id: string; name: string; status: PodStatus; actions: PodAction[];
  image: string; args: string; disk: number; mounts: PodMounts; ports: string[]; env: Record<string, string>; registry: string | null;
  cloud: "SECURE" | "COMMUNITY"; dataCenterId: string | null; cudaVersion: string | null; gpu?: { id: string; count: number; vcpuCount: number; memory: number };
  ssh: { proxy: PodSshEndpoint | null; direct: PodSshEndpoint | null }; template: string | null; cost: number; locked: boolean;
  runtime: PodRuntime | null; createdAt: string; startedAt: string | null;
  globalNetworking: { enabled: boolean; ip?: string; internalDns?: string };
}

// ---------------------------------------------------------------- fixtures
const CAPACITY = "There are no longer any instances available with the requested specifications. Please refresh and try again.";
type Cloud = "SECURE" | "COMMUNITY";
// host: the vCPUs and system RAM (GB) a host gives per GPU, reported as Pod gpu.vcpuCount / gpu.memory.
interface GpuFixture {
  id: string; name: string; pool: string | null; memory: number; price: Record<Cloud, number>; maxCount: Record<Cloud, number>;
  host: { vcpuPerGpu: number; ramPerGpu: number };
}
const gpuFx = (id: string, name: string, pool: string, memory: number, secure: number, community: number, vcpuPerGpu: number, ramPerGpu: number): GpuFixture =>
  ({ id, name, pool, memory, price: { SECURE: secure, COMMUNITY: community }, maxCount: { SECURE: 8, COMMUNITY: 8 }, host: { vcpuPerGpu, ramPerGpu } });
const GPUS: GpuFixture[] = [
  gpuFx("NVIDIA GeForce RTX 4090", "RTX 4090", "ADA_24", 24, 0.69, 0.34, 6, 41),
  gpuFx("NVIDIA L40S", "L40S", "ADA_48_PRO", 48, 0.86, 0.79, 12, 62),
  gpuFx("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", "ADA_48_PRO", 48, 0.77, 0.74, 10, 62),
  gpuFx("NVIDIA A100 80GB PCIe", "A100 PCIe", "AMPERE_80", 80, 1.64, 1.19, 8, 117),
  gpuFx("NVIDIA H100 80GB HBM3", "H100 SXM", "HOPPER_141", 80, 2.99, 2.69, 20, 125),
];
interface DcFixture { id: string; region: string; country: string; networkVolumeTypes: string[]; compliance: string[]; globalNetwork: boolean; ip: string; cuda: string }
const DCS: DcFixture[] = [
  { id: "US-TX-3", region: "NORTH_AMERICA", country: "US", networkVolumeTypes: ["STANDARD"], compliance: ["SOC_2_TYPE_2"], globalNetwork: true, ip: "38.80.152.71", cuda: "12.4" },
  { id: "EU-RO-1", region: "EUROPE", country: "RO", networkVolumeTypes: ["STANDARD", "HIGH_PERFORMANCE"], compliance: ["GDPR", "ISO_IEC_27001"], globalNetwork: true, ip: "213.173.104.74", cuda: "12.4" },
  { id: "CA-MTL-1", region: "NORTH_AMERICA", country: "CA", networkVolumeTypes: ["STANDARD"], compliance: ["RENEWABLE"], globalNetwork: false, ip: "69.30.85.12", cuda: "12.4" },
];
const REGIONS = ["NORTH_AMERICA", "SOUTH_AMERICA", "EUROPE", "ASIA", "MIDDLE_EAST", "AFRICA", "OCEANIA", "ANTARCTICA", "UNKNOWN"];
const COMPLIANCE = ["GDPR", "ISO_IEC_27001", "ISO_14001", "PCI_DSS", "HITRUST", "SOC_1_TYPE_2", "SOC_2_TYPE_2", "SOC_3_TYPE_2", "ITAR", "FISMA_HIGH", "HIPAA", "RENEWABLE"];

// ---------------------------------------------------------------- schema validation (rule 10, live message style)
export type Sch =
  | { t: "str"; min?: number; en?: string[]; pat?: RegExp }
  | { t: "int"; min?: number; max?: number }
  | { t: "num"; min?: number }
  | { t: "bool" }
  | { t: "arr"; items: Sch; max?: number; min?: number }
  | { t: "obj"; props: Record<string, Sch>; req?: string[] }
  | { t: "map"; values: Sch }
  | { t: "null"; inner: Sch };
const S = { t: "str" } as const;
const CUDA_RE = /^\d+\.\d+$/;
const MOUNTS: Sch = { t: "obj", props: {
  persistent: { t: "obj", props: { size: { t: "int", min: 10 }, path: S }, req: ["size", "path"] },
  network: { t: "arr", max: 1, items: { t: "obj", props: { volumeId: S, path: S }, req: ["volumeId", "path"] } },
} };
const CONTAINER: Record<string, Sch> = {
  image: S, args: S, disk: { t: "int", min: 1 }, env: { t: "map", values: S }, ports: { t: "arr", items: S }, registry: { t: "null", inner: S },
  mounts: MOUNTS, globalNetworking: { t: "bool" }, templateId: { t: "str", min: 1 }, name: { t: "str", min: 1 },
};
const CREATE: Record<string, Sch> = { ...CONTAINER,
  cloud: { t: "str", en: ["SECURE", "COMMUNITY"] }, dataCenterIds: { t: "arr", items: S }, startSsh: { t: "bool" }, startJupyter: { t: "bool" },
  gpu: { t: "obj", req: ["id"], props: { id: S, count: { t: "int", min: 1 }, allowedCudaVersions: { t: "arr", items: { t: "str", pat: CUDA_RE } }, minCudaVersion: { t: "str", pat: CUDA_RE },
    minRamPerGpu: { t: "int", min: 1 }, minVcpuCountPerGpu: { t: "int", min: 1 } } }, // CreateGpuConfig placement filters
  cpu: { t: "obj", req: ["id", "vcpuCount"], props: { id: { t: "str", min: 1 }, vcpuCount: { t: "int", min: 2 } } },
};
const UPDATE: Sch = { t: "obj", props: { ...CONTAINER, locked: { t: "bool" } } };
const ACTION: Sch = { t: "obj", req: ["action"], props: { action: { t: "str", en: ["start", "stop", "restart", "terminate"] } } };
const REGISTRY: Sch = { t: "obj", req: ["name", "username", "password"], props: { name: { t: "str", min: 1 }, username: { t: "str", min: 1 }, password: { t: "str", min: 1 } } };
const SSH_KEYS: Sch = { t: "obj", req: ["keys"], props: { keys: { t: "arr", items: { t: "str", pat: /^(ssh|ecdsa|sk)-[^\s]+ [^\s]+([ \t][^\n\r]*)?$/ } } } };

const jt = (v: unknown): string => v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const q = (xs: string[]): string => xs.map((x) => `'${x}'`).join(", ");
function check(s: Sch, v: unknown, p: string, errs: string[]): void {
  const want = (w: string): void => { errs.push(`${p}: got ${jt(v)}, want ${w}`); };
  switch (s.t) {
    case "null": if (v !== null) { if (s.inner.t === "str" && typeof v !== "string") want("null or string"); else check(s.inner, v, p, errs); } return;
    case "bool": if (typeof v !== "boolean") want("boolean"); return;
    case "int":
      if (typeof v !== "number" || !Number.isInteger(v)) return want("integer");
      if (s.min !== undefined && v < s.min) errs.push(`${p}: must be >= ${s.min} but found ${v}`);
      if (s.max !== undefined && v > s.max) errs.push(`${p}: must be <= ${s.max} but found ${v}`);
      return;
    case "num":
      if (typeof v !== "number") return want("number");
      if (s.min !== undefined && v < s.min) errs.push(`${p}: must be >= ${s.min} but found ${v}`);
      return;
    case "str":
      if (typeof v !== "string") return want("string");
      if (s.min !== undefined && v.length < s.min) errs.push(`${p}: length must be >= ${s.min}, but got ${v.length}`);
      if (s.en && !s.en.includes(v)) errs.push(`${p}: value must be one of ${q(s.en)}`);
      if (s.pat && !s.pat.test(v)) errs.push(`${p}: '${v}' does not match pattern '${s.pat.source}'`);
      return;
    case "arr":
      if (!Array.isArray(v)) return want("array");
      if (s.max !== undefined && v.length > s.max) errs.push(`${p}: maxItems must be <= ${s.max} but found ${v.length}`);
      if (s.min !== undefined && v.length < s.min) errs.push(`${p}: minItems must be >= ${s.min} but found ${v.length}`);
      v.forEach((x, i) => check(s.items, x, `${p}[${i}]`, errs));
      return;
    case "map":
      if (!isObj(v)) return want("object");
      for (const [k, x] of Object.entries(v)) check(s.values, x, `${p}.${k}`, errs);
      return;
    case "obj": {
      if (!isObj(v)) return want("object");
      const missing = (s.req ?? []).filter((k) => !(k in v));
      if (missing.length) errs.push(`${p}: missing ${missing.length > 1 ? "properties" : "property"} ${q(missing)}`);
      const extra = Object.keys(v).filter((k) => !(k in s.props));
      if (extra.length) errs.push(`${p}: additional properties ${q(extra)} not allowed`);
      for (const [k, x] of Object.entries(v)) { const sub = s.props[k]; if (sub) check(sub, x, `${p}.${k}`, errs); }
    }
  }
}

class HttpError extends Error {
  constructor(readonly status: number, readonly detail: string, readonly errors?: string[], readonly headers: Record<string, string> = {}) { super(detail); }
}
function validate(s: Sch, v: unknown): void {
  const errs: string[] = [];
  check(s, v, "$", errs);
  if (errs.length) throw new HttpError(422, "Request validation failed.", errs);
}
const bad = (detail: string): HttpError => new HttpError(400, detail);

// ---------------------------------------------------------------- helpers
const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
const rid = (n: number): string => Array.from(randomBytes(n), (b) => ALNUM[b % 36]).join("");
const round = (x: number): number => Math.round(x * 10000) / 10000;
const nowIso = (): string => new Date().toISOString();
const canon = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => isObj(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x);
const cmpVer = (a: string, b: string): number => {
  const [a1 = 0, a2 = 0] = a.split(".").map(Number), [b1 = 0, b2 = 0] = b.split(".").map(Number);
  return a1 - b1 || a2 - b2;
};
const PORT_RE = /^([0-9]+)\/(http|tcp)$/;
function checkPorts(ports: string[]): void {
  for (const p of ports) {
    const m = PORT_RE.exec(p);
    if (!m) throw bad(`invalid port '${p}': ports must be formatted as port/protocol with protocol http or tcp, e.g. '8888/http' or '22/tcp'`);
    const n = Number(m[1]);
    if (n < 1 || (m[2] === "http" && n > 65535)) throw bad(`invalid port '${p}': port number out of range`);
  }
}
const ACTIONS: Record<PodStatus, PodAction[]> = {
  RUNNING: ["stop", "restart", "terminate"], EXITED: ["start", "terminate"], ERROR: ["start", "terminate"],
  PROVISIONING: ["stop", "terminate"], STARTING: ["stop", "terminate"], TERMINATED: [],
};

interface CreateBody {
  name: string; image?: string; args?: string; disk?: number; env?: Record<string, string>; ports?: string[]; registry?: string | null;
  mounts?: PodMounts; globalNetworking?: boolean; templateId?: string; cloud?: Cloud; dataCenterIds?: string[]; startSsh?: boolean; startJupyter?: boolean;
  gpu?: { id: string; count?: number; allowedCudaVersions?: string[]; minCudaVersion?: string; minRamPerGpu?: number; minVcpuCountPerGpu?: number };
  cpu?: { id: string; vcpuCount: number };
}
type UpdateBody = Partial<Omit<CreateBody, "cloud" | "dataCenterIds" | "startSsh" | "startJupyter" | "gpu" | "cpu">> & { locked?: boolean };
interface Slot { e: StockEntry; left: number }
interface LogEntry { seq: number; ts: string; source: "system" | "container"; line: string }
type Boot = "ERROR" | "EXITED" | "hang" | { slowMs: number };
interface Meta { price: number; timer?: NodeJS.Timeout; boot?: Boot; runtimeAt: number; slot?: Slot; gn?: boolean; logs: LogEntry[]; streams: Map<http.ServerResponse, string | undefined> }
interface Ctx { method: string; params: string[]; query: Record<string, string>; body: unknown; headers: http.IncomingHttpHeaders }
interface Result { status: number; json?: unknown; sse?: { meta: Meta; backlog: LogEntry[]; source?: string } }
type Handler = (c: Ctx) => Result;
interface Route { re: RegExp; m: Record<string, Handler> }
interface QueuedFault { f: FaultSpec; left: number }
interface Window { name: string; q: number; w: number; start: number; count: number }

const FAULT_DETAIL: Record<number, string> = {
  400: CAPACITY, 401: "invalid bearer token", 402: "insufficient balance", 403: "access denied", 404: "resource not found",
  409: "conflict", 429: "rate limit exceeded for the minute window",
};

// ---------------------------------------------------------------- emulator
export class RunPodEmulator {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly calls: RecordedCall[] = [];
  private timings: EmulatorTimings = { provisionMs: 200, startMs: 200, runtimeNullMs: 0 };
  private stock: Slot[] = [];
  private balance: number;
  private readonly blockUa: boolean;
  private readonly faults: QueuedFault[] = [];
  private readonly pods = new Map<string, EmulatedPod>();
  private readonly meta = new Map<string, Meta>();
  private readonly regs = new Map<string, { id: string; name: string; username: string; password: string }>();
  private sshKeys: string[] = [];
  private nextBoot?: Boot;
  private readonly windows: Window[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<Socket>();
  private readonly routes: Route[];
  /** Network volumes (test/emulators/runpodNetworkVolumes.ts); `volumes.seed()` is a test knob. */
  readonly volumes: NetworkVolumeStore;
  /** Templates and serverless endpoints (test/emulators/runpodServerless.ts). */
  readonly serverless: ServerlessStore;
  private closed = false;

  private constructor(private readonly server: http.Server, port: number, opts: EmulatorOptions) {
    this.baseUrl = `http://127.0.0.1:${port}/v2`;
    this.apiKey = opts.apiKey ?? "test-key";
    this.setTimings(opts.timings ?? {});
    this.setStock(opts.stock ?? GPUS.flatMap((g) => DCS.map((d) => ({ gpuId: g.id, dataCenterId: d.id }))));
    this.balance = opts.balance ?? 1000;
    this.blockUa = opts.blockLibraryUserAgents ?? true;
    const rpm = opts.rateLimitPerMinute ?? 600; // rule 5 example ratios: 60/min, 3000/h, 50000/day
    const win = (name: string, qq: number, w: number): Window => ({ name, q: qq, w, start: Date.now(), count: 0 });
    this.windows = [win("minute", rpm, 60), win("hour", rpm * 50, 3600), win("day", Math.ceil((rpm * 2500) / 3), 86400)];
    const pod = (f: (p: EmulatedPod, m: Meta, c: Ctx) => Result): Handler => (c) => {
      const p = this.pods.get(c.params[0] ?? "");
      const m = p && this.meta.get(p.id);
      if (!p || !m || p.status === "TERMINATED") throw new HttpError(404, "pod not found");
      return f(p, m, c);
    };
    this.volumes = new NetworkVolumeStore(DCS, (id) => this.livePods().some((p) => p.mounts.network?.some((n) => n.volumeId === id) ?? false));
    this.serverless = new ServerlessStore({ validate, gpus: GPUS, volumeExists: (id) => this.volumes.all().some((v) => v.id === id) });
    this.routes = [
      ...this.serverless.routes(),
      { re: /^\/v2\/network-volumes$/, m: { GET: () => this.volumes.list(), POST: (c) => this.volumes.create(c.body) } },
      { re: /^\/v2\/network-volumes\/([^/]+)$/, m: { GET: (c) => this.volumes.get(c.params[0] ?? ""), PATCH: (c) => this.volumes.update(c.params[0] ?? "", c.body), DELETE: (c) => this.volumes.remove(c.params[0] ?? "") } },
      { re: /^\/v2\/pods$/, m: { GET: (c) => this.listPods(c), POST: (c) => this.createPod(c) } },
      { re: /^\/v2\/pods\/([^/]+)$/, m: { GET: pod((p) => ({ status: 200, json: this.view(p) })), PATCH: pod((p, m, c) => this.updatePod(p, m, c)), DELETE: pod((p) => { this.terminate(p); return { status: 204 }; }) } },
      { re: /^\/v2\/pods\/([^/]+)\/action$/, m: { POST: pod((p, m, c) => this.podAction(p, m, c)) } },
      { re: /^\/v2\/pods\/([^/]+)\/logs$/, m: { GET: pod((_p, m, c) => this.logs(m, c)) } },
      { re: /^\/v2\/account\/ssh-keys$/, m: { GET: () => ({ status: 200, json: { keys: this.sshKeys } }), PUT: (c) => this.putKeys(c) } },
      { re: /^\/v2\/registries$/, m: { GET: () => ({ status: 200, json: { registries: [...this.regs.values()].map((r) => ({ id: r.id, name: r.name })) } }), POST: (c) => this.createRegistry(c) } },
      { re: /^\/v2\/registries\/delegations$/, m: { GET: () => ({ status: 200, json: { delegations: [] } }), POST: () => { throw new HttpError(404, "ECR delegations are not emulated"); } } },
      { re: /^\/v2\/registries\/delegations\/([^/]+)$/, m: { DELETE: () => { throw new HttpError(404, "delegation not found"); } } },
      { re: /^\/v2\/registries\/([^/]+)$/, m: { GET: (c) => ({ status: 200, json: this.registryView(this.reg(c)) }), DELETE: (c) => this.deleteRegistry(c) } },
      { re: /^\/v2\/catalog\/gpus$/, m: { GET: (c) => this.gpuCatalog(c) } },
      { re: /^\/v2\/catalog\/gpus\/([^/]+)$/, m: { GET: (c) => this.gpuCatalog(c) } },
      { re: /^\/v2\/catalog\/datacenters$/, m: { GET: (c) => this.dcCatalog(c) } },
      { re: /^\/v2\/catalog\/datacenters\/([^/]+)$/, m: { GET: (c) => this.dcCatalog(c) } },
    ];
  }

  static async start(opts: EmulatorOptions = {}): Promise<RunPodEmulator> {
    const server = http.createServer();
    const port = await listenOnLoopback(server);
    const emu = new RunPodEmulator(server, port, opts);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => emu.onRequest(req, res));
    trackSockets(server, emu.sockets);
    return emu;
  }

  // ------------------------------------------------------------ test knobs
  resetCalls(): void { this.calls.length = 0; }
  setStock(entries: StockEntry[]): void { this.stock = entries.map((e) => ({ e: { ...e }, left: e.available ?? Infinity })); }
  setTimings(t: Partial<EmulatorTimings>): void { this.timings = { ...this.timings, ...t }; }
  setBalance(usd: number): void { this.balance = usd; }
  inject(fault: FaultSpec): void { this.faults.push({ f: fault, left: fault.times ?? 1 }); }
  /** Injected faults that have not fired yet (counting each remaining `times`). */
  pendingFaults(): number { return this.faults.reduce((n, q) => n + q.left, 0); }
  /** Drops the faults that have not fired. */
  clearFaults(): void { this.faults.length = 0; }
  failNextBoot(status: "ERROR" | "EXITED"): void { this.nextBoot = status; }
  hangBoot(): void { this.nextBoot = "hang"; }
  /** The next created pod takes `ms` (instead of startMs) from STARTING to RUNNING. */
  slowNextBoot(ms: number): void { this.nextBoot = { slowMs: ms }; }
  /** Every pod ever created, terminated ones included (to count duplicates). */
  allPods(): EmulatedPod[] { return [...this.pods.values()].map((p) => this.refresh(p)); }
  podById(id: string): EmulatedPod | undefined { const p = this.pods.get(id); if (p) this.refresh(p); return p; }
  livePods(): EmulatedPod[] { return [...this.pods.values()].filter((p) => p.status !== "TERMINATED").map((p) => this.refresh(p)); }
  terminateOutOfBand(id: string): void { const p = this.pods.get(id); if (p && p.status !== "TERMINATED") this.terminate(p); }
  /** A serverless endpoint's settings in the shape the job API emulator takes (undefined: no such endpoint). */
  serverlessEndpoint(id: string): EmulatedEndpointSettings | undefined { return this.serverless.settings(id); }
  registries(): Array<{ id: string; name: string; username: string; password: string }> { return [...this.regs.values()].map((r) => ({ ...r })); }

  close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const m of this.meta.values()) { for (const s of m.streams.keys()) s.destroy(); m.streams.clear(); }
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private cancel(m: Meta): void {
    if (m.timer) { clearTimeout(m.timer); this.timers.delete(m.timer); m.timer = undefined; }
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => { this.timers.delete(t); if (!this.closed) fn(); }, ms);
    this.timers.add(t);
    return t;
  }

  // ------------------------------------------------------------ transport
  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    req.on("end", () => {
      try { this.handle(req, res, Buffer.concat(chunks).toString("utf8")); } catch (e) {
        this.send(res, { method: "", path: "", query: {}, status: 0, body: undefined, at: 0 }, 500, { title: "Internal Server Error", status: 500, detail: String(e) }, {});
      }
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = (req.method ?? "GET").toUpperCase();
    const query = Object.fromEntries(url.searchParams.entries());
    let body: unknown = raw === "" ? undefined : raw;
    try { if (raw !== "") body = JSON.parse(raw); } catch { /* recorded as text */ }
    const rec: RecordedCall = { method, path: url.pathname, query, status: 0, body, at: Date.now() };
    this.calls.push(rec);
    const hdr: Record<string, string> = { "x-request-id": randomUUID() };
    const fail = (e: HttpError): void => this.send(res, rec, e.status, this.problem(e), { ...hdr, ...e.headers });

    const ua = req.headers["user-agent"];
    if (this.blockUa && (!ua || ua.startsWith("axios/") || ua.startsWith("Python-urllib"))) { // §1: Cloudflare, not the origin
      rec.status = 403;
      if (!res.destroyed) res.writeHead(403, { "content-type": "text/plain; charset=UTF-8", server: "cloudflare", "cf-ray": `${rid(16)}-IAD` }).end("error code: 1010");
      return;
    }
    const auth = req.headers.authorization ?? "";
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) return fail(new HttpError(401, "missing bearer token"));
    if (m[1] !== this.apiKey) return fail(new HttpError(401, "invalid bearer token"));

    let route: Route | undefined, groups: string[] = [];
    for (const r of this.routes) { const g = r.re.exec(url.pathname); if (g) { route = r; groups = g.slice(1); break; } }
    const handler = route?.m[method];
    if (!route || !handler) {
      Object.assign(hdr, this.rateHeaders());
      if (!route) return fail(new HttpError(404, "resource not found"));
      return fail(new HttpError(405, "The requested method is not allowed for this path.", undefined, { allow: Object.keys(route.m).join(", ") }));
    }
    const limited = this.consumeRate();
    Object.assign(hdr, this.rateHeaders());
    if (limited) return fail(new HttpError(429, `rate limit exceeded for the ${limited.name} window`, undefined, { "retry-after": String(Math.max(1, Math.ceil((limited.start + limited.w * 1000 - Date.now()) / 1000))) }));

    const run = (): Result | HttpError => {
      try {
        const params = groups.map((g) => decodeURIComponent(g));
        if (["POST", "PATCH", "PUT"].includes(method)) {
          if (raw.trim() === "") throw bad("request body is required");
          if (!/^application\/([\w.-]+\+)?json\b/i.test(req.headers["content-type"] ?? "")) throw bad("Content-Type must be application/json");
          if (!isObj(body)) throw bad("request could not be processed");
        }
        return handler({ method, params, query, body, headers: req.headers });
      } catch (e) {
        if (e instanceof HttpError) return e;
        if (e instanceof VolumeProblem || e instanceof ServerlessProblem) return new HttpError(e.status, e.detail, e.errors);
        if (e instanceof URIError) return new HttpError(404, "resource not found");
        throw e;
      }
    };
    const respond = (r: Result | HttpError): void => {
      if (r instanceof HttpError) return fail(r);
      if (r.sse) return this.openStream(res, rec, hdr, r.sse);
      this.send(res, rec, r.status, r.json, hdr);
    };
    const idx = this.faults.findIndex(({ f }) => (!f.method || f.method.toUpperCase() === method) && (!f.path || ((f.path.lastIndex = 0), f.path.test(url.pathname))));
    if (idx < 0) return respond(run());
    const fault = this.faults[idx].f;
    if (--this.faults[idx].left <= 0) this.faults.splice(idx, 1);
    const injected = (): HttpError | undefined => {
      const st = fault.status;
      if (st === undefined) return undefined;
      const detail = fault.detail ?? FAULT_DETAIL[st] ?? (st >= 500 ? "transient upstream failure" : (http.STATUS_CODES[st] ?? "error").toLowerCase());
      return new HttpError(st, detail, st === 422 ? [] : undefined, st === 429 ? { "retry-after": String(fault.retryAfter ?? 1) } : {});
    };
    const applied = fault.applyFirst ? run() : undefined;
    const finish = (): void => {
      if (fault.reset) { rec.status = 0; res.socket?.destroy(); return; }
      const inj = injected();
      if (inj) return fail(inj);
      const r = applied ?? run();
      if (!(r instanceof HttpError) && r.json !== undefined && r.status < 300 && (fault.truncateBody !== undefined || fault.dropMembers)) {
        return this.sendMangled(res, rec, r, hdr, fault);
      }
      respond(r);
    };
    if (fault.hangMs) this.later(fault.hangMs, finish); else finish();
  }

  /** A 2xx answer cut short or missing members: what a proxy or an API change can do to a create's answer. */
  private sendMangled(res: http.ServerResponse, rec: RecordedCall, r: Result, headers: Record<string, string>, fault: FaultSpec): void {
    const json: unknown = structuredClone(r.json);
    for (const member of fault.dropMembers ?? []) {
      const keys = member.split(".");
      let at: unknown = json;
      for (const k of keys.slice(0, -1)) at = isObj(at) ? at[k] : undefined;
      if (isObj(at)) delete at[keys[keys.length - 1] ?? ""];
    }
    let text = JSON.stringify(json);
    if (fault.truncateBody !== undefined) text = text.slice(0, Math.floor(text.length * Math.min(1, Math.max(0, fault.truncateBody))));
    rec.status = r.status;
    if (res.destroyed || res.headersSent) return;
    res.writeHead(r.status, { ...headers, "content-type": "application/json" }).end(text);
  }

  private problem(e: HttpError): Record<string, unknown> {
    const p: Record<string, unknown> = { title: http.STATUS_CODES[e.status] ?? "Error", status: e.status, detail: e.detail };
    if (e.status === 422) p.errors = e.errors ?? [];
    return p;
  }

  private send(res: http.ServerResponse, rec: RecordedCall, status: number, json: unknown, headers: Record<string, string>): void {
    rec.status = status;
    if (res.destroyed || res.headersSent) return;
    if (status === 204 || json === undefined) { res.writeHead(status, headers).end(); return; }
    const type = status >= 400 ? "application/problem+json" : "application/json";
    res.writeHead(status, { ...headers, "content-type": type }).end(JSON.stringify(json));
  }

  private consumeRate(): Window | undefined {
    const now = Date.now();
    for (const w of this.windows) if (now >= w.start + w.w * 1000) { w.start = now; w.count = 0; }
    const over = this.windows.filter((w) => w.count >= w.q).sort((a, b) => b.w - a.w)[0];
    if (over) return over;
    for (const w of this.windows) w.count++;
    return undefined;
  }

  private rateHeaders(): Record<string, string> {
    const now = Date.now();
    const t = (w: Window): number => Math.max(0, Math.ceil((w.start + w.w * 1000 - now) / 1000));
    return {
      RateLimit: this.windows.map((w) => `"${w.name}";r=${Math.max(0, w.q - w.count)};t=${t(w)}`).join(", "),
      "RateLimit-Policy": this.windows.map((w) => `"${w.name}";q=${w.q};w=${w.w}`).join(", "),
    };
  }

  // ------------------------------------------------------------ pods
  private refresh(p: EmulatedPod): EmulatedPod {
    const m = this.meta.get(p.id);
    if (p.runtime && m) p.runtime.uptime = Math.floor((Date.now() - m.runtimeAt) / 1000);
    return p;
  }
  private view(p: EmulatedPod): EmulatedPod { return structuredClone(this.refresh(p)); }

  private listPods(c: Ctx): Result {
    const v = c.query.includeClusterPods;
    if (v !== undefined && v !== "true" && v !== "false") throw new HttpError(422, "Request validation failed.", [`$.query.includeClusterPods: value must be one of 'true', 'false'`]);
    return { status: 200, json: { pods: this.livePods().map((p) => structuredClone(p)) } };
  }

  private createPod(c: Ctx): Result {
    const raw = c.body as Record<string, unknown>;
    const CreateSch: Sch = { t: "obj", props: CREATE, req: "templateId" in raw ? ["name"] : ["name", "image"] };
    validate(CreateSch, raw);
    const b = raw as unknown as CreateBody;
    // references (404)
    if (b.templateId !== undefined) throw new HttpError(404, "template not found");
    if (typeof b.registry === "string" && !this.regs.has(b.registry)) throw new HttpError(404, "registry not found");
    // cross-field (400)
    if ((b.gpu === undefined) === (b.cpu === undefined)) throw bad("exactly one of 'gpu' or 'cpu' must be provided");
    const mounts = b.mounts ?? {};
    if (mounts.persistent && mounts.network) throw bad("mounts.persistent and mounts.network cannot be used together");
    if (mounts.persistent && b.cpu) throw bad("persistent volumes are not allowed on CPU pods");
    if (b.cpu && (b.cpu.vcpuCount & (b.cpu.vcpuCount - 1)) !== 0) throw bad("cpu.vcpuCount must be a power of two");
    if (b.gpu?.allowedCudaVersions?.length && b.gpu.minCudaVersion !== undefined) throw bad("gpu.allowedCudaVersions and gpu.minCudaVersion are mutually exclusive");
    const cloud = b.cloud ?? "SECURE";
    if (mounts.network?.length && cloud === "COMMUNITY") throw bad("network volumes can only be attached to Secure Cloud pods");
    const dcIds = this.volumes.placementFor(mounts, b.dataCenterIds ?? []);
    const unknownDc = dcIds.find((d) => !DCS.some((x) => x.id === d));
    if (unknownDc !== undefined) throw bad(`unknown data center '${unknownDc}'`);
    checkPorts(b.ports ?? []);
    const gt = b.gpu && GPUS.find((g) => g.id === b.gpu?.id);
    if (!b.gpu || !gt) throw bad(CAPACITY); // unknown GPU id, and CPU pods (no CPU flavours are emulated)
    const count = b.gpu.count ?? 1;
    if (count > gt.maxCount[cloud]) throw bad(`gpu.count ${count} exceeds the maximum of ${gt.maxCount[cloud]} for ${gt.id} on ${cloud} cloud`);
    // minRamPerGpu / minVcpuCountPerGpu filter hosts; no emulated host of this GPU type offers more than its fixture.
    if ((b.gpu.minRamPerGpu ?? 0) > gt.host.ramPerGpu || (b.gpu.minVcpuCountPerGpu ?? 0) > gt.host.vcpuPerGpu) throw bad(CAPACITY);
    if (b.globalNetworking && dcIds.length && !dcIds.some((d) => DCS.find((x) => x.id === d)?.globalNetwork)) throw bad("global networking is not available in the requested data centers");
    const price = round(gt.price[cloud] * count);
    if (this.balance < price) throw new HttpError(402, "insufficient balance");
    // capacity (400)
    const okDc = (d: DcFixture): boolean => (!b.globalNetworking || d.globalNetwork)
      && (!b.gpu?.allowedCudaVersions?.length || b.gpu.allowedCudaVersions.includes(d.cuda))
      && (b.gpu?.minCudaVersion === undefined || cmpVer(d.cuda, b.gpu.minCudaVersion) >= 0);
    const fits = (s: Slot): boolean => s.e.gpuId === gt.id && (s.e.cloud === undefined || s.e.cloud === cloud) && s.left > 0;
    const dcOf = (s: Slot): DcFixture | undefined => DCS.find((x) => x.id === s.e.dataCenterId);
    const usable = (s: Slot): boolean => { const d = dcOf(s); return fits(s) && d !== undefined && okDc(d); };
    const slot = dcIds.length ? dcIds.map((d) => this.stock.find((s) => s.e.dataCenterId === d && usable(s))).find((s) => s !== undefined) : this.stock.find(usable);
    const dc = slot && dcOf(slot);
    if (!slot || !dc) throw bad(CAPACITY);
    slot.left--;
    const env = { ...(b.env ?? {}) };
    if (b.startSsh && this.sshKeys.length && env.PUBLIC_KEY === undefined) env.PUBLIC_KEY = this.sshKeys.join("\n");
    if (b.startJupyter && env.JUPYTER_PASSWORD === undefined) env.JUPYTER_PASSWORD = rid(20);
    const id = rid(14);
    const user = `${id}-${randomBytes(4).toString("hex")}`;
    const pod: EmulatedPod = {
      id, name: b.name, status: "PROVISIONING", actions: ACTIONS.PROVISIONING, image: b.image ?? "", args: b.args ?? "", disk: b.disk ?? 50,
      mounts: structuredClone(mounts), ports: [...(b.ports ?? [])], env, registry: b.registry ?? null, cloud, dataCenterId: dc.id, cudaVersion: dc.cuda,
      gpu: { id: gt.id, count, vcpuCount: gt.host.vcpuPerGpu * count, memory: gt.host.ramPerGpu * count }, ssh: { proxy: { host: "ssh.runpod.io", port: 22, username: user, command: `ssh ${user}@ssh.runpod.io` }, direct: null },
      template: null, cost: price, locked: false, runtime: null, createdAt: nowIso(), startedAt: null, globalNetworking: { enabled: b.globalNetworking ?? false },
    };
    const m: Meta = { price, runtimeAt: 0, slot, logs: [], streams: new Map(), boot: this.nextBoot };
    this.nextBoot = undefined;
    this.pods.set(id, pod);
    this.meta.set(id, m);
    this.log(m, "system", `pod ${id} scheduled on a machine in ${dc.id}`);
    m.timer = this.later(this.timings.provisionMs, () => this.enterStarting(pod, m, true));
    return { status: 201, json: this.view(pod) };
  }

  private setStatus(p: EmulatedPod, m: Meta, s: PodStatus): void {
    p.status = s;
    p.actions = [...ACTIONS[s]];
    p.cost = s === "EXITED" || s === "ERROR" || s === "TERMINATED" ? 0 : m.price;
    if (s !== "RUNNING") { p.runtime = null; p.ssh.direct = null; p.globalNetworking = { enabled: p.globalNetworking.enabled }; }
  }

  private enterStarting(p: EmulatedPod, m: Meta, pull: boolean): void {
    this.cancel(m);
    if (m.gn !== undefined) { p.globalNetworking = { enabled: m.gn }; m.gn = undefined; }
    this.setStatus(p, m, "STARTING");
    if (pull) this.log(m, "system", `pulling image ${p.image}`, `image ${p.image} pulled`);
    this.log(m, "system", "container created");
    if (m.boot === "hang") return;
    const startMs = typeof m.boot === "object" ? m.boot.slowMs : this.timings.startMs;
    m.timer = this.later(startMs, () => {
      const boot = m.boot;
      m.boot = undefined;
      if (boot === "ERROR" || boot === "EXITED") {
        this.setStatus(p, m, boot);
        this.log(m, "container", boot === "ERROR" ? "exec /start.sh: no such file or directory" : "container finished");
        this.log(m, "system", `container exited with code ${boot === "ERROR" ? 1 : 0}`);
        return;
      }
      this.setStatus(p, m, "RUNNING"); // live quirk: RUNNING with runtime null for runtimeNullMs
      // The container is up when the pod turns RUNNING; its runtime report may lag (the window above).
      this.log(m, "system", "container started");
      this.log(m, "container", `started: ${p.args || p.image}`);
      if (this.timings.runtimeNullMs > 0) m.timer = this.later(this.timings.runtimeNullMs, () => this.attachRuntime(p, m));
      else this.attachRuntime(p, m);
    });
  }

  private attachRuntime(p: EmulatedPod, m: Meta): void {
    const dc = DCS.find((d) => d.id === p.dataCenterId);
    const tcpIp = dc?.ip ?? "203.0.113.10";
    const httpIp = `100.65.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const used = new Set<number>();
    const draw = (): number => { let n: number; do n = randomInt(10000, 65536); while (used.has(n)); used.add(n); return n; };
    const ports: PodRuntimePort[] = p.ports.map((s) => {
      const [num, type] = s.split("/");
      const priv = Number(num), pub = draw();
      // A tcp port of 70000 or more asks for a symmetric mapping: the entry keeps the requested port as
      // `private`, and the container learns the public one (RUNPOD_TCP_PORT_<n>) to listen on.
      return type === "tcp" ? { private: priv, public: pub, type: "tcp", ip: tcpIp } : { private: priv, public: pub, type: "http", ip: httpIp };
    });
    m.runtimeAt = Date.now();
    p.startedAt = nowIso();
    p.runtime = { uptime: 0, gpus: Array.from({ length: p.gpu?.count ?? 0 }, () => ({ util: 0, memoryUtil: 0 })), cpu: { util: 1 }, memory: { util: 3 }, ports };
    const ssh = ports.find((x) => x.private === 22 && x.type === "tcp");
    p.ssh.direct = ssh?.public ? { host: tcpIp, port: ssh.public, username: "root", command: `ssh root@${tcpIp} -p ${ssh.public}` } : null;
    if (p.globalNetworking.enabled) p.globalNetworking = { enabled: true, ip: `10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`, internalDns: `${p.id}.runpod.internal` };
  }

  private terminate(p: EmulatedPod): void {
    const m = this.meta.get(p.id);
    if (!m) return;
    this.cancel(m);
    this.setStatus(p, m, "TERMINATED");
    if (m.slot && this.stock.includes(m.slot)) m.slot.left++;
    m.slot = undefined;
    this.log(m, "system", "pod terminated");
  }

  private updatePod(p: EmulatedPod, m: Meta, c: Ctx): Result {
    validate(UPDATE, c.body);
    const b = c.body as UpdateBody;
    if (b.templateId !== undefined) throw new HttpError(404, "template not found");
    if (typeof b.registry === "string" && !this.regs.has(b.registry)) throw new HttpError(404, "registry not found");
    const mounts: PodMounts = structuredClone(p.mounts);
    let mountErr: string | undefined;
    if (b.mounts?.network !== undefined) {
      const [nv] = b.mounts.network, cur = p.mounts.network?.[0];
      if (!nv) mountErr = "mounts.network cannot be emptied; a network volume cannot be detached from a pod";
      else if (!cur) mountErr = "cannot add a network volume mount that was not present at create";
      else if (nv.volumeId !== cur.volumeId) mountErr = "the network volume of a pod cannot be changed";
      else mounts.network = [{ volumeId: nv.volumeId, path: nv.path }];
    }
    if (b.mounts?.persistent !== undefined) {
      if (!p.mounts.persistent) mountErr ??= "cannot add a persistent volume that was not present at create";
      else if (b.mounts.persistent.size < p.mounts.persistent.size) mountErr ??= "persistent volume size cannot be decreased";
      else mounts.persistent = { ...b.mounts.persistent };
    }
    const next = { image: b.image ?? p.image, args: b.args ?? p.args, env: b.env ?? p.env, ports: b.ports ?? p.ports, disk: b.disk ?? p.disk, registry: b.registry === undefined ? p.registry : b.registry, mounts };
    const disruptive = (Object.keys(next) as Array<keyof typeof next>).some((k) => canon(next[k]) !== canon(p[k]));
    if (disruptive && p.locked && b.locked !== false && p.status === "RUNNING") throw new HttpError(409, "pod is locked");
    if (mountErr) throw bad(mountErr);
    if (b.ports) checkPorts(b.ports);
    Object.assign(p, structuredClone(next));
    if (b.name !== undefined) p.name = b.name;
    if (b.locked !== undefined) p.locked = b.locked;
    if (b.globalNetworking !== undefined) m.gn = b.globalNetworking; // applies at the next start/restart
    if (disruptive && p.status === "RUNNING") { this.log(m, "system", "pod reset: configuration changed"); this.enterStarting(p, m, b.image !== undefined); }
    return { status: 200, json: this.view(p) };
  }

  private podAction(p: EmulatedPod, m: Meta, c: Ctx): Result {
    validate(ACTION, c.body);
    const action = (c.body as { action: PodAction }).action;
    if (!p.actions.includes(action)) throw new HttpError(409, `action '${action}' is not valid for a pod in status ${p.status}`);
    if (action === "stop" && p.locked) throw new HttpError(409, "pod is locked");
    if (action === "terminate") { this.terminate(p); return { status: 204 }; }
    if (action === "stop") {
      this.cancel(m);
      this.setStatus(p, m, "EXITED");
      this.log(m, "system", "container stopped");
    } else this.enterStarting(p, m, false); // start (EXITED/ERROR) and restart (RUNNING)
    return { status: 200, json: this.view(p) };
  }

  // ------------------------------------------------------------ logs (SSE, rule 34)
  private log(m: Meta, source: LogEntry["source"], ...lines: string[]): void {
    for (const line of lines) {
      const e: LogEntry = { seq: m.logs.length + 1, ts: nowIso(), source, line };
      m.logs.push(e);
      for (const [s, only] of m.streams) if (only === undefined || only === source) s.write(this.sse(e));
    }
  }
  private sse(e: LogEntry): string {
    return `id: ${e.ts}/${String(e.seq).padStart(12, "0")}\ndata: ${JSON.stringify({ ts: e.ts, source: e.source, line: e.line })}\n\n`;
  }
  private logs(m: Meta, c: Ctx): Result {
    const errs: string[] = [];
    const { source, tail, since } = c.query;
    if (source !== undefined && source !== "container" && source !== "system") errs.push(`$.query.source: value must be one of 'container', 'system'`);
    if (tail !== undefined && (!/^\d+$/.test(tail) || Number(tail) > 5000)) errs.push(`$.query.tail: must be an integer between 0 and 5000 but found '${tail}'`);
    if (since !== undefined && Number.isNaN(Date.parse(since))) errs.push(`$.query.since: '${since}' is not valid 'date-time'`);
    if (errs.length) throw new HttpError(422, "Request validation failed.", errs);
    const all = m.logs.filter((e) => source === undefined || e.source === source);
    const last = c.headers["last-event-id"];
    let backlog: LogEntry[];
    if (typeof last === "string" && last !== "") {
      const [ts, seq] = last.split("/");
      backlog = seq !== undefined ? all.filter((e) => e.seq > Number(seq)) : all.filter((e) => Date.parse(e.ts) > Date.parse(ts ?? ""));
    } else if (since !== undefined) backlog = all.filter((e) => Date.parse(e.ts) >= Date.parse(since));
    else { const n = tail === undefined ? 100 : Number(tail); backlog = n === 0 ? [] : all.slice(-n); }
    return { status: 200, sse: { meta: m, backlog, source } };
  }
  private openStream(res: http.ServerResponse, rec: RecordedCall, hdr: Record<string, string>, s: NonNullable<Result["sse"]>): void {
    rec.status = 200;
    if (res.destroyed) return;
    res.writeHead(200, { ...hdr, "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    for (const e of s.backlog) res.write(this.sse(e));
    s.meta.streams.set(res, s.source);
    res.on("close", () => s.meta.streams.delete(res));
  }

  // ------------------------------------------------------------ SSH keys, registries
  private putKeys(c: Ctx): Result {
    validate(SSH_KEYS, c.body);
    this.sshKeys = [...(c.body as { keys: string[] }).keys];
    return { status: 200, json: { keys: this.sshKeys } };
  }
  private reg(c: Ctx): { id: string; name: string; username: string; password: string } {
    const r = this.regs.get(c.params[0] ?? "");
    if (!r) throw new HttpError(404, "registry not found");
    return r;
  }
  private registryView(r: { id: string; name: string }): { id: string; name: string } { return { id: r.id, name: r.name }; }
  private createRegistry(c: Ctx): Result {
    validate(REGISTRY, c.body);
    const b = c.body as { name: string; username: string; password: string };
    const r = { id: rid(10), name: b.name, username: b.username, password: b.password };
    this.regs.set(r.id, r);
    return { status: 201, json: this.registryView(r) };
  }
  private deleteRegistry(c: Ctx): Result {
    const r = this.reg(c);
    if (this.livePods().some((p) => p.registry === r.id)) throw bad("registry is in use by a pod");
    this.regs.delete(r.id);
    return { status: 204 };
  }

  // ------------------------------------------------------------ catalog (rule 36)
  private units(gpuId: string, dc: string, cloud?: Cloud): number {
    return this.stock.filter((s) => s.e.gpuId === gpuId && s.e.dataCenterId === dc && (s.e.cloud === undefined || cloud === undefined || s.e.cloud === cloud)).reduce((a, s) => a + s.left, 0);
  }
  private static level(n: number): string { return n <= 0 ? "NONE" : n < 3 ? "LOW" : n < 10 ? "MEDIUM" : "HIGH"; }

  private gpuCatalog(c: Ctx): Result {
    const qy = c.query, errs: string[] = [];
    const list = (k: string): string[] | undefined => qy[k] === undefined ? undefined : qy[k].split(",").map((x) => x.trim());
    const include = list("include"), product = list("product"), countries = list("countryCodes"), cudas = list("cudaVersions");
    const enumErr = (k: string, xs: string[] | undefined, en: string[]): void => xs?.forEach((x, i) => { if (!en.includes(x)) errs.push(`$.query.${k}[${i}]: value must be one of ${q(en)}`); });
    enumErr("include", include, ["AVAILABILITY"]);
    if (include && include.length > 1) errs.push(`$.query.include: maxItems must be <= 1 but found ${include.length}`);
    enumErr("product", product, ["POD", "CLUSTER", "SERVERLESS"]);
    enumErr("cloud", qy.cloud === undefined ? undefined : [qy.cloud], ["SECURE", "COMMUNITY"]);
    if (qy.count !== undefined && (!/^\d+$/.test(qy.count) || Number(qy.count) < 1)) errs.push(`$.query.count: must be an integer >= 1 but found '${qy.count}'`);
    countries?.forEach((x, i) => { if (!/^[A-Z]{2}$/.test(x)) errs.push(`$.query.countryCodes[${i}]: '${x}' does not match pattern '^[A-Z]{2}$'`); });
    cudas?.forEach((x, i) => { if (!CUDA_RE.test(x)) errs.push(`$.query.cudaVersions[${i}]: '${x}' does not match pattern '^\\d+\\.\\d+$'`); });
    if (qy.minCudaVersion !== undefined && !/^\d+(\.\d+)?$/.test(qy.minCudaVersion)) errs.push(`$.query.minCudaVersion: '${qy.minCudaVersion}' does not match pattern '^\\d+(\\.\\d+)?$'`);
    if (errs.length) throw new HttpError(422, "Request validation failed.", errs);
    const avail = include !== undefined;
    if (avail && !product) throw bad("product is required when include=AVAILABILITY");
    for (const k of ["product", "count", "cloud", "countryCodes", "cudaVersions", "minCudaVersion"]) if (!avail && qy[k] !== undefined) throw bad(`${k} is only valid with include=AVAILABILITY`);
    if (cudas && qy.minCudaVersion !== undefined) throw bad("cudaVersions and minCudaVersion are mutually exclusive");
    const cloud: Cloud = qy.cloud === "COMMUNITY" ? "COMMUNITY" : "SECURE", count = Number(qy.count ?? 1);
    const render = (g: GpuFixture, single: boolean): Record<string, unknown> | undefined => {
      const base: Record<string, unknown> = { id: g.id, name: g.name, pool: g.pool, manufacturer: "NVIDIA", memory: g.memory, secure: true, community: true,
        price: { secure: g.price.SECURE, community: g.price.COMMUNITY }, maxCount: { secure: g.maxCount.SECURE, community: g.maxCount.COMMUNITY } };
      if (!avail) return base;
      const dcs = DCS.filter((d) => (!countries || countries.includes(d.country)) && (!cudas || cudas.includes(d.cuda)) && (qy.minCudaVersion === undefined || cmpVer(d.cuda, qy.minCudaVersion) >= 0));
      if (!dcs.length && countries && !single) return undefined;
      const per = dcs.map((d) => ({ id: d.id, name: d.id, n: count > g.maxCount[cloud] ? 0 : this.units(g.id, d.id, cloud) })).filter((x) => x.n > 0);
      const total = per.reduce((a, x) => a + x.n, 0);
      base.availability = RunPodEmulator.level(total);
      if (per.length) base.dataCenters = per.map((x) => ({ id: x.id, name: x.name, availability: RunPodEmulator.level(x.n) }));
      base.cudaVersions = [...new Set(DCS.map((d) => d.cuda))].map((v) => ({ version: v, available: per.some((x) => DCS.find((d) => d.id === x.id)?.cuda === v) }));
      return base;
    };
    const id = c.params[0];
    if (id !== undefined) {
      const g = GPUS.find((x) => x.id === id);
      if (!g) throw new HttpError(404, "gpu type not found");
      return { status: 200, json: render(g, true) };
    }
    return { status: 200, json: { gpus: GPUS.map((g) => render(g, false)).filter((x) => x !== undefined) } };
  }

  private dcCatalog(c: Ctx): Result {
    const qy = c.query, errs: string[] = [];
    const list = (k: string): string[] | undefined => qy[k] === undefined ? undefined : qy[k].split(",").map((x) => x.trim());
    const check1 = (k: string, en: string[]): string[] | undefined => {
      const xs = list(k);
      xs?.forEach((x, i) => { if (!en.includes(x)) errs.push(`$.query.${k}[${i}]: value must be one of ${q(en)}`); });
      return xs;
    };
    const include = check1("include", ["GPU_AVAILABILITY", "CPU_AVAILABILITY"]);
    const regions = check1("regions", REGIONS), nvt = check1("networkVolumeTypes", ["STANDARD", "HIGH_PERFORMANCE"]), comp = check1("compliance", COMPLIANCE);
    if (qy.globalNetwork !== undefined && qy.globalNetwork !== "true" && qy.globalNetwork !== "false") errs.push(`$.query.globalNetwork: value must be one of 'true', 'false'`);
    if (errs.length) throw new HttpError(422, "Request validation failed.", errs);
    const render = (d: DcFixture): Record<string, unknown> => {
      const o: Record<string, unknown> = { id: d.id, name: d.id, region: d.region, networkVolumeTypes: d.networkVolumeTypes, compliance: d.compliance, globalNetwork: d.globalNetwork };
      if (include?.includes("GPU_AVAILABILITY")) o.gpuAvailability = GPUS.map((g) => ({ id: g.id, name: g.name, availability: RunPodEmulator.level(this.units(g.id, d.id)) }));
      if (include?.includes("CPU_AVAILABILITY")) o.cpuAvailability = [];
      return o;
    };
    const id = c.params[0];
    if (id !== undefined) {
      const d = DCS.find((x) => x.id === id);
      if (!d) throw new HttpError(404, "data center not found");
      return { status: 200, json: render(d) };
    }
    const dcs = DCS.filter((d) => (!regions || regions.includes(d.region)) && (!nvt || nvt.every((t) => d.networkVolumeTypes.includes(t)))
      && (!comp || comp.every((t) => d.compliance.includes(t))) && (qy.globalNetwork === undefined || String(d.globalNetwork) === qy.globalNetwork));
    return { status: 200, json: { dataCenters: dcs.map(render) } };
  }
}
