// The Python with the pinned runpod SDK the worker tests use (.ci/run installs it into .venv-test).
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../../..");
/** Keep in step with .ci/run and docker/requirements/worker.txt. */
export const RUNPOD_SDK_PIN = "runpod==1.12.0";

/** RUNPOD_SDK_PYTHON or .venv-test's python when it has the pinned SDK; undefined otherwise. */
export function sdkPython(): string | undefined {
  const version = RUNPOD_SDK_PIN.split("==")[1] ?? "";
  const candidates = [process.env.RUNPOD_SDK_PYTHON, path.join(ROOT, ".venv-test", "bin", "python")];
  return candidates.find(
    (c) => c && spawnSync(c, ["-c", `import importlib.metadata as m, sys; sys.exit(0 if m.version("runpod") == "${version}" else 1)`], { stdio: "ignore" }).status === 0,
  );
}
