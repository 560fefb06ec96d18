// Every shell script of the image passes shellcheck at style severity with every optional check enabled.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const SCRIPTS = path.resolve(__dirname, "../../../docker/scripts");

interface Finding { file: string; line: number; column: number; level: string; code: number; message: string }

describe("docker/scripts/*.sh under shellcheck", function () {
  this.timeout(20000);
  const scripts = fs.existsSync(SCRIPTS)
    ? fs.readdirSync(SCRIPTS).filter((n) => n.endsWith(".sh")).sort().map((n) => path.join(SCRIPTS, n))
    : [];

  before(function () {
    if (spawnSync("shellcheck", ["--version"]).status !== 0) {
      if (process.env.CI) throw new Error("shellcheck is not installed (.ci/run installs it)");
      this.skip(); // visibly pending: shellcheck is not installed here
    }
  });

  it("finds the scripts the image needs", () => {
    for (const name of ["download-models.sh", "start.sh"]) {
      assert.ok(scripts.some((s) => path.basename(s) === name), `${name} missing from docker/scripts`);
    }
  });

  it("reports zero findings (severity style, all optional checks)", () => {
    const r = spawnSync("shellcheck", ["--severity=style", "--enable=all", "--format=json", ...scripts], { encoding: "utf8" });
    assert.ok(r.status === 0 || r.status === 1, `shellcheck failed to run: ${r.stderr}`);
    const findings = JSON.parse(r.stdout || "[]") as Finding[];
    const report = findings.map((f) => `${path.basename(f.file)}:${f.line}:${f.column} ${f.level} SC${f.code}: ${f.message}`);
    assert.deepEqual(report, []);
    assert.equal(r.status, 0);
  });

  it("every script is executable and names its shell; ours run in bash strict mode", () => {
    for (const file of scripts) {
      const text = fs.readFileSync(file, "utf8");
      assert.match(text, /^#!\S+/, `${path.basename(file)}: no shebang`);
      assert.ok((fs.statSync(file).mode & 0o111) !== 0, `${path.basename(file)} is not executable`);
    }
    for (const name of ["download-models.sh", "start.sh"]) {
      const text = fs.readFileSync(path.join(SCRIPTS, name), "utf8");
      assert.match(text, /^#!\/usr\/bin\/env bash\n/, `${name}: shebang`);
      assert.match(text, /^set -euo pipefail$/m, `${name}: strict mode`);
    }
  });
});
