import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";

const ROOT = path.resolve(__dirname, "../../..");
const WORKFLOW = path.join(ROOT, ".github", "workflows", "preview.yml");

// Only what this test relies on; GitHub's own schema has far more.
const stepSchema = z.object({
  uses: z.string().optional(),
  run: z.string().optional(),
  with: z.record(z.string(), z.unknown()).optional(),
  env: z.record(z.string(), z.string()).optional(),
});
const workflowSchema = z.object({
  on: z.object({ pull_request: z.unknown() }),
  permissions: z.record(z.string(), z.string()),
  jobs: z.record(z.string(), z.object({ "runs-on": z.string(), steps: z.array(stepSchema).min(1) })),
});

describe(".github/workflows/preview.yml", () => {
  const text = fs.readFileSync(WORKFLOW, "utf8");
  const workflow = workflowSchema.parse(parse(text));
  const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
  const pulumiIndex = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@"));
  const pulumi = steps[pulumiIndex];

  it("previews the stack on pull requests with pulumi/actions and comments the plan on the PR", () => {
    assert.ok(pulumi, "a pulumi/actions step");
    assert.match(pulumi.uses ?? "", /^pulumi\/actions@v\d+$/);
    assert.equal(pulumi.with?.command, "preview");
    assert.equal(pulumi.with?.["comment-on-pr"], true);
    assert.match(String(pulumi.with?.["stack-name"]), /\S/);
    assert.equal(workflow.permissions["pull-requests"], "write", "commenting needs pull-requests: write");
  });

  it("installs the dependencies with npm ci before the preview", () => {
    const npmCi = steps.findIndex((s) => /^npm ci\b/.test(s.run ?? ""));
    assert.ok(npmCi >= 0 && npmCi < pulumiIndex, "npm ci runs before pulumi/actions");
  });

  it("takes every credential from ${{ secrets.* }}, never a literal", () => {
    const env = pulumi?.env ?? {};
    for (const name of ["PULUMI_CONFIG_PASSPHRASE", "RUNPOD_API_KEY", "PULUMI_ACCESS_TOKEN"]) {
      assert.equal(env[name], `\${{ secrets.${name} }}`, name);
    }
    for (const [key, value] of Object.entries({ ...env, ...(pulumi?.with ?? {}) })) {
      if (/token|key|passphrase|password|url/i.test(key)) assert.match(String(value), /^\$\{\{ secrets\.[A-Z_]+ \}\}$/, key);
    }
  });
});
