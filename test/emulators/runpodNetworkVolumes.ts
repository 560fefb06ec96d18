// Network volumes of the RunPod v2 emulator (`/v2/network-volumes`), per the OpenAPI document
// (runpod/docs api-reference-v2/openapi.json: NetworkVolume, Create/UpdateNetworkVolumeRequest) and
// /work/shared/reference/runpod-rest-v2.md §2.11 and §7 rule 35. Registered by test/emulators/runpod.ts.
import { randomBytes } from "node:crypto";

/** An error the emulator answers as problem+json (status, detail, and `errors` for a 422). */
export class VolumeProblem extends Error {
  constructor(readonly status: number, readonly detail: string, readonly errors?: string[]) { super(detail); }
}

export interface EmulatedVolume { id: string; name: string; size: number; dataCenter: string; type: "STANDARD" | "HIGH_PERFORMANCE" }
export interface VolumeDataCenter { id: string; networkVolumeTypes: string[] }

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
const rid = (n: number): string => Array.from(randomBytes(n), (b) => ALNUM[b % 36]).join("");
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const TYPES = ["STANDARD", "HIGH_PERFORMANCE"];

/** Schema rule 10 for the two request bodies, in the live message style. */
function validate(body: Record<string, unknown>, required: string[], allowed: string[], minProperties = 0): void {
  const errs: string[] = [];
  const missing = required.filter((k) => !(k in body));
  if (missing.length) errs.push(`$: missing ${missing.length > 1 ? "properties" : "property"} ${missing.map((k) => `'${k}'`).join(", ")}`);
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length) errs.push(`$: additional properties ${extra.map((k) => `'${k}'`).join(", ")} not allowed`);
  if (Object.keys(body).length < minProperties) errs.push(`$: minProperties must be >= ${minProperties} but found ${Object.keys(body).length}`);
  for (const key of ["name", "dataCenter"]) {
    const v = body[key];
    if (v === undefined) continue;
    if (typeof v !== "string") errs.push(`$.${key}: got ${Array.isArray(v) ? "array" : typeof v}, want string`);
    else if (v.length < 1) errs.push(`$.${key}: length must be >= 1, but got 0`);
  }
  const size = body.size;
  if (size !== undefined) {
    if (typeof size !== "number" || !Number.isInteger(size)) errs.push(`$.size: got ${typeof size}, want integer`);
    else if (size < 10) errs.push(`$.size: must be >= 10 but found ${size}`);
    else if (size > 4096) errs.push(`$.size: must be <= 4096 but found ${size}`);
  }
  if (body.type !== undefined && (typeof body.type !== "string" || !TYPES.includes(body.type))) {
    errs.push(`$.type: value must be one of 'STANDARD', 'HIGH_PERFORMANCE'`);
  }
  if (errs.length) throw new VolumeProblem(422, "Request validation failed.", errs);
}

export class NetworkVolumeStore {
  private readonly volumes = new Map<string, EmulatedVolume>();

  /** `mountedBy(volumeId)`: whether a live pod mounts the volume (delete is then refused). */
  constructor(private readonly dataCenters: VolumeDataCenter[], private readonly mountedBy: (volumeId: string) => boolean) {}

  all(): EmulatedVolume[] { return [...this.volumes.values()].map((v) => ({ ...v })); }
  /** Test knob: a volume that already exists in the account (made in the console, or kept by a destroy). */
  seed(v: Omit<EmulatedVolume, "id"> & { id?: string }): EmulatedVolume {
    const vol = { ...v, id: v.id ?? rid(10) };
    this.volumes.set(vol.id, vol);
    return { ...vol };
  }

  list(): { status: number; json: unknown } { return { status: 200, json: { networkVolumes: this.all() } }; }

  get(id: string): { status: number; json: unknown } { return { status: 200, json: { ...this.find(id) } }; }

  create(body: unknown): { status: number; json: unknown } {
    if (!isObj(body)) throw new VolumeProblem(400, "request could not be processed");
    validate(body, ["name", "size", "dataCenter"], ["name", "size", "dataCenter", "type"]);
    const dc = this.dataCenters.find((d) => d.id === body.dataCenter);
    const supporting = this.dataCenters.filter((d) => d.networkVolumeTypes.length).map((d) => d.id).join(", ");
    if (!dc || dc.networkVolumeTypes.length === 0) {
      throw new VolumeProblem(400, `data center '${String(body.dataCenter)}' does not support network volumes; supported: ${supporting}`);
    }
    const type = (body.type as string | undefined) ?? dc.networkVolumeTypes[0] ?? "STANDARD";
    if (!dc.networkVolumeTypes.includes(type)) throw new VolumeProblem(400, `data center '${dc.id}' does not offer ${type} network volumes`);
    const vol: EmulatedVolume = { id: rid(10), name: body.name as string, size: body.size as number, dataCenter: dc.id, type: type as EmulatedVolume["type"] };
    this.volumes.set(vol.id, vol);
    return { status: 201, json: { ...vol } };
  }

  update(id: string, body: unknown): { status: number; json: unknown } {
    const vol = this.find(id);
    if (!isObj(body)) throw new VolumeProblem(400, "request could not be processed");
    validate(body, [], ["name", "size"], 1);
    if (typeof body.size === "number" && body.size < vol.size) throw new VolumeProblem(400, "network volume size cannot be decreased");
    if (typeof body.size === "number") vol.size = body.size;
    if (typeof body.name === "string") vol.name = body.name;
    return { status: 200, json: { ...vol } };
  }

  remove(id: string): { status: number } {
    const vol = this.find(id);
    if (this.mountedBy(vol.id)) throw new VolumeProblem(400, "network volume is in use by a pod"); // rule 35: status is an ASSUMPTION
    this.volumes.delete(vol.id);
    return { status: 204 };
  }

  /**
   * Where a pod that mounts `mounts.network` may go (rule 14/15/18): the volume must exist (404), SECURE
   * cloud only (400), and the pod lands in the volume's data centre, which a non-empty dataCenterIds must list (400).
   */
  placementFor(mounts: { network?: Array<{ volumeId: string }> } | undefined, dataCenterIds: string[]): string[] {
    const volumeId = mounts?.network?.[0]?.volumeId;
    if (volumeId === undefined) return dataCenterIds;
    const vol = this.volumes.get(volumeId);
    if (!vol) throw new VolumeProblem(404, "network volume not found");
    if (dataCenterIds.length && !dataCenterIds.includes(vol.dataCenter)) {
      throw new VolumeProblem(400, `network volume ${vol.id} is in ${vol.dataCenter}, which is not in dataCenterIds`);
    }
    return [vol.dataCenter];
  }

  private find(id: string): EmulatedVolume {
    const vol = this.volumes.get(id);
    if (!vol) throw new VolumeProblem(404, "network volume not found");
    return vol;
  }
}
