// `pulumi preview` / `pulumi up` do not run dist/: the nodejs language host compiles index.ts with ts-node,
// type checking on and with ts-node's own defaults (`files: false`: only the files the program imports, not
// the tsconfig's `include`, which is all `npm run build` sees). This runs the program through the SDK's
// run() in a child process under mocks, so a program that compiles for tsc but not for Pulumi fails here.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { PROJECT_NAME } from "../components/config";

const projectDir = path.resolve(__dirname, "../..");
const child = path.join(__dirname, "helpers", "pulumiRunChild.js");
const P = `${PROJECT_NAME}:`;

interface ChildResult {
  ok: boolean;
  error?: string;
  outputs?: string[];
  created?: { type: string; name: string }[];
  ms: number;
  cpuMs?: number;
}

function runUnderPulumiRun(values: Record<string, string>, secrets: string[]): Promise<{ code: number | null; result: ChildResult; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PROGRAM_CONFIG: JSON.stringify({ values, secrets }) };
    delete env.RUNPOD_API_KEY;
    const proc = spawn(process.execPath, [child, projectDir], { cwd: projectDir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => {
      const last = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve({ code, result: JSON.parse(last) as ChildResult, stderr });
      } catch {
        reject(new Error(`the child printed no verdict (exit ${code}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

describe("program as `pulumi up` runs it (ts-node with type checking, through @pulumi/pulumi/cmd/run)", function () {
  // ts-node type-checks the whole program graph once: about 10 s alone, more on a loaded machine.
  this.timeout(120_000);

  it("compiles index.ts with Pulumi's ts-node options and registers the stack's resources", async () => {
    const { code, result, stderr } = await runUnderPulumiRun(
      {
        [`${P}image.ref`]: "ghcr.io/org/comfyui-steadydancer:0.1.0",
        [`${P}image.build`]: "false",
        [`${P}hfToken`]: "hf_FAKE_pulumi_run_test_000",
        "runpod:apiKey": "rpa_FAKE_pulumi_run_test_000",
      },
      [`${P}hfToken`, "runpod:apiKey"],
    );
    assert.equal(result.error, undefined, `the program failed under Pulumi's ts-node:\n${result.error}\n${stderr}`);
    assert.equal(code, 0);
    assert.ok(result.ok);
    for (const output of ["imageRef", "podId", "comfyUrl", "generateCheck"]) {
      assert.ok(result.outputs?.includes(output), `stack output ${output} missing from ${JSON.stringify(result.outputs)}`);
    }
    const types = new Set(result.created?.map((r) => r.type));
    for (const type of ["pulumi:pulumi:Stack", "steadydancer:runpod:GpuPod", "pulumi-nodejs:dynamic/runpod:Pod", "command:local:Command"]) {
      assert.ok(types.has(type), `${type} was not registered: ${[...types].join(", ")}`);
    }
    console.log(`      (ts-node compile + run: ${(result.ms / 1000).toFixed(1)} s wall, ${((result.cpuMs ?? 0) / 1000).toFixed(1)} s CPU)`);
  });
});
