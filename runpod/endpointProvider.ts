// The `runpod:QueueEndpoint` dynamic provider over `/v2/serverless`: a QUEUE-type GPU endpoint created
// from a ServerlessTemplate. UpdateEndpointRequest can change every input (the routing `type` and the
// compute family are fixed, and neither is an input), so updates patch in place and nothing replaces it.
// The v2 Endpoint has no status or readiness member ("The endpoint can accept jobs immediately"), so
// after the POST the provider only reads it back, bounded, before it counts as created.
import type * as pulumi from "@pulumi/pulumi";
import type { RunPodClient } from "./client";
import { createOnce, sweepStrays, type CreateOnceOptions } from "./createOnce";
import { createEndpointBody, diffEndpoint, endpointOutputs, endpointPatchApplied, idleWorkersWarning, patchEndpointBody } from "./endpointLogic";
import { isKind, isRunPodError, runPodError } from "./errors";
import { patchIdempotently } from "./patchRetry";
import { checkInputs } from "./podLogic";
import { clientFor, configureProvider, jobApiBaseFor, progressLogger } from "./providerSettings";
import { endpointsApi } from "./serverlessApi";
import { endpointInputsSchema, type ApiEndpoint, type EndpointInputs, type EndpointOutputs } from "./serverlessSchemas";
import { scaledMs, sleep } from "./timing";

const CONSOLE_URL = "https://www.runpod.io/console/serverless";

function parseInputs(raw: unknown): EndpointInputs {
  const { __provider: _ignored, ...rest } = raw as Record<string, unknown>;
  return endpointInputsSchema().parse(rest);
}

function createOptions(client: RunPodClient, inputs: EndpointInputs, preexisting: ReadonlySet<string>, log: (m: string) => void): CreateOnceOptions<ApiEndpoint> {
  const body = createEndpointBody(inputs);
  return {
    what: "serverless endpoint",
    path: "/serverless",
    name: inputs.name,
    consoleUrl: CONSOLE_URL,
    post: () => endpointsApi.create(client, body),
    list: () => endpointsApi.list(client),
    get: (id) => endpointsApi.get(client, id),
    remove: (id) => endpointsApi.remove(client, id),
    preexisting,
    log,
  };
}

/** Reads the new endpoint back until it answers; transient failures are waited out, a refusal ends the wait. */
async function readBack(client: RunPodClient, id: string, inputs: EndpointInputs, log: (m: string) => void): Promise<ApiEndpoint> {
  const started = Date.now();
  const deadline = started + inputs.readyTimeoutSeconds * 1000;
  for (let attempt = 1; ; attempt += 1) {
    let why: string;
    try {
      const endpoint = await endpointsApi.get(client, id);
      if (endpoint) return endpoint;
      why = "not listed yet (404)";
    } catch (error) {
      if (!isKind(error, "server", "network", "timeout", "rateLimited", "unexpected")) throw error;
      why = `${isRunPodError(error) ? error.kind : "error"}`;
    }
    const elapsed = Math.round((Date.now() - started) / 1000);
    if (Date.now() >= deadline) {
      throw runPodError({ kind: "notReady", message: `Serverless endpoint ${id} could not be read back within ${inputs.readyTimeoutSeconds}s (last: ${why}).` });
    }
    log(`reading endpoint ${id} back: ${why} (${elapsed}s)`);
    await sleep(Math.min(scaledMs(1000 * 2 ** Math.min(attempt - 1, 4)), Math.max(1, deadline - Date.now())));
  }
}

export const endpointProvider: pulumi.dynamic.ResourceProvider<Record<string, unknown>, EndpointOutputs> = {
  // eslint-disable-next-line @typescript-eslint/require-await
  async configure(req) {
    configureProvider(this, req);
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async check(_olds, news) {
    const result = checkInputs(endpointInputsSchema(), news, { name: "unknown", templateId: "unknown", gpuPools: ["unknown"] });
    const workersMin = result.inputs.workersMin;
    const warning = result.failures.length === 0 && typeof workersMin === "number" ? idleWorkersWarning({ workersMin }) : undefined;
    if (warning) progressLogger(`endpoint ${String(result.inputs.name)}`)(warning);
    return result;
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async diff(_id, olds, news) {
    const parsed = endpointInputsSchema().safeParse(Object.fromEntries(Object.entries(news).filter(([k]) => k !== "__provider")));
    if (!parsed.success) return {};
    return { changes: diffEndpoint(olds, parsed.data).changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(raw) {
    const inputs = parseInputs(raw);
    const client = clientFor(this);
    const jobApiBase = jobApiBaseFor(this);
    const log = progressLogger(`endpoint ${inputs.name}`);
    const preexisting = new Set((await endpointsApi.list(client)).filter((e) => e.name === inputs.name).map((e) => e.id));
    const opts = createOptions(client, inputs, preexisting, log);
    const { created, ambiguous } = await createOnce(opts).catch(async (error: unknown) => {
      await sweepStrays(opts, undefined);
      throw error;
    });
    log(`created serverless endpoint ${created.id}; reading it back (the v2 endpoint has no readiness state: it takes jobs at once)`);
    try {
      if (ambiguous) await sweepStrays(opts, created.id);
      const endpoint = await readBack(client, created.id, inputs, log);
      return { id: endpoint.id, outs: endpointOutputs(inputs, endpoint, jobApiBase) };
    } catch (error) {
      // Nothing left behind untracked: the endpoint this create made goes before the error is thrown.
      const why = error instanceof Error ? error.message : String(error);
      try {
        await endpointsApi.remove(client, created.id);
      } catch {
        throw runPodError({
          kind: "notReady",
          message: `${why}\nDeleting serverless endpoint ${created.id} failed too: delete it at ${CONSOLE_URL}, then run \`pulumi up\` again.`,
        });
      }
      throw runPodError({ kind: "notReady", message: `${why}\nServerless endpoint ${created.id} was deleted, so nothing is left behind; run \`pulumi up\` again.` });
    }
  },

  async read(id, props) {
    const client = clientFor(this);
    const endpoint = await endpointsApi.get(client, id);
    if (!endpoint) return { id: "" };
    const { __provider: _ignored, ...olds } = (props ?? {}) as EndpointOutputs & { __provider?: string };
    return { id, props: endpointOutputs(olds, endpoint, jobApiBaseFor(this)) };
  },

  async update(id, olds, raw) {
    const news = parseInputs(raw);
    const client = clientFor(this);
    const log = progressLogger(`endpoint ${news.name}`);
    const body = patchEndpointBody(olds, news);
    let endpoint: ApiEndpoint | null;
    if (Object.keys(body).length) {
      const warning = idleWorkersWarning(news);
      if (warning && body.workers) log(warning);
      log(`updating ${Object.keys(body).join(", ")} in place${body.templateId ? " (re-applying the template: workers roll to the new release as they cycle)" : ""}`);
      endpoint = await patchIdempotently(
        () => endpointsApi.update(client, id, body),
        () => endpointsApi.get(client, id),
        (e) => endpointPatchApplied(e, news, body),
        log,
        "endpoint",
      );
    } else {
      endpoint = await endpointsApi.get(client, id);
    }
    if (!endpoint) {
      throw runPodError({
        kind: "notFound",
        message: `Serverless endpoint ${id} no longer exists (deleted outside Pulumi?). Run \`pulumi refresh\`, then \`pulumi up\` to create a new one.`,
      });
    }
    return { outs: endpointOutputs(news, endpoint, jobApiBaseFor(this)) };
  },

  async delete(id) {
    const client = clientFor(this);
    await endpointsApi.remove(client, id);
    progressLogger(`endpoint ${id}`)("deleted (or already gone)");
  },
};
