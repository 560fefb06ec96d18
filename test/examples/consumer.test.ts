import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../../..");
const CONSUMER = path.join(ROOT, "examples", "consumer");

/** The names a program exports (`export const name = …`). */
function exportsOf(source: string): string[] {
  return [...source.matchAll(/^export const (\w+)\b/gm)].map((m) => m[1] ?? "");
}

describe("examples/consumer (a StackReference to this stack)", () => {
  const consumer = fs.readFileSync(path.join(CONSUMER, "index.ts"), "utf8");
  const program = exportsOf(fs.readFileSync(path.join(ROOT, "index.ts"), "utf8"));

  it("reads only outputs this stack exports, previousImageRef among them", () => {
    const read = [...consumer.matchAll(/(?:text|optionalText|requireOutput|getOutput)\("(\w+)"\)/g)].map((m) => m[1] ?? "");
    assert.ok(read.length >= 4, `the consumer reads outputs: ${read.join(", ")}`);
    assert.ok(read.includes("previousImageRef"));
    assert.deepEqual(read.filter((name) => !program.includes(name)), [], `stack outputs: ${program.join(", ")}`);
    assert.match(consumer, /new pulumi\.StackReference\(/);
  });

  it("is its own Pulumi project with its own tsconfig, type-checked by npm test", () => {
    assert.match(fs.readFileSync(path.join(CONSUMER, "Pulumi.yaml"), "utf8"), /^runtime:\s*\n\s+name: nodejs/m);
    const tsconfig = JSON.parse(fs.readFileSync(path.join(CONSUMER, "tsconfig.json"), "utf8")) as { compilerOptions?: { strict?: boolean } };
    assert.equal(tsconfig.compilerOptions?.strict, true);
    const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts.test ?? "", /tsc -p examples\/consumer/);
  });
});
