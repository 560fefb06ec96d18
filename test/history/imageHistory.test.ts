import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { ImageHistory, imageHistoryProvider, nextImageHistory, type ImageHistoryState } from "../../history";

const OLD = `ghcr.io/org/comfyui-steadydancer@sha256:${"a".repeat(64)}`;
const NEW = `ghcr.io/org/comfyui-steadydancer@sha256:${"b".repeat(64)}`;
const HISTORY_TYPE = "pulumi-nodejs:dynamic/deploy:ImageHistory";

type Provider = typeof imageHistoryProvider;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => { handler: () => unknown };

/** Registers an ImageHistory under mocks and rebuilds its provider from the `__provider` text kept in state. */
async function serializedProvider(): Promise<Provider> {
  let text: string | undefined;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        if (args.type === HISTORY_TYPE && typeof inputs.__provider === "string") text = inputs.__provider;
        return { id: `${args.name}-id`, state: inputs };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "steadydancer-runpod",
    "test",
    false,
  );
  const history = new ImageHistory("capture", { imageRef: OLD });
  await new Promise<void>((resolve) => history.urn.apply(() => resolve()));
  for (let i = 0; i < 100 && text === undefined; i += 1) await new Promise((r) => setTimeout(r, 10));
  if (text === undefined) throw new Error(`no ${HISTORY_TYPE} registered`);
  return requireFromString(text).handler() as Provider;
}

/** One `pulumi up` as the engine drives the provider: diff, then update only when diff reports a change. */
async function deploy(provider: Provider, state: ImageHistoryState, imageRef: string): Promise<ImageHistoryState> {
  const diff = await provider.diff!("id", state, { imageRef });
  assert.deepEqual(diff.replaces, [], "the history is never replaced (a replacement would forget it)");
  if (!diff.changes) return state;
  const { outs } = await provider.update!("id", state, { imageRef });
  return outs as ImageHistoryState;
}

describe("ImageHistory (previousImageRef kept in state)", function () {
  this.timeout(20000);

  it("keeps previousImageRef empty on the first deploy and while the digest stays the same", () => {
    assert.deepEqual(nextImageHistory({}, OLD), { imageRef: OLD, previousImageRef: "" });
    assert.deepEqual(nextImageHistory({ imageRef: OLD, previousImageRef: "" }, OLD), { imageRef: OLD, previousImageRef: "" });
  });

  for (const [label, load] of [
    ["called directly", () => Promise.resolve(imageHistoryProvider)],
    ["loaded from its serialized form", serializedProvider],
  ] as const) {
    it(`${label}: records the digest deployed before the current one, across deploys and a rollback`, async () => {
      const provider = await load();
      const created = await provider.create({ imageRef: OLD });
      assert.match(created.id, /^image-history-/);
      let state = created.outs as ImageHistoryState;
      assert.equal(state.previousImageRef, "", "first deploy: nothing came before");

      state = await deploy(provider, state, OLD);
      assert.deepEqual(state, { imageRef: OLD, previousImageRef: "" }, "unchanged digest: no update, nothing moves");

      state = await deploy(provider, state, NEW);
      assert.deepEqual(state, { imageRef: NEW, previousImageRef: OLD });

      state = await deploy(provider, state, NEW);
      assert.equal(state.previousImageRef, OLD, "a re-run with the same digest keeps the previous one");

      // Rollback: image.ref set to the previous digest; the bad one is now the previous, so going forward is one step too.
      state = await deploy(provider, state, OLD);
      assert.deepEqual(state, { imageRef: OLD, previousImageRef: NEW });

      const refreshed = await provider.read!("id", state);
      assert.deepEqual(refreshed.props, state, "a refresh keeps the recorded history");
    });
  }

  it("check refuses an empty image reference and lets an unknown one (preview before the build) through", async () => {
    const bad = await imageHistoryProvider.check!({}, { imageRef: "" });
    assert.equal(bad.failures?.[0]?.property, "imageRef");
    const unknown = await imageHistoryProvider.check!({}, { imageRef: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" });
    assert.deepEqual(unknown.failures, []);
  });
});
