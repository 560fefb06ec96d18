// A stand-in for the docker CLI for the local target's pre-flight tests (no Docker engine exists here).
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * A stand-in for the docker CLI, driven by env: `info` prints STUB_RUNTIMES (or fails with STUB_INFO_EXIT),
 * `image inspect` succeeds unless STUB_IMAGE_MISSING, `pull` succeeds, and `run` runs the given `sh -c` script
 * here for real (the test's folders stand in for the mounted volume). Every call is logged to STUB_LOG.
 */
export const STUB_DOCKER = `#!/bin/sh
{ printf '%s' "$*" | tr '\\n' '~'; echo; } >> "$STUB_LOG"
case "$1" in
  info)
    if [ -n "$STUB_INFO_EXIT" ]; then echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit "$STUB_INFO_EXIT"; fi
    printf '%s\\n' "$STUB_RUNTIMES" ;;
  image) [ -z "$STUB_IMAGE_MISSING" ] || { echo "Error: No such image" >&2; exit 1; } ;;
  pull) echo "pulled" >&2 ;;
  run)
    while [ "$1" != "-c" ]; do shift; done
    shift; script=$1; shift
    exec sh -c "$script" "$@" ;;
  *) echo "unexpected docker call: $*" >&2; exit 64 ;;
esac
`;

export const WITH_NVIDIA = '{"io.containerd.runc.v2":{"path":"runc"},"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}';
export const WITHOUT_NVIDIA = '{"io.containerd.runc.v2":{"path":"runc"},"runc":{"path":"runc"}}';

/** Writes the stub as `docker` into `bin` (put `bin` first on PATH). */
export function installStubDocker(bin: string): string {
  const file = path.join(bin, "docker");
  fs.writeFileSync(file, STUB_DOCKER, { mode: 0o755 });
  return file;
}
