import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_NAME } from "../components/config";
import {
  GPU_POD_TYPE,
  MockRecorder,
  POD_TYPE,
  REGISTRY_TYPE,
  anyInputContains,
  installMocks,
  plaintextPaths,
  unwrap,
} from "./helpers/pulumiMocks";

const P = `${PROJECT_NAME}:`;
const IMAGE = "ghcr.io/org/comfyui-steadydancer:0.1.0";
const FAKE_API_KEY = "rpa_FAKEKEY_do_not_leak_0123456789";
const HF_TOKEN = "hf_FAKETOKEN_program_test_4242";
const PROGRAM = require.resolve("../index");

/** Evaluates the program afresh: a module runs once per process unless dropped from the cache. */
function runProgram(): Promise<typeof import("../index")> {
  delete require.cache[PROGRAM];
  return import("../index");
}

describe("program (index.ts)", function () {
  this.timeout(20000);
  let mocks: MockRecorder;
  let savedEnv: string | undefined;

  before(() => {
    savedEnv = process.env.RUNPOD_API_KEY;
    delete process.env.RUNPOD_API_KEY;
  });

  after(() => {
    if (savedEnv === undefined) delete process.env.RUNPOD_API_KEY;
    else process.env.RUNPOD_API_KEY = savedEnv;
    pulumi.runtime.setAllConfig({});
    delete require.cache[PROGRAM];
  });

  beforeEach(async () => {
    mocks = new MockRecorder();
    await installMocks(mocks);
  });

  it("with bad config, fails listing every problem and creates nothing", async () => {
    pulumi.runtime.setAllConfig({
      [`${P}pod.gpuCount`]: "two",
      [`${P}pod.ports`]: '["22/tcp"]',
      [`${P}registry.password`]: "SECRET_pw_never_shown",
    }, [`${P}registry.password`]);

    await assert.rejects(runProgram(), (err: unknown) => {
      assert.ok(pulumi.RunError.isInstance(err));
      const message = err.message;
      for (const key of [`${P}image.ref`, `${P}pod.gpuCount`, `${P}pod.ports`, `${P}registry.username`, "runpod:apiKey"]) {
        assert.ok(message.includes(`  - ${key} `), `${key} missing from:\n${message}`);
      }
      assert.ok(!message.includes("SECRET_pw_never_shown"));
      return true;
    });
    assert.deepEqual(mocks.created, [], "no resource may be created from a bad config");
  });

  it("with good config, creates the pod and exports its outputs", async () => {
    pulumi.runtime.setAllConfig(
      {
        [`${P}image.ref`]: IMAGE,
        [`${P}pod.gpuTypes`]: '["NVIDIA L40S","NVIDIA A100 80GB PCIe"]',
        [`${P}pod.readyTimeoutMinutes`]: "30",
        [`${P}registry.username`]: "org-bot",
        [`${P}registry.password`]: "registry_pw_program_test",
        [`${P}hfToken`]: HF_TOKEN,
        "runpod:apiKey": FAKE_API_KEY,
      },
      [`${P}registry.password`, `${P}hfToken`, "runpod:apiKey"],
    );

    const program = await runProgram();
    const [podId, comfyUrl, sshCommand, costPerHour, gpuType] = await Promise.all([
      unwrap(program.podId),
      unwrap(program.comfyUrl),
      unwrap(program.sshCommand),
      unwrap(program.costPerHour),
      unwrap(program.gpuType),
    ]);

    assert.equal(program.imageRef, IMAGE);
    assert.equal(podId, "steadydancer-pod-id");
    assert.equal(comfyUrl, "https://steadydancer-pod-id-8188.proxy.runpod.net");
    assert.match(sshCommand ?? "", /^ssh /);
    assert.equal(costPerHour, 0.86);
    assert.equal(gpuType, "NVIDIA L40S");

    assert.equal(mocks.only(GPU_POD_TYPE).name, "steadydancer");
    const pod = mocks.only(POD_TYPE).inputs;
    assert.equal(pod.image, IMAGE);
    assert.equal(pod.readyTimeoutSeconds, 30 * 60);
    assert.equal(mocks.only(REGISTRY_TYPE).inputs.username, "org-bot");
    for (const secret of [HF_TOKEN, "registry_pw_program_test"]) {
      assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, secret, r.name)), []);
    }
    assert.deepEqual(anyInputContains(mocks.created, FAKE_API_KEY), []);
  });
});
