import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, parseStackConfig, stackFields } from "../../components/config";
import { MANAGED_BUILD_ARGS, dockerBuildArgs } from "../../components/image";
import { MODEL_VARIANTS, loadModelManifest, minVramGbFor, type ModelManifest } from "../../models";
import { MockRecorder, installMocks, unwrap } from "../helpers/pulumiMocks";
import { FAKE_API_KEY, IMAGE, P, ROOT, assertKeyProblem, parseOk, problemFor, problemsOf, raw } from "../helpers/stackConfig";

describe("stack config", function () {
  this.timeout(10000);

  before(async () => {
    await installMocks(new MockRecorder());
  });

  describe("parseStackConfig", () => {
    it("applies every default to a minimal config", () => {
      const config = parseOk(raw({ "image.ref": IMAGE }));
      assert.equal(config.target, "runpod");
      assert.deepEqual(config.image, {
        ref: IMAGE,
        build: true,
        bakeModels: false,
        flashAttn: true,
        mmpose: true,
        extraBuildArgs: {},
        hfToken: undefined,
      });
      assert.deepEqual(config.model, { variant: "fp8" });
      assert.deepEqual(config.checks, {
        health: true,
        vram: true,
        generate: true,
        healthTimeoutMinutes: 45,
        generateTimeoutMinutes: 30,
        minVramGb: minVramGbFor(loadModelManifest(), "fp8"),
        workflow: "smoke",
        assetsDir: undefined,
        outDir: path.join(ROOT, "checks-output"),
        authHeader: undefined,
      });
      assert.deepEqual(config.pod, {
        gpuTypes: ["NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation", "NVIDIA A100 80GB PCIe"],
        gpuCount: 1,
        cloud: "SECURE",
        dataCenters: [],
        containerDiskGb: 60,
        volumeGb: 100,
        modelsVolume: undefined,
        networkVolumeId: undefined,
        volumeMountPath: "/workspace",
        ports: ["8188/http", "22/tcp"],
        env: {},
        readyTimeoutMinutes: 20,
        maxCostPerHour: undefined,
        deleteOnFailure: true,
        createBeforeDelete: false,
        idleStopMinutes: 0,
        maxLifetimeHours: 0,
        lifetimeAction: "stop",
        publicKey: undefined,
      });
      assert.equal(config.registry, undefined);
      assert.equal(config.hfToken, undefined);
      assert.ok(!("apiKey" in config) && !JSON.stringify(config).includes(FAKE_API_KEY), "the API key is not part of the config");
    });

    it("reads integers, booleans and lists from their JSON text", () => {
      const config = parseOk(
        raw({
          "image.ref": `ghcr.io/org/img@sha256:${"a".repeat(64)}`,
          "image.build": "false",
          "pod.gpuTypes": '["NVIDIA A100 80GB PCIe","NVIDIA L40S"]',
          "pod.gpuCount": "2",
          "pod.cloud": "COMMUNITY",
          "pod.dataCenters": '["EU-RO-1"]',
          "pod.containerDiskGb": "80",
          "pod.volumeGb": "200",
          "pod.ports": '["8188/http","22/tcp","8888/http"]',
          "pod.env": '["COMFYUI_ARGS=--lowvram --port=1","EMPTY="]',
          "pod.readyTimeoutMinutes": "45",
          "pod.deleteOnFailure": "false",
          "pod.createBeforeDelete": "true",
          "pod.maxCostPerHour": "2.5",
        }),
      );
      assert.equal(config.pod.maxCostPerHour, 2.5);
      assert.deepEqual(config.pod.gpuTypes, ["NVIDIA A100 80GB PCIe", "NVIDIA L40S"]);
      assert.equal(config.pod.gpuCount, 2);
      assert.equal(config.pod.cloud, "COMMUNITY");
      assert.equal(config.pod.volumeGb, 200);
      assert.deepEqual(config.pod.env, { COMFYUI_ARGS: "--lowvram --port=1", EMPTY: "" });
      assert.equal(config.pod.readyTimeoutMinutes, 45);
      assert.equal(config.pod.deleteOnFailure, false);
      assert.equal(config.pod.createBeforeDelete, true);
    });

    it("gives a network volume instead of the default pod volume", () => {
      const config = parseOk(raw({ "image.ref": IMAGE, "pod.networkVolumeId": "vol-abc123" }));
      assert.equal(config.pod.networkVolumeId, "vol-abc123");
      assert.equal(config.pod.volumeGb, undefined);
    });

    const badInputs: [key: string, value: string, reason: RegExp][] = [
      ["local.port", "0", /out of range/],
      ["local.volumeName", "my volume", /not a Docker volume name/],
      ["local.readyTimeoutMinutes", "soon", /not a whole number/],
      ["target", "aws", /unknown target/],
      ["image.ref", "http://ghcr.io/org/img:1", /URL/],
      ["image.ref", "ghcr.io/org/img :1", /whitespace/],
      ["image.ref", "repo@sha256:abc", /digest/],
      ["image.ref", "Not/An/Image!", /not an image reference/],
      ["pod.gpuTypes", "[]", /empty/],
      ["pod.gpuTypes", "NVIDIA L40S", /not a list/],
      ["pod.gpuTypes", '["NVIDIA L40S","NVIDIA L40S"]', /more than once/],
      ["pod.gpuCount", "two", /not a whole number/],
      ["pod.gpuCount", "9", /out of range/],
      ["pod.cloud", "PRIVATE", /unknown cloud/],
      ["pod.dataCenters", '["EU RO 1"]', /whitespace/],
      ["pod.containerDiskGb", "10", /out of range/],
      ["pod.volumeGb", "5", /out of range/],
      ["pod.volumeMountPath", "workspace", /absolute/],
      ["pod.ports", '["8188/http","22/udp"]', /<port>\/http or <port>\/tcp/],
      ["pod.ports", '["8188/http","70000/tcp"]', /outside 1-65535/],
      ["pod.ports", '["22/tcp"]', /8188\/http is missing: ComfyUI is reached through it/],
      ["pod.ports", '["8188/http","8188/tcp"]', /more than once/],
      ["pod.env", '["NOVALUE"]', /not KEY=VALUE/],
      ["pod.env", '["1BAD=x"]', /not a valid env name/],
      ["pod.env", '["A=1","A=2"]', /A is set more than once/],
      ["pod.env", '["HF_HOME=/workspace/hf","HF_TOKEN"]', /not KEY=VALUE/],
      ["pod.readyTimeoutMinutes", "0", /out of range/],
      ["pod.maxCostPerHour", "cheap", /not a number/],
      ["pod.maxCostPerHour", "0", /out of range/],
      ["pod.deleteOnFailure", "yes", /not true or false/],
      ["pod.createBeforeDelete", "1", /not true or false/],
      ["pod.env", '["STEADYDANCER_VARIANT=fp16"]', /STEADYDANCER_VARIANT is reserved.*model\.variant/],
      ["image.build", "yes", /not true or false/],
      ["image.bakeModels", "1", /not true or false/],
      ["image.flashAttn", "on", /not true or false/],
      ["image.mmpose", "no", /not true or false/],
      ["image.buildArgs", "COMFYUI_VERSION=v1", /not a list/],
      ["image.buildArgs", '["COMFYUI_VERSION"]', /not KEY=VALUE/],
      ["image.buildArgs", '["1X=2"]', /not a valid build-arg name/],
      ["image.buildArgs", '["A=1","A=2"]', /A is set more than once/],
      ["image.buildArgs", '["ENABLE_MMPOSE=false"]', /ENABLE_MMPOSE is set by image\.mmpose/],
      ["image.buildArgs", '["STEADYDANCER_VARIANT=fp16"]', /STEADYDANCER_VARIANT is set by model\.variant/],
      ["image.buildArgs", '["BUILDKIT_INLINE_CACHE=0"]', /BUILDKIT_INLINE_CACHE is set by the image component/],
      ["model.variant", "int4", /unknown model variant/],
      ["checks.health", "maybe", /not true or false/],
      ["checks.vram", "0", /not true or false/],
      ["checks.generate", "off", /not true or false/],
      ["checks.healthTimeoutMinutes", "0", /out of range/],
      ["checks.generateTimeoutMinutes", "half", /not a whole number/],
      ["checks.minVramGb", "lots", /not a number/],
      ["checks.minVramGb", "0.5", /out of range/],
      ["checks.workflow", "no-such-workflow.json", /neither smoke nor steadydancer nor an existing file/],
      ["checks.assetsDir", "no/such/dir", /does not exist/],
      ["checks.outDir", "package.json", /is not a directory/],
    ];
    for (const [key, value, reason] of badInputs) {
      it(`rejects ${key} = ${value} naming the key, the value, the expected form and a fix`, () => {
        assertKeyProblem(problemsOf(raw({ "image.ref": IMAGE, [key]: value })), key, value, reason);
      });
    }

    it("reports every problem at once", () => {
      const problems = problemsOf(
        raw(
          {
            "pod.gpuCount": "two",
            "pod.cloud": "PRIVATE",
            "pod.ports": '["22/tcp"]',
            "pod.deleteOnFailure": "yes",
            "pod.volumeGb": "20",
            "pod.networkVolumeId": "vol-1",
            "registry.username": "bot",
            "pod.gpucount": "2",
          },
          { env: {} },
        ),
      );
      for (const label of [
        `${P}image.ref`,
        `${P}pod.gpuCount`,
        `${P}pod.cloud`,
        `${P}pod.ports`,
        `${P}pod.deleteOnFailure`,
        `${P}pod.networkVolumeId`,
        `${P}registry.password`,
        `${P}pod.gpucount`,
        "runpod:apiKey",
      ]) {
        problemFor(problems, label);
      }
      assert.equal(problems.length, 9, problems.join("\n"));
    });

    it("names unknown keys in the project namespace and suggests the intended one", () => {
      const problems = problemsOf(raw({ "image.ref": IMAGE, "pod.gpucount": "2", gpuTypes: "[]", "totally.unrelated": "x" }));
      assert.match(problemFor(problems, `${P}pod.gpucount`), /unknown key \(did you mean pod\.gpuCount\?\).*pulumi config rm pod\.gpucount/);
      assert.match(problemFor(problems, `${P}gpuTypes`), /did you mean pod\.gpuTypes\?/);
      assert.match(problemFor(problems, `${P}totally.unrelated`), /unknown key\./);
      // Other namespaces belong to providers and Pulumi itself.
      parseOk(raw({ "image.ref": IMAGE, "aws:region": "eu-west-1", "runpod:somethingElse": "x" }));
    });

    it("never prints secret values", () => {
      const secrets = {
        hf: "hf_SECRET_TOKEN_value_111",
        password: "SECRET_registry_password_222",
        oddSecret: "SECRET_in_a_secret_key_333",
      };
      const problems = problemsOf(
        raw(
          {
            "image.ref": IMAGE,
            hfToken: secrets.hf, // stored in plaintext: a problem, but the value stays hidden
            "registry.password": secrets.password, // without a username
            "pod.gpuCount": secrets.oddSecret, // an odd key marked secret
            "pod.env": `["LEAK=${FAKE_API_KEY}"]`, // the API key must not reach the pod
          },
          { secretKeys: [`${P}registry.password`, `${P}pod.gpuCount`] },
        ),
      );
      const text = problems.join("\n");
      for (const s of [...Object.values(secrets), FAKE_API_KEY]) assert.ok(!text.includes(s), `a problem shows ${s}:\n${text}`);
      assert.match(problemFor(problems, `${P}hfToken`), /= \[secret\]: is stored in plaintext.*pulumi config set --secret hfToken/);
      assert.match(problemFor(problems, `${P}pod.gpuCount`), /= \[secret\]: not a whole number/);
      assert.match(problemFor(problems, `${P}pod.env`), /LEAK carries the RunPod API key/);
    });

    it("never echoes a credential typed into pod.env, by name or by token shape", () => {
      const values = {
        hf: "hf_abcdefghijklmnopqrstuvwxyz0123456789",
        runpod: "rpa_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        pat: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        named: "plain-looking-but-named-a-password",
      };
      for (const env of [
        `["HF_TOKEN=${values.hf}"]`,
        `["RUNPOD_API_KEY=${values.runpod}"]`,
        `["HF_AUTH=${values.hf}","GITHUB_PAT=${values.pat}"]`,
        `["NOTE=${values.pat}","1BAD=x"]`,
        `["DB_PASSWORD=${values.named}","NOVALUE"]`,
        `["${values.hf}"]`,
      ]) {
        const problems = problemsOf(raw({ "image.ref": IMAGE, "pod.env": env }));
        const text = problems.join("\n");
        for (const v of Object.values(values)) assert.ok(!text.includes(v), `a problem shows ${v}:\n${text}`);
        assert.ok(problemFor(problems, `${P}pod.env`).includes("[secret]"), text);
      }
      const reserved = problemsOf(raw({ "image.ref": IMAGE, "pod.env": `["HF_TOKEN=${values.hf}","COMFYUI_AUTH_TOKEN=abc"]` }));
      assert.match(problemFor(reserved, `${P}pod.env`), /HF_TOKEN is reserved.*hfToken[\s\S]*COMFYUI_AUTH_TOKEN is reserved.*comfyToken/);
    });

    it("refuses credentials in a plaintext pod.env, and keeps every value of a secret pod.env secret", async () => {
      const env = '["HF_AUTH=hunter2-but-longer","COMFYUI_ARGS=--lowvram"]';
      const plaintext = problemsOf(raw({ "image.ref": IMAGE, "pod.env": env }));
      assert.match(problemFor(plaintext, `${P}pod.env`), /HF_AUTH looks like a credential, and pod\.env is stored in plaintext.*Fix: pulumi config set --secret pod\.env/);
      assert.ok(!plaintext.join("\n").includes("hunter2"), plaintext.join("\n"));
      // Flags are not credentials.
      parseOk(raw({ "image.ref": IMAGE, "pod.env": '["HF_HUB_DISABLE_TOKEN=1","COMFYUI_ARGS=--lowvram"]' }));

      const config = parseOk(raw({ "image.ref": IMAGE, "pod.env": env }, { secretKeys: [`${P}pod.env`] }));
      for (const [name, value] of Object.entries(config.pod.env)) {
        assert.ok(await pulumi.isSecret(pulumi.output(value)), `${name} must be a secret Output`);
      }
      assert.equal(await unwrap(pulumi.output(config.pod.env.HF_AUTH ?? "")), "hunter2-but-longer");
      const open = parseOk(raw({ "image.ref": IMAGE, "pod.env": '["COMFYUI_ARGS=--lowvram"]' }));
      assert.equal(open.pod.env.COMFYUI_ARGS, "--lowvram", "a plaintext pod.env stays plain, readable in diffs");
    });

    it("refuses a key stored as a secret that the program could not keep secret", () => {
      const problems = problemsOf(
        raw(
          { "image.ref": IMAGE, "pod.gpuCount": "2", "image.buildArgs": '["COMFYUI_VERSION=v0.7.9"]', "registry.username": "bot", "registry.password": "pw-1234" },
          { secretKeys: [`${P}pod.gpuCount`, `${P}image.buildArgs`, `${P}registry.username`, `${P}registry.password`] },
        ),
      );
      assert.match(problemFor(problems, `${P}pod.gpuCount`), /= \[secret\]: is stored as a secret, but its value reaches resource inputs and state as plain text.*without --secret/);
      assert.match(problemFor(problems, `${P}image.buildArgs`), /build args are written into the image's history/);
      assert.equal(problems.filter((p) => p.startsWith(`${P}registry.username`)).length, 0, "registry.username may be secret");
      assert.ok(!problems.join("\n").includes("v0.7.9"), problems.join("\n"));
    });

    it("takes registry credentials together or not at all", async () => {
      const both = parseOk(
        raw({ "image.ref": IMAGE, "registry.username": "bot", "registry.password": "pw-1234" }, { secretKeys: [`${P}registry.password`] }),
      );
      assert.equal(both.registry?.username, "bot");
      assert.ok(both.registry && (await pulumi.isSecret(both.registry.password)), "the password is a secret Output");
      assert.equal(both.registry && (await unwrap(both.registry.password)), "pw-1234");

      assert.equal(parseOk(raw({ "image.ref": IMAGE })).registry, undefined);

      const onlyUser = problemsOf(raw({ "image.ref": IMAGE, "registry.username": "bot" }));
      assert.match(problemFor(onlyUser, `${P}registry.password`), /is not set: .*both or neither.*pulumi config set --secret registry\.password/);
      const onlyPassword = problemsOf(
        raw({ "image.ref": IMAGE, "registry.password": "pw-1234" }, { secretKeys: [`${P}registry.password`] }),
      );
      assert.match(problemFor(onlyPassword, `${P}registry.username`), /is not set: .*both or neither/);
    });

    it("exposes the HF token only as a secret Output", async () => {
      const config = parseOk(raw({ "image.ref": IMAGE, hfToken: "hf_tok_4567" }, { secretKeys: [`${P}hfToken`] }));
      assert.ok(config.hfToken && (await pulumi.isSecret(config.hfToken)));
      assert.equal(config.hfToken && (await unwrap(config.hfToken)), "hf_tok_4567");
    });

    it("target local needs no RunPod API key and gives the local container's settings", () => {
      const config = parseOk(raw({ "image.ref": IMAGE, target: "local" }, { env: {} }));
      assert.equal(config.target, "local");
      assert.deepEqual(config.local, { port: 8188, volumeName: undefined, readyTimeoutMinutes: 45 });
      assert.deepEqual(config.ignoredKeys, []);
      const custom = parseOk(
        raw({ "image.ref": IMAGE, target: "local", "local.port": "18188", "local.volumeName": "sd-models" }, { env: {} }),
      );
      assert.deepEqual(custom.local, { port: 18188, volumeName: "sd-models", readyTimeoutMinutes: 45 });
      assert.match(problemFor(problemsOf(raw({ "image.ref": IMAGE, target: "runpod" }, { env: {} })), "runpod:apiKey"), /required for target runpod/);
    });

    it("names the other target's keys that are set but unused, and never pod.env or pod.volumeMountPath", () => {
      const local = parseOk(
        raw(
          {
            "image.ref": IMAGE,
            target: "local",
            "pod.gpuCount": "2",
            "pod.networkVolumeId": "vol-1",
            "pod.cloud": "SECURE",
            "pod.env": '["COMFYUI_ARGS=--lowvram"]',
            "pod.volumeMountPath": "/data",
          },
          { env: {} },
        ),
      );
      assert.deepEqual(local.ignoredKeys, ["pod.gpuCount", "pod.networkVolumeId"], "pod.cloud is at its default: not named");
      assert.deepEqual(local.pod.env, { COMFYUI_ARGS: "--lowvram" });
      const pod = parseOk(raw({ "image.ref": IMAGE, "local.port": "9000", "local.readyTimeoutMinutes": "45" }));
      assert.deepEqual(pod.ignoredKeys, ["local.port"]);
    });

    it("rejects a pod volume together with a network volume, and a network volume on COMMUNITY cloud", () => {
      const problems = problemsOf(
        raw({ "image.ref": IMAGE, "pod.volumeGb": "50", "pod.networkVolumeId": "vol-1", "pod.cloud": "COMMUNITY" }),
      );
      assert.match(problemFor(problems, `${P}pod.networkVolumeId`), /either pod\.volumeGb .* or pod\.networkVolumeId .*not both/);
      assert.match(problemFor(problems, `${P}pod.cloud`), /SECURE cloud pods only/);
    });

    it("requires a RunPod API key from config or environment", () => {
      const none = problemsOf(raw({ "image.ref": IMAGE }, { env: {} }));
      assert.match(problemFor(none, "runpod:apiKey"), /is not set: .*RUNPOD_API_KEY.*pulumi config set --secret runpod:apiKey/);
      assert.equal(none.length, 1);

      parseOk(raw({ "image.ref": IMAGE }, { env: { RUNPOD_API_KEY: FAKE_API_KEY } }));
      parseOk(raw({ "image.ref": IMAGE, "runpod:apiKey": FAKE_API_KEY }, { env: {}, secretKeys: ["runpod:apiKey"] }));

      const plaintext = problemsOf(raw({ "image.ref": IMAGE, "runpod:apiKey": FAKE_API_KEY }, { env: {} }));
      assert.match(problemFor(plaintext, "runpod:apiKey"), /= \[secret\]: is stored in plaintext/);
      assert.ok(!plaintext.join("\n").includes(FAKE_API_KEY));
    });

    it("requires runpod:apiUrl (or RUNPOD_API_URL), when set, to be an http(s) URL", () => {
      parseOk(raw({ "image.ref": IMAGE, "runpod:apiUrl": "http://127.0.0.1:8080/v2" }));
      parseOk(raw({ "image.ref": IMAGE }, { env: { RUNPOD_API_KEY: FAKE_API_KEY, RUNPOD_API_URL: "https://api.runpod.io/v2" } }));
      for (const bad of ["ftp://api.runpod.io", "api.runpod.io/v2", "https://"]) {
        const problems = problemsOf(raw({ "image.ref": IMAGE, "runpod:apiUrl": bad }));
        assert.match(problemFor(problems, "runpod:apiUrl"), /not an http\(s\) URL/);
      }
      const fromEnv = problemsOf(raw({ "image.ref": IMAGE }, { env: { RUNPOD_API_KEY: FAKE_API_KEY, RUNPOD_API_URL: "localhost" } }));
      assert.match(problemFor(fromEnv, "RUNPOD_API_URL (environment)"), /= "localhost": is not an http\(s\) URL/);
    });
  });

  describe("image, model and checks keys", () => {
    let tmp: string;

    before(() => {
      tmp = mkdtempSync(path.join(os.tmpdir(), "config-test-"));
    });

    after(() => rmSync(tmp, { recursive: true, force: true }));

    it("refuses to build into a digest reference, but deploys one prebuilt", () => {
      const digestRef = `ghcr.io/org/img@sha256:${"b".repeat(64)}`;
      const problem = problemFor(problemsOf(raw({ "image.ref": digestRef })), `${P}image.ref`);
      assert.match(problem, /cannot push to a digest/);
      assert.match(problem, /Fix: pulumi config set image\.ref .*pulumi config set image\.build false/);
      const prebuilt = parseOk(raw({ "image.ref": digestRef, "image.build": "false" }));
      assert.equal(prebuilt.image.build, false);
      assert.equal(prebuilt.image.ref, digestRef);
    });

    it("rejects build-only settings when nothing is built", () => {
      const problems = problemsOf(
        raw({ "image.ref": IMAGE, "image.build": "false", "image.bakeModels": "true", "image.buildArgs": '["COMFYUI_VERSION=v1"]' }),
      );
      assert.match(problemFor(problems, `${P}image.bakeModels`), /needs image\.build true.*Fix: pulumi config set image\.build true/);
      assert.match(problemFor(problems, `${P}image.buildArgs`), /needs image\.build true/);
      assert.equal(problems.length, 2, problems.join("\n"));
    });

    it("reads the build switches and the extra build args", () => {
      const config = parseOk(
        raw({
          "image.ref": IMAGE,
          "image.bakeModels": "true",
          "image.flashAttn": "false",
          "image.mmpose": "false",
          "image.buildArgs": '["COMFYUI_VERSION=v0.3.75","WANVIDEOWRAPPER_REF=abc=def"]',
          "model.variant": "fp16",
        }),
      );
      assert.equal(config.image.bakeModels, true);
      assert.equal(config.image.flashAttn, false);
      assert.equal(config.image.mmpose, false);
      assert.deepEqual(config.image.extraBuildArgs, { COMFYUI_VERSION: "v0.3.75", WANVIDEOWRAPPER_REF: "abc=def" });
      assert.equal(config.model.variant, "fp16");
    });

    it("keeps credentials out of build args, by name or by shape, without printing the value given", () => {
      const leaked = "VALUE_typed_into_buildArgs_999";
      for (const name of ["HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "registry_password", "API_KEY", "HF_AUTH", "GITHUB_PAT", "DB_PASS"]) {
        const problems = problemsOf(raw({ "image.ref": IMAGE, "image.buildArgs": `["${name}=${leaked}"]` }));
        const problem = problemFor(problems, `${P}image.buildArgs`);
        assert.match(problem, new RegExp(`${name} looks like a credential: build args persist in the image's history`));
        assert.match(problem, /Fix: .*pulumi config set --secret hfToken/);
        assert.ok(!problems.join("\n").includes(leaked), `the value is shown:\n${problems.join("\n")}`);
      }
      // Innocent names carrying a known token shape: the value gives them away.
      for (const [value, what] of [
        ["hf_abcdefghijklmnopqrstuvwxyz0123456789", "a Hugging Face token"],
        ["ghp_abcdefghijklmnopqrstuvwxyz0123456789", "a GitHub token"],
        ["rpa_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "a RunPod API key"],
        ["https://bot:s3cr3t-pw@git.example.com/repo.git", "a password in a URL"],
      ]) {
        const problems = problemsOf(raw({ "image.ref": IMAGE, "image.buildArgs": `["COMFYUI_VERSION=${value}"]` }));
        assert.match(problemFor(problems, `${P}image.buildArgs`), new RegExp(`COMFYUI_VERSION holds what looks like ${what}`));
        assert.ok(!problems.join("\n").includes(value.includes("@") ? "s3cr3t-pw" : value), problems.join("\n"));
      }
    });

    it("refuses a build arg docker/Dockerfile does not declare, naming the close one it declares", () => {
      const problems = problemsOf(raw({ "image.ref": IMAGE, "image.buildArgs": '["COMFYUI_VERSON=v0.8.1"]' }));
      const problem = problemFor(problems, `${P}image.buildArgs`);
      assert.match(problem, /COMFYUI_VERSON is not declared by an ARG in docker\/Dockerfile, so the build would silently ignore it \(did you mean COMFYUI_VERSION\?\)/);
      assert.match(problem, /declares .*KJNODES_REF/);
      // Declared ones and Docker's predefined proxy args pass; the Dockerfile is read, not a list kept here.
      parseOk(raw({ "image.ref": IMAGE, "image.buildArgs": '["COMFYUI_VERSION=v0.8.1","KJNODES_REF=abc","HTTPS_PROXY=http://proxy:3128"]' }));
      const dir = mkdtempSync(path.join(os.tmpdir(), "dockerfile-args-"));
      const dockerfile = path.join(dir, "Dockerfile");
      writeFileSync(dockerfile, "ARG BASE=ubuntu\nFROM ${BASE}\nARG ONE=1 \\\n    TWO\n");
      try {
        parseOk(raw({ "image.ref": IMAGE, "image.buildArgs": '["ONE=x","TWO=y","BASE=debian"]' }, { dockerfile }));
        const other = problemsOf(raw({ "image.ref": IMAGE, "image.buildArgs": '["COMFYUI_VERSION=v1"]' }, { dockerfile }));
        assert.match(problemFor(other, `${P}image.buildArgs`), /COMFYUI_VERSION is not declared.*declares BASE, ONE, TWO/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("hands the HF token to the image build only when models are baked, and always as a secret", async () => {
      const secretKeys = [`${P}hfToken`];
      const baking = parseOk(raw({ "image.ref": IMAGE, "image.bakeModels": "true", hfToken: "hf_bake_1234" }, { secretKeys }));
      assert.ok(baking.image.hfToken && (await pulumi.isSecret(baking.image.hfToken)), "a secret Output");
      assert.equal(baking.image.hfToken && (await unwrap(baking.image.hfToken)), "hf_bake_1234");
      const notBaking = parseOk(raw({ "image.ref": IMAGE, hfToken: "hf_bake_1234" }, { secretKeys }));
      assert.equal(notBaking.image.hfToken, undefined, "a runtime-download image gets no token at build time");
      assert.ok(notBaking.hfToken, "the pod still gets it");
      parseOk(raw({ "image.ref": IMAGE, "image.bakeModels": "true" })); // public weights need no token
    });

    it("defaults checks.minVramGb to the manifest's minimum of model.variant", () => {
      const manifest = loadModelManifest();
      for (const variant of MODEL_VARIANTS) {
        const config = parseOk(raw({ "image.ref": IMAGE, "model.variant": variant }));
        assert.equal(config.checks.minVramGb, minVramGbFor(manifest, variant), variant);
      }
      const custom: ModelManifest = {
        ...manifest,
        variants: { ...manifest.variants, fp16: { ...manifest.variants.fp16, minVramGb: 77 } },
      };
      assert.equal(parseOk(raw({ "image.ref": IMAGE, "model.variant": "fp16" }, { manifest: custom })).checks.minVramGb, 77);
      assert.equal(parseOk(raw({ "image.ref": IMAGE, "checks.minVramGb": "20.5" })).checks.minVramGb, 20.5);
    });

    it("says so when the manifest needed for the VRAM default cannot be read", () => {
      const broken = {} as ModelManifest; // a manifest without variants: minVramGbFor throws
      const problem = problemFor(problemsOf(raw({ "image.ref": IMAGE }, { manifest: broken })), `${P}checks.minVramGb`);
      assert.match(problem, /is not set: has no default: the model manifest cannot be read/);
      assert.match(problem, /Fix: pulumi config set checks\.minVramGb 24/);
      parseOk(raw({ "image.ref": IMAGE, "checks.minVramGb": "24" }, { manifest: broken }));
    });

    it("reads the check switches and timeouts", () => {
      const config = parseOk(
        raw({
          "image.ref": IMAGE,
          "checks.health": "false",
          "checks.vram": "true",
          "checks.generate": "false",
          "checks.healthTimeoutMinutes": "60",
          "checks.generateTimeoutMinutes": "90",
          "checks.workflow": "steadydancer",
        }),
      );
      assert.deepEqual(
        [config.checks.health, config.checks.vram, config.checks.generate, config.checks.healthTimeoutMinutes, config.checks.generateTimeoutMinutes],
        [false, true, false, 60, 90],
      );
      assert.equal(config.checks.workflow, "steadydancer");
    });

    it("refuses exactly the build args ComfyImage refuses, with config's own messages", () => {
      const base = { flashAttn: true, mmpose: true, bakeModels: false, modelVariant: "fp8" as const };
      for (const name of [...MANAGED_BUILD_ARGS, "HF_TOKEN", "MY_SECRET", "API_KEY", "DB_PASSWORD", "COMFYUI_VERSION", "KJNODES_REF"]) {
        const image = (() => {
          try {
            dockerBuildArgs({ ...base, extraBuildArgs: { [name]: "x" } });
            return "accepted";
          } catch {
            return "refused";
          }
        })();
        const config = parseStackConfig(raw({ "image.ref": IMAGE, "image.buildArgs": JSON.stringify([`${name}=x`]) })).ok ? "accepted" : "refused";
        assert.equal(config, image, `${name}: config ${config}, ComfyImage ${image}`);
      }
    });

    it("resolves a workflow file, assets and output folder against the project directory, and checks them", () => {
      mkdirSync(path.join(tmp, "assets"));
      writeFileSync(path.join(tmp, "mine.json"), JSON.stringify({ "1": { class_type: "EmptyImage", inputs: {} } }));
      writeFileSync(path.join(tmp, "broken.json"), "{ not json");
      writeFileSync(path.join(tmp, "list.json"), "[]");
      const config = parseOk(
        raw({ "image.ref": IMAGE, "checks.workflow": "mine.json", "checks.assetsDir": "assets", "checks.outDir": "out/videos" }, { cwd: tmp }),
      );
      assert.equal(config.checks.workflow, path.join(tmp, "mine.json"));
      assert.equal(config.checks.assetsDir, path.join(tmp, "assets"));
      assert.equal(config.checks.outDir, path.join(tmp, "out/videos"));

      const problem = (workflow: string) =>
        problemFor(problemsOf(raw({ "image.ref": IMAGE, "checks.workflow": workflow }, { cwd: tmp })), `${P}checks.workflow`);
      assert.match(problem("broken.json"), /broken\.json is not valid JSON/);
      assert.match(problem("list.json"), /does not hold a JSON object/);
      assert.match(problem("assets"), /assets is not a file/);
      assert.match(problem("missing.json"), new RegExp(`looked for ${path.join(tmp, "missing.json").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      assert.match(problem("missing.json"), /Fix: pulumi config set checks\.workflow smoke/);
    });

    it("refuses, before anything is paid for, a generate check whose workflow's input files are not in the assets folder", () => {
      // The built-in steadydancer workflow loads steadydancer_ref.png and steadydancer_drive.mp4 from docker/workflows/assets.
      const builtin = problemFor(problemsOf(raw({ "image.ref": IMAGE, "checks.workflow": "steadydancer" })), `${P}checks.assetsDir`);
      assert.match(builtin, /steadydancer_ref\.png .*steadydancer_drive\.mp4/);
      assert.ok(builtin.includes(path.join(ROOT, "docker", "workflows", "assets")), builtin);
      assert.match(builtin, /Fix: put the files in .*pulumi config set checks\.assetsDir .*pulumi config set checks\.workflow smoke/);
      // Only the generate check reads them.
      parseOk(raw({ "image.ref": IMAGE, "checks.workflow": "steadydancer", "checks.generate": "false" }));

      const dir = path.join(tmp, "dance");
      mkdirSync(path.join(dir, "inputs"), { recursive: true });
      const workflow = { "1": { class_type: "LoadImage", inputs: { image: "me.png" } }, "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } } };
      writeFileSync(path.join(dir, "dance.json"), JSON.stringify(workflow));
      const file = problemFor(
        problemsOf(raw({ "image.ref": IMAGE, "checks.workflow": "dance/dance.json", "checks.assetsDir": "dance/inputs" }, { cwd: tmp })),
        `${P}checks.assetsDir`,
      );
      assert.match(file, /checks\.assetsDir = "dance\/inputs": .*me\.png \(node 1 LoadImage\.image\).* not in /);
      writeFileSync(path.join(dir, "inputs", "me.png"), "png");
      parseOk(raw({ "image.ref": IMAGE, "checks.workflow": "dance/dance.json", "checks.assetsDir": "dance/inputs" }, { cwd: tmp }));
      // Without checks.assetsDir the CLI looks next to the workflow, in assets/.
      assert.match(problemFor(problemsOf(raw({ "image.ref": IMAGE, "checks.workflow": "dance/dance.json" }, { cwd: tmp })), `${P}checks.assetsDir`), /is not set: .*me\.png/);
      mkdirSync(path.join(dir, "assets"));
      writeFileSync(path.join(dir, "assets", "me.png"), "png");
      parseOk(raw({ "image.ref": IMAGE, "checks.workflow": "dance/dance.json" }, { cwd: tmp }));
    });

    it("refuses a workflow file the generate check cannot run, under checks.workflow", () => {
      writeFileSync(path.join(tmp, "ui.json"), JSON.stringify({ nodes: [], links: [] }));
      const problems = problemsOf(raw({ "image.ref": IMAGE, "checks.workflow": "ui.json" }, { cwd: tmp }));
      assert.match(problemFor(problems, `${P}checks.workflow`), /editor's UI format.*Fix: pulumi config set checks\.workflow smoke/);
      // A folder that does not exist is reported once, as such, not as missing input files too.
      const badDir = problemsOf(raw({ "image.ref": IMAGE, "checks.workflow": "steadydancer", "checks.assetsDir": "nope" }, { cwd: tmp }));
      assert.equal(badDir.length, 1, badDir.join("\n"));
      assert.match(badDir[0] ?? "", /does not exist/);
    });

    it("takes checks.authHeader only as a secret header line, never printing it", async () => {
      const header = "Authorization: Bearer SECRET_proxy_token_777";
      const secretKeys = [`${P}checks.authHeader`];
      const own = { "image.ref": IMAGE, "comfy.auth": "false" };
      const config = parseOk(raw({ ...own, "checks.authHeader": header }, { secretKeys }));
      assert.ok(config.checks.authHeader && (await pulumi.isSecret(config.checks.authHeader)));
      assert.equal(config.checks.authHeader && (await unwrap(config.checks.authHeader)), header);

      const withToken = problemsOf(raw({ "image.ref": IMAGE, "checks.authHeader": header }, { secretKeys }));
      assert.match(problemFor(withToken, `${P}checks.authHeader`), /with comfy\.auth true the checks send the stack's own token/);
      const plaintext = problemsOf(raw({ ...own, "checks.authHeader": header }));
      assert.match(problemFor(plaintext, `${P}checks.authHeader`), /= \[secret\]: is stored in plaintext.*pulumi config set --secret checks\.authHeader/);
      for (const bad of ["Bearer SECRET_no_name_777", "Authorization:", "X-Auth: a\r\nInjected: SECRET_b"]) {
        const problems = problemsOf(raw({ ...own, "checks.authHeader": bad }, { secretKeys }));
        assert.match(problemFor(problems, `${P}checks.authHeader`), /= \[secret\]: is not one "Name: value" header line/);
        assert.ok(!problems.join("\n").includes("SECRET_"), problems.join("\n"));
      }
      assert.ok(!plaintext.join("\n").includes("SECRET_proxy_token_777"));
    });
  });

  describe("loadStackConfig", () => {
    let savedEnv: { key?: string | undefined; url?: string | undefined };

    before(() => {
      savedEnv = { key: process.env.RUNPOD_API_KEY, url: process.env.RUNPOD_API_URL };
      delete process.env.RUNPOD_API_KEY;
      delete process.env.RUNPOD_API_URL;
    });

    after(() => {
      for (const [name, value] of [
        ["RUNPOD_API_KEY", savedEnv.key],
        ["RUNPOD_API_URL", savedEnv.url],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      pulumi.runtime.setAllConfig({});
    });

    it("warns once, naming the keys the chosen target does not use", () => {
      pulumi.runtime.setAllConfig({ [`${P}image.ref`]: IMAGE, [`${P}target`]: "local", [`${P}pod.gpuCount`]: "2" }, []);
      const warnings: string[] = [];
      const warn = pulumi.log.warn;
      pulumi.log.warn = (message: string) => {
        warnings.push(message);
        return Promise.resolve();
      };
      try {
        assert.equal(loadStackConfig().target, "local");
      } finally {
        pulumi.log.warn = warn;
      }
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] ?? "", /target local does not use pod\.gpuCount; .*pulumi config rm/);
    });

    it("reads the live config, honouring which keys are secret", async () => {
      pulumi.runtime.setAllConfig(
        { [`${P}image.ref`]: IMAGE, [`${P}pod.gpuCount`]: "2", [`${P}hfToken`]: "hf_live_token", "runpod:apiKey": FAKE_API_KEY },
        [`${P}hfToken`, "runpod:apiKey"],
      );
      const config = loadStackConfig();
      assert.equal(config.pod.gpuCount, 2);
      assert.equal(config.hfToken && (await unwrap(config.hfToken)), "hf_live_token");
    });

    it("falls back to RUNPOD_API_KEY from the environment", () => {
      pulumi.runtime.setAllConfig({ [`${P}image.ref`]: IMAGE });
      assert.throws(() => loadStackConfig({}), /runpod:apiKey is not set/);
      assert.equal(loadStackConfig({ RUNPOD_API_KEY: FAKE_API_KEY }).image.ref, IMAGE);
    });

    it("throws one RunError listing every problem", () => {
      pulumi.runtime.setAllConfig({ [`${P}pod.gpuCount`]: "two", [`${P}pod.cloud`]: "PRIVATE" });
      assert.throws(
        () => loadStackConfig({}),
        (err: unknown) => {
          assert.ok(pulumi.RunError.isInstance(err), "a RunError, shown without a stack trace");
          const message = err.message;
          assert.match(message, /4 problems/);
          for (const key of [`${P}image.ref`, `${P}pod.gpuCount`, `${P}pod.cloud`, "runpod:apiKey"]) {
            assert.ok(message.includes(`  - ${key} `), `${key} missing from:\n${message}`);
          }
          return true;
        },
      );
    });
  });

  describe("project files", () => {
    const fields = stackFields();
    const projectKeys = Object.keys(fields).filter((k) => !k.includes(":"));

    it("Pulumi.yaml declares the undotted project keys that have a default or are required, and no dotted key", () => {
      // The CLI looks a declared dotted key up as a path (image.ref = field ref of key image), so it never finds
      // the flat keys `pulumi config set image.ref …` writes: a required one stops every preview, a defaulted one
      // is injected as a nested object the program rejects (found by the real-engine suite, test/integration).
      const text = readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
      const declared = projectDeclarations(text);
      const required = projectKeys.filter((k) => !fields[k as keyof typeof fields].info.optional);
      assert.deepEqual([...declared.keys()].sort(), required.filter((k) => !k.includes(".")).sort());
      for (const key of required.filter((k) => k.includes("."))) {
        assert.ok(text.includes(`#   ${key} (`), `Pulumi.yaml documents ${key} in its comments`);
      }
      for (const [key, decl] of declared) {
        assert.equal(decl.type, fields[key as keyof typeof fields].info.type, `type of ${key}`);
      }
    });

    it("Pulumi.yaml's defaults give the same config as the schema's defaults", () => {
      const declared = projectDeclarations(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
      // The engine hands defaults to the program as text: strings as is, the rest as JSON.
      const defaults = Object.fromEntries(
        [...declared]
          .filter(([, d]) => d.default !== undefined)
          .map(([k, d]) => [k, typeof d.default === "string" ? d.default : JSON.stringify(d.default)]),
      );
      assert.deepEqual(parseOk(raw({ ...defaults, "image.ref": IMAGE })), parseOk(raw({ "image.ref": IMAGE })));
      const local = parseOk(raw({ ...defaults, "image.ref": IMAGE, target: "local" }));
      assert.deepEqual(local.ignoredKeys, [], "Pulumi.yaml's defaults of the pod keys are not reported as unused");
    });

    it("Pulumi.dev.yaml is a valid stack config without secrets", () => {
      const values = stackValues(readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
      assert.ok(values[`${P}image.ref`], "the example sets image.ref");
      assert.ok(!Object.keys(values).some((k) => /password|token|apiKey/i.test(k)), "no secrets in the example");
      parseOk({ values, secretKeys: [], env: { RUNPOD_API_KEY: FAKE_API_KEY } });
    });
  });
});

// Both project files keep their values in JSON-compatible flow style, so a line reader is enough here.
function projectDeclarations(text: string): Map<string, { type?: string; default?: unknown }> {
  const decls = new Map<string, { type?: string; default?: unknown }>();
  let inConfig = false;
  let current: { type?: string; default?: unknown } | undefined;
  for (const line of text.split("\n")) {
    if (/^\s*(#|$)/.test(line)) continue;
    if (/^\S/.test(line)) {
      inConfig = line.startsWith("config:");
      continue;
    }
    const key = inConfig ? /^ {2}([\w.:]+):\s*$/.exec(line) : null;
    if (key?.[1]) decls.set(key[1], (current = {}));
    const prop = inConfig ? /^ {4}(type|default):\s*(.+)$/.exec(line) : null;
    if (prop && current) {
      if (prop[1] === "type") current.type = prop[2];
      else current.default = JSON.parse(prop[2] ?? "null");
    }
  }
  return decls;
}

function stackValues(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const match of text.matchAll(/^ {2}([\w.-]+:[\w.]+):\s*(.+)$/gm)) {
    const [, key, value] = match;
    if (!key || value === undefined) continue;
    const parsed: unknown = JSON.parse(value);
    values[key] = typeof parsed === "string" ? parsed : JSON.stringify(parsed);
  }
  return values;
}
