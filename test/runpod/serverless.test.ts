// The ServerlessTemplate and QueueEndpoint providers against the RunPod v2 emulator's /v2/templates and
// /v2/serverless, through the serialized form Pulumi stores in state (and directly where noted).
import * as assert from "node:assert/strict";
import { endpointProvider, templateProvider, type EndpointOutputs } from "../../runpod";
import { RunPodEmulator } from "../emulators/runpod";
import {
  captureServerlessProviders,
  configured,
  createEndpoint,
  createTemplate,
  loadSerialized,
  rejection,
  unique,
  type CapturedServerless,
  type EndpointProvider,
  type TemplateProvider,
} from "./serverlessHelpers";

process.env.RUNPOD_PROVIDER_QUIET = "1";
const JOB_API = "http://127.0.0.1:9/v2";
const SECRET = "hf_do-not-print-0123456789";

describe("serverless template and queue endpoint providers", function () {
  this.timeout(30000);
  let emulator: RunPodEmulator;
  let captured: CapturedServerless;
  let template: TemplateProvider;
  let endpoint: EndpointProvider;

  before(async () => {
    process.env.RUNPOD_PROVIDER_DELAY_SCALE = "0.01";
    captured = await captureServerlessProviders();
    emulator = await RunPodEmulator.start();
  });
  after(async () => {
    delete process.env.RUNPOD_PROVIDER_DELAY_SCALE;
    await emulator.close();
  });
  beforeEach(async () => {
    emulator.resetCalls();
    ({ template, endpoint } = await configured(loadSerialized(captured), emulator, { "runpod:jobApiUrl": JOB_API }));
  });

  const templateInputs = (o: Record<string, unknown> = {}) => ({ name: unique("tpl"), image: "ghcr.io/example/worker@sha256:" + "a".repeat(64), env: { HF_TOKEN: SECRET, MODE: "serverless" }, containerDiskGb: 40, ...o });
  const endpointInputs = (templateId: string, o: Record<string, unknown> = {}) => ({ name: unique("ep"), templateId, gpuPools: ["ADA_48_PRO", "ADA_24"], ...o });

  it("keeps the template's env secret and the API key out of the serialized providers", () => {
    assert.equal(captured.templateEnvSecret, true, "ServerlessTemplate.env is a secret output");
    assert.ok(!captured.texts.template.includes("capture-secret") && !captured.texts.endpoint.includes(emulator.apiKey));
  });

  it("creates a serverless template and a QUEUE endpoint from it, with the spec's bodies, defaults and job URL", async () => {
    const t = await createTemplate(template, templateInputs());
    assert.equal(t.outs.templateId, t.id);
    assert.equal(t.outs.revision, 1);
    const tplPost = emulator.calls.find((c) => c.method === "POST" && c.path === "/v2/templates");
    assert.deepEqual(tplPost?.body, {
      name: t.outs.name, image: t.outs.image, env: { HF_TOKEN: SECRET, MODE: "serverless" }, disk: 40, ports: [], args: "",
      serverless: true, startSsh: false, startJupyter: false,
    });
    const e = await createEndpoint(endpoint, endpointInputs(t.id, { workersMax: 2, flashboot: "FLASHBOOT", minCudaVersion: "12.4" }));
    assert.equal(e.outs.endpointId, e.id);
    assert.equal(e.outs.jobApiUrl, `${JOB_API}/${e.id}`);
    assert.equal(e.outs.image, t.outs.image, "the endpoint runs the template's image");
    assert.equal("env" in e.outs, false, "the endpoint's env (the template's secrets) is not kept in its outputs");
    const post = emulator.calls.find((c) => c.method === "POST" && c.path === "/v2/serverless");
    assert.deepEqual(post?.body, {
      name: e.outs.name, type: "QUEUE", templateId: t.id, gpu: { pools: ["ADA_48_PRO", "ADA_24"], count: 1, minCudaVersion: "12.4" },
      workers: { min: 0, max: 2, idleTimeout: 10 }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 }, flashboot: "FLASHBOOT",
      networkVolumes: [], dataCenterIds: [], timeout: 300000,
    });
    assert.deepEqual(emulator.serverlessEndpoint(e.id), {
      id: e.id, workersMin: 0, workersMax: 2, idleTimeoutSeconds: 10, executionTimeoutMs: 300000, scalerType: "QUEUE_DELAY", scalerValue: 4, flashboot: true,
    });
    const read = await endpoint.read!(e.id, e.outs);
    assert.equal(read.id, e.id);
    assert.equal((read.props as EndpointOutputs).workersMax, 2);
    await endpoint.delete!(e.id, e.outs);
    await template.delete!(t.id, t.outs);
  });

  it("patches the endpoint in place (never replaces), re-applies a changed template, and deletes idempotently", async () => {
    const t = await createTemplate(template, templateInputs());
    const e = await createEndpoint(endpoint, endpointInputs(t.id, { excludedGpuTypes: ["NVIDIA RTX 6000 Ada Generation"] }));
    const news = (await endpoint.check!(e.outs as unknown as Record<string, unknown>, { ...endpointInputs(t.id), name: e.outs.name, workersMax: 6, scalerType: "REQUEST_COUNT", scalerValue: 2 })).inputs ?? {};
    const diff = await endpoint.diff!(e.id, e.outs, news);
    assert.equal(diff.changes, true);
    assert.deepEqual(diff.replaces, []);
    emulator.resetCalls();
    const updated = await endpoint.update!(e.id, e.outs, news);
    const patch = emulator.calls.find((c) => c.method === "PATCH");
    assert.deepEqual(patch?.body, { gpu: { pools: ["ADA_48_PRO", "ADA_24"], count: 1 }, workers: { min: 0, max: 6 }, scaling: { type: "REQUEST_COUNT", requestCount: 2 } });
    assert.equal(updated.outs?.scalerType, "REQUEST_COUNT");
    assert.equal(updated.outs?.idleTimeoutSeconds, undefined, "RunPod drops the idle timeout with REQUEST_COUNT scaling");
    assert.equal(emulator.serverless.allEndpoints().find((x) => x.id === e.id)?.gpu.excludedTypes, undefined, "sending pools without excludedTypes cleared them, as asked");

    // The template changes in place; the endpoint picks the new image up only through its revision.
    const tNews = (await template.check!(t.outs as unknown as Record<string, unknown>, { ...templateInputs(), name: t.outs.name, image: "ghcr.io/example/worker:v2" })).inputs ?? {};
    assert.deepEqual((await template.diff!(t.id, t.outs, tNews)).replaces, []);
    const t2 = await template.update!(t.id, t.outs, tNews);
    assert.equal(t2.outs?.revision, 2);
    assert.equal(emulator.serverless.allEndpoints().find((x) => x.id === e.id)?.image, t.outs.image, "an endpoint keeps its snapshot of the template");
    const reapply = (await endpoint.check!((updated.outs ?? {}) as unknown as Record<string, unknown>, { ...news, templateRevision: 2 })).inputs ?? {};
    emulator.resetCalls();
    const e2 = await endpoint.update!(e.id, updated.outs, reapply);
    assert.deepEqual(emulator.calls.find((c) => c.method === "PATCH")?.body, { templateId: t.id });
    assert.equal(e2.outs?.image, "ghcr.io/example/worker:v2");

    // The template is bound to the endpoint: RunPod refuses, and the message says what to do.
    const refused = await rejection(template.delete!(t.id, t2.outs));
    assert.match(refused.message, /while a serverless endpoint \(or pod\) is bound to it\. Delete that endpoint first/);
    await endpoint.delete!(e.id, e2.outs);
    await endpoint.delete!(e.id, e2.outs); // already gone
    assert.equal((await endpoint.read!(e.id, e2.outs)).id, "");
    await template.delete!(t.id, t2.outs); // deleted with its endpoint ("and its bound template"): 404 is gone
    assert.equal((await template.read!(t.id, t2.outs)).id, "");
  });

  it("reports every input problem at once, before any request", async () => {
    const bad = await endpoint.check!({}, { name: "", templateId: "t", gpuPools: [], workersMin: 3, workersMax: 1, scalerType: "REQUEST_COUNT", idleTimeoutSeconds: 5, scalerValue: 1.5, flashboot: true, extra: 1 });
    const props = (bad.failures ?? []).map((f) => f.property).sort();
    assert.deepEqual(props, ["(inputs)", "flashboot", "gpuPools", "name"], JSON.stringify(bad.failures));
    const refined = await endpoint.check!({}, { name: "x", templateId: "t", gpuPools: ["ADA_24"], workersMin: 3, workersMax: 1, scalerType: "REQUEST_COUNT", idleTimeoutSeconds: 5, scalerValue: 1.5 });
    assert.deepEqual((refined.failures ?? []).map((f) => f.property).sort(), ["idleTimeoutSeconds", "scalerValue", "workersMax"]);
    assert.match(refined.failures?.find((f) => f.property === "idleTimeoutSeconds")?.reason ?? "", /use scalerType QUEUE_DELAY/);
    const tplBad = await template.check!({}, { name: "x", image: "", env: { "BAD-NAME": SECRET }, ports: ["80/udp"] });
    assert.deepEqual((tplBad.failures ?? []).map((f) => f.property).sort(), ["env.BAD-NAME", "image", "ports.0"]);
    assert.ok(!JSON.stringify(tplBad.failures).includes(SECRET), "a failure never quotes an env value");
    assert.equal(emulator.calls.length, 0, "nothing was sent to RunPod");
  });

  it("passes values still unknown in a preview through check untouched", async () => {
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const result = await endpoint.check!({}, { name: "ep", templateId: unknown, templateRevision: unknown, gpuPools: ["ADA_24"] });
    assert.deepEqual(result.failures, []);
    assert.equal(result.inputs?.templateId, unknown);
    assert.equal(result.inputs?.workersMax, 3, "known inputs still get their defaults");
  });

  it("deletes the endpoint it made when reading it back fails, so nothing is left behind", async () => {
    const t = await createTemplate(template, templateInputs());
    const name = unique("ep");
    emulator.inject({ method: "GET", path: /^\/v2\/serverless\/[^/]+$/, status: 403 });
    const error = await rejection(createEndpoint(endpoint, endpointInputs(t.id, { name })));
    assert.match(error.message, /was deleted, so nothing is left behind/);
    assert.deepEqual(emulator.serverless.allEndpoints().filter((e) => e.name === name), []);
    await template.delete!(t.id, t.outs);
  });

  for (const [label, fault] of [
    ["a 500 after the endpoint was made", { status: 500, applyFirst: true }],
    ["a dropped connection after the endpoint was made", { reset: true, applyFirst: true }],
    ["a 201 cut short", { truncateBody: 0.4 }],
  ] as const) {
    it(`adopts the endpoint once after ${label}, without a duplicate or touching an older one of the same name`, async () => {
      const t = await createTemplate(template, templateInputs());
      const first = await createEndpoint(endpoint, endpointInputs(t.id));
      emulator.inject({ method: "POST", path: /^\/v2\/serverless$/, ...fault });
      const second = await createEndpoint(endpoint, endpointInputs(t.id, { name: first.outs.name }));
      const named = emulator.serverless.allEndpoints().filter((e) => e.name === first.outs.name).map((e) => e.id).sort();
      assert.deepEqual(named, [first.id, second.id].sort(), "one new endpoint, the older one untouched");
      assert.equal(emulator.calls.filter((c) => c.method === "POST" && c.path === "/v2/serverless").length, 2);
      await endpoint.delete!(second.id, second.outs);
      await endpoint.delete!(first.id, first.outs);
    });
  }

  it("keeps a secret env value out of a failed create's error, and adopts a template whose create answer was lost", async () => {
    emulator.inject({ method: "POST", path: /^\/v2\/templates$/, status: 422 });
    const refused = await rejection(createTemplate(template, templateInputs()));
    assert.match(refused.message, /422/);
    assert.ok(!refused.message.includes(SECRET));
    emulator.inject({ method: "POST", path: /^\/v2\/templates$/, status: 502, applyFirst: true });
    const inputs = templateInputs();
    const t = await createTemplate(template, inputs);
    assert.deepEqual(emulator.serverless.allTemplates().filter((x) => x.name === inputs.name).map((x) => x.id), [t.id]);
    await template.delete!(t.id, t.outs);
  });

  it("refuses a bad runpod:jobApiUrl before creating anything, and works unserialized too", async () => {
    const direct = await configured({ template: { ...templateProvider }, endpoint: { ...endpointProvider } }, emulator, { "runpod:jobApiUrl": "api.runpod.ai/v2" });
    const t = await createTemplate(direct.template, templateInputs());
    emulator.resetCalls();
    const error = await rejection(createEndpoint(direct.endpoint, endpointInputs(t.id)));
    assert.match(error.message, /runpod:jobApiUrl must be an http\(s\) URL/);
    assert.equal(emulator.calls.length, 0);
    const ok = await configured({ template: { ...templateProvider }, endpoint: { ...endpointProvider } }, emulator);
    process.env.RUNPOD_JOB_API_URL = "http://127.0.0.1:7/v2/";
    try {
      const e = await createEndpoint(ok.endpoint, endpointInputs(t.id));
      assert.equal(e.outs.jobApiUrl, `http://127.0.0.1:7/v2/${e.id}`, "the environment's base, without its trailing slash");
      await ok.endpoint.delete!(e.id, e.outs);
    } finally {
      delete process.env.RUNPOD_JOB_API_URL;
    }
    await ok.template.delete!(t.id, t.outs);
  });

  it("warns that workersMin > 0 means paid idle workers", async () => {
    delete process.env.RUNPOD_PROVIDER_QUIET;
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true));
    try {
      await endpoint.check!({}, endpointInputs("tpl", { workersMin: 2 }));
      await endpoint.check!({}, endpointInputs("tpl"));
    } finally {
      process.stderr.write = write;
      process.env.RUNPOD_PROVIDER_QUIET = "1";
    }
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /workersMin 2 keeps 2 workers running and billed at all times/);
  });
});
