// The `runpod:Registry` dynamic provider: container registry credentials (`/v2/registries`).
// v2 has no PATCH for them, so any change replaces the credential; the password is write-only at RunPod.
import type * as pulumi from "@pulumi/pulumi";
import { scaledMs, sleep } from "./timing";
import { isRunPodError } from "./errors";
import { clientFor, configureProvider, progressLogger } from "./providerSettings";
import { registryInputsSchema, UNKNOWN_VALUE, type RegistryOutputs } from "./schemas";

function parseInputs(raw: unknown) {
  const { __provider: _ignored, ...rest } = raw as Record<string, unknown>;
  return registryInputsSchema().parse(rest);
}

export const registryProvider: pulumi.dynamic.ResourceProvider<Record<string, unknown>, RegistryOutputs> = {
  // eslint-disable-next-line @typescript-eslint/require-await
  async configure(req) {
    configureProvider(this, req);
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async check(_olds, news) {
    const known = Object.fromEntries(Object.entries(news).filter(([k, v]) => k !== "__provider" && v !== UNKNOWN_VALUE));
    const unknownKeys = Object.keys(news).filter((k) => news[k] === UNKNOWN_VALUE);
    const result = registryInputsSchema().partial().safeParse(known);
    const failures = result.success
      ? []
      : result.error.issues.map((i) => ({ property: i.path.map(String).join(".") || "(inputs)", reason: i.message }));
    for (const key of ["name", "username", "password"]) {
      if (!(key in known) && !unknownKeys.includes(key)) failures.push({ property: key, reason: "is required" });
    }
    return { inputs: news, failures };
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async diff(_id, olds, news) {
    const replaces = (["name", "username", "password"] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },

  async create(raw) {
    const inputs = parseInputs(raw);
    const client = clientFor(this);
    try {
      const registry = await client.createRegistry(inputs);
      return { id: registry.id, outs: { ...inputs, registryId: registry.id } };
    } catch (error) {
      if (!isRunPodError(error) || !error.ambiguous) throw error;
      // Never re-POST blind: a registry with our unique name means the failed request did create it.
      await sleep(scaledMs(1000));
      const existing = (await client.listRegistries()).find((r) => r.name === inputs.name);
      if (!existing) throw error;
      progressLogger(inputs.name)(`adopting registry credential ${existing.id} made by a request that failed in transit`);
      return { id: existing.id, outs: { ...inputs, registryId: existing.id } };
    }
  },

  async read(id, props) {
    const client = clientFor(this);
    const registry = await client.getRegistry(id);
    if (!registry) return { id: "" };
    const { __provider: _ignored, ...olds } = (props ?? {}) as RegistryOutputs & { __provider?: string };
    return { id, props: { ...olds, name: registry.name, registryId: registry.id } };
  },

  async delete(id) {
    const client = clientFor(this);
    await client.deleteRegistry(id);
  },
};
