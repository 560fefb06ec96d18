// The job API emulator against RunPod's docs (sources in runpodJobs.ts), with in-process handlers and
// time scaled by 0.01 (a 5 s idle timeout lasts 50 ms).
import assert from "node:assert/strict";
import { RunPodJobEmulator, type EmulatedEndpointSettings, type JobHandler } from "./runpodJobs";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SCALE = 0.01;
const COLD_MS = 150;

function settings(over: Partial<EmulatedEndpointSettings> = {}): EmulatedEndpointSettings {
  return { id: "ep1", workersMin: 0, workersMax: 3, idleTimeoutSeconds: 5, executionTimeoutMs: 600_000, scalerType: "QUEUE_DELAY", scalerValue: 4, flashboot: false, ...over };
}

interface Reply { status: number; body: Record<string, unknown> }
async function call(emu: RunPodJobEmulator, method: string, path: string, body?: unknown, auth: string | null = `Bearer ${emu.apiKey}`): Promise<Reply> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth !== null) headers.authorization = auth;
  const res = await fetch(`${emu.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function until(emu: RunPodJobEmulator, jobId: string, done: (s: Record<string, unknown>) => boolean, ms = 3000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await call(emu, "GET", `/ep1/status/${jobId}`);
    if (done(r.body)) return r.body;
    if (Date.now() > end) throw new Error(`job ${jobId} stayed ${JSON.stringify(r.body)}`);
    await sleep(10);
  }
}
const final = (s: Record<string, unknown>): boolean => ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"].includes(String(s.status));

describe("RunPod job API emulator (in-process workers)", function () {
  let emu: RunPodJobEmulator;
  let current = settings();
  let handler: JobHandler = (job) => ({ echo: job.input });
  const endpoints = (id: string): EmulatedEndpointSettings | undefined => (id === "ep1" ? current : undefined);

  beforeEach(async () => {
    current = settings();
    handler = (job) => ({ echo: job.input });
    emu = await RunPodJobEmulator.start({ endpoints, worker: { handler: (job, ctx) => handler(job, ctx) }, timeScale: SCALE, coldStartMs: COLD_MS, flashbootColdStartMs: 20 });
  });
  afterEach(() => emu.close());

  it("answers 401 without the API key or with a wrong one, and takes it as Bearer or bare", async () => {
    assert.equal((await call(emu, "GET", "/ep1/health", undefined, null)).status, 401);
    assert.equal((await call(emu, "GET", "/ep1/health", undefined, "Bearer nope")).status, 401);
    assert.equal((await call(emu, "GET", "/ep1/health", undefined, emu.apiKey)).status, 200);
    assert.equal((await call(emu, "GET", "/ep1/health")).status, 200);
  });

  it("answers 404 for an unknown endpoint and an unknown job, 400 without input, 413 past /run's 10 MB", async () => {
    assert.equal((await call(emu, "POST", "/nope/run", { input: {} })).status, 404);
    assert.equal((await call(emu, "GET", "/ep1/status/not-a-job")).status, 404);
    assert.equal((await call(emu, "POST", "/ep1/run", { prompt: "x" })).status, 400);
    const big = JSON.stringify({ input: { blob: "x".repeat(10_000_001) } });
    assert.equal((await call(emu, "POST", "/ep1/run", big)).status, 413);
    assert.equal((await call(emu, "GET", "/ep1/run")).status, 405);
  });

  it("scales from zero with a cold start, then reuses the warm worker; idle workers go away after idleTimeout", async () => {
    const first = await call(emu, "POST", "/ep1/run", { input: { n: 1 } });
    assert.equal(first.status, 200);
    assert.deepEqual(Object.keys(first.body).sort(), ["id", "status"]);
    assert.equal(first.body.status, "IN_QUEUE");
    const health = await call(emu, "GET", "/ep1/health");
    assert.deepEqual(health.body.jobs, { completed: 0, failed: 0, inProgress: 0, inQueue: 1, retried: 0 });
    assert.equal((health.body.workers as Record<string, number>).initializing, 1);
    const done1 = await until(emu, String(first.body.id), final);
    assert.equal(done1.status, "COMPLETED");
    assert.deepEqual(done1.output, { echo: { n: 1 } });
    assert.ok(Number(done1.delayTime) >= COLD_MS - 5, `delayTime ${String(done1.delayTime)} includes the cold start`);
    assert.equal(typeof done1.executionTime, "number");

    const second = await call(emu, "POST", "/ep1/run", { input: { n: 2 } });
    const done2 = await until(emu, String(second.body.id), final);
    assert.equal(done2.workerId, done1.workerId, "the warm worker took the second job");
    assert.ok(Number(done2.delayTime) < COLD_MS / 2, `a warm worker starts at once (delayTime ${String(done2.delayTime)})`);
    assert.equal(emu.workers("ep1")[0]?.jobsRun, 2);
    const counts = await call(emu, "GET", "/ep1/health");
    assert.equal((counts.body.jobs as Record<string, number>).completed, 2);

    await sleep(5 * 1000 * SCALE + 100);
    assert.equal(emu.workers("ep1").length, 0, "idle past idleTimeout (50 ms scaled): scaled down to workersMin 0");
  });

  it("keeps workersMin warm, and a flashboot endpoint's later starts are short", async () => {
    current = settings({ workersMin: 1 });
    await call(emu, "GET", "/ep1/health");
    await sleep(COLD_MS + 100);
    const warm = emu.workers("ep1");
    assert.equal(warm.length, 1);
    assert.equal(warm[0]?.state, "idle");

    current = settings({ flashboot: true });
    await sleep(5 * 1000 * SCALE + 100);
    assert.equal(emu.workers("ep1").length, 0);
    const job = await call(emu, "POST", "/ep1/run", { input: {} });
    const done = await until(emu, String(job.body.id), final);
    assert.ok(Number(done.delayTime) < COLD_MS - 50, `flashboot revives in ~20 ms, not ${COLD_MS} (delayTime ${String(done.delayTime)})`);
  });

  it("QUEUE_DELAY adds a worker once a job waited scalerValue seconds; REQUEST_COUNT keeps ceil(jobs / scalerValue)", async () => {
    handler = async (_job, ctx) => {
      await sleep(300);
      return { worker: ctx.workerId };
    };
    current = settings({ scalerValue: 10 }); // 100 ms scaled
    const jobs = await Promise.all([1, 2].map(() => call(emu, "POST", "/ep1/run", { input: {} })));
    await sleep(60);
    assert.equal(emu.workers("ep1").length, 1, "one worker at first; the second job has not waited 100 ms yet");
    await sleep(120);
    assert.equal(emu.workers("ep1").length, 2, "the second job waited past the queue delay");
    for (const j of jobs) await until(emu, String(j.body.id), final);

    current = settings({ id: "ep1", scalerType: "REQUEST_COUNT", scalerValue: 1, workersMax: 4, idleTimeoutSeconds: 100 });
    await Promise.all([1, 2, 3, 4, 5].map(() => call(emu, "POST", "/ep1/run", { input: {} })));
    await sleep(40);
    assert.equal(emu.workers("ep1").length, 4, "five jobs at scaler 1, capped at workersMax 4");
  });

  it("fails a job that returns {error} or throws, with the SDK's error_info for a throw", async () => {
    handler = (job) => {
      if ((job.input as { kind: string }).kind === "error") return { error: "Prompt outputs failed validation: KSampler 3: sampler_name" };
      throw new Error("CUDA out of memory");
    };
    const a = await call(emu, "POST", "/ep1/run", { input: { kind: "error" } });
    const b = await call(emu, "POST", "/ep1/run", { input: { kind: "throw" } });
    const failedA = await until(emu, String(a.body.id), final);
    assert.equal(failedA.status, "FAILED");
    assert.equal(failedA.error, "Prompt outputs failed validation: KSampler 3: sampler_name");
    const failedB = await until(emu, String(b.body.id), final);
    assert.equal(failedB.status, "FAILED");
    assert.equal((JSON.parse(String(failedB.error)) as { error_message: string }).error_message, "CUDA out of memory");
    assert.equal(((await call(emu, "GET", "/ep1/health")).body.jobs as Record<string, number>).failed, 2);
  });

  it("shows the worker's progress while IN_PROGRESS, cancels queued and running jobs, and times out past executionTimeout", async () => {
    let aborted = 0;
    handler = (_job, ctx) =>
      new Promise((resolve) => {
        ctx.progress("executing node 2 of 5");
        ctx.signal.addEventListener("abort", () => {
          aborted += 1;
          resolve({ late: true });
        });
      });
    current = settings({ workersMax: 1, executionTimeoutMs: 600_000 });
    const running = await call(emu, "POST", "/ep1/run", { input: {} });
    const queued = await call(emu, "POST", "/ep1/run", { input: {} });
    const inProgress = await until(emu, String(running.body.id), (s) => s.status === "IN_PROGRESS");
    assert.equal(inProgress.output, "executing node 2 of 5");
    assert.deepEqual((await call(emu, "POST", `/ep1/cancel/${String(queued.body.id)}`)).body, { id: queued.body.id, status: "CANCELLED" });
    assert.deepEqual((await call(emu, "POST", `/ep1/cancel/${String(running.body.id)}`)).body, { id: running.body.id, status: "CANCELLED" });
    await sleep(20);
    assert.equal(aborted, 1, "the running handler was told to stop");
    assert.equal((await call(emu, "GET", `/ep1/status/${String(running.body.id)}`)).body.status, "CANCELLED", "a late result does not revive it");
    assert.equal(emu.job("ep1", String(queued.body.id))?.startedAt, null, "the queued job never ran");

    const slow = await call(emu, "POST", "/ep1/run", { input: {}, policy: { executionTimeout: 10_000 } }); // 100 ms scaled
    const timedOut = await until(emu, String(slow.body.id), final);
    assert.equal(timedOut.status, "TIMED_OUT");
    assert.equal(aborted, 2);
    assert.equal((await call(emu, "POST", "/ep1/run", { input: {}, policy: { executionTimeout: 5000 } })).status, 400);
  });

  it("/runsync answers the finished job, or {id, status} when ?wait ends first; /purge-queue removes queued jobs", async () => {
    const sync = await call(emu, "POST", "/ep1/runsync", { input: { n: 1 } });
    assert.equal(sync.status, 200);
    assert.equal(sync.body.status, "COMPLETED");
    assert.match(String(sync.body.id), /^sync-/);
    assert.deepEqual(sync.body.output, { echo: { n: 1 } });

    handler = () => sleep(2000).then(() => ({}));
    const pending = await call(emu, "POST", "/ep1/runsync?wait=5000", { input: {} }); // 50 ms scaled
    assert.deepEqual(Object.keys(pending.body).sort(), ["id", "status"]);
    assert.ok(["IN_QUEUE", "IN_PROGRESS"].includes(String(pending.body.status)));
    assert.equal((await call(emu, "POST", "/ep1/runsync?wait=10", { input: {} })).status, 400);

    current = settings({ workersMax: 1 });
    await Promise.all([1, 2, 3].map(() => call(emu, "POST", "/ep1/run", { input: {} })));
    const purged = await call(emu, "POST", "/ep1/purge-queue");
    assert.equal(purged.body.status, "completed");
    assert.ok(Number(purged.body.removed) >= 2, `removed ${String(purged.body.removed)}`);
    assert.equal(((await call(emu, "GET", "/ep1/health")).body.jobs as Record<string, number>).inQueue, 0);
  });

  it("forgets a /runsync result after its minute (scaled) and a /run result after 30 minutes", async () => {
    const sync = await call(emu, "POST", "/ep1/runsync", { input: {} });
    const run = await call(emu, "POST", "/ep1/run", { input: {} });
    await until(emu, String(run.body.id), final);
    await sleep(60_000 * SCALE + 50);
    assert.equal((await call(emu, "GET", `/ep1/status/${String(sync.body.id)}`)).status, 404);
    assert.equal((await call(emu, "GET", `/ep1/status/${String(run.body.id)}`)).status, 200);
  });
});
