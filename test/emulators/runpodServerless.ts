// Templates and serverless endpoints of the RunPod v2 emulator (`/v2/templates`, `/v2/serverless`), per
// the OpenAPI document (runpod/docs api-reference-v2/openapi.json @ 081392fe: Template, Create/Update-
// TemplateRequest, Endpoint, Create/UpdateEndpointRequest, their operations' prose) and
// /work/shared/reference/runpod-rest-v2.md §2.12, §7 rule 35. Registered by test/emulators/runpod.ts.
import { randomBytes } from "node:crypto";
import type { Sch } from "./runpod";

/** An error the emulator answers as problem+json. */
export class ServerlessProblem extends Error {
  constructor(readonly status: number, readonly detail: string, readonly errors?: string[]) { super(detail); }
}

/** What the job API emulator needs of an endpoint (the contract in notes/serverless-contract.md). */
export interface EmulatedEndpointSettings {
  id: string; workersMin: number; workersMax: number; idleTimeoutSeconds: number;
  executionTimeoutMs: number; scalerType: "QUEUE_DELAY" | "REQUEST_COUNT"; scalerValue: number; flashboot: boolean;
}

interface Container { image: string; args: string; disk: number; ports: string[]; env: Record<string, string>; registry: string | null }
export interface EmulatedTemplate extends Container {
  id: string; name: string; mounts: { persistent?: { size: number; path: string } }; serverless: boolean; public: boolean;
  category: string; startSsh: boolean; startJupyter: boolean; allowedCudaVersions: string[];
}
type Scaling = { type: "QUEUE_DELAY"; queueDelay: number } | { type: "REQUEST_COUNT"; requestCount: number };
export interface EmulatedEndpoint extends Container {
  id: string; name: string; type: "QUEUE" | "LOAD_BALANCER";
  gpu: { pools: string[]; excludedTypes?: string[]; count: number; allowedCudaVersions: string[]; minCudaVersion: string | null };
  workers: { min: number; max: number; idleTimeout?: number }; scaling: Scaling;
  dataCenterIds: string[]; networkVolumes: string[]; timeout: number; flashboot: string; createdAt: string;
  /** The template last applied (create or PATCH templateId): "bound", so it cannot be deleted (deleteTemplate). */
  boundTemplate?: string;
}
export interface ServerlessDeps {
  /** The emulator's schema validator: 422 "Request validation failed." with every violation. */
  validate(schema: Sch, body: unknown): void;
  gpus: Array<{ id: string; pool: string | null }>;
  volumeExists(id: string): boolean;
}
type Body = Record<string, unknown>;
interface Call { params: string[]; body: unknown }
interface Answer { status: number; json?: unknown }

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
const rid = (n: number): string => Array.from(randomBytes(n), (b) => ALNUM[b % 36]).join("");
const S: Sch = { t: "str" };
const CUDA = /^\d+\.\d+$/;
const CONTAINER: Record<string, Sch> = { image: S, args: S, disk: { t: "int", min: 1 }, env: { t: "map", values: S }, ports: { t: "arr", items: S }, registry: { t: "null", inner: S } };
const TEMPLATE_PROPS: Record<string, Sch> = { ...CONTAINER, name: { t: "str", min: 1 }, allowedCudaVersions: { t: "arr", items: { t: "str", pat: CUDA } },
  category: { t: "str", en: ["CPU", "NVIDIA", "AMD"] }, public: { t: "bool" }, serverless: { t: "bool" }, startJupyter: { t: "bool" }, startSsh: { t: "bool" },
  // TemplateMounts: only `persistent`; `network` is a 422 from the schema validator.
  mounts: { t: "obj", props: { persistent: { t: "obj", req: ["size", "path"], props: { size: { t: "int", min: 10 }, path: S } } } } };
const WORKERS: Sch = { t: "obj", props: { min: { t: "int", min: 0 }, max: { t: "int", min: 0 }, idleTimeout: { t: "int", min: 1, max: 3600 } } };
const GPU_PROPS: Record<string, Sch> = { pools: { t: "arr", min: 1, items: S }, excludedTypes: { t: "arr", items: { t: "str", pat: /^\s*[^-\s]/ } }, count: { t: "int", min: 1 },
  allowedCudaVersions: { t: "arr", items: { t: "str", pat: CUDA } } };
const CPU: Sch = { t: "arr", min: 1, items: { t: "obj", req: ["id", "vcpuCount"], props: { id: { t: "str", min: 1 }, vcpuCount: { t: "int", min: 2 } } } };
function scalingSchema(v: unknown): Sch {
  const type = typeof v === "object" && v !== null ? (v as Body).type : undefined;
  if (type === "REQUEST_COUNT") return { t: "obj", req: ["type", "requestCount"], props: { type: S, requestCount: { t: "int", min: 1 } } };
  if (type === "QUEUE_DELAY") return { t: "obj", req: ["type", "queueDelay"], props: { type: S, queueDelay: { t: "num", min: 0.5 } } };
  return { t: "obj", req: ["type"], props: { type: { t: "str", en: ["QUEUE_DELAY", "REQUEST_COUNT"] } } };
}
const endpointProps = (b: Body, create: boolean): Record<string, Sch> => ({
  ...CONTAINER, name: { t: "str", min: 1 }, type: { t: "str", en: ["QUEUE", "LOAD_BALANCER"] }, scaling: scalingSchema(b.scaling), cpu: CPU,
  dataCenterIds: { t: "arr", items: S }, flashboot: { t: "str", en: ["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"] }, networkVolumes: { t: "arr", items: S },
  templateId: create ? { t: "str", min: 1 } : S, timeout: { t: "int" }, workers: WORKERS,
  gpu: { t: "obj", req: create ? ["pools"] : [], props: { ...GPU_PROPS, minCudaVersion: { t: "str", pat: create ? CUDA : /^$|^\d+\.\d+$/ } } },
});

export class ServerlessStore {
  private readonly templates = new Map<string, EmulatedTemplate>();
  private readonly endpoints = new Map<string, EmulatedEndpoint>();

  constructor(private readonly deps: ServerlessDeps) {}

  routes(): Array<{ re: RegExp; m: Record<string, (c: Call) => Answer> }> {
    const id = (c: Call): string => c.params[0] ?? "";
    return [
      { re: /^\/v2\/templates$/, m: { GET: () => ({ status: 200, json: { templates: [...this.templates.values()].map((t) => this.templateView(t)) } }), POST: (c) => this.createTemplate(c.body as Body) } },
      { re: /^\/v2\/templates\/([^/]+)$/, m: { GET: (c) => ({ status: 200, json: this.templateView(this.template(id(c))) }), PATCH: (c) => this.updateTemplate(id(c), c.body as Body), DELETE: (c) => this.deleteTemplate(id(c)) } },
      { re: /^\/v2\/serverless$/, m: { GET: () => ({ status: 200, json: { endpoints: [...this.endpoints.values()].map((e) => this.endpointView(e)) } }), POST: (c) => this.createEndpoint(c.body as Body) } },
      { re: /^\/v2\/serverless\/([^/]+)$/, m: { GET: (c) => ({ status: 200, json: this.endpointView(this.endpoint(id(c))) }), PATCH: (c) => this.updateEndpoint(id(c), c.body as Body), DELETE: (c) => this.deleteEndpoint(id(c)) } },
      // No worker is ever started here: the list is empty and every count 0.
      { re: /^\/v2\/serverless\/([^/]+)\/workers$/, m: { GET: (c) => { this.endpoint(id(c)); return { status: 200, json: { workers: [], summary: { running: 0, idle: 0, initializing: 0, throttled: 0, unhealthy: 0, total: 0 }, endpointVersion: 1 } }; } } },
    ];
  }

  // ------------------------------------------------------------ test knobs
  allTemplates(): EmulatedTemplate[] { return [...this.templates.values()].map((t) => structuredClone(t)); }
  allEndpoints(): EmulatedEndpoint[] { return [...this.endpoints.values()].map((e) => structuredClone(e)); }
  /** Test knob: a template that exists already (pod templates, say: `serverless: false`). */
  /** Ids of the templates and endpoints that exist now. */
  templateIds(): string[] { return [...this.templates.keys()]; }
  endpointIds(): string[] { return [...this.endpoints.keys()]; }

  seedTemplate(t: Partial<EmulatedTemplate> & { name: string; image: string }): EmulatedTemplate {
    const tpl: EmulatedTemplate = { id: rid(10), args: "", disk: 50, ports: [], env: {}, registry: null, mounts: {}, serverless: false, public: false, category: "NVIDIA", startSsh: true, startJupyter: true, allowedCudaVersions: [], ...t };
    this.templates.set(tpl.id, tpl);
    return structuredClone(tpl);
  }
  settings(id: string): EmulatedEndpointSettings | undefined {
    const e = this.endpoints.get(id);
    if (!e) return undefined;
    // No idle timeout applies with REQUEST_COUNT scaling (the spec omits it there): reported as 0.
    return { id: e.id, workersMin: e.workers.min, workersMax: e.workers.max, idleTimeoutSeconds: e.workers.idleTimeout ?? 0, executionTimeoutMs: e.timeout,
      scalerType: e.scaling.type, scalerValue: e.scaling.type === "QUEUE_DELAY" ? e.scaling.queueDelay : e.scaling.requestCount, flashboot: e.flashboot !== "OFF" };
  }

  // ------------------------------------------------------------ templates
  private template(id: string): EmulatedTemplate {
    const t = this.templates.get(id);
    if (!t) throw new ServerlessProblem(404, "template not found");
    return t;
  }
  /** Live behaviour (RPY): `mounts` is omitted when the template has no persistent volume. */
  private templateView(t: EmulatedTemplate): Body {
    const view: Body = { ...structuredClone(t) };
    if (!t.mounts.persistent) delete view.mounts;
    return view;
  }
  private createTemplate(b: Body): Answer {
    this.deps.validate({ t: "obj", req: ["name", "image"], props: TEMPLATE_PROPS }, b);
    // Defaults per CreateTemplateRequest; `disk` has none in the spec (ASSUMPTION: 50, like a console template).
    const t = this.seedTemplate({ ...(b as Partial<EmulatedTemplate>), name: b.name as string, image: b.image as string, serverless: b.serverless === true,
      startSsh: b.startSsh !== false, startJupyter: b.startJupyter !== false, id: rid(10) });
    return { status: 201, json: this.templateView(t) };
  }
  private updateTemplate(id: string, b: Body): Answer {
    const t = this.template(id);
    this.deps.validate({ t: "obj", props: TEMPLATE_PROPS }, b);
    const mounts = b.mounts as EmulatedTemplate["mounts"] | undefined;
    Object.assign(t, structuredClone({ ...b, mounts: mounts?.persistent ? mounts : t.mounts }));
    return { status: 200, json: this.templateView(t) };
  }
  private deleteTemplate(id: string): Answer {
    const t = this.template(id);
    const bound = [...this.endpoints.values()].find((e) => e.boundTemplate === t.id);
    if (bound) throw new ServerlessProblem(400, `template is in use by serverless endpoint ${bound.id} and cannot be deleted`);
    this.templates.delete(t.id);
    return { status: 204 };
  }
  /** A serverless template for an endpoint: unknown → 404, a pod template → 422 (createEndpoint's templateId). */
  private serverlessTemplate(id: string): EmulatedTemplate {
    const t = this.template(id);
    if (!t.serverless) throw new ServerlessProblem(422, `template ${id} is not a serverless template; create one with serverless: true`, []);
    return t;
  }

  // ------------------------------------------------------------ endpoints
  private endpoint(id: string): EmulatedEndpoint {
    const e = this.endpoints.get(id);
    if (!e) throw new ServerlessProblem(404, "endpoint not found");
    return e;
  }
  private endpointView(e: EmulatedEndpoint): Body {
    const { boundTemplate: _bound, ...rest } = structuredClone(e);
    const base = `https://api.runpod.ai/v2/${e.id}`;
    const requestUrls = e.type === "QUEUE"
      ? { run: `${base}/run`, runSync: `${base}/runsync`, status: `${base}/status/{job_id}`, stream: `${base}/stream/{job_id}`, cancel: `${base}/cancel/{job_id}`, retry: `${base}/retry/{job_id}`, purgeQueue: `${base}/purge-queue`, health: `${base}/health` }
      : { base: `https://${e.id}.api.runpod.ai`, health: `https://${e.id}.api.runpod.ai/ping` };
    return { ...rest, requestUrls };
  }
  private validateEndpoint(b: Body, create: boolean): void {
    const schema: Sch = { t: "obj", req: create ? ["name", "type", "scaling", ...("templateId" in b ? [] : ["image"])] : [], props: endpointProps(b, create) };
    const errs: string[] = [];
    try { this.deps.validate(schema, b); } catch (e) { errs.push(...(((e as { errors?: string[] }).errors) ?? [])); }
    const gpu = b.gpu as Body | undefined;
    const excluded = gpu?.excludedTypes;
    if (Array.isArray(excluded) && new Set(excluded.map((x) => String(x).trim())).size !== excluded.length) errs.push("$.gpu.excludedTypes: items must be unique");
    if (!create && gpu && "excludedTypes" in gpu && !("pools" in gpu)) errs.push("$.gpu: property 'excludedTypes' requires property 'pools'");
    if (b.type === "LOAD_BALANCER" && (b.scaling as Body | undefined)?.type === "QUEUE_DELAY") errs.push("$.scaling.type: value must be 'REQUEST_COUNT'");
    if (errs.length) throw new ServerlessProblem(422, "Request validation failed.", errs);
  }
  /** Cross-field rules (400) of a GPU selection: pools known, exclusions inside them, at least one type left. */
  private checkGpu(g: EmulatedEndpoint["gpu"]): void {
    const inPools = this.deps.gpus.filter((x) => x.pool !== null && g.pools.includes(x.pool));
    const unknown = g.pools.filter((p) => !this.deps.gpus.some((x) => x.pool === p));
    if (unknown.length) throw new ServerlessProblem(400, `unknown serverless GPU pool(s): ${unknown.join(", ")}`);
    const excluded = (g.excludedTypes ?? []).map((x) => x.trim());
    const outside = excluded.filter((x) => !inPools.some((y) => y.id === x));
    if (outside.length) throw new ServerlessProblem(400, `excludedTypes ${outside.join(", ")} is not a GPU type in the selected pools`);
    if (inPools.every((x) => excluded.includes(x.id))) throw new ServerlessProblem(400, "excludedTypes leaves no GPU type in the selected pools");
    if (g.allowedCudaVersions.length && g.minCudaVersion) throw new ServerlessProblem(400, "gpu.allowedCudaVersions and gpu.minCudaVersion are mutually exclusive");
  }
  private checkRefs(b: Body): void {
    for (const v of (b.networkVolumes as string[] | undefined) ?? []) if (!this.deps.volumeExists(v)) throw new ServerlessProblem(404, `network volume ${v} not found`);
  }
  private containerOf(b: Body, base: Container, tpl?: EmulatedTemplate): Container {
    const pick = <K extends keyof Container>(k: K): Container[K] => (b[k] !== undefined ? (b[k] as Container[K]) : tpl ? tpl[k] : base[k]);
    const env = tpl ? { ...tpl.env, ...((b.env as Record<string, string> | undefined) ?? {}) } : pick("env");
    return structuredClone({ image: pick("image"), args: pick("args"), disk: pick("disk"), ports: pick("ports"), env, registry: pick("registry") });
  }
  private createEndpoint(b: Body): Answer {
    this.validateEndpoint(b, true);
    if ((b.gpu === undefined) === (b.cpu === undefined)) throw new ServerlessProblem(400, "exactly one of 'gpu' or 'cpu' must be provided");
    if (b.cpu !== undefined) throw new ServerlessProblem(400, "CPU endpoints are not emulated");
    const scaling = b.scaling as Scaling, w = (b.workers as Body | undefined) ?? {};
    if (b.type === "QUEUE" && scaling.type === "REQUEST_COUNT" && w.idleTimeout !== undefined) throw new ServerlessProblem(400, "workers.idleTimeout does not apply to a queue endpoint scaling on REQUEST_COUNT");
    const tpl = typeof b.templateId === "string" ? this.serverlessTemplate(b.templateId) : undefined;
    const g = b.gpu as Body;
    const minCuda = (g.minCudaVersion as string | undefined) ?? null;
    const gpu: EmulatedEndpoint["gpu"] = { pools: g.pools as string[], ...(g.excludedTypes ? { excludedTypes: g.excludedTypes as string[] } : {}), count: (g.count as number | undefined) ?? 1,
      allowedCudaVersions: (g.allowedCudaVersions as string[] | undefined) ?? (tpl && !minCuda ? [...tpl.allowedCudaVersions] : []), minCudaVersion: minCuda };
    this.checkGpu(gpu);
    this.checkRefs(b);
    const workers = { min: (w.min as number | undefined) ?? 0, max: (w.max as number | undefined) ?? 3, ...(scaling.type === "QUEUE_DELAY" ? { idleTimeout: (w.idleTimeout as number | undefined) ?? 10 } : {}) };
    // ContainerConfig has no defaults for a body without a template (ASSUMPTION: disk 20, as the spec's examples show).
    const container = this.containerOf(b, { image: "", args: "", disk: 20, ports: [], env: {}, registry: null }, tpl);
    const e: EmulatedEndpoint = { id: rid(8), name: b.name as string, type: b.type as EmulatedEndpoint["type"], ...container, gpu, workers, scaling: { ...scaling },
      dataCenterIds: [...((b.dataCenterIds as string[] | undefined) ?? [])], networkVolumes: [...((b.networkVolumes as string[] | undefined) ?? [])],
      timeout: (b.timeout as number | undefined) ?? 300_000, flashboot: (b.flashboot as string | undefined) ?? "OFF", createdAt: new Date().toISOString(), ...(tpl ? { boundTemplate: tpl.id } : {}) };
    this.endpoints.set(e.id, e);
    return { status: 201, json: this.endpointView(e) };
  }
  private updateEndpoint(id: string, b: Body): Answer {
    const e = this.endpoint(id);
    this.validateEndpoint(b, false);
    if (b.cpu !== undefined) throw new ServerlessProblem(400, "cpu cannot be set on a GPU endpoint; the compute family is fixed at create");
    const next = structuredClone(e);
    const tpl = typeof b.templateId === "string" ? this.serverlessTemplate(b.templateId) : undefined;
    Object.assign(next, this.containerOf(b, e, tpl));
    if (tpl) next.boundTemplate = tpl.id;
    const g = b.gpu as Body | undefined;
    if (g) {
      if (g.pools !== undefined) { next.gpu.pools = g.pools as string[]; if (g.excludedTypes !== undefined) next.gpu.excludedTypes = g.excludedTypes as string[]; else delete next.gpu.excludedTypes; }
      if (g.count !== undefined) next.gpu.count = g.count as number;
      if (g.allowedCudaVersions !== undefined) next.gpu.allowedCudaVersions = g.allowedCudaVersions as string[];
      if (g.minCudaVersion !== undefined) next.gpu.minCudaVersion = g.minCudaVersion === "" ? null : (g.minCudaVersion as string);
      if (Array.isArray(g.allowedCudaVersions) && g.allowedCudaVersions.length && g.minCudaVersion) throw new ServerlessProblem(400, "gpu.allowedCudaVersions and gpu.minCudaVersion are mutually exclusive");
      this.checkGpu({ ...next.gpu, allowedCudaVersions: [], minCudaVersion: null });
    }
    if (b.scaling !== undefined) next.scaling = { ...(b.scaling as Scaling) };
    const w = b.workers as Body | undefined;
    if (w?.idleTimeout !== undefined && next.scaling.type === "REQUEST_COUNT") throw new ServerlessProblem(400, "workers.idleTimeout does not apply to a queue endpoint scaling on REQUEST_COUNT");
    next.workers = { ...next.workers, ...(w as Partial<EmulatedEndpoint["workers"]> | undefined) };
    if (next.scaling.type === "REQUEST_COUNT") delete next.workers.idleTimeout;
    else next.workers.idleTimeout ??= 10; // ASSUMPTION: back on QUEUE_DELAY without one, the create default
    this.checkRefs(b);
    for (const k of ["name", "dataCenterIds", "networkVolumes", "timeout", "flashboot"] as const) if (b[k] !== undefined) Object.assign(next, { [k]: structuredClone(b[k]) });
    this.endpoints.set(e.id, next);
    return { status: 200, json: this.endpointView(next) };
  }
  /** "Permanently deletes a serverless endpoint and its bound template." */
  private deleteEndpoint(id: string): Answer {
    const e = this.endpoint(id);
    this.endpoints.delete(e.id);
    const bound = e.boundTemplate;
    if (bound && ![...this.endpoints.values()].some((x) => x.boundTemplate === bound)) this.templates.delete(bound);
    return { status: 204 };
  }
}
