// The local target's pre-flight as a command (LocalGpuContainer runs it before creating its container):
//   dockerhost/cli.ts --image <ref> --volume <name> --mount <path> --models-dir <path> --variant <v> [--baked]
// Exit 0 pass, 1 failed pre-flight, 2 bad usage. Progress goes to stderr; the last stdout line is the JSON verdict.
import { parseArgs } from "node:util";
import { MODEL_VARIANTS, loadModelManifest, type ModelVariant } from "../models";
import { runPreflight } from "./preflight";

const USAGE =
  "usage: dockerhost/cli.ts --image <ref> --volume <docker volume> --mount <container path> --models-dir <container path> " +
  `--variant <${MODEL_VARIANTS.join("|")}> [--baked] [--manifest <manifest.json>]`;

function usage(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        image: { type: "string" },
        volume: { type: "string" },
        mount: { type: "string" },
        "models-dir": { type: "string" },
        variant: { type: "string" },
        baked: { type: "boolean", default: false },
        manifest: { type: "string" },
      },
      strict: true,
    }));
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  const { image, volume, mount, variant } = values;
  const modelsDir = values["models-dir"];
  if (!image || !volume || !mount || !modelsDir || !variant) usage("--image, --volume, --mount, --models-dir and --variant are required");
  if (!(MODEL_VARIANTS as readonly string[]).includes(variant)) usage(`unknown --variant ${variant}`);
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] preflight: ${line}\n`);
  const verdict = await runPreflight({
    image,
    volume,
    mountPath: mount,
    modelsDir,
    variant: variant as ModelVariant,
    bakedModels: values.baked === true,
    manifest: values.manifest ? loadModelManifest(values.manifest) : loadModelManifest(),
    log,
  });
  log(verdict.ok ? verdict.message : `FAILED: ${verdict.message}`);
  process.stdout.write(`${JSON.stringify({ check: "docker-host", ...verdict })}\n`);
  return verdict.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`preflight: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
