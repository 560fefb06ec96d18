#!/usr/bin/env bash
# Image build step: `pip check` over the installed set, failing on every conflict but one kind: a package that
# requires a distribution the lock left out on purpose (docker/requirements/excludes.txt: the OpenCV builds
# replaced by the one opencv-contrib-python), which pip reports as "requires NAME, which is not installed".
#
# Usage: pip-check.sh EXCLUDES_FILE    (runs `python -m pip check` with the python on PATH)
# Exit status: 0 consistent, 1 a conflict (each printed), 2 usage.
set -euo pipefail

if (($# != 1)) || [[ ! -r $1 ]]; then
  printf 'pip-check: ERROR: usage: pip-check.sh EXCLUDES_FILE\n' >&2
  exit 2
fi
mapfile -t excluded < <(sed -e 's/#.*$//' -e 's/[[:space:]]//g' "$1" | grep -v '^$' | tr '[:upper:]_' '[:lower:]-' || true)

report=$(python -m pip check 2>&1) && pip_status=0 || pip_status=$?
accepted=0
conflicts=()
while IFS= read -r line; do
  [[ -n ${line} && ${line} != "No broken requirements found." ]] || continue
  name=""
  if [[ ${line} =~ ^[^[:space:]]+\ [^[:space:]]+\ requires\ ([A-Za-z0-9._-]+)(\[[^]]*\])?,\ which\ is\ not\ installed\.$ ]]; then
    name=${BASH_REMATCH[1],,}
    name=${name//_/-}
  fi
  skip=0
  for ex in "${excluded[@]}"; do
    if [[ -n ${name} && ${name} == "${ex}" ]]; then skip=1; fi
  done
  if ((skip)); then
    accepted=$((accepted + 1))
  else
    conflicts+=("${line}")
  fi
done <<<"${report}"

if ((${#conflicts[@]} > 0)); then
  printf 'pip-check: ERROR: the installed set is inconsistent:\n' >&2
  printf '  %s\n' "${conflicts[@]}" >&2
  exit 1
fi
if ((pip_status != 0 && accepted == 0)); then
  printf 'pip-check: ERROR: pip check failed (exit %s):\n%s\n' "${pip_status}" "${report}" >&2
  exit 1
fi
printf 'pip-check: consistent (%d requirement(s) on a left-out OpenCV build accepted: opencv-contrib-python provides cv2)\n' "${accepted}"
