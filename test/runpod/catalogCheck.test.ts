// The GPU catalog pre-flight (runpod:GpuCatalogCheck) against the RunPod v2 emulator's GET /v2/catalog/gpus,
// called directly and loaded from the serialized form Pulumi stores in state.
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { catalogCheckProvider, GpuCatalogCheck, type CatalogCheckOutputs } from "../../runpod";
import { RunPodEmulator } from "../emulators/runpod";
import { configureLikeHost } from "./serializedProvider";

type CheckProvider = typeof catalogCheckProvider;
type CheckResult = { inputs?: Record<string, unknown>; failures?: Array<{ property: string; reason: string }> };

// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => { handler: () => unknown };

const L40S = "NVIDIA L40S";
const A100 = "NVIDIA A100 80GB PCIe";
const H100 = "NVIDIA H100 80GB HBM3";
const RTX4090 = "NVIDIA GeForce RTX 4090";

process.env.RUNPOD_PROVIDER_QUIET = "1";

/** The serialized provider text of a GpuCatalogCheck, as a provider host would receive it. */
async function serializedText(): Promise<string> {
  let text: string | undefined;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const candidate = (args.inputs as Record<string, unknown>).__provider;
        if (typeof candidate === "string") text = candidate;
        return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "steadydancer-runpod",
    "test",
    false,
  );
  const check = new GpuCatalogCheck("capture", { gpuTypeIds: [L40S] });
  await new Promise<void>((resolve) => check.urn.apply(() => resolve()));
  for (let i = 0; i < 100 && !text; i += 1) await new Promise((r) => setTimeout(r, 10));
  if (!text) throw new Error("the GpuCatalogCheck provider was not serialized");
  return text;
}

const forms: Array<{ label: string; fresh: () => CheckProvider }> = [{ label: "direct", fresh: () => ({ ...catalogCheckProvider }) }];
let text: string | undefined;
forms.push({ label: "serialized", fresh: () => requireFromString(text ?? "").handler() as CheckProvider });

for (const form of forms) {
  describe(`GPU catalog pre-flight (${form.label})`, function () {
    this.timeout(20000);
    let emulator: RunPodEmulator;
    let provider: CheckProvider;
    const savedKey = process.env.RUNPOD_API_KEY;

    before(async () => {
      if (form.label === "serialized") text = await serializedText();
      emulator = await RunPodEmulator.start();
    });
    after(async () => {
      await emulator.close();
      if (savedKey === undefined) delete process.env.RUNPOD_API_KEY;
      else process.env.RUNPOD_API_KEY = savedKey;
    });
    beforeEach(async () => {
      emulator.resetCalls();
      delete process.env.RUNPOD_API_KEY;
      provider = await configureLikeHost(form.fresh(), { "runpod:apiKey": emulator.apiKey, "runpod:apiUrl": emulator.baseUrl });
    });

    const check = (inputs: Record<string, unknown>, p: CheckProvider = provider) => p.check!({}, inputs) as Promise<CheckResult>;
    const reasons = (r: CheckResult) => (r.failures ?? []).map((f) => f.reason).join("\n");

    it("answers a typo such as L40S with the catalog id it meant, from one catalog read", async () => {
      const result = await check({ gpuTypeIds: ["L40S", A100], gpuCount: 1, cloud: "SECURE" });
      assert.match(reasons(result), /"L40S" is not a GPU type id in RunPod's catalog; did you mean "NVIDIA L40S"\?/);
      assert.deepEqual(
        emulator.calls.map((c) => `${c.method} ${c.path}`),
        ["GET /v2/catalog/gpus"],
        "only the catalog was read: nothing was created",
      );
    });

    it("refuses a GPU type with less memory than the model variant needs", async () => {
      const result = await check({ gpuTypeIds: [RTX4090, L40S], minVramGb: 40 });
      const text = reasons(result);
      assert.match(text, /"NVIDIA GeForce RTX 4090" has 24 GB of GPU memory, below the 40 GB/);
      assert.doesNotMatch(text, /NVIDIA L40S/, "the 48 GB L40S passes");
    });

    it("skips candidates whose list price × gpuCount is above the cap, saying which and at what price", async () => {
      const result = await check({ gpuTypeIds: [H100, L40S, A100], gpuCount: 2, cloud: "SECURE", maxCostPerHour: 2 });
      assert.deepEqual(result.failures ?? [], []);
      const outs = result.inputs as unknown as CatalogCheckOutputs;
      assert.deepEqual(outs.allowedGpuTypeIds, [L40S], "only 2 × $0.86 is under $2.00");
      assert.match(outs.summary, /NVIDIA H100 80GB HBM3 \(\$5\.98\/h is above pod\.maxCostPerHour \$2\.00\/h\)/);
      assert.match(outs.summary, /NVIDIA A100 80GB PCIe \(\$3\.28\/h is above/);
      assert.match(outs.summary, /GPU candidates \$1\.72–\$1\.72\/h/);
      assert.deepEqual(outs.priceRange, { min: 1.72, max: 1.72 });
    });

    it("prices the community cloud from its own list price", async () => {
      const result = await check({ gpuTypeIds: [A100, L40S], cloud: "COMMUNITY" });
      const outs = result.inputs as unknown as CatalogCheckOutputs;
      assert.deepEqual(outs.priceRange, { min: 0.79, max: 1.19 });
      assert.deepEqual(outs.allowedGpuTypeIds, [A100, L40S], "the user's order is kept");
    });

    it("fails before any build when the cap leaves no candidate", async () => {
      const result = await check({ gpuTypeIds: [H100, A100], maxCostPerHour: 0.5 });
      assert.match(reasons(result), /no GPU type in pod\.gpuTypes can be used: .*\$2\.99\/h .*\$1\.64\/h.*Raise pod\.maxCostPerHour/s);
    });

    it("says the pre-flight was skipped in a preview without an API key, and fails an update without one", async () => {
      const bare = await configureLikeHost(form.fresh(), { "runpod:apiUrl": emulator.baseUrl });
      const preview = await check({ gpuTypeIds: ["L40S"], preview: true }, bare);
      assert.deepEqual(preview.failures ?? [], []);
      assert.match(String(preview.inputs?.summary), /pre-flight skipped: no RunPod API key/);
      await assert.rejects(check({ gpuTypeIds: [L40S], preview: false }, bare), /No RunPod API key/);
      assert.equal(emulator.calls.length, 0, "nothing was sent without a key");
    });

    it("retries a catalog read that fails with a 5xx, and never shows the API key", async () => {
      emulator.inject({ method: "GET", path: /^\/v2\/catalog\/gpus$/, status: 503 });
      const result = await check({ gpuTypeIds: [L40S], maxCostPerHour: 1 });
      assert.deepEqual((result.inputs as unknown as CatalogCheckOutputs).allowedGpuTypeIds, [L40S]);
      assert.equal(emulator.calls.filter((c) => c.path === "/v2/catalog/gpus").length, 2);
      assert.ok(!JSON.stringify(result).includes(emulator.apiKey));
    });

    it("rejects malformed inputs with every problem at once", async () => {
      const result = await check({ gpuTypeIds: [], gpuCount: 0 });
      const props = (result.failures ?? []).map((f) => f.property).sort();
      assert.deepEqual(props, ["gpuCount", "gpuTypeIds"]);
    });

    it("maps serverless GPU types to their pools and excludes the pools' other types, ignoring the pod cost cap", async () => {
      const result = await check({ gpuTypeIds: [L40S, A100], product: "SERVERLESS", maxCostPerHour: 0.1 });
      assert.deepEqual(result.failures ?? [], []);
      const outs = result.inputs as unknown as CatalogCheckOutputs;
      assert.deepEqual(outs.gpuPools, ["ADA_48_PRO", "AMPERE_80"]);
      assert.deepEqual(outs.excludedGpuTypeIds, ["NVIDIA RTX 6000 Ada Generation"], "the RTX 6000 Ada shares the L40S pool");
      assert.match(outs.summary, /serverless GPU pools ADA_48_PRO, AMPERE_80 .*excluding NVIDIA RTX 6000 Ada Generation/);
      assert.match(outs.summary, /no serverless price/, "the emulator's catalog, like the spec's required members, lists none");
    });

    it("names the serverless.gpuTypes key for a typo or too little memory in serverless mode", async () => {
      const result = await check({ gpuTypeIds: ["L40S", RTX4090], product: "SERVERLESS", minVramGb: 40 });
      const text = reasons(result);
      assert.match(text, /serverless\.gpuTypes: "L40S" is not a GPU type id .*did you mean "NVIDIA L40S"/);
      assert.match(text, /serverless\.gpuTypes: "NVIDIA GeForce RTX 4090" has 24 GB/);
    });

    it("gives a placeholder pool in a serverless preview without an API key", async () => {
      const bare = await configureLikeHost(form.fresh(), { "runpod:apiUrl": emulator.baseUrl });
      const preview = await check({ gpuTypeIds: [L40S], product: "SERVERLESS", preview: true }, bare);
      assert.deepEqual((preview.inputs as unknown as CatalogCheckOutputs).gpuPools, ["(resolved from the catalog at up)"]);
      assert.equal(emulator.calls.length, 0);
    });

    it("reports no change when only the preview flag differs, and a change when a price moved", async () => {
      const outs = (await check({ gpuTypeIds: [L40S] })).inputs ?? {};
      const created = await provider.create(outs);
      const same = await provider.diff!(created.id, created.outs!, { ...outs, preview: true });
      assert.equal(same.changes, false);
      const moved = await provider.diff!(created.id, created.outs!, { ...outs, priceRange: { min: 1, max: 1 } });
      assert.equal(moved.changes, true);
    });
  });
}
