// The `runpod:ServerlessTemplate` dynamic provider over `/v2/templates`: the container settings a
// serverless endpoint is created from (`serverless: true`). UpdateTemplateRequest can change every
// input, so nothing replaces the template; an endpoint keeps a snapshot of it (the spec: "Pods and
// endpoints already created from this template are not changed retroactively"), so every in-place change
// of the container settings raises `revision`, which a QueueEndpoint passes back to re-apply it.
import type * as pulumi from "@pulumi/pulumi";
import { isKind, runPodError } from "./errors";
import { createOnce, sweepStrays, type CreateOnceOptions } from "./createOnce";
import { checkInputs } from "./podLogic";
import { patchIdempotently } from "./patchRetry";
import { clientFor, configureProvider, progressLogger } from "./providerSettings";
import { templatesApi } from "./serverlessApi";
import { templateInputsSchema, type ApiTemplate, type TemplateInputs, type TemplateOutputs } from "./serverlessSchemas";
import type { RunPodClient } from "./client";

const CONSOLE_URL = "https://www.runpod.io/console/user/templates";
/** Inputs that are container settings (an endpoint must re-apply the template when one changes). */
const CONTAINER_FIELDS = ["image", "env", "containerDiskGb", "registryId", "ports", "args"] as const;

function parseInputs(raw: unknown): TemplateInputs {
  const { __provider: _ignored, ...rest } = raw as Record<string, unknown>;
  return templateInputsSchema().parse(rest);
}

function same(a: unknown, b: unknown): boolean {
  const canon = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => p.localeCompare(q))) : x));
  return canon(a) === canon(b);
}

/** The request body members for these inputs; startSsh/startJupyter default to true and mean nothing to a worker. */
function containerBody(inputs: TemplateInputs): Record<string, unknown> {
  return { image: inputs.image, env: inputs.env, disk: inputs.containerDiskGb, ports: inputs.ports, args: inputs.args, registry: inputs.registryId ?? null };
}

function outputsOf(inputs: TemplateInputs, template: ApiTemplate, revision: number): TemplateOutputs {
  return JSON.parse(JSON.stringify({ ...inputs, templateId: template.id, revision })) as TemplateOutputs;
}

function changedFields(olds: TemplateInputs, news: TemplateInputs): string[] {
  return (["name", ...CONTAINER_FIELDS] as const).filter((k) => !same(olds[k] ?? null, news[k] ?? null));
}

function patchBody(olds: TemplateInputs, news: TemplateInputs): Record<string, unknown> {
  const full: Record<string, unknown> = { name: news.name, ...containerBody(news) };
  const key: Record<string, string> = { containerDiskGb: "disk", registryId: "registry" };
  return Object.fromEntries(changedFields(olds, news).map((f) => [key[f] ?? f, full[key[f] ?? f]]));
}

function applied(template: ApiTemplate, body: Record<string, unknown>): boolean {
  const shown: Record<string, unknown> = { ...template };
  return Object.entries(body).every(([k, v]) => same(shown[k] ?? null, v ?? null));
}

function createOptions(client: RunPodClient, inputs: TemplateInputs, preexisting: ReadonlySet<string>, log: (m: string) => void): CreateOnceOptions<ApiTemplate> {
  const body: Record<string, unknown> = { name: inputs.name, ...containerBody(inputs), serverless: true, startSsh: false, startJupyter: false };
  if (body.registry === null) delete body.registry;
  return {
    what: "template",
    path: "/templates",
    name: inputs.name,
    consoleUrl: CONSOLE_URL,
    post: () => templatesApi.create(client, body),
    list: () => templatesApi.list(client),
    get: (id) => templatesApi.get(client, id),
    remove: (id) => templatesApi.remove(client, id),
    preexisting,
    log,
  };
}

export const templateProvider: pulumi.dynamic.ResourceProvider<Record<string, unknown>, TemplateOutputs> = {
  // eslint-disable-next-line @typescript-eslint/require-await
  async configure(req) {
    configureProvider(this, req);
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async check(_olds, news) {
    return checkInputs(templateInputsSchema(), news, { name: "unknown", image: "unknown" });
  },

  // eslint-disable-next-line @typescript-eslint/require-await
  async diff(_id, olds, news) {
    const parsed = templateInputsSchema().safeParse(Object.fromEntries(Object.entries(news).filter(([k]) => k !== "__provider")));
    if (!parsed.success) return {};
    // Every input is in UpdateTemplateRequest: nothing replaces the template.
    return { changes: changedFields(olds, parsed.data).length > 0, replaces: [], deleteBeforeReplace: false };
  },

  async create(raw) {
    const inputs = parseInputs(raw);
    const client = clientFor(this);
    const log = progressLogger(`template ${inputs.name}`);
    const preexisting = new Set((await templatesApi.list(client)).filter((t) => t.name === inputs.name).map((t) => t.id));
    const opts = createOptions(client, inputs, preexisting, log);
    const { created, ambiguous } = await createOnce(opts).catch(async (error: unknown) => {
      await sweepStrays(opts, undefined);
      throw error;
    });
    if (ambiguous) await sweepStrays(opts, created.id);
    log(`created serverless template ${created.id}`);
    return { id: created.id, outs: outputsOf(inputs, created, 1) };
  },

  async read(id, props) {
    const client = clientFor(this);
    const template = await templatesApi.get(client, id);
    if (!template) return { id: "" };
    const { __provider: _ignored, ...olds } = (props ?? {}) as TemplateOutputs & { __provider?: string };
    const inputs: TemplateInputs = {
      ...olds,
      name: template.name,
      image: template.image,
      env: template.env,
      containerDiskGb: template.disk,
      ports: template.ports,
      args: template.args,
      ...(template.registry ? { registryId: template.registry } : { registryId: undefined }),
    };
    return { id, props: outputsOf(inputs, template, olds.revision ?? 1) };
  },

  async update(id, olds, raw) {
    const news = parseInputs(raw);
    const client = clientFor(this);
    const log = progressLogger(`template ${news.name}`);
    const body = patchBody(olds, news);
    if (!Object.keys(body).length) return { outs: { ...olds, ...news } };
    log(`updating ${Object.keys(body).join(", ")} in place`);
    const template = await patchIdempotently(
      () => templatesApi.update(client, id, body),
      () => templatesApi.get(client, id),
      (t) => applied(t, body),
      log,
      "template",
    );
    const containerChanged = changedFields(olds, news).some((f) => f !== "name");
    return { outs: outputsOf(news, template, (olds.revision ?? 1) + (containerChanged ? 1 : 0)) };
  },

  async delete(id) {
    const client = clientFor(this);
    try {
      await templatesApi.remove(client, id);
    } catch (error) {
      if (!isKind(error, "badRequest")) throw error;
      throw runPodError({
        kind: "badRequest",
        message:
          `RunPod refuses to delete template ${id} while a serverless endpoint (or pod) is bound to it. Delete that endpoint first: ` +
          "`pulumi destroy` deletes a QueueEndpoint before its template, so this means one outside this stack uses it; delete it at " +
          `https://www.runpod.io/console/serverless, then run \`pulumi destroy\` again.\n(${error.message})`,
        status: 400,
      });
    }
  },
};
