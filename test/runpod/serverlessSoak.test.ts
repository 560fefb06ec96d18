// A small seeded fault soak of the template and endpoint providers: each run creates a template and an
// endpoint, updates the endpoint, and deletes both twice, with random faults on the create, read-back and
// update. Afterwards nothing of the run may be left (no orphan), no name may carry two endpoints (no
// duplicate), and the template's secret env value may appear in no error or progress line.
// It prints its seed; SERVERLESS_SOAK_SEED=<seed> reproduces it.
import * as assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { endpointProvider, templateProvider } from "../../runpod";
import { RunPodEmulator, type FaultSpec } from "../emulators/runpod";
import { rng } from "./soak/plan";
import { captureServerlessProviders, configured, loadSerialized, unique, type CapturedServerless } from "./serverlessHelpers";

const RUNS = 12;
const SEED = process.env.SERVERLESS_SOAK_SEED ? Number(process.env.SERVERLESS_SOAK_SEED) >>> 0 : randomInt(2 ** 31);
const SECRET = "soak-secret-value-42";

const FAULTS: Array<[string, FaultSpec]> = [
  ["POST endpoint 500 after create", { method: "POST", path: /^\/v2\/serverless$/, status: 500, applyFirst: true }],
  ["POST endpoint reset after create", { method: "POST", path: /^\/v2\/serverless$/, reset: true, applyFirst: true }],
  ["POST endpoint 502 before create", { method: "POST", path: /^\/v2\/serverless$/, status: 502 }],
  ["POST endpoint 201 cut short", { method: "POST", path: /^\/v2\/serverless$/, truncateBody: 0.3 }],
  ["POST endpoint 201 without id", { method: "POST", path: /^\/v2\/serverless$/, dropMembers: ["id"] }],
  ["POST endpoint 429", { method: "POST", path: /^\/v2\/serverless$/, status: 429, retryAfter: 0 }],
  ["GET endpoint 500 ×2", { method: "GET", path: /^\/v2\/serverless\/[^/]+$/, status: 500, times: 2 }],
  ["GET endpoint 403", { method: "GET", path: /^\/v2\/serverless\/[^/]+$/, status: 403 }],
  ["list endpoints 500 ×4", { method: "GET", path: /^\/v2\/serverless$/, status: 500, times: 4 }],
  ["PATCH endpoint 500 after apply", { method: "PATCH", path: /^\/v2\/serverless\//, status: 500, applyFirst: true }],
  ["PATCH endpoint reset", { method: "PATCH", path: /^\/v2\/serverless\//, reset: true }],
  ["DELETE endpoint 503", { method: "DELETE", path: /^\/v2\/serverless\//, status: 503 }],
  ["POST template 500 after create", { method: "POST", path: /^\/v2\/templates$/, status: 500, applyFirst: true }],
];

describe("serverless providers fault soak", function () {
  this.timeout(60000);
  let emulator: RunPodEmulator;
  let captured: CapturedServerless;
  const lines: string[] = [];
  let write: typeof process.stderr.write;

  before(async () => {
    captured = await captureServerlessProviders();
    emulator = await RunPodEmulator.start();
    process.env.RUNPOD_PROVIDER_DELAY_SCALE = "0.001";
    delete process.env.RUNPOD_PROVIDER_QUIET;
    write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true));
  });
  after(async () => {
    process.stderr.write = write;
    process.env.RUNPOD_PROVIDER_QUIET = "1";
    delete process.env.RUNPOD_PROVIDER_DELAY_SCALE;
    await emulator.close();
  });

  it(`${RUNS} seeded runs: no orphaned or duplicate endpoint or template, no secret in any message`, async () => {
    console.log(`      serverless fault soak: seed ${SEED}, ${RUNS} runs (reproduce: SERVERLESS_SOAK_SEED=${SEED} npm test)`);
    const random = rng(SEED);
    const started = Date.now();
    const problems: string[] = [];
    const messages: string[] = [];
    let created = 0;
    for (let run = 0; run < RUNS; run += 1) {
      const providers = run % 2 === 0 ? loadSerialized(captured) : { template: { ...templateProvider }, endpoint: { ...endpointProvider } };
      const { template, endpoint } = await configured(providers, emulator);
      const picked = Array.from({ length: 1 + Math.floor(random() * 3) }, () => FAULTS[Math.floor(random() * FAULTS.length)]);
      for (const [, fault] of picked) emulator.inject({ ...fault });
      const name = unique(`soak${run}`);
      const labels = picked.map(([l]) => l).join("; ");
      try {
        const tIn = (await template.check!({}, { name, image: "img:1", env: { HF_TOKEN: SECRET } })).inputs ?? {};
        const t = await template.create(tIn);
        let e: Awaited<ReturnType<typeof endpoint.create>> | undefined;
        try {
          const eIn = (await endpoint.check!({}, { name, templateId: t.id, gpuPools: ["ADA_24"], readyTimeoutSeconds: 5 })).inputs ?? {};
          e = await endpoint.create(eIn);
          created += 1;
          const news = (await endpoint.check!({}, { ...eIn, workersMax: 5 })).inputs ?? {};
          await endpoint.update!(e.id, e.outs!, news).catch((error: Error) => messages.push(error.message));
        } catch (error) {
          messages.push((error as Error).message);
        }
        for (let i = 0; i < 2 && e; i += 1) await endpoint.delete!(e.id, e.outs!).catch((error: Error) => messages.push(error.message));
        for (let i = 0; i < 2; i += 1) await template.delete!(t.id, t.outs!).catch((error: Error) => messages.push(error.message));
      } catch (error) {
        messages.push((error as Error).message);
      }
      emulator.clearFaults(); // a fault on a route this run never reached must not hit the next run
      const endpoints = emulator.serverless.allEndpoints().filter((x) => x.name === name);
      const templates = emulator.serverless.allTemplates().filter((x) => x.name === name);
      if (endpoints.length) problems.push(`run ${run} [${labels}]: ${endpoints.length} endpoint(s) left: ${endpoints.map((x) => x.id).join(", ")}`);
      if (templates.length) problems.push(`run ${run} [${labels}]: ${templates.length} template(s) left`);
    }
    const leaks = [...messages, ...lines].filter((m) => m.includes(SECRET));
    console.log(`      ${RUNS} runs in ${((Date.now() - started) / 1000).toFixed(1)} s: ${created} endpoints created, ${messages.length} errors, ${problems.length} leftovers, ${leaks.length} secret leaks`);
    assert.deepEqual(problems, [], `seed ${SEED}`);
    assert.deepEqual(leaks, [], `seed ${SEED}`);
    assert.ok(created >= RUNS / 3, `seed ${SEED}: only ${created} of ${RUNS} endpoints were created`);
  });
});
