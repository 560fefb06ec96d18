// Shared set-up of the template/endpoint provider tests: the serialized providers (as Pulumi's
// dynamic-provider host loads them from state), configured against a RunPod emulator.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { endpointProvider, QueueEndpoint, ServerlessTemplate, templateProvider, type EndpointOutputs, type TemplateOutputs } from "../../runpod";
import type { RunPodEmulator } from "../emulators/runpod";
import { configureLikeHost } from "./serializedProvider";

export type TemplateProvider = typeof templateProvider;
export type EndpointProvider = typeof endpointProvider;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => { handler: () => unknown };

export interface CapturedServerless {
  texts: { template: string; endpoint: string };
  /** The `env` of the registered template was a secret when it reached the engine. */
  templateEnvSecret: boolean;
}

/** Registers one template and one endpoint under mocks and captures their serialized providers. */
export async function captureServerlessProviders(): Promise<CapturedServerless> {
  const texts: Record<string, string> = {};
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        if (typeof inputs.__provider === "string") texts[args.type] = inputs.__provider;
        return { id: `${args.name}-id`, state: inputs };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "steadydancer-runpod",
    "test",
    false,
  );
  const template = new ServerlessTemplate("capture", { name: "capture", image: "img", env: { HF_TOKEN: "capture-secret" } });
  const endpoint = new QueueEndpoint("capture", { name: "capture", templateId: template.templateId, gpuPools: ["ADA_24"] });
  await new Promise<void>((resolve) => pulumi.all([template.urn, endpoint.urn]).apply(() => resolve()));
  for (let i = 0; i < 100 && Object.keys(texts).length < 2; i += 1) await new Promise((r) => setTimeout(r, 10));
  const envSecret = await pulumi.isSecret(template.env);
  const templateText = texts["pulumi-nodejs:dynamic/runpod:ServerlessTemplate"];
  const endpointText = texts["pulumi-nodejs:dynamic/runpod:QueueEndpoint"];
  if (!templateText || !endpointText) throw new Error(`serialized providers not captured: ${Object.keys(texts).join(", ")}`);
  return { texts: { template: templateText, endpoint: endpointText }, templateEnvSecret: envSecret };
}

export function loadSerialized(captured: CapturedServerless): { template: TemplateProvider; endpoint: EndpointProvider } {
  return {
    template: requireFromString(captured.texts.template).handler() as TemplateProvider,
    endpoint: requireFromString(captured.texts.endpoint).handler() as EndpointProvider,
  };
}

export async function configured(
  providers: { template: TemplateProvider; endpoint: EndpointProvider },
  emulator: RunPodEmulator,
  extra: Record<string, string> = {},
): Promise<{ template: TemplateProvider; endpoint: EndpointProvider }> {
  const config = { "runpod:apiKey": emulator.apiKey, "runpod:apiUrl": emulator.baseUrl, ...extra };
  return { template: await configureLikeHost(providers.template, config), endpoint: await configureLikeHost(providers.endpoint, config) };
}

export const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

export async function createTemplate(p: TemplateProvider, inputs: Record<string, unknown>): Promise<{ id: string; outs: TemplateOutputs }> {
  const checked = await p.check!({}, inputs);
  assert.deepEqual(checked.failures ?? [], []);
  const { id, outs } = await p.create(checked.inputs ?? {});
  assert.ok(outs);
  return { id, outs };
}

export async function createEndpoint(p: EndpointProvider, inputs: Record<string, unknown>): Promise<{ id: string; outs: EndpointOutputs }> {
  const checked = await p.check!({}, inputs);
  assert.deepEqual(checked.failures ?? [], []);
  const { id, outs } = await p.create(checked.inputs ?? {});
  assert.ok(outs);
  return { id, outs };
}

export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected a rejection");
}
