#!/usr/bin/env bash
# Image build step: compares the requirement files of ComfyUI and the custom nodes, as fetched at their pinned
# refs, with our copies in docker/requirements/ that the committed lock was resolved from. The sets of requirement
# lines are compared (comments, blank lines, spacing and order do not count). Any difference stops the build:
# the lock would not be what those refs declare.
#
# Usage: compare-requirements.sh UPSTREAM_DIR OURS_DIR
#   UPSTREAM_DIR holds NAME.txt for every fetched file (the sources stage writes them); OURS_DIR holds our NAME.txt.
# Exit status: 0 all equal, 1 a file differs or is missing, 2 usage.
set -euo pipefail

die() {
  printf 'compare-requirements: ERROR: %s\n' "$*" >&2
  exit 2
}
(($# == 2)) || die "usage: compare-requirements.sh UPSTREAM_DIR OURS_DIR"
upstream=$1
ours=$2
[[ -d ${upstream} ]] || die "no folder ${upstream}"
[[ -d ${ours} ]] || die "no folder ${ours}"

# The requirement lines of a file: comments and blanks dropped, whitespace removed, sorted.
normalise() {
  sed -e 's/#.*$//' -e 's/[[:space:]]//g' "$1" | grep -v '^$' | LC_ALL=C sort -u || true
}

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
status=0
checked=0
for fetched in "${upstream}"/*.txt; do
  [[ -e ${fetched} ]] || die "${upstream} holds no requirement files"
  name=${fetched##*/}
  checked=$((checked + 1))
  if [[ ! -f ${ours}/${name} ]]; then
    printf 'compare-requirements: %s was fetched but docker/requirements/%s does not exist\n' "${name}" "${name}" >&2
    status=1
    continue
  fi
  normalise "${ours}/${name}" >"${work}/ours"
  normalise "${fetched}" >"${work}/upstream"
  if ! difference=$(diff "${work}/ours" "${work}/upstream"); then
    printf 'compare-requirements: docker/requirements/%s differs from what its pinned ref declares (< ours, > upstream):\n%s\n' \
      "${name}" "${difference}" >&2
    status=1
  fi
done
if ((status != 0)); then
  printf '%s\n' "compare-requirements: the lock was resolved from other requirements than these refs declare. Export the" \
    "fetched files (docker buildx build --target requirement-inputs --output type=local,dest=/tmp/upstream docker/)," \
    "copy them into docker/requirements/ (keep the header comments), run npm run image:lock and commit both." >&2
  exit 1
fi
printf 'compare-requirements: %d requirement files match docker/requirements/\n' "${checked}"
