// The emulator's /v2/templates and /v2/serverless answer as the v2 spec defines: shapes, defaults,
// statuses and problem+json bodies; fault injection works on them too.
import * as assert from "node:assert/strict";
import { emulatorApi } from "./emulatorApi";
import { RunPodEmulator } from "./runpod";

describe("RunPod v2 emulator: templates and serverless endpoints", function () {
  this.timeout(10000);
  let emulator: RunPodEmulator;
  before(async () => {
    emulator = await RunPodEmulator.start();
  });
  after(() => emulator.close());

  const api = emulatorApi(() => emulator);

  const template = async (extra: Record<string, unknown> = {}) => {
    const r = await api("POST", "/templates", { name: `t-${Math.random()}`, image: "img:1", serverless: true, env: { A: "1", B: "t" }, ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json;
  };
  const endpointBody = (templateId: string, extra: Record<string, unknown> = {}) => ({
    name: `e-${Math.random()}`, type: "QUEUE", templateId, gpu: { pools: ["ADA_24"] }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 }, ...extra,
  });

  it("creates a template (201) with the spec's defaults, omits mounts without a volume (live), patches it and deletes it (204, then 404)", async () => {
    const t = await template();
    assert.equal(t.serverless, true);
    assert.equal(t.category, "NVIDIA");
    assert.equal(t.public, false);
    assert.equal(t.startSsh, true, "CreateTemplateRequest defaults startSsh to true");
    assert.equal(t.startJupyter, true, "… and startJupyter to true");
    assert.deepEqual(t.allowedCudaVersions, []);
    assert.equal("mounts" in t, false);
    const id = String(t.id);
    assert.ok(((await api("GET", "/templates")).json.templates as Array<{ id: string }>).some((x) => x.id === id));
    const patched = await api("PATCH", `/templates/${id}`, { image: "img:2" });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.image, "img:2");
    assert.equal((await api("DELETE", `/templates/${id}`)).status, 204);
    assert.deepEqual((await api("GET", `/templates/${id}`)).json, { title: "Not Found", status: 404, detail: "template not found" });
  });

  it("rejects unknown members and a network mount on a template with 422, every violation listed", async () => {
    const bad = await api("POST", "/templates", { image: "x", isServerless: true, mounts: { network: [] } });
    assert.equal(bad.status, 422);
    assert.match(bad.type, /^application\/problem\+json/);
    assert.deepEqual(bad.json.errors, ["$: missing property 'name'", "$: additional properties 'isServerless' not allowed", "$.mounts: additional properties 'network' not allowed"]);
  });

  it("creates a QUEUE endpoint from a serverless template with the spec's defaults and request URLs", async () => {
    const t = await template({ allowedCudaVersions: ["12.4"] });
    const r = await api("POST", "/serverless", endpointBody(String(t.id), { env: { B: "body" } }));
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const e = r.json;
    assert.equal(e.image, "img:1");
    assert.deepEqual(e.env, { A: "1", B: "body" }, "template env merged per key, body wins");
    assert.deepEqual(e.gpu, { pools: ["ADA_24"], count: 1, allowedCudaVersions: ["12.4"], minCudaVersion: null });
    assert.deepEqual(e.workers, { min: 0, max: 3, idleTimeout: 10 });
    assert.equal(e.timeout, 300000);
    assert.equal(e.flashboot, "OFF");
    assert.deepEqual([e.dataCenterIds, e.networkVolumes], [[], []]);
    assert.equal((e.requestUrls as Record<string, string>).run, `https://api.runpod.ai/v2/${String(e.id)}/run`);
    assert.equal("boundTemplate" in e, false);
    const list = await api("GET", "/serverless");
    assert.ok((list.json.endpoints as Array<{ id: string }>).some((x) => x.id === e.id));
    const workers = await api("GET", `/serverless/${String(e.id)}/workers`);
    assert.deepEqual(workers.json.workers, []);
    // The template is bound: 400 while the endpoint exists; the endpoint's delete takes it along.
    const inUse = await api("DELETE", `/templates/${String(t.id)}`);
    assert.equal(inUse.status, 400);
    assert.equal((await api("DELETE", `/serverless/${String(e.id)}`)).status, 204);
    assert.equal((await api("GET", `/serverless/${String(e.id)}`)).status, 404);
    assert.equal((await api("GET", `/templates/${String(t.id)}`)).status, 404, "deleteEndpoint deletes its bound template");
  });

  it("refuses what the spec refuses: 422 for the schema, 404 for unknown references, 400 for cross-field rules", async () => {
    const pod = emulator.serverless.seedTemplate({ name: "pod-tpl", image: "img" });
    const t = String((await template()).id);
    const cases: Array<[string, Record<string, unknown>, number, RegExp]> = [
      ["missing type and scaling", { name: "x", templateId: t, gpu: { pools: ["ADA_24"] } }, 422, /missing properties 'type', 'scaling'/],
      ["an unknown member", endpointBody(t, { gpuIds: "x" }), 422, /additional properties 'gpuIds' not allowed/],
      ["idleTimeout above 3600", endpointBody(t, { workers: { idleTimeout: 4000 } }), 422, /must be <= 3600/],
      ["queueDelay below 0.5", endpointBody(t, { scaling: { type: "QUEUE_DELAY", queueDelay: 0.1 } }), 422, /must be >= 0.5/],
      ["LOAD_BALANCER on QUEUE_DELAY", endpointBody(t, { type: "LOAD_BALANCER" }), 422, /REQUEST_COUNT/],
      ["no image and no template", { name: "x", type: "QUEUE", gpu: { pools: ["ADA_24"] }, scaling: { type: "QUEUE_DELAY", queueDelay: 4 } }, 422, /missing property 'image'/],
      ["an unknown template", endpointBody("nosuchtpl"), 404, /template not found/],
      ["a pod template", endpointBody(pod.id), 422, /not a serverless template/],
      ["neither gpu nor cpu", { ...endpointBody(t), gpu: undefined }, 400, /exactly one of 'gpu' or 'cpu'/],
      ["an exclusion outside the pools", endpointBody(t, { gpu: { pools: ["ADA_24"], excludedTypes: ["NVIDIA L40S"] } }), 400, /not a GPU type in the selected pools/],
      ["an exclusion that leaves nothing", endpointBody(t, { gpu: { pools: ["ADA_24"], excludedTypes: ["NVIDIA GeForce RTX 4090"] } }), 400, /leaves no GPU type/],
      ["idleTimeout with REQUEST_COUNT", endpointBody(t, { scaling: { type: "REQUEST_COUNT", requestCount: 2 }, workers: { idleTimeout: 5 } }), 400, /does not apply/],
      ["an unknown network volume", endpointBody(t, { networkVolumes: ["nosuchvol"] }), 404, /network volume nosuchvol not found/],
    ];
    for (const [label, body, status, detail] of cases) {
      const r = await api("POST", "/serverless", JSON.parse(JSON.stringify(body)));
      assert.equal(r.status, status, `${label}: ${JSON.stringify(r.json)}`);
      assert.match(JSON.stringify(r.json), detail, label);
      assert.equal(r.json.title, status === 422 ? "Unprocessable Entity" : status === 404 ? "Not Found" : "Bad Request");
    }
  });

  it("patches per the spec: pools without excludedTypes clears them, excludedTypes alone is 422, REQUEST_COUNT drops idleTimeout", async () => {
    const t = String((await template()).id);
    const e = (await api("POST", "/serverless", endpointBody(t, { gpu: { pools: ["ADA_48_PRO"], excludedTypes: ["NVIDIA L40S"] } }))).json;
    const id = String(e.id);
    assert.equal((await api("PATCH", `/serverless/${id}`, { gpu: { excludedTypes: ["NVIDIA L40S"] } })).status, 422);
    const cleared = await api("PATCH", `/serverless/${id}`, { gpu: { pools: ["ADA_48_PRO", "ADA_24"] } });
    assert.equal(cleared.status, 200);
    assert.equal((cleared.json.gpu as Record<string, unknown>).excludedTypes, undefined);
    const rc = await api("PATCH", `/serverless/${id}`, { scaling: { type: "REQUEST_COUNT", requestCount: 3 }, workers: { max: 5 }, flashboot: "PRIORITY_FLASHBOOT" });
    assert.deepEqual(rc.json.workers, { min: 0, max: 5 });
    assert.deepEqual(emulator.serverlessEndpoint(id), {
      id, workersMin: 0, workersMax: 5, idleTimeoutSeconds: 0, executionTimeoutMs: 300000, scalerType: "REQUEST_COUNT", scalerValue: 3, flashboot: true,
    });
    assert.equal(emulator.serverlessEndpoint("nosuchendpoint"), undefined);
  });

  it("injects faults on the new routes like on the others", async () => {
    const t = String((await template()).id);
    emulator.inject({ method: "POST", path: /^\/v2\/serverless$/, status: 503, applyFirst: true });
    const before = emulator.serverless.allEndpoints().length;
    const r = await api("POST", "/serverless", endpointBody(t));
    assert.equal(r.status, 503);
    assert.equal(emulator.serverless.allEndpoints().length, before + 1, "applyFirst: made, then answered 503");
    emulator.inject({ method: "GET", path: /^\/v2\/templates\//, status: 429, retryAfter: 2 });
    assert.equal((await api("GET", `/templates/${t}`)).status, 429);
  });
});
