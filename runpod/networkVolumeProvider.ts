// The `runpod:NetworkVolume` dynamic provider over `/v2/network-volumes`: a volume pinned to one data
// centre that outlives the pods mounting it. Its create adopts a volume of the same name in the same data
// centre, so a volume kept by `pulumi destroy` (retainOnDelete) is found again by the next `pulumi up`.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { networkVolumeListSchema, networkVolumeSchema, type ApiNetworkVolume } from "./catalogSchemas";
import type { RunPodClient } from "./client";
import { runPodError } from "./errors";
import { clientFor, configureProvider, progressLogger } from "./providerSettings";

export function networkVolumeInputsSchema() {
  return z
    .object({
      name: z.string().min(1, "must not be empty"),
      sizeGb: z.number().int().min(10, "a network volume is at least 10 GB").max(4096),
      dataCenterId: z.string().min(1, "name the data centre, e.g. EU-RO-1"),
      /** Omitted: the data centre's default tier. */
      type: z.enum(["STANDARD", "HIGH_PERFORMANCE"]).optional(),
    })
    .strict();
}

export type NetworkVolumeInputs = z.output<ReturnType<typeof networkVolumeInputsSchema>>;

export interface NetworkVolumeOutputs extends NetworkVolumeInputs {
  volumeId: string;
  /** The tier RunPod gave it. */
  volumeType: string;
}

function parseInputs(raw: Record<string, unknown>): NetworkVolumeInputs {
  const { __provider: _ignored, ...rest } = raw;
  return networkVolumeInputsSchema().parse(rest);
}

function outputsOf(inputs: NetworkVolumeInputs, volume: ApiNetworkVolume): NetworkVolumeOutputs {
  return { ...inputs, sizeGb: volume.size, dataCenterId: volume.dataCenter, volumeId: volume.id, volumeType: volume.type };
}

async function resize(client: RunPodClient, volume: ApiNetworkVolume, sizeGb: number): Promise<ApiNetworkVolume> {
  if (volume.size >= sizeGb) return volume;
  const grown = await client.call("PATCH", `/network-volumes/${encodeURIComponent(volume.id)}`, networkVolumeSchema(), { body: { size: sizeGb } });
  return grown ?? volume;
}

export const networkVolumeProvider: pulumi.dynamic.ResourceProvider<Record<string, unknown>, NetworkVolumeOutputs> = {
  // eslint-disable-next-line @typescript-eslint/require-await
  async configure(req) {
    configureProvider(this, req);
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async check(olds, news) {
    const { __provider: _ignored, ...rest } = news;
    if (JSON.stringify(rest).includes("04da6b54-80e4-46f7-96ec-b56ff0331ba9")) return { inputs: news };
    const parsed = networkVolumeInputsSchema().safeParse(rest);
    if (!parsed.success) {
      return { inputs: news, failures: parsed.error.issues.map((i) => ({ property: i.path.map(String).join(".") || "(inputs)", reason: i.message })) };
    }
    const oldSize = typeof olds.sizeGb === "number" ? olds.sizeGb : 0;
    if (parsed.data.sizeGb < oldSize) {
      return {
        inputs: news,
        failures: [{ property: "sizeGb", reason: `a network volume cannot shrink (it has ${oldSize} GB); set pod.modelsVolumeGb to ${oldSize} or more` }],
      };
    }
    return { inputs: parsed.data };
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async diff(_id, olds, news) {
    const replaces = (["dataCenterId", "type"] as const).filter((k) => news[k] !== undefined && olds[k] !== news[k]);
    const changes = replaces.length > 0 || olds.sizeGb !== news.sizeGb || olds.name !== news.name;
    return { changes, replaces, deleteBeforeReplace: false };
  },

  async create(raw) {
    const inputs = parseInputs(raw);
    const client = clientFor(this);
    const log = progressLogger(`network volume ${inputs.name}`);
    const list = await client.call("GET", "/network-volumes", networkVolumeListSchema());
    const same = (list?.networkVolumes ?? []).filter((v) => v.name === inputs.name && v.dataCenter === inputs.dataCenterId);
    if (same.length > 1) {
      throw runPodError({
        kind: "conflict",
        message: `${same.length} network volumes are named ${inputs.name} in ${inputs.dataCenterId} (${same.map((v) => v.id).join(", ")}); delete the extra ones in the RunPod console, then run pulumi up again.`,
      });
    }
    const found = same[0];
    if (found) {
      log(`adopting volume ${found.id} (${found.size} GB), kept from an earlier deployment`);
      return { id: found.id, outs: outputsOf(inputs, await resize(client, found, inputs.sizeGb)) };
    }
    const body = { name: inputs.name, size: inputs.sizeGb, dataCenter: inputs.dataCenterId, ...(inputs.type ? { type: inputs.type } : {}) };
    // Not retried blind: a second POST would make a second billed volume; the adoption above covers a rerun.
    const created = await client.call("POST", "/network-volumes", networkVolumeSchema(), { body });
    if (!created) throw runPodError({ kind: "unexpected", message: "RunPod POST /network-volumes answered without a volume." });
    log(`created volume ${created.id} (${created.size} GB in ${created.dataCenter})`);
    return { id: created.id, outs: outputsOf(inputs, created) };
  },

  async read(id, props) {
    const client = clientFor(this);
    const volume = await client.call("GET", `/network-volumes/${encodeURIComponent(id)}`, networkVolumeSchema(), { allowNotFound: true });
    if (!volume) return { id: "" };
    const { __provider: _ignored, ...olds } = (props ?? {}) as Record<string, unknown>;
    return { id, props: outputsOf({ ...(olds as unknown as NetworkVolumeInputs), name: volume.name }, volume) };
  },

  async update(id, olds, raw) {
    const news = parseInputs(raw);
    const client = clientFor(this);
    const body: Record<string, unknown> = {};
    if (news.sizeGb > olds.sizeGb) body.size = news.sizeGb;
    if (news.name !== olds.name) body.name = news.name;
    const volume = Object.keys(body).length
      ? await client.call("PATCH", `/network-volumes/${encodeURIComponent(id)}`, networkVolumeSchema(), { body })
      : null;
    return { outs: volume ? outputsOf(news, volume) : { ...olds, ...news } };
  },

  async delete(id) {
    const client = clientFor(this);
    await client.call("DELETE", `/network-volumes/${encodeURIComponent(id)}`, networkVolumeSchema(), { allowNotFound: true });
  },
};
