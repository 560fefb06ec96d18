// The RunPod client's retry classification and response parsing, against the v2 emulator.
import * as assert from "node:assert/strict";
import { createClient, type RunPodClient } from "../../runpod/client";
import { isRunPodError, type RunPodError } from "../../runpod/errors";
import { podSchema } from "../../runpod/schemas";
import { RunPodEmulator } from "../emulators/runpod";

async function failure(promise: Promise<unknown>): Promise<RunPodError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isRunPodError(error), `a RunPodError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("RunPod client: what is retried and what fails at once", function () {
  this.timeout(20_000);
  let emulator: RunPodEmulator;
  let client: RunPodClient;
  const calls = (method: string, path: RegExp): number => emulator.calls.filter((c) => c.method === method && path.test(c.path)).length;

  beforeEach(async () => {
    emulator = await RunPodEmulator.start();
    client = createClient({ apiKey: emulator.apiKey, baseUrl: emulator.baseUrl, backoffBaseMs: 10, timeoutMs: 2000 });
  });
  afterEach(() => emulator.close());

  for (const status of [405, 410, 413, 418]) {
    it(`${status} is not transient: one request, RunPod's title and detail, and what to change`, async () => {
      emulator.inject({ method: "GET", path: /^\/v2\/pods$/, status, detail: `detail for ${status}` });
      const error = await failure(client.listPods());
      assert.equal(calls("GET", /^\/v2\/pods$/), 1, "not retried");
      assert.equal(error.kind, "rejected");
      assert.equal(error.ambiguous, false);
      assert.match(error.message, new RegExp(`failed: ${status} [A-Z].*: detail for ${status}`));
      assert.match(error.message, /runpod:apiUrl|shorten|fix what the detail names/);
    });
  }

  it("a 4xx on DELETE or POST is not retried either, and a POST refusal is not ambiguous", async () => {
    emulator.inject({ method: "DELETE", status: 410 });
    await failure(client.deletePod("abc"));
    assert.equal(calls("DELETE", /./), 1);
    emulator.inject({ method: "POST", status: 413 });
    const error = await failure(client.createPod({ name: "x" }));
    assert.equal(calls("POST", /./), 1);
    assert.equal(error.ambiguous, false);
  });

  it("5xx and dropped connections are retried on GET and DELETE, never on POST or PATCH (ambiguous there)", async () => {
    emulator.inject({ method: "GET", path: /^\/v2\/pods$/, status: 503, times: 2 });
    emulator.inject({ method: "GET", path: /^\/v2\/pods$/, reset: true });
    assert.deepEqual(await client.listPods(), []);
    assert.equal(calls("GET", /^\/v2\/pods$/), 4);
    emulator.inject({ method: "PATCH", status: 502 });
    const patch = await failure(client.updatePod("abc", { name: "y" }));
    assert.equal(patch.ambiguous, true);
    assert.equal(calls("PATCH", /./), 1);
    emulator.inject({ method: "POST", reset: true });
    const post = await failure(client.createPod({ name: "x" }));
    assert.equal(post.ambiguous, true);
    assert.equal(post.kind, "network");
    assert.equal(calls("POST", /./), 1);
  });

  it("429 waits for Retry-After on any method", async () => {
    emulator.inject({ method: "DELETE", status: 429, retryAfter: 1 });
    const started = Date.now();
    assert.equal(await client.deletePod("nope"), "gone");
    assert.ok(Date.now() - started >= 1000);
    assert.equal(calls("DELETE", /./), 2);
  });

  it("an accepted create with an unreadable answer is ambiguous and names the id it still carried", async () => {
    emulator.inject({ method: "POST", path: /^\/v2\/pods$/, truncateBody: 0.3 });
    const error = await failure(
      client.createPod({ name: "cut", image: "img", gpu: { id: "NVIDIA L40S" }, ports: ["8188/http"] }),
    );
    assert.equal(error.kind, "unexpected");
    assert.equal(error.ambiguous, true);
    assert.equal(error.createdId, emulator.livePods()[0]?.id);
    assert.match(error.message, /the change was accepted/);
  });
});

describe("RunPod v2 Pod schema: exactly the spec's required members", () => {
  const pod = {
    id: "p1", name: "n", status: "RUNNING", actions: ["stop"], image: "i", args: "", disk: 50, mounts: {}, ports: ["22/tcp"],
    env: {}, registry: null, cloud: "SECURE", dataCenterId: null, cudaVersion: null, ssh: { proxy: null, direct: null },
    template: null, cost: 0.5, locked: false, runtime: null, createdAt: "2026-08-20T06:16:19.43Z", startedAt: null,
    globalNetworking: { enabled: false },
  };

  it("accepts what the spec allows: no gpu.count, runtime ports with members missing, unknown members", () => {
    const body = { ...pod, gpu: { id: "NVIDIA L40S", vcpuCount: 12, memory: 62 }, runtime: { ports: [{ private: 22 }, { type: "http" }, {}] }, cluster: { id: "c" }, future: 1 };
    assert.ok(podSchema().safeParse(body).success);
  });

  it("rejects a body missing a member the spec requires", () => {
    for (const member of ["id", "ssh", "cost", "globalNetworking", "startedAt"]) {
      const { [member]: _dropped, ...rest } = pod as Record<string, unknown>;
      assert.equal(podSchema().safeParse(rest).success, false, `without ${member}`);
    }
    assert.equal(podSchema().safeParse({ ...pod, gpu: { id: "NVIDIA L40S", count: 1 } }).success, false, "gpu without vcpuCount/memory");
  });
});
