#!/usr/bin/env bash
# npm run test:worker: the serverless worker's pytest suite (docker/worker) in .venv-test, against the ComfyUI
# emulator from dist/ (npm run build first). Without pytest or the runpod SDK in the venv it says what is missing
# and skips, except in CI, where that is an error.
set -euo pipefail
cd "$(dirname "$0")/../../.."
python=${WORKER_TEST_PYTHON:-.venv-test/bin/python}
pins="pytest==9.2.0 runpod==1.12.0 moto[server]==5.2.5 (.ci/run installs them)"
missing=""
if [[ ! -x ${python} ]]; then
  missing="no ${python}"
elif ! "${python}" -c 'import pytest, runpod' >/dev/null 2>&1; then
  missing="${python} lacks pytest or runpod"
fi
if [[ -n ${missing} ]]; then
  if [[ -n ${CI:-} ]]; then
    echo "test:worker: ${missing}: ${pins}" >&2
    exit 1
  fi
  echo "test:worker: SKIPPED: ${missing}: pip install ${pins}"
  exit 0
fi
exec "${python}" -m pytest -q -p no:cacheprovider --durations=5 test/docker/worker "$@"
