// The whole program through the real Pulumi engine (Automation API, file:// backend) against the RunPod
// emulator: up, an idempotent second preview, destroy. Needs the Pulumi CLI and its plugins, which
// this project's machines and CI do not have: there the suite is skipped, and says so.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { RunPodEmulator } from "../emulators/runpod";

function pulumiCli(): string | undefined {
  try {
    return execFileSync("pulumi", ["version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

const projectDir = path.resolve(__dirname, "../../..");

describe("pulumi up / preview / destroy of the program against the RunPod emulator", function () {
  this.timeout(600_000);
  let emulator: RunPodEmulator | undefined;
  let stack: Stack | undefined;
  let backend: string | undefined;

  before(function () {
    if (!pulumiCli()) {
      console.log("      skipped: the Pulumi CLI is not installed on this machine (see README: Deploy)");
      this.skip();
    }
  });

  after(async () => {
    if (stack) {
      await stack.destroy().catch(() => undefined);
      await stack.workspace.removeStack(stack.name).catch(() => undefined);
      fs.rmSync(path.join(projectDir, `Pulumi.${stack.name}.yaml`), { force: true });
    }
    await emulator?.close();
    if (backend) fs.rmSync(backend, { recursive: true, force: true });
  });

  it("deploys a ready pod, previews no changes afterwards, and destroys it", async () => {
    emulator = await RunPodEmulator.start({ timings: { provisionMs: 200, startMs: 200, runtimeNullMs: 0 } });
    backend = fs.mkdtempSync(path.join(os.tmpdir(), "steadydancer-state-"));
    stack = await LocalWorkspace.createOrSelectStack(
      { stackName: `it-${process.pid}`, workDir: projectDir },
      {
        envVars: {
          PULUMI_BACKEND_URL: `file://${backend}`,
          PULUMI_CONFIG_PASSPHRASE: "integration-test",
          RUNPOD_API_URL: emulator.baseUrl,
        },
      },
    );
    // A prebuilt digest: nothing to build or look up (no Docker daemon, no registry). The pod's proxy URL
    // does not resolve to a ComfyUI here, so the post-deploy checks are switched off.
    await stack.setAllConfig({
      "image.ref": { value: `ghcr.io/example/comfyui-steadydancer@sha256:${"0".repeat(64)}` },
      "image.build": { value: "false" },
      "checks.health": { value: "false" },
      "checks.vram": { value: "false" },
      "checks.generate": { value: "false" },
    });
    await stack.setConfig("runpod:apiKey", { value: emulator.apiKey, secret: true });

    const up = await stack.up();
    const podId = String(up.outputs.podId?.value);
    assert.equal(emulator.podById(podId)?.status, "RUNNING");
    assert.equal(up.outputs.comfyUrl?.value, `https://${podId}-8188.proxy.runpod.net`);
    assert.equal(up.outputs.imageRef?.value, `ghcr.io/example/comfyui-steadydancer@sha256:${"0".repeat(64)}`);
    assert.equal(emulator.podById(podId)?.image, up.outputs.imageRef?.value);
    assert.equal(up.outputs.previousImageRef?.value, "", "first deploy: no image before this one");

    await stack.preview({ expectNoChanges: true });

    await stack.destroy();
    assert.equal(emulator.livePods().length, 0);
  });
});
