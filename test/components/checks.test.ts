import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { AUTH_HEADER_ENV, parseCheckOutput } from "../../checks";
import { parseInvocation } from "../../checks/cli";
import {
  DeploymentChecks,
  checksCli,
  parseVerdict,
  shellCommand,
  type DeploymentChecksArgs,
} from "../../components/checks";
import { ComfyUIEmulator } from "../emulators/comfyui";
import {
  CHECKS_TYPE,
  COMMAND_TYPE,
  MockRecorder,
  anyInputContains,
  installMocks,
  passingVerdictFor,
  plain,
  plaintextPaths,
  settled,
  unwrap,
  type Recorded,
} from "../helpers/pulumiMocks";

const URL = "https://pod123-8188.proxy.runpod.net";
const IMAGE_REF = `ghcr.io/org/comfyui-steadydancer@sha256:${"a".repeat(64)}`;
const AUTH_HEADER = "Authorization: Bearer SECRET_proxy_token_checks_test";
const RESTART_KEY = "1".repeat(64);
const REPO = path.resolve(__dirname, "../../..");
/** Runs a recorded command the way @pulumi/command does: /bin/sh -c <create> in `dir`, env added to ours. */
function runRecorded(cmd: Recorded): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const environment = (plain(cmd.inputs.environment) ?? {}) as Record<string, string>;
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", String(cmd.inputs.create)], {
      cwd: String(cmd.inputs.dir),
      env: { ...process.env, ...environment },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The words /bin/sh makes of a command line. */
function shellWords(line: string): string[] {
  const run = spawnSync("/bin/sh", ["-c", `printf '%s\\n' ${line}`], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split("\n").slice(0, -1);
}

function checksArgs(overrides: Partial<DeploymentChecksArgs> = {}): DeploymentChecksArgs {
  return {
    comfyUrl: URL,
    podId: "pod123",
    imageRef: IMAGE_REF,
    restartKey: pulumi.secret(RESTART_KEY),
    health: true,
    vram: true,
    generate: true,
    healthTimeoutMinutes: 20,
    generateTimeoutMinutes: 30,
    minVramGb: 24,
    workflow: "smoke",
    outDir: "/tmp/checks out",
    ...overrides,
  };
}

describe("DeploymentChecks", function () {
  this.timeout(20000);
  let mocks: MockRecorder;

  beforeEach(async () => {
    mocks = new MockRecorder();
    await installMocks(mocks);
  });

  /** Builds the component and waits until every command is registered; returns the commands by check. */
  async function deploy(name: string, args: DeploymentChecksArgs) {
    const checks = new DeploymentChecks(name, args);
    await Promise.all([unwrap(checks.health), unwrap(checks.vram), unwrap(checks.generate)]);
    await settled();
    const cmd = (check: string): Recorded | undefined =>
      mocks.created.find((r) => r.type === COMMAND_TYPE && r.name === `${name}-${check}`);
    return { checks, health: cmd("health"), vram: cmd("vram"), generate: cmd("generate") };
  }

  it("runs the checks CLI for health, vram and generate with the configured limits", async () => {
    const { health, vram, generate } = await deploy("all", checksArgs({ assetsDir: "/data/my assets" }));

    const cli = "node dist/checks/cli.js"; // the tests run compiled, like a program started from dist/
    assert.equal(health?.inputs.create, `${cli} health --url ${URL} --timeout 1200`);
    // vram returns once ComfyUI answers; a pod still downloading models must not fail it early.
    assert.equal(vram?.inputs.create, `${cli} vram --url ${URL} --timeout 1200 --min-vram-gb 24`);
    assert.equal(
      generate?.inputs.create,
      `${cli} generate --url ${URL} --timeout 1800 --workflow smoke --assets '/data/my assets' --out '/tmp/checks out'`,
    );
    for (const cmd of [health, vram, generate]) {
      assert.equal(cmd?.inputs.dir, REPO);
      assert.equal(cmd?.inputs.logging, "stderr", "stdout carries the verdict; progress goes to the log");
      assert.equal(cmd?.inputs.environment, undefined, "no environment without an auth header");
    }
  });

  it("builds command lines the checks CLI accepts, with the auth header in the variable it reads", async () => {
    const { health, vram, generate } = await deploy("contract", checksArgs({ assetsDir: "/data/my assets", authHeader: AUTH_HEADER }));

    for (const [check, cmd] of [["health", health], ["vram", vram], ["generate", generate]] as const) {
      assert.ok(cmd);
      const words = shellWords(String(cmd.inputs.create));
      const cli = checksCli();
      assert.deepEqual(words.slice(0, cli.argv.length), cli.argv);
      const invocation = parseInvocation(words.slice(cli.argv.length), plain(cmd.inputs.environment) as NodeJS.ProcessEnv);
      assert.equal(invocation.check, check);
      assert.equal(invocation.url, URL);
      assert.deepEqual(invocation.ignoredFlags, [], `${check} gets only flags it reads`);
      assert.deepEqual(invocation.auth, { name: "Authorization", value: "Bearer SECRET_proxy_token_checks_test" });
    }
    assert.deepEqual(Object.keys(plain(health?.inputs.environment) as object), [AUTH_HEADER_ENV]);
  });

  it("chains health → vram → generate with dependsOn, under the component", async () => {
    const { health, vram, generate } = await deploy("chain", checksArgs());

    assert.ok(health?.urn && vram?.urn && generate?.urn);
    assert.deepEqual(health.dependencies, []);
    assert.deepEqual(vram.dependencies, [health.urn]);
    assert.deepEqual(generate.dependencies, [vram.urn]);
    for (const cmd of [health, vram, generate]) assert.ok(cmd.urn?.includes(`::${CHECKS_TYPE}$${COMMAND_TYPE}::`), cmd.urn);
  });

  it("re-runs on a new image digest, a new pod or a container restarted in place: the triggers of every check", async () => {
    const { health, vram, generate } = await deploy("trig", checksArgs());
    for (const cmd of [health, vram, generate]) {
      // The restart key is derived from secrets (the pod's env): the triggers holding it stay secret.
      assert.ok(pulumi.runtime.isRpcSecret(cmd?.inputs.triggers), `${cmd?.name}: triggers must be secret`);
      assert.deepEqual((plain(cmd?.inputs.triggers) as string[]).slice(0, 3), [IMAGE_REF, "pod123", RESTART_KEY]);
    }
    assert.equal((plain(health?.inputs.triggers) as string[]).length, 3);
    assert.equal((plain(vram?.inputs.triggers) as string[]).length, 3);
    // generate also re-runs when its workflow's files change.
    assert.match((plain(generate?.inputs.triggers) as string[])[3] ?? "", /^sha256:[a-f0-9]{64}$/);
    const restarted = await deploy("trig2", checksArgs({ restartKey: pulumi.secret("2".repeat(64)) }));
    for (const cmd of [restarted.health, restarted.vram, restarted.generate]) {
      assert.deepEqual((plain(cmd?.inputs.triggers) as string[]).slice(0, 3), [IMAGE_REF, "pod123", "2".repeat(64)]);
    }
  });

  it("passes workflow, assets and output paths relative to the repo root, so the command line does not name the checkout", async () => {
    const { generate } = await deploy(
      "rel",
      checksArgs({
        workflow: path.join(REPO, "docker", "workflows", "smoke.json"),
        assetsDir: path.join(REPO, "docker", "workflows", "assets"),
        outDir: path.join(REPO, "checks-output"),
      }),
    );
    assert.equal(
      generate?.inputs.create,
      `node dist/checks/cli.js generate --url ${URL} --timeout 1800 --workflow docker/workflows/smoke.json --assets docker/workflows/assets --out checks-output`,
    );
    assert.ok(!String(generate?.inputs.create).includes(REPO));
    assert.equal(generate?.inputs.dir, REPO, "the command runs from the repo root, where those paths start");
  });

  describe("the generate check's workflow content", () => {
    let tmp: string;
    let workflowFile: string;

    before(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "checks-workflow-"));
      workflowFile = path.join(tmp, "dance.json");
      fs.writeFileSync(workflowFile, JSON.stringify({ "1": { class_type: "LoadImage", inputs: { image: "me.png" } } }));
      fs.mkdirSync(path.join(tmp, "assets"));
      fs.writeFileSync(path.join(tmp, "assets", "me.png"), "first picture");
    });

    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const triggersOf = async (name: string) => {
      const { health, vram, generate } = await deploy(name, checksArgs({ workflow: workflowFile }));
      const of = (cmd: Recorded | undefined) => JSON.stringify(plain(cmd?.inputs.triggers));
      return { health: of(health), vram: of(vram), generate: of(generate) };
    };

    it("re-runs generation, and only generation, when the workflow file or one of its input files changes", async () => {
      const first = await triggersOf("content1");
      assert.deepEqual(await triggersOf("content2"), first, "unchanged files, unchanged triggers");

      fs.writeFileSync(path.join(tmp, "assets", "me.png"), "another picture");
      const assetEdited = await triggersOf("content3");
      assert.notEqual(assetEdited.generate, first.generate, "an edited input file re-runs generation");
      assert.deepEqual([assetEdited.health, assetEdited.vram], [first.health, first.vram]);

      fs.writeFileSync(workflowFile, JSON.stringify({ "1": { class_type: "LoadImage", inputs: { image: "me.png", upload: "image" } } }));
      const workflowEdited = await triggersOf("content4");
      assert.notEqual(workflowEdited.generate, assetEdited.generate, "an edited workflow re-runs generation");
      assert.deepEqual([workflowEdited.health, workflowEdited.vram], [first.health, first.vram]);
    });

    it("refuses a workflow whose input files are missing, before creating anything", () => {
      assert.throws(
        () => new DeploymentChecks("missing", checksArgs({ workflow: workflowFile, assetsDir: path.join(tmp, "nowhere") })),
        /generate check cannot run its workflow: missing input file\(s\) me\.png/,
      );
      assert.deepEqual(mocks.created.filter((r) => r.name.startsWith("missing")), []);
    });
  });

  it("skips switched-off checks and links the remaining ones", async () => {
    const noHealth = await deploy("nohealth", checksArgs({ health: false, healthTimeoutMinutes: 15 }));
    assert.equal(noHealth.health, undefined);
    assert.deepEqual(noHealth.vram?.dependencies, []);
    // vram is now the first to reach a pod that may still be booting: it gets the health deadline.
    assert.match(String(noHealth.vram?.inputs.create), /--timeout 900 /);
    assert.deepEqual(noHealth.generate?.dependencies, [noHealth.vram?.urn]);

    const noVram = await deploy("novram", checksArgs({ vram: false }));
    assert.equal(noVram.vram, undefined);
    assert.deepEqual(noVram.generate?.dependencies, [noVram.health?.urn]);

    const noGenerate = await deploy("nogen", checksArgs({ generate: false }));
    assert.equal(noGenerate.generate, undefined);
    assert.equal(await unwrap(noGenerate.checks.generate), undefined);

    const none = await deploy("none", checksArgs({ health: false, vram: false, generate: false }));
    assert.deepEqual([none.health, none.vram, none.generate], [undefined, undefined, undefined]);
    assert.deepEqual(
      await Promise.all([unwrap(none.checks.health), unwrap(none.checks.vram), unwrap(none.checks.generate)]),
      [undefined, undefined, undefined],
    );
  });

  it("passes the auth header only through the environment, as a secret, never in the command line", async () => {
    const { health, vram, generate } = await deploy("auth", checksArgs({ authHeader: AUTH_HEADER }));

    for (const cmd of [health, vram, generate]) {
      assert.ok(cmd);
      assert.ok(pulumi.runtime.isRpcSecret(cmd.inputs.environment), `${cmd.name}: environment must be secret`);
      assert.deepEqual(plain(cmd.inputs.environment), { COMFYUI_AUTH_HEADER: AUTH_HEADER });
      assert.ok(!JSON.stringify(cmd.inputs.create).includes("SECRET_proxy_token"), `${cmd.name}: header in create`);
    }
    assert.deepEqual(mocks.created.flatMap((r) => plaintextPaths(r.inputs, "SECRET_proxy_token", r.name)), []);
    assert.deepEqual(
      anyInputContains(mocks.created, "SECRET_proxy_token").map((r) => r.name).sort(),
      ["auth-generate", "auth-health", "auth-vram"],
      "only the commands get it",
    );
  });

  it("parses each check's stdout into typed outputs, skipping progress lines before the verdict", async () => {
    mocks.commandStdout = (inputs) => `progress: waiting\n\n${passingVerdictFor(String(inputs.create))}\n`;
    const { checks } = await deploy("parsed", checksArgs());

    const health = await unwrap(checks.health);
    assert.equal(health?.check, "health");
    assert.equal(health?.comfyuiVersion, "0.3.75");
    const vram = await unwrap(checks.vram);
    assert.equal(vram?.gpu, "cuda:0 NVIDIA L40S");
    assert.equal(vram?.vramTotalGb, 48);
    const generate = await unwrap(checks.generate);
    assert.deepEqual([generate?.frames, generate?.width, generate?.height], [16, 256, 256]);
  });

  it("refuses a verdict that is missing, malformed, another check's, or failed, naming the cause", () => {
    const failed = JSON.stringify({ ...(JSON.parse(passingVerdictFor("vram")) as object), ok: false, message: "GPU has 16 GB, needs 24 GB" });
    assert.throws(() => parseVerdict("", "health"), /printed nothing/);
    assert.throws(() => parseVerdict("not json", "health"), /not JSON/);
    assert.throws(() => parseVerdict(passingVerdictFor("vram"), "health"), /health check printed a vram verdict/);
    assert.throws(() => parseVerdict(failed, "vram"), /vram check failed: GPU has 16 GB, needs 24 GB/);
    assert.equal(parseVerdict(passingVerdictFor("health"), "health").ok, true);
  });

  it("quotes every argument for /bin/sh so URLs and paths arrive as single words", () => {
    const words = ["health", "--url", "https://h/x?a=1&b=$HOME", "--out", "it's a dir/with `ticks`", "", "semi;colon"];
    const run = spawnSync("/bin/sh", ["-c", `printf '%s\\n' ${shellCommand(words)}`], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.split("\n").slice(0, -1), words);
  });

  describe("against the checks CLI and the ComfyUI emulator", function () {
    const start = (options: Parameters<typeof ComfyUIEmulator.start>[0]) => ComfyUIEmulator.start(options);
    let emulator: ComfyUIEmulator | undefined;
    let out: string;

    before(() => {
      // The commands run the compiled CLI; without it every test below would fail for an unrelated reason.
      assert.ok(fs.existsSync(path.join(REPO, "dist", "checks", "cli.js")), "dist/checks/cli.js is not built");
      // Inside the repo (checks-output/ is git-ignored), so the command line carries it relative to the repo root.
      fs.mkdirSync(path.join(REPO, "checks-output"), { recursive: true });
      out = fs.mkdtempSync(path.join(REPO, "checks-output", "e2e-"));
    });

    afterEach(async () => {
      await emulator?.close();
      emulator = undefined;
    });

    after(() => {
      if (out) fs.rmSync(out, { recursive: true, force: true });
    });

    it("runs the exact command lines: every check passes behind an auth proxy, without printing the header", async () => {
      const secret = "SECRET_e2e_proxy_value";
      emulator = await start({ mode: "success", jobMs: 50, requiredHeader: { name: "X-Proxy-Auth", value: secret } });
      const { health, vram, generate } = await deploy(
        "e2e",
        checksArgs({ comfyUrl: emulator.url, authHeader: `X-Proxy-Auth: ${secret}`, minVramGb: 8, outDir: out }),
      );

      assert.match(String(generate?.inputs.create), new RegExp(` --out checks-output/${path.basename(out)}$`));
      for (const [check, cmd] of [["health", health], ["vram", vram], ["generate", generate]] as const) {
        assert.ok(cmd);
        const run = await runRecorded(cmd);
        assert.equal(run.code, 0, `${check} exited ${run.code}:\n${run.stderr}\n${run.stdout}`);
        assert.equal(parseVerdict(run.stdout, check).ok, true);
        assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), `${check} printed the header value`);
      }
      const saved = fs.readdirSync(out);
      assert.ok(saved.some((f) => f.endsWith(".mp4")), `no video saved in --out: ${saved.join(", ")}`);
    });

    it("runs the TypeScript CLI through ts-node, as a program started from source does", async () => {
      emulator = await start({ mode: "success" });
      const cli = checksCli(path.join(REPO, "components", "checks.ts"));
      const create = shellCommand([...cli.argv, "health", "--url", emulator.url, "--timeout", "30"]);
      const run = await runRecorded({ type: COMMAND_TYPE, name: "src", custom: true, inputs: { create, dir: cli.dir } });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(parseVerdict(run.stdout, "health").ok, true);
    });

    it("fails a check with the verdict's message in what Pulumi shows (the command's output)", async () => {
      emulator = await start({ mode: "lowVram" });
      const { vram } = await deploy("e2efail", checksArgs({ comfyUrl: emulator.url, minVramGb: 24, health: false, generate: false }));
      assert.ok(vram);

      const run = await runRecorded(vram);
      assert.equal(run.code, 1);
      const verdict = parseCheckOutput(run.stdout);
      assert.equal(verdict.ok, false);
      assert.ok(verdict.message.length > 0);
      // @pulumi/command fails the step with stdout and stderr attached; the verdict's message is in there.
      assert.ok(`${run.stdout}${run.stderr}`.includes(verdict.message));
      assert.throws(() => parseVerdict(run.stdout, "vram"), /vram check failed/);
    });
  });

  it("runs the compiled CLI from dist/ and the TypeScript source through ts-node", () => {
    assert.deepEqual(checksCli("/repo/dist/components/checks.js"), { dir: "/repo", argv: ["node", "dist/checks/cli.js"] });
    assert.deepEqual(checksCli("/repo/components/checks.ts"), {
      dir: "/repo",
      argv: ["node", "-r", "ts-node/register/transpile-only", "checks/cli.ts"],
    });
  });
});
