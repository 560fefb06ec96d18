// Loads our dynamic providers the way Pulumi's dynamic-provider host does: take the `__provider`
// text a resource registers, `require` it from a string, call `handler()`, then `configure` it with
// the stack config. What works here works after Pulumi has serialized the provider into state.
import * as pulumi from "@pulumi/pulumi";
import { Config as HostConfig } from "@pulumi/pulumi/cmd/dynamic-provider/config";
import { Pod, podProvider, Registry, registryProvider } from "../../runpod";

export type PodProvider = typeof podProvider;
export type RegistryProvider = typeof registryProvider;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => { handler: () => unknown };

export interface SerializedProviders {
  /** The raw `__provider` texts, as stored in state. */
  texts: { pod: string; registry: string };
  /** Fresh provider objects rebuilt from the texts, as a new provider host process would. */
  load(): { pod: PodProvider; registry: RegistryProvider };
}

/** Registers one Pod and one Registry under mocks and captures their serialized providers. */
export async function captureSerializedProviders(): Promise<SerializedProviders> {
  const texts: Record<string, string> = {};
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const text = (args.inputs as Record<string, unknown>).__provider;
        if (typeof text === "string") texts[args.type] = text;
        return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "steadydancer-runpod",
    "test",
    false,
  );
  const pod = new Pod("capture", { name: "capture", image: "img", gpuTypeIds: ["NVIDIA L40S"] });
  const registry = new Registry("capture", { name: "capture", username: "u", password: "p" });
  await new Promise<void>((resolve) => pulumi.all([pod.urn, registry.urn]).apply(() => resolve()));
  // Resource registration resolves asynchronously after the URN; wait until both texts arrived.
  for (let i = 0; i < 100 && Object.keys(texts).length < 2; i += 1) await new Promise((r) => setTimeout(r, 10));
  const podText = texts["pulumi-nodejs:dynamic/runpod:Pod"];
  const registryText = texts["pulumi-nodejs:dynamic/runpod:Registry"];
  if (!podText || !registryText) throw new Error(`serialized providers not captured: ${Object.keys(texts).join(", ")}`);
  return {
    texts: { pod: podText, registry: registryText },
    load: () => ({
      pod: requireFromString(podText).handler() as PodProvider,
      registry: requireFromString(registryText).handler() as RegistryProvider,
    }),
  };
}

/** The host's configure step: the full stack config, namespaced keys preserved. */
export async function configureLikeHost<P extends Pick<pulumi.dynamic.ResourceProvider, "configure">>(
  provider: P,
  config: Record<string, string>,
): Promise<P> {
  if (provider.configure) await provider.configure({ config: new HostConfig(config, "steadydancer-runpod") });
  return provider;
}
