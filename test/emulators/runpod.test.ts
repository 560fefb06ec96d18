import assert from "node:assert/strict";
import http from "node:http";
import axios from "axios";
import { RunPodEmulator, type EmulatedPod } from "./runpod";

const UA = "steadydancer-tests/1.0";
const CAPACITY = "There are no longer any instances available with the requested specifications. Please refresh and try again.";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Reply { status: number; headers: Headers; body: unknown; text: string }
async function call(emu: RunPodEmulator, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${emu.apiKey}`, "user-agent": UA, ...extra };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${emu.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
const rec = (v: unknown): Record<string, unknown> => { assert.ok(typeof v === "object" && v !== null && !Array.isArray(v)); return v as Record<string, unknown>; };
const asPod = (v: unknown): EmulatedPod => { assert.equal(typeof rec(v).id, "string"); return v as EmulatedPod; };
async function waitFor(emu: RunPodEmulator, id: string, pred: (p: EmulatedPod) => boolean, ms = 3000): Promise<EmulatedPod> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await call(emu, "GET", `/pods/${id}`);
    if (r.status === 200 && pred(asPod(r.body))) return asPod(r.body);
    if (Date.now() > end) throw new Error(`timeout waiting for pod ${id}: ${r.text}`);
    await sleep(15);
  }
}
const body = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: "sd", image: "runpod/pytorch:2.4", gpu: { id: "NVIDIA GeForce RTX 4090", count: 1 }, ports: ["8188/http", "22/tcp"], disk: 40, ...extra,
});
const POD_REQUIRED = ["id", "name", "status", "actions", "image", "args", "disk", "mounts", "ports", "env", "registry", "cloud", "dataCenterId",
  "cudaVersion", "ssh", "template", "cost", "locked", "runtime", "createdAt", "startedAt", "globalNetworking"];
function assertProblem(r: Reply, status: number): Record<string, unknown> {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const b = rec(r.body);
  assert.deepEqual(Object.keys(b).sort(), status === 422 ? ["detail", "errors", "status", "title"] : ["detail", "status", "title"]);
  assert.equal(b.status, status);
  return b;
}

describe("RunPod v2 emulator", function () {
  this.timeout(8000);
  let emu: RunPodEmulator;
  beforeEach(async () => { emu = await RunPodEmulator.start({ timings: { provisionMs: 30, startMs: 30, runtimeNullMs: 0 } }); });
  afterEach(async () => { await emu.close(); });

  it("401 without a token (no RateLimit headers), 403 1010 for a library-default UA", async () => {
    const r = await call(emu, "GET", "/pods", undefined, { authorization: "" });
    assert.equal(assertProblem(r, 401).detail, "missing bearer token");
    assert.equal(r.headers.get("ratelimit"), null);
    assert.equal(assertProblem(await call(emu, "GET", "/pods", undefined, { authorization: "Bearer nope" }), 401).detail, "invalid bearer token");
    const ax = await axios.get(`${emu.baseUrl}/pods`, { headers: { Authorization: `Bearer ${emu.apiKey}` }, validateStatus: () => true });
    assert.equal(ax.status, 403);
    assert.equal(ax.data, "error code: 1010");
  });

  it("emits RateLimit / RateLimit-Policy structured fields and x-request-id; 404/405 routing", async () => {
    const r = await call(emu, "GET", "/pods");
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { pods: [] });
    assert.match(r.headers.get("ratelimit") ?? "", /^"minute";r=\d+;t=\d+, "hour";r=\d+;t=\d+, "day";r=\d+;t=\d+$/);
    assert.equal(r.headers.get("ratelimit-policy"), '"minute";q=600;w=60, "hour";q=30000;w=3600, "day";q=500000;w=86400');
    assert.ok(r.headers.get("x-request-id"));
    assertProblem(await call(emu, "GET", "/nope"), 404);
    const m = await call(emu, "PATCH", "/registries/abc", { name: "x" });
    assertProblem(m, 405);
    assert.equal(m.headers.get("allow"), "GET, DELETE");
  });

  it("429 with Retry-After after exceeding the per-minute quota", async () => {
    await emu.close();
    emu = await RunPodEmulator.start({ rateLimitPerMinute: 2 });
    assert.equal((await call(emu, "GET", "/pods")).status, 200);
    assert.equal((await call(emu, "GET", "/pods")).status, 200);
    const r = await call(emu, "GET", "/pods");
    assert.equal(assertProblem(r, 429).detail, "rate limit exceeded for the minute window");
    assert.match(r.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
    assert.match(r.headers.get("ratelimit") ?? "", /^"minute";r=0;t=\d+/);
  });

  it("422 lists every violation of a v1-shaped create body at once", async () => {
    const r = await call(emu, "POST", "/pods", { name: "x", imageName: "img", gpuTypeIds: ["NVIDIA L40S"], containerDiskInGb: 20, cloud: "secure" });
    const b = assertProblem(r, 422);
    assert.equal(b.detail, "Request validation failed.");
    assert.deepEqual(b.errors, [
      "$: missing property 'image'",
      "$: additional properties 'imageName', 'gpuTypeIds', 'containerDiskInGb' not allowed",
      "$.cloud: value must be one of 'SECURE', 'COMMUNITY'",
    ]);
    const t = assertProblem(await call(emu, "POST", "/pods", body({ disk: 3.5, env: { A: 1 }, gpu: { id: "NVIDIA L40S", count: "2" } })), 422);
    assert.deepEqual((t.errors as string[]).sort(), ["$.disk: got number, want integer", "$.env.A: got number, want string", "$.gpu.count: got string, want integer"]);
    assertProblem(await call(emu, "POST", "/pods", body({ ports: ["8188"] })), 400);
    assertProblem(await call(emu, "POST", "/pods", body({ cpu: { id: "cpu5c", vcpuCount: 4 } })), 400);
    const nj = await fetch(`${emu.baseUrl}/pods`, { method: "POST", headers: { authorization: `Bearer ${emu.apiKey}`, "user-agent": UA, "content-type": "application/json" }, body: "{" });
    assert.equal(nj.status, 400);
  });

  it("creates a pod (201) and walks PROVISIONING → STARTING → RUNNING with runtime ports", async () => {
    const r = await call(emu, "POST", "/pods", body({ env: { A: "1" } }));
    assert.equal(r.status, 201, r.text);
    const p = asPod(r.body);
    assert.match(p.id, /^[a-z0-9]{14}$/);
    assert.equal(p.status, "PROVISIONING");
    assert.deepEqual(p.actions, ["stop", "terminate"]);
    assert.equal(p.runtime, null);
    assert.equal(p.ssh.direct, null);
    assert.equal(p.cost, 0.69);
    assert.deepEqual(p.gpu, { id: "NVIDIA GeForce RTX 4090", count: 1, vcpuCount: 6, memory: 41 });
    // Every member the spec's Pod schema requires (openapi.json, components.schemas.Pod.required).
    for (const member of POD_REQUIRED) assert.ok(member in rec(r.body), `create answer lacks required member ${member}`);
    assert.match(p.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(p.template, null);
    assert.deepEqual(p.mounts, {});
    const run = await waitFor(emu, p.id, (x) => x.status === "RUNNING" && x.runtime !== null);
    const ports = run.runtime?.ports ?? [];
    assert.equal(ports.length, 2);
    const ssh = ports.find((x) => x.private === 22);
    assert.equal(ssh?.type, "tcp");
    assert.ok(ssh?.public !== null && ssh !== undefined && ssh.public >= 10000 && ssh.public <= 65535);
    assert.match(ports.find((x) => x.private === 8188)?.ip ?? "", /^100\.65\./);
    assert.deepEqual(run.ssh.direct, { host: ssh.ip, port: ssh.public, username: "root", command: `ssh root@${ssh.ip} -p ${ssh.public}` });
    assert.ok(run.startedAt);
    const list = await call(emu, "GET", "/pods?includeClusterPods=false&bogus=1");
    assert.equal((rec(list.body).pods as unknown[]).length, 1);
    assertProblem(await call(emu, "GET", "/pods?includeClusterPods=maybe"), 422);
  });

  it("live quirk: RUNNING with runtime null first; failNextBoot and hangBoot", async () => {
    emu.setTimings({ runtimeNullMs: 150 });
    const a = asPod((await call(emu, "POST", "/pods", body())).body);
    const early = await waitFor(emu, a.id, (x) => x.status === "RUNNING");
    assert.equal(early.runtime, null);
    await waitFor(emu, a.id, (x) => x.runtime !== null);
    emu.setTimings({ runtimeNullMs: 0 });
    emu.failNextBoot("ERROR");
    const b = asPod((await call(emu, "POST", "/pods", body())).body);
    const err = await waitFor(emu, b.id, (x) => x.status === "ERROR");
    assert.deepEqual(err.actions, ["start", "terminate"]);
    assert.equal(err.cost, 0);
    emu.hangBoot();
    const c = asPod((await call(emu, "POST", "/pods", body())).body);
    await sleep(200);
    assert.equal(emu.podById(c.id)?.status, "STARTING");
  });

  it("400 capacity with the exact detail; dataCenterIds placement consumes stock; 402 on low balance", async () => {
    emu.setStock([]);
    assert.equal(assertProblem(await call(emu, "POST", "/pods", body()), 400).detail, CAPACITY);
    emu.setStock([{ gpuId: "NVIDIA L40S", dataCenterId: "EU-RO-1", cloud: "SECURE", available: 1 }]);
    assert.equal(assertProblem(await call(emu, "POST", "/pods", body({ gpu: { id: "Bogus GPU" } })), 400).detail, CAPACITY);
    const ok = await call(emu, "POST", "/pods", body({ gpu: { id: "NVIDIA L40S", count: 2 }, dataCenterIds: ["US-TX-3", "EU-RO-1"] }));
    assert.equal(ok.status, 201, ok.text);
    assert.equal(asPod(ok.body).dataCenterId, "EU-RO-1");
    assert.equal(asPod(ok.body).cost, 1.72);
    assert.equal(assertProblem(await call(emu, "POST", "/pods", body({ gpu: { id: "NVIDIA L40S" } })), 400).detail, CAPACITY);
    emu.setStock([{ gpuId: "NVIDIA H100 80GB HBM3", dataCenterId: "US-TX-3" }]);
    emu.setBalance(1);
    assert.equal(assertProblem(await call(emu, "POST", "/pods", body({ gpu: { id: "NVIDIA H100 80GB HBM3" } })), 402).detail, "insufficient balance");
    const cat = await call(emu, "GET", "/catalog/gpus/NVIDIA%20H100%2080GB%20HBM3?include=AVAILABILITY&product=POD");
    assert.equal(rec(cat.body).availability, "HIGH");
    assertProblem(await call(emu, "GET", "/catalog/gpus?include=AVAILABILITY"), 400);
  });

  it("PATCH env on a RUNNING pod resets it and draws new port mappings; name is non-disruptive; mount rules", async () => {
    const p = asPod((await call(emu, "POST", "/pods", body())).body);
    const first = await waitFor(emu, p.id, (x) => x.runtime !== null);
    const renamed = await call(emu, "PATCH", `/pods/${p.id}`, { name: "renamed" });
    assert.equal(asPod(renamed.body).status, "RUNNING");
    assert.equal(assertProblem(await call(emu, "PATCH", `/pods/${p.id}`, { gpu: { id: "NVIDIA L40S" }, cloud: "SECURE" }), 422).errors instanceof Array, true);
    assertProblem(await call(emu, "PATCH", `/pods/${p.id}`, { mounts: { persistent: { size: 20, path: "/workspace" } } }), 400);
    const r = await call(emu, "PATCH", `/pods/${p.id}`, { env: { B: "2" } });
    assert.equal(r.status, 200, r.text);
    const reset = asPod(r.body);
    assert.equal(reset.status, "STARTING");
    assert.equal(reset.runtime, null);
    assert.equal(reset.ssh.direct, null);
    assert.deepEqual(reset.env, { B: "2" });
    const again = await waitFor(emu, p.id, (x) => x.runtime !== null);
    assert.notDeepEqual(again.runtime?.ports.map((x) => x.public), first.runtime?.ports.map((x) => x.public));
  });

  it("DELETE twice → 204 then 404; actions", async () => {
    const p = asPod((await call(emu, "POST", "/pods", body())).body);
    const reset = await call(emu, "POST", `/pods/${p.id}/action`, { action: "reset" });
    assert.deepEqual(assertProblem(reset, 422).errors, ["$.action: value must be one of 'start', 'stop', 'restart', 'terminate'"]);
    assertProblem(await call(emu, "POST", `/pods/${p.id}/action`, { action: "restart" }), 409);
    const d1 = await call(emu, "DELETE", `/pods/${p.id}`);
    assert.equal(d1.status, 204);
    assert.equal(d1.text, "");
    assert.equal(assertProblem(await call(emu, "DELETE", `/pods/${p.id}`), 404).detail, "pod not found");
    assertProblem(await call(emu, "GET", `/pods/${p.id}`), 404);
    assert.equal(emu.podById(p.id)?.status, "TERMINATED");
    assert.equal(emu.livePods().length, 0);
  });

  it("registries: create/list/get/delete, 400 while in use, 404 on unknown", async () => {
    const bad = assertProblem(await call(emu, "POST", "/registries", { name: "", username: "u", url: "x" }), 422);
    assert.deepEqual(bad.errors, ["$: missing property 'password'", "$: additional properties 'url' not allowed", "$.name: length must be >= 1, but got 0"]);
    const c = await call(emu, "POST", "/registries", { name: "ghcr", username: "u", password: "p" });
    assert.equal(c.status, 201);
    const reg = rec(c.body);
    assert.match(String(reg.id), /^[a-z0-9]{10}$/);
    assert.deepEqual((await call(emu, "GET", "/registries")).body, { registries: [{ id: reg.id, name: "ghcr" }] });
    assert.deepEqual((await call(emu, "GET", `/registries/${String(reg.id)}`)).body, { id: reg.id, name: "ghcr" });
    assertProblem(await call(emu, "POST", "/pods", body({ registry: "nosuchreg1" })), 404);
    const p = asPod((await call(emu, "POST", "/pods", body({ registry: reg.id }))).body);
    assertProblem(await call(emu, "DELETE", `/registries/${String(reg.id)}`), 400);
    emu.terminateOutOfBand(p.id);
    assert.equal((await call(emu, "DELETE", `/registries/${String(reg.id)}`)).status, 204);
    assertProblem(await call(emu, "DELETE", `/registries/${String(reg.id)}`), 404);
    assert.deepEqual(emu.registries(), []);
  });

  it("faults: applyFirst 500 still creates the pod; hang survives a client abort; queued in order", async () => {
    emu.inject({ method: "POST", path: /^\/v2\/pods$/, status: 500, applyFirst: true });
    const r = await call(emu, "POST", "/pods", body({ name: "ambiguous" }));
    assert.equal(assertProblem(r, 500).status, 500);
    assert.equal(emu.livePods().filter((p) => p.name === "ambiguous").length, 1);
    emu.inject({ path: /^\/v2\/pods$/, hangMs: 300 });
    emu.inject({ path: /^\/v2\/pods$/, status: 503 });
    await assert.rejects(fetch(`${emu.baseUrl}/pods`, { headers: { authorization: `Bearer ${emu.apiKey}`, "user-agent": UA }, signal: AbortSignal.timeout(50) }));
    assertProblem(await call(emu, "GET", "/pods"), 503);
    assert.equal((await call(emu, "GET", "/pods")).status, 200);
    await sleep(300);
    assert.deepEqual(emu.calls.map((c) => c.status).slice(-3), [200, 503, 200]);
  });

  it("CreateGpuConfig placement filters: minRamPerGpu / minVcpuCountPerGpu (integers >= 1); gpu.vcpuCount and gpu.memory are totals", async () => {
    const r = await call(emu, "POST", "/pods", body({ gpu: { id: "NVIDIA L40S", count: 2, minRamPerGpu: 32, minVcpuCountPerGpu: 4 } }));
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(asPod(r.body).gpu, { id: "NVIDIA L40S", count: 2, vcpuCount: 24, memory: 124 });
    const t = assertProblem(await call(emu, "POST", "/pods", body({ gpu: { id: "NVIDIA L40S", minRamPerGpu: 0, minVcpuCountPerGpu: 1.5 } })), 422);
    assert.deepEqual((t.errors as string[]).sort(), ["$.gpu.minRamPerGpu: must be >= 1 but found 0", "$.gpu.minVcpuCountPerGpu: got number, want integer"]);
    assert.equal(assertProblem(await call(emu, "POST", "/pods", body({ gpu: { id: "NVIDIA L40S", minRamPerGpu: 512 } })), 400).detail, CAPACITY);
  });

  it("a symmetric tcp port (>= 70000) keeps the requested port as private and gets a public one", async () => {
    const p = asPod((await call(emu, "POST", "/pods", body({ ports: ["8188/http", "70000/tcp", "22/tcp"] }))).body);
    const run = await waitFor(emu, p.id, (x) => x.runtime !== null);
    const sym = run.runtime?.ports.find((x) => x.private === 70000);
    assert.equal(sym?.type, "tcp");
    assert.ok(sym?.public !== null && sym !== undefined && sym.public >= 10000 && sym.public <= 65535);
    assert.ok(run.runtime?.ports.some((x) => x.private === 22 && x.type === "tcp"));
  });

  it("faults: a 201 cut short or missing members, and a connection reset after the pod was made", async () => {
    emu.inject({ method: "POST", path: /^\/v2\/pods$/, truncateBody: 0.4 });
    const cut = await call(emu, "POST", "/pods", body({ name: "cut" }));
    assert.equal(cut.status, 201);
    assert.throws(() => { JSON.parse(cut.text); });
    assert.equal(emu.livePods().filter((p) => p.name === "cut").length, 1, "the pod exists although its answer was cut");
    emu.inject({ method: "POST", path: /^\/v2\/pods$/, dropMembers: ["id", "gpu.vcpuCount"] });
    const partial = rec((await call(emu, "POST", "/pods", body({ name: "partial" }))).body);
    assert.ok(!("id" in partial));
    assert.ok(!("vcpuCount" in rec(partial.gpu)));
    assert.equal(partial.name, "partial");
    emu.inject({ method: "POST", path: /^\/v2\/pods$/, reset: true, applyFirst: true });
    await assert.rejects(call(emu, "POST", "/pods", body({ name: "reset" })));
    assert.equal(emu.livePods().filter((p) => p.name === "reset").length, 1);
    emu.inject({ method: "GET", path: /^\/v2\/pods$/, reset: true });
    await assert.rejects(call(emu, "GET", "/pods"));
    assert.equal((await call(emu, "GET", "/pods")).status, 200);
  });

  it("logs: SSE narrates status transitions", async () => {
    const p = asPod((await call(emu, "POST", "/pods", body())).body);
    await waitFor(emu, p.id, (x) => x.runtime !== null);
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get(`${emu.baseUrl}/pods/${p.id}/logs?source=system`, { headers: { authorization: `Bearer ${emu.apiKey}`, "user-agent": UA } }, (res) => {
        assert.equal(res.headers["content-type"], "text/event-stream");
        assert.equal(res.headers["x-accel-buffering"], "no");
        res.once("data", (d: Buffer) => { resolve(d.toString("utf8")); req.destroy(); });
      });
      req.on("error", reject);
    });
    assert.match(text, /^id: \S+\/\d{12}\ndata: \{"ts":"[^"]+","source":"system","line":"pod \w+ scheduled/);
  });
});
