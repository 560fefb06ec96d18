// JobClient against the job API emulator: auth, the documented shapes, and which failures it repeats.
import assert from "node:assert/strict";
import { JobClient } from "../../runpod";
import { isRunPodError } from "../../runpod/errors";
import { RunPodJobEmulator, type EmulatedEndpointSettings } from "../emulators/runpodJobs";

const ENDPOINT: EmulatedEndpointSettings = {
  id: "ep1", workersMin: 0, workersMax: 1, idleTimeoutSeconds: 5, executionTimeoutMs: 600_000, scalerType: "QUEUE_DELAY", scalerValue: 4, flashboot: false,
};

async function failure(promise: Promise<unknown>): Promise<Error & { kind?: string; ambiguous?: boolean }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isRunPodError(error), String(error));
    return error;
  }
  throw new Error("expected a failure");
}

describe("JobClient (Serverless job API)", function () {
  let emu: RunPodJobEmulator;
  let client: JobClient;
  const savedScale = process.env.RUNPOD_PROVIDER_DELAY_SCALE;

  before(() => {
    process.env.RUNPOD_PROVIDER_DELAY_SCALE = "0.01";
  });
  after(() => {
    if (savedScale === undefined) delete process.env.RUNPOD_PROVIDER_DELAY_SCALE;
    else process.env.RUNPOD_PROVIDER_DELAY_SCALE = savedScale;
  });
  beforeEach(async () => {
    emu = await RunPodJobEmulator.start({
      endpoints: (id) => (id === "ep1" ? ENDPOINT : undefined),
      worker: { handler: (job) => ({ echo: job.input }) },
      timeScale: 0.01,
      coldStartMs: 20,
    });
    client = new JobClient({ apiKey: emu.apiKey, endpointUrl: `${emu.jobApiUrl("ep1")}/` });
  });
  afterEach(() => emu.close());

  it("runs a job, follows its status and reads /health, sending the key as Bearer", async () => {
    const ref = await client.run({ n: 1 });
    assert.equal(ref.status, "IN_QUEUE");
    let status = await client.status(ref.id);
    for (let i = 0; i < 100 && status.status !== "COMPLETED"; i += 1) {
      await new Promise((r) => setTimeout(r, 10));
      status = await client.status(ref.id);
    }
    assert.equal(status.status, "COMPLETED");
    assert.deepEqual(status.output, { echo: { n: 1 } });
    assert.equal(typeof status.delayTime, "number");
    const health = await client.health();
    assert.equal(health.jobs.completed, 1);
    assert.ok(emu.calls.every((c) => c.auth === `Bearer ${emu.apiKey}`));
  });

  it("repeats status after 5xx and any call after 429, but never /run after a 5xx", async () => {
    const ref = await client.run({});
    emu.inject({ path: /\/status\//, status: 503, times: 2 });
    assert.equal((await client.status(ref.id)).id, ref.id);
    assert.equal(emu.calls.filter((c) => c.path.includes("/status/")).length, 3);

    emu.inject({ path: /\/run$/, status: 429, retryAfter: 0 });
    assert.equal((await client.run({})).status, "IN_QUEUE");

    const runsBefore = emu.calls.filter((c) => c.path.endsWith("/run")).length;
    emu.inject({ path: /\/run$/, status: 500, times: 3 });
    const error = await failure(client.run({}));
    assert.equal(error.kind, "server");
    assert.equal(error.ambiguous, true);
    assert.match(error.message, /may have been queued/);
    assert.equal(emu.calls.filter((c) => c.path.endsWith("/run")).length, runsBefore + 1, "a 5xx /run is not repeated");
  });

  it("times out a request that gets no answer, and says how long it waited", async () => {
    const quick = new JobClient({ apiKey: emu.apiKey, endpointUrl: emu.jobApiUrl("ep1"), timeoutMs: 150, maxRetries: 0 });
    emu.inject({ path: /\/health$/, hangMs: 1000 });
    const started = Date.now();
    const error = await failure(quick.health());
    assert.equal(error.kind, "timeout");
    assert.match(error.message, /no answer within 0\.15 s/);
    assert.ok(Date.now() - started < 900);
  });

  it("refuses a wrong key and an unknown endpoint with advice, never showing the key", async () => {
    const wrong = new JobClient({ apiKey: "rpa_SECRET_wrong_key", endpointUrl: emu.jobApiUrl("ep1") });
    const refused = await failure(wrong.health());
    assert.equal(refused.kind, "unauthorized");
    assert.match(refused.message, /RUNPOD_API_KEY/);
    assert.doesNotMatch(refused.message + (refused.stack ?? ""), /SECRET/);
    const missing = new JobClient({ apiKey: emu.apiKey, endpointUrl: emu.jobApiUrl("nope") });
    const notFound = await failure(missing.health());
    assert.equal(notFound.kind, "notFound");
    assert.match(notFound.message, /--endpoint-url/);
    const noJob = await failure(client.status("not-a-job"));
    assert.match(noJob.message, /kept 30 minutes/);
  });
});
