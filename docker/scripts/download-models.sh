#!/usr/bin/env bash
# Fetches the model files of one SteadyDancer variant, as listed in the model manifest, into ComfyUI's models
# folder: in parallel with resume (aria2c, or curl when aria2c is missing), each file checked against its sha256
# before it is moved into place. Files already present and verified are skipped without a request, so a network
# volume reused across pods costs nothing.
#
# Retries: aria2c retries a request up to DOWNLOAD_MAX_TRIES times at a FIXED interval (DOWNLOAD_RETRY_WAIT; aria2c
# has no backoff). curl backs off exponentially (1 s, 2 s, 4 s ... up to 10 min, its default without --retry-delay;
# a Retry-After from the server wins) and stops retrying a request DOWNLOAD_RETRY_MAX_TIME seconds after it began.
# A file whose transfer still fails gets one more round, after a longer pause (DOWNLOAD_MAX_TRIES x
# DOWNLOAD_RETRY_WAIT) and with a freshly probed URL (a signed CDN URL may have expired meanwhile); then the script
# gives up. That pause is the only backoff on the aria2c path.
#
# A file comes from a Hugging Face repository (repo, revision, path) or, when its publisher has it only on its own
# host, from a direct https url on an allow-listed host (download.openmmlab.com: see direct_url). A direct file
# never gets HF_TOKEN; until its full sha256 is pinned it is checked against the sha256Prefix its publisher put
# into the file name (OpenMMLab: the first 8 hex digits), and by the size its server announces.
#
# Environment (all optional):
#   MODEL_MANIFEST        manifest path                        (/opt/steadydancer/models/manifest.json)
#   MODELS_DIR            ComfyUI models folder to fill        (/opt/ComfyUI/models)
#   STEADYDANCER_VARIANT  fp8 | fp16  (fp8; falls back to the manifest's fallback)
#   HF_TOKEN              Hugging Face token: sent as a Bearer header read from a private file, never in argv, and
#                         only to the Hub's host: a file the Hub redirects to another host (its CDN) is fetched
#                         from the signed URL without it, as huggingface_hub does
#   HF_ENDPOINT           Hub base URL                         (https://huggingface.co)
#   OPENMMLAB_ENDPOINT    mirror of download.openmmlab.com: the same paths under this base URL
#   DOWNLOAD_MAX_TRIES    tries per request                    (8)
#   DOWNLOAD_RETRY_WAIT   aria2c: fixed seconds between tries  (10); the pause before the last round is x MAX_TRIES
#   DOWNLOAD_RETRY_MAX_TIME  curl: seconds after a request began past which it is not retried, transfer
#                         time included (7200, so that a failure late in a 33 GB transfer is still retried)
#   DOWNLOAD_CONNECTIONS  connections per file, aria2c, 1-16   (8)
#   DOWNLOAD_PARALLEL     files at once, aria2c                (4)
#   DOWNLOAD_SUMMARY_INTERVAL  seconds between progress lines: aria2c's summaries, or with curl the size of the
#                         partial file and the rate since the last line (30; 0 = none)
# Exit status: 0 done, 2 bad input or missing tool, 3 not enough disk, 4 a file cannot be had (401/403/404),
# 5 checksum mismatch (twice, or the server's file is not the pinned one), 6 transfer failed,
# 130/143 interrupted (partial files are kept and resume on the next run).
set -euo pipefail
umask 022

readonly ME="download-models"
log() { printf '%s: %s\n' "${ME}" "$*"; }
warn() { printf '%s: WARNING: %s\n' "${ME}" "$*" >&2; }
die() {
  local status=$1
  shift
  printf '%s: ERROR: %s\n' "${ME}" "$*" >&2
  exit "${status}"
}

MANIFEST=${MODEL_MANIFEST:-/opt/steadydancer/models/manifest.json}
MODELS_DIR=${MODELS_DIR:-/opt/ComfyUI/models}
VARIANT=${STEADYDANCER_VARIANT:-fp8}
ENDPOINT=${HF_ENDPOINT:-https://huggingface.co}
ENDPOINT=${ENDPOINT%/}
OPENMMLAB_MIRROR=${OPENMMLAB_ENDPOINT:-}
OPENMMLAB_MIRROR=${OPENMMLAB_MIRROR%/}
MAX_TRIES=${DOWNLOAD_MAX_TRIES:-8}
RETRY_WAIT=${DOWNLOAD_RETRY_WAIT:-10}
RETRY_MAX_TIME=${DOWNLOAD_RETRY_MAX_TIME:-7200}
CONNECTIONS=${DOWNLOAD_CONNECTIONS:-8}
PARALLEL=${DOWNLOAD_PARALLEL:-4}
SUMMARY_INTERVAL=${DOWNLOAD_SUMMARY_INTERVAL:-30}
# The token stays in this shell: children get the header from a private file, not from argv or the environment.
TOKEN=${HF_TOKEN:-}
unset HF_TOKEN
readonly USER_AGENT="steadydancer-download-models/1"

for setting in "DOWNLOAD_MAX_TRIES=${MAX_TRIES}" "DOWNLOAD_RETRY_WAIT=${RETRY_WAIT}" "DOWNLOAD_RETRY_MAX_TIME=${RETRY_MAX_TIME}" \
  "DOWNLOAD_CONNECTIONS=${CONNECTIONS}" "DOWNLOAD_PARALLEL=${PARALLEL}" "DOWNLOAD_SUMMARY_INTERVAL=${SUMMARY_INTERVAL}"; do
  if [[ ! ${setting#*=} =~ ^[0-9]+$ ]]; then die 2 "${setting%%=*} must be a whole number, got '${setting#*=}'"; fi
done
((MAX_TRIES >= 1)) || die 2 "DOWNLOAD_MAX_TRIES must be at least 1"
((RETRY_WAIT >= 1)) || die 2 "DOWNLOAD_RETRY_WAIT must be at least 1 (aria2c retries a 503 only with a wait > 0)"
((CONNECTIONS >= 1 && CONNECTIONS <= 16)) || die 2 "DOWNLOAD_CONNECTIONS must be 1-16 (aria2c's limit), got ${CONNECTIONS}"
((PARALLEL >= 1)) || die 2 "DOWNLOAD_PARALLEL must be at least 1"

for tool in jq curl sha256sum df stat; do
  command -v "${tool}" >/dev/null 2>&1 || die 2 "'${tool}' is required but not installed"
done
HAVE_ARIA2=0
TOOL_NAME=curl
if command -v aria2c >/dev/null 2>&1; then
  HAVE_ARIA2=1
  TOOL_NAME=aria2c
fi

[[ -r ${MANIFEST} ]] || die 2 "cannot read the model manifest at ${MANIFEST} (set MODEL_MANIFEST)"
jq -e '.schemaVersion == 1 and (.files | type == "array") and (.variants | type == "object")' "${MANIFEST}" >/dev/null 2>&1 ||
  die 2 "${MANIFEST} is not a model manifest (schemaVersion 1 with variants and files)"
if ! jq -e --arg v "${VARIANT}" '.variants | has($v)' "${MANIFEST}" >/dev/null; then
  known=$(jq -r '.variants | keys | join(", ")' "${MANIFEST}")
  die 2 "unknown STEADYDANCER_VARIANT '${VARIANT}' (the manifest has: ${known})"
fi

mkdir -p "${MODELS_DIR}" || die 2 "cannot create MODELS_DIR ${MODELS_DIR}"
MODELS_DIR=$(cd "${MODELS_DIR}" && pwd)

WORK=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/download-models.XXXXXX")
POLL_PID=""
stop_poll() {
  if [[ -n ${POLL_PID} ]]; then
    kill "${POLL_PID}" 2>/dev/null || true
    wait "${POLL_PID}" 2>/dev/null || true
    POLL_PID=""
  fi
}
cleanup() {
  stop_poll
  rm -rf "${WORK}"
}
trap cleanup EXIT

CURL_AUTH=()
if [[ -n ${TOKEN} ]]; then
  (umask 077 && printf 'Authorization: Bearer %s\n' "${TOKEN}" >"${WORK}/auth-header")
  CURL_AUTH=(-H "@${WORK}/auth-header")
fi

# ------------------------------------------------------------------ signals
# Tools run in the background so that a TERM/INT reaches them at once (aria2c then saves its control files).
# Background children of a non-interactive shell ignore INT, so both are forwarded as TERM.
TOOL_PID=""
INTERRUPTED=""
on_signal() {
  INTERRUPTED=$1
  if [[ -n ${TOOL_PID} ]]; then
    kill -TERM "${TOOL_PID}" 2>/dev/null || true
  else
    die "$2" "interrupted by SIG$1; partial downloads are kept and resume on the next run"
  fi
}
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

# run_tool CMD...: runs CMD in the background and waits for it; sets TOOL_STATUS. Callers run
# stop_if_interrupted right after, outside any redirection of the tool's output.
TOOL_STATUS=0
run_tool() {
  TOOL_STATUS=0
  "$@" &
  TOOL_PID=$!
  while :; do
    TOOL_STATUS=0
    wait "${TOOL_PID}" || TOOL_STATUS=$?
    kill -0 "${TOOL_PID}" 2>/dev/null || break # else wait returned early for a trapped signal
  done
  # A trapped signal can cut wait short just as the tool ends; bash keeps the status, so ask once more.
  TOOL_STATUS=0
  wait "${TOOL_PID}" || TOOL_STATUS=$?
  TOOL_PID=""
}
stop_if_interrupted() {
  if [[ ${INTERRUPTED} == TERM ]]; then die 143 "interrupted by SIGTERM; partial downloads are kept and resume on the next run"; fi
  if [[ ${INTERRUPTED} == INT ]]; then die 130 "interrupted by SIGINT; partial downloads are kept and resume on the next run"; fi
}

# ------------------------------------------------------------------ formatting (integer arithmetic, no subshells)
decimal() { # VAR BYTES UNIT: BYTES/UNIT with one decimal
  printf -v "$1" '%d.%d' "$(($2 / $3))" "$(($2 % $3 * 10 / $3))"
}
now_us() { # VAR: wall clock in microseconds
  printf -v "$1" '%s' "${EPOCHREALTIME/[.,]/}"
}
rate_since() { # VAR BYTES START_US: "S.s s (R.r MB/s)"; bytes per microsecond is MB/s
  local end_us us
  now_us end_us
  us=$((end_us - $3))
  ((us > 0)) || us=1
  printf -v "$1" '%d.%d s (%d.%d MB/s)' "$((us / 1000000))" "$((us % 1000000 / 100000))" \
    "$(($2 / us))" "$(($2 * 10 / us % 10))"
}
file_size() { stat -c %s -- "$1"; }
file_mtime() { # with nanoseconds (%y has them in every coreutils), so a rewrite within the same second shows
  local t
  t=$(stat -c %y -- "$1")
  printf '%s' "${t// /_}"
}
HASH=""
sha256_of() { # FILE: sets HASH (sha256sum runs as a tool so that a TERM reaches it)
  run_tool sha256sum -- "$1" >"${WORK}/sha256.out"
  stop_if_interrupted
  ((TOOL_STATUS == 0)) || die 2 "cannot read $1 to hash it"
  HASH=$(cut -d' ' -f1 <"${WORK}/sha256.out")
}

# header_value FILE NAME: value of header NAME (lowercase) in the last response block of a curl -D dump.
header_value() {
  tr -d '\r' <"$1" | awk -v want="$2" '
    /^HTTP\// { val = ""; next }
    { i = index($0, ":"); if (i > 1 && tolower(substr($0, 1, i - 1)) == want) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); val = v } }
    END { print val }'
}

# ------------------------------------------------------------------ manifest
# direct_url VAR ID URL: the URL a direct file is fetched from (its mirror when one is set). Only hosts that publish
# models nowhere else are allowed (models/manifest.ts DIRECT_URL_HOSTS holds the same list).
direct_url() {
  local rest
  case "$3" in
    https://download.openmmlab.com/*)
      rest=${3#https://download.openmmlab.com}
      printf -v "$1" '%s' "${OPENMMLAB_MIRROR:-https://download.openmmlab.com}${rest}"
      ;;
    *) die 2 "manifest entry $2: a file without repo must have an https url on download.openmmlab.com, got '$3'" ;;
  esac
}

# Per-file state, indexed like the rows of the selected variant. SOURCE is hf or url (a direct download).
ID=() SOURCE=() REPO=() REVISION=() URL=() DEST=() PART=() MSIZE=() ESTIMATE=() MSHA=() PREFIX=() SSIZE=() SSHA=()
HSTATUS=() HERROR=() LOCATION=() SRC_URL=() SRC_AUTH=()
load_variant() {
  local variant=$1 id source repo revision path target size estimate sha enc_rev enc_path url name prefix fetch_url
  ID=() SOURCE=() REPO=() REVISION=() URL=() DEST=() PART=() MSIZE=() ESTIMATE=() MSHA=() PREFIX=() SSIZE=() SSHA=()
  HSTATUS=() HERROR=() LOCATION=() SRC_URL=() SRC_AUTH=()
  # Fields are joined with the unit separator: a tab is whitespace to read and would swallow empty fields.
  while IFS=$'\x1f' read -r id source repo revision path target size estimate sha enc_rev enc_path url name prefix; do
    if [[ ${source} == url ]]; then
      [[ -n ${name} ]] || name=${url##*/}
      path=${name}
    fi
    case "/${path}/ /${target}/" in
      *"/../"* | *"//"*) die 2 "manifest entry ${id} has an unsafe path or target ('${path}' -> '${target}')" ;;
      *) ;;
    esac
    if [[ ${source} == url ]]; then
      [[ ${name} != */* && ${name} != . && ${name} != .. ]] || die 2 "manifest entry ${id} has an unsafe fileName '${name}'"
      direct_url fetch_url "${id}" "${url}"
      URL+=("${fetch_url}")
    else
      URL+=("${ENDPOINT}/${repo}/resolve/${enc_rev}/${enc_path}")
    fi
    ID+=("${id}")
    SOURCE+=("${source}")
    REPO+=("${repo}")
    REVISION+=("${revision}")
    DEST+=("${MODELS_DIR}/${target}/${path##*/}")
    PART+=("${MODELS_DIR}/${target}/${path##*/}.part")
    MSIZE+=("${size}")
    ESTIMATE+=("${estimate}")
    MSHA+=("${sha}")
    PREFIX+=("${prefix}")
    SSIZE+=("")
    SSHA+=("")
    HSTATUS+=("")
    HERROR+=("")
    LOCATION+=("")
    SRC_URL+=("")
    SRC_AUTH+=("")
  done < <(jq -r --arg v "${variant}" '
      .files[] | select(any(.variants[]; . == $v or . == "*"))
      | (if .repo == null then "url" else "hf" end) as $source
      | [.id, $source, (.repo // ""), (.revision // ""), (.path // ""), .target, (.size // "" | tostring),
         (.sizeEstimate | tostring), (.sha256 // ""), (.revision // "" | @uri),
         (.path // "" | split("/") | map(@uri) | join("/")), .url, (.fileName // ""), (.sha256Prefix // "")]
      | join("\u001f")' "${MANIFEST}" || true)
  ((${#ID[@]} > 0)) || die 2 "the manifest lists no files for variant ${variant}"
}

# stale_pin i: why a pinned size or sha256 can differ from the server's, and what to do about it.
STALE=""
stale_pin() {
  if [[ ${SOURCE[$1]} == url ]]; then
    STALE="the file at ${URL[$1]} is not the one the manifest pinned (the publisher's file names carry their hash, so a mirror or proxy is serving another file, or the pin was edited by hand)"
  elif [[ ${REVISION[$1]} =~ ^[0-9a-f]{40}$ ]]; then
    STALE="the manifest pins commit ${REVISION[$1]}, whose files do not change, so the pinned value is wrong (edited by hand?)"
  else
    STALE="revision '${REVISION[$1]}' is a branch or tag and has moved on since the manifest was pinned"
  fi
  STALE="${STALE}; re-run npm run models:pin (it pins the current commit with its sizes and sha256) and rebuild or redeploy with the new manifest"
}

# Best known size / sha256 of file i: the manifest's, else the server's; empty when unknown.
WANT_SIZE=""
WANT_SHA=""
expect() {
  WANT_SIZE=${MSIZE[$1]:-${SSIZE[$1]}}
  WANT_SHA=${MSHA[$1]:-${SSHA[$1]}}
}

# ------------------------------------------------------------------ local verification
# The sidecar <file>.sha256 holds "sha256 size mtime source", written after a verification so that a restart
# does not hash tens of GB again; a different size or mtime makes it stale.
write_sidecar() { # i sha source
  local dest=${DEST[$1]} size mtime
  size=$(file_size "${dest}")
  mtime=$(file_mtime "${dest}")
  printf '%s %s %s %s\n' "${2:--}" "${size}" "${mtime}" "$3" >"${dest}.sha256"
}

# check_present i: sets PRESENT=1 when file i is in place and verified without asking the server.
PRESENT=0
check_present() {
  local i=$1 dest=${DEST[$1]} size mtime s_sha="" s_size="" s_mtime="" s_src="" shown
  PRESENT=0
  [[ -f ${dest} ]] || return 0
  size=$(file_size "${dest}")
  mtime=$(file_mtime "${dest}")
  if [[ -n ${MSIZE[i]} && ${size} != "${MSIZE[i]}" ]]; then
    warn "${ID[i]}: ${dest} has ${size} bytes, the manifest pins ${MSIZE[i]}: fetching it again"
    rm -f -- "${dest}" "${dest}.sha256"
    return 0
  fi
  if [[ -f ${dest}.sha256 ]]; then
    read -r s_sha s_size s_mtime s_src <"${dest}.sha256" || true
    if [[ ${s_size} == "${size}" && ${s_mtime} == "${mtime}" ]] && [[ -z ${MSHA[i]} || ${s_sha} == "${MSHA[i]}" ]] &&
      [[ -z ${PREFIX[i]} || ${s_sha} == "${PREFIX[i]}"* ]]; then
      decimal shown "${size}" 1000000
      log "[ok] ${ID[i]}: present, verified earlier (${s_src:-?}), ${shown} MB"
      PRESENT=1
      return 0
    fi
  fi
  if [[ -z ${MSHA[i]} && -n ${PREFIX[i]} ]]; then
    decimal shown "${size}" 1000000
    log "[check] ${ID[i]}: hashing the copy already present (${shown} MB) against its published sha256 prefix"
    sha256_of "${dest}"
    if [[ ${HASH} == "${PREFIX[i]}"* ]]; then
      write_sidecar "${i}" "${HASH}" sha256-prefix
      log "[ok] ${ID[i]}: present, its sha256 starts with the published ${PREFIX[i]}"
      PRESENT=1
      return 0
    fi
    warn "${ID[i]}: ${dest} has sha256 ${HASH}, not the published ${PREFIX[i]}...: fetching it again"
    rm -f -- "${dest}" "${dest}.sha256"
    return 0
  fi
  [[ -n ${MSHA[i]} ]] || return 0 # only the server's hash can tell: checked after the HEAD
  decimal shown "${size}" 1000000
  log "[check] ${ID[i]}: hashing the copy already present (${shown} MB)"
  sha256_of "${dest}"
  if [[ ${HASH} == "${MSHA[i]}" ]]; then
    write_sidecar "${i}" "${HASH}" manifest
    log "[ok] ${ID[i]}: present and matches the manifest sha256"
    PRESENT=1
    return 0
  fi
  warn "${ID[i]}: ${dest} does not match the manifest sha256 (got ${HASH}): fetching it again"
  rm -f -- "${dest}" "${dest}.sha256"
}

# ------------------------------------------------------------------ disk
# check_disk LABEL i...: fails before any transfer when the files still to fetch do not fit in the free space.
check_disk() {
  local label=$1 need=0 i want have avail need_gb avail_gb
  shift
  for i in "$@"; do
    expect "${i}"
    want=${WANT_SIZE:-${ESTIMATE[i]}}
    have=0
    if [[ -f ${DEST[i]} ]]; then
      have=$(file_size "${DEST[i]}") # present, waiting for the server's hash: most likely kept
    elif [[ -f ${PART[i]} ]]; then
      have=$(file_size "${PART[i]}")
    fi
    if ((want > have)); then need=$((need + want - have)); fi
  done
  avail=$(df -Pk -- "${MODELS_DIR}" | awk 'NR == 2 { print $4 }')
  [[ ${avail} =~ ^[0-9]+$ ]] || die 2 "cannot read the free space of ${MODELS_DIR} from df"
  avail=$((avail * 1024))
  decimal need_gb "${need}" 1000000000
  decimal avail_gb "${avail}" 1000000000
  if ((need > avail)); then
    die 3 "not enough disk space in ${MODELS_DIR}: the ${label} files still to fetch ($# files) need ${need_gb} GB (${need} bytes), only ${avail_gb} GB (${avail} bytes) are free"
  fi
  log "disk: ${need_gb} GB to fetch for ${label}, ${avail_gb} GB free in ${MODELS_DIR}"
}

# ------------------------------------------------------------------ server metadata (HEAD)
# probe i: HEAD on the resolve URL without following the CDN redirect. An LFS file answers 302 with
# X-Linked-Etag (its sha256), X-Linked-Size and the signed CDN URL as Location; a plain git file answers 200 with
# its git sha1 as ETag, so only its size can be checked. Sets HSTATUS[i], HERROR[i], SSIZE[i], SSHA[i],
# LOCATION[i] (absolute) and SRC_URL[i] / SRC_AUTH[i] (see pick_source).
probe() {
  local i=$1 url=${URL[$1]} hops=0 code headers="${WORK}/head" location location_origin linked etag xcode xmsg why
  if [[ ${SOURCE[i]} == url ]]; then
    probe_direct "${i}"
    return 0
  fi
  while :; do
    code=$(curl -sS -I -o /dev/null -D "${headers}" -w '%{http_code}' --user-agent "${USER_AGENT}" \
      --connect-timeout 30 --max-time 120 --retry "$((MAX_TRIES - 1))" --retry-max-time "${RETRY_MAX_TIME}" --retry-connrefused \
      "${CURL_AUTH[@]}" "${url}" 2>"${WORK}/head.err") || true
    location=$(header_value "${headers}" location)
    linked=$(header_value "${headers}" x-linked-etag)
    # A renamed repo answers with a relative redirect on the Hub itself: follow that one, never the CDN's.
    if [[ ${code} == 3* && -z ${linked} && ${location} == /* ]] && ((hops < 5)); then
      url="${ENDPOINT}${location}"
      hops=$((hops + 1))
      continue
    fi
    break
  done
  HSTATUS[i]=${code}
  xcode=$(header_value "${headers}" x-error-code)
  xmsg=$(header_value "${headers}" x-error-message)
  case "${code}" in
    2??)
      SSIZE[i]=$(header_value "${headers}" content-length)
      etag=$(header_value "${headers}" etag)
      ;;
    3??)
      SSIZE[i]=$(header_value "${headers}" x-linked-size)
      etag=${linked}
      if [[ ${location} == /* ]]; then
        origin_of location_origin "${url}"
        location="${location_origin}${location}"
      fi
      LOCATION[i]=${location}
      ;;
    401 | 403)
      if [[ ${xcode} == RepoNotFound ]]; then
        HERROR[i]="repository ${REPO[i]} not found at ${url} (HTTP ${code}): check the manifest repo, or set HF_TOKEN if it is private"
      else
        HERROR[i]="needs a Hugging Face token: set HF_TOKEN / accept the model licence at https://huggingface.co/${REPO[i]} (HTTP ${code} from ${url}${xmsg:+: ${xmsg}})"
      fi
      ;;
    404)
      HERROR[i]="not found at ${url}: check the manifest path/revision (HTTP 404${xcode:+ ${xcode}}${xmsg:+: ${xmsg}})"
      ;;
    000)
      why=$(tr -d '\r' <"${WORK}/head.err")
      HERROR[i]="cannot reach ${url}: ${why##*$'\n'}"
      ;;
    *)
      HERROR[i]="HTTP ${code} from ${url}${xmsg:+: ${xmsg}}"
      ;;
  esac
  if [[ ${code} == [23]?? ]]; then
    etag=${etag#W/}
    etag=${etag//\"/}
    etag=${etag,,}
    if [[ ${etag} =~ ^[0-9a-f]{64}$ ]]; then SSHA[i]=${etag}; fi
    if [[ ! ${SSIZE[i]} =~ ^[0-9]+$ ]]; then SSIZE[i]=""; fi
  fi
  pick_source "${i}" "${url}"
}

# probe_direct i: HEAD on a direct file's URL, following its redirects, never with HF_TOKEN. Only the size is
# taken from the answer: the publisher's ETag is no sha256 (an object store's MD5), so the hash comes from the
# manifest (sha256, else sha256Prefix).
probe_direct() {
  local i=$1 url=${URL[$1]} code headers="${WORK}/head" why
  code=$(curl -sS -I -L --max-redirs 5 -o /dev/null -D "${headers}" -w '%{http_code}' --user-agent "${USER_AGENT}" \
    --connect-timeout 30 --max-time 120 --retry "$((MAX_TRIES - 1))" --retry-max-time "${RETRY_MAX_TIME}" --retry-connrefused \
    "${url}" 2>"${WORK}/head.err") || true
  HSTATUS[i]=${code}
  case "${code}" in
    2??)
      SSIZE[i]=$(header_value "${headers}" content-length)
      if [[ ! ${SSIZE[i]} =~ ^[0-9]+$ ]]; then SSIZE[i]=""; fi
      ;;
    401 | 403 | 404) HERROR[i]="not available at ${url} (HTTP ${code}): check the manifest url, or OPENMMLAB_ENDPOINT if a mirror is set" ;;
    000)
      why=$(tr -d '\r' <"${WORK}/head.err")
      HERROR[i]="cannot reach ${url}: ${why##*$'\n'}"
      ;;
    *) HERROR[i]="HTTP ${code} from ${url}" ;;
  esac
  SRC_URL[i]=${url}
  SRC_AUTH[i]=0
}

# origin_of VAR URL: "scheme://host[:port]" of URL, lowercased; empty when URL has none.
origin_of() {
  local re='^([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)'
  if [[ $2 =~ ${re} ]]; then printf -v "$1" '%s' "${BASH_REMATCH[1],,}"; else printf -v "$1" '%s' ""; fi
}

# pick_source i PROBED_URL: what aria2c fetches for file i, and whether it gets the token. aria2c sends its
# header= lines on every redirect hop, so given the resolve URL it would hand HF_TOKEN to the CDN host after the
# Hub's 302 (and an S3 bucket answers a request with both a signature and an Authorization header with 400).
# With a token and a redirect to another origin, aria2c therefore gets the signed Location itself, without the
# header. The signed URL expires (about an hour on the Hub): aria2c's retries within this run reuse it, a later
# round or run probes again and gets a fresh one. Without a token, or on the same origin, aria2c gets the resolve
# URL (and the token) and follows the redirect itself. curl -L drops a custom Authorization header when a
# redirect changes host (curl >= 7.58) or port/scheme (>= 7.83), so the curl path keeps the resolve URL.
pick_source() {
  local i=$1 from to
  SRC_URL[i]=${URL[i]}
  SRC_AUTH[i]=0
  [[ -n ${TOKEN} ]] || return 0
  SRC_AUTH[i]=1
  [[ -n ${LOCATION[i]} ]] || return 0
  origin_of from "$2"
  origin_of to "${LOCATION[i]}"
  if [[ -n ${to} && ${to} != "${from}" ]]; then
    SRC_URL[i]=${LOCATION[i]}
    SRC_AUTH[i]=0
  fi
}

# ------------------------------------------------------------------ downloads
START_US=() RESULT=() FAILURE=() BADSUM=()
announce_start() {
  local i=$1 shown=""
  expect "${i}"
  if [[ -n ${WANT_SIZE} ]]; then decimal shown "${WANT_SIZE}" 1000000; fi
  now_us "START_US[${i}]"
  log "[start] ${ID[i]}: ${DEST[i]#"${MODELS_DIR}"/}${shown:+ (${shown} MB)}"
}
announce_fetched() {
  local i=$1 size shown took
  size=$(file_size "${PART[i]}")
  decimal shown "${size}" 1000000
  rate_since took "${size}" "${START_US[i]}"
  log "[fetched] ${ID[i]}: ${shown} MB in ${took}"
}

# Relays aria2c's console output (progress summaries, errors) and prints a line per finished file. It runs as
# a child, so it reports which files completed, failed their checksum or failed with an error in files.
relay_aria2() {
  local line path i uri="" error_re='-> \[[^]]*\] errorCode=([0-9]+) (.*)$'
  while IFS= read -r line; do
    case "${line}" in
      "") ;;
      *"Redirecting to "*) ;; # signed CDN URLs: noise
      *"Download complete: "*)
        path=${line#*Download complete: }
        printf '%s\n' "${path}" >>"${WORK}/aria2.complete"
        for i in "${!PART[@]}"; do
          if [[ ${PART[i]} == "${path}" ]]; then announce_fetched "${i}"; fi
        done
        ;;
      *"Checksum error detected. file="*)
        printf '%s\n' "${line#*file=}" >>"${WORK}/aria2.badsum"
        printf '  aria2c| %s\n' "${line}"
        ;;
      *)
        # The URI aria2c was given, not the redirect target that an "Exception:" line names.
        if [[ ${line} != *Exception:* && ${line} =~ URI=([^[:space:]]+) ]]; then uri=${BASH_REMATCH[1]}; fi
        if [[ -n ${uri} && ${line} =~ ${error_re} ]]; then
          printf '%s\t%s\n' "${uri}" "aria2c error ${BASH_REMATCH[1]}: ${BASH_REMATCH[2]}" >>"${WORK}/aria2.errors"
        fi
        # A signed URL is a credential for its file until it expires: its query stays out of the logs.
        while [[ ${line} =~ (://[^?[:space:]]*)\?[^[:space:]]*X-Amz-Signature=[^[:space:]]* ]]; do
          line=${line/"${BASH_REMATCH[0]}"/"${BASH_REMATCH[1]}?(signature hidden)"}
        done
        printf '  aria2c| %s\n' "${line}"
        ;;
    esac
  done
}

# fetch_aria2 i...: one aria2c run over all the files; sets RESULT[i] to ok / badsum / failed.
fetch_aria2() {
  local i input="${WORK}/aria2.input" relay_pid
  : >"${input}"
  : >"${WORK}/aria2.complete"
  : >"${WORK}/aria2.badsum"
  : >"${WORK}/aria2.errors"
  for i in "$@"; do
    mkdir -p "${PART[i]%/*}"
    expect "${i}"
    # The header sits in the input file, so the token never shows in aria2c's argv.
    {
      printf '%s\n  dir=%s\n  out=%s\n' "${SRC_URL[i]:-${URL[i]}}" "${PART[i]%/*}" "${PART[i]##*/}"
      if [[ -n ${WANT_SHA} ]]; then printf '  checksum=sha-256=%s\n' "${WANT_SHA}"; fi
      if [[ ${SRC_AUTH[i]} == 1 ]]; then printf '  header=Authorization: Bearer %s\n' "${TOKEN}"; fi
    } >>"${input}"
    announce_start "${i}"
    if [[ -n ${TOKEN} && ${SRC_URL[i]} != "${URL[i]}" ]]; then
      log "  ${ID[i]}: from the signed URL the Hub redirects to (${SRC_URL[i]%%\?*}), without HF_TOKEN"
    fi
  done
  rm -f -- "${WORK}/aria2.out"
  mkfifo "${WORK}/aria2.out"
  relay_aria2 <"${WORK}/aria2.out" &
  relay_pid=$!
  run_tool aria2c --input-file="${input}" \
    --continue=true --always-resume=true --allow-overwrite=true --auto-file-renaming=false \
    --file-allocation=none --remote-time=false --conditional-get=false \
    --max-tries="${MAX_TRIES}" --retry-wait="${RETRY_WAIT}" --connect-timeout=30 --timeout=60 \
    --max-concurrent-downloads="${PARALLEL}" --max-connection-per-server="${CONNECTIONS}" --split="${CONNECTIONS}" \
    --min-split-size=20M --auto-save-interval=30 --user-agent="${USER_AGENT}" \
    --summary-interval="${SUMMARY_INTERVAL}" --show-console-readout=false --enable-color=false \
    --console-log-level=notice >"${WORK}/aria2.out" 2>&1
  wait "${relay_pid}" || true
  stop_if_interrupted
  rm -f -- "${WORK}/aria2.out" "${input}"
  for i in "$@"; do
    if grep -qxF -- "${PART[i]}" "${WORK}/aria2.complete"; then
      RESULT[i]=ok
    elif grep -qxF -- "${PART[i]}" "${WORK}/aria2.badsum"; then
      RESULT[i]=badsum
      BADSUM[i]="aria2c's sha-256 check failed"
    else
      RESULT[i]=failed
      FAILURE[i]=$(awk -F'\t' -v u="${SRC_URL[i]:-${URL[i]}}" '$1 == u { m = $2 } END { print m }' "${WORK}/aria2.errors")
      FAILURE[i]=${FAILURE[i]:-"aria2c exited with status ${TOOL_STATUS}"}
    fi
  done
}

# progress_poll i: runs in the background while curl fetches file i (curl -sS shows nothing, and its meter would
# flood a log that is not a terminal): every SUMMARY_INTERVAL seconds one line with the size of the partial file
# and the rate since the previous line. sleep gets no stdout/stderr, so it cannot hold the log pipe open once the
# poll is killed (a background job's stdin is /dev/null already).
progress_poll() {
  local i=$1 last=0 size delta shown rate of="" pct=""
  expect "${i}"
  if [[ -n ${WANT_SIZE} ]]; then decimal of "${WANT_SIZE}" 1000000; fi
  last=$(stat -c %s -- "${PART[i]}" 2>/dev/null) || last=0
  while sleep "${SUMMARY_INTERVAL}" >/dev/null 2>&1; do
    size=$(stat -c %s -- "${PART[i]}" 2>/dev/null) || size=0
    delta=$((size - last)) # negative when a curl retry started the file over
    if ((delta < 0)); then delta=${size}; fi
    last=${size}
    decimal shown "${size}" 1000000
    decimal rate "$((delta / SUMMARY_INTERVAL))" 1000000
    if [[ -n ${WANT_SIZE} ]] && ((WANT_SIZE > 0)); then pct=" ($((size * 100 / WANT_SIZE))%)"; fi
    log "[progress] ${ID[i]}: ${shown} MB${of:+ of ${of} MB}${pct}, ${rate} MB/s"
  done
}

# fetch_curl i...: one file after the other with curl; sets RESULT[i] to check / failed. curl follows the Hub's
# redirect itself (a fresh signed URL at every try) and does not send the token to the CDN's host (see pick_source).
fetch_curl() {
  local i why auth
  for i in "$@"; do
    mkdir -p "${PART[i]%/*}"
    announce_start "${i}"
    if ((SUMMARY_INTERVAL > 0)); then
      progress_poll "${i}" &
      POLL_PID=$!
    fi
    # No --retry-delay: with it curl waits a fixed time; without, it doubles the wait after each failure.
    auth=()
    if [[ ${SOURCE[i]} == hf ]]; then auth=("${CURL_AUTH[@]}"); fi # a direct file's host never gets HF_TOKEN
    run_tool curl -fL -sS -C - --retry "$((MAX_TRIES - 1))" --retry-all-errors --retry-max-time "${RETRY_MAX_TIME}" \
      --connect-timeout 30 --speed-limit 1024 --speed-time 60 --user-agent "${USER_AGENT}" \
      "${auth[@]}" -o "${PART[i]}" "${URL[i]}" 2>"${WORK}/curl.err"
    stop_poll
    stop_if_interrupted
    if ((TOOL_STATUS == 0)); then
      RESULT[i]=check
      announce_fetched "${i}"
    else
      why=$(tr -d '\r' <"${WORK}/curl.err")
      RESULT[i]=failed
      FAILURE[i]="curl exit ${TOOL_STATUS}: ${why##*$'\n'}"
    fi
  done
}

# verify_and_place i: checks a downloaded .part (unless aria2c already checked its sha-256), moves it into place.
verify_and_place() {
  local i=$1 part=${PART[$1]} size shown how
  expect "${i}"
  size=$(file_size "${part}")
  if [[ -n ${WANT_SIZE} && ${size} != "${WANT_SIZE}" ]]; then
    RESULT[i]=failed
    FAILURE[i]="downloaded ${size} bytes, expected ${WANT_SIZE}"
    return 0
  fi
  if [[ -n ${WANT_SHA} ]]; then
    if [[ ${RESULT[i]} != ok ]]; then
      sha256_of "${part}"
      if [[ ${HASH} != "${WANT_SHA}" ]]; then
        RESULT[i]=badsum
        BADSUM[i]="expected ${WANT_SHA}, got ${HASH}"
        return 0
      fi
    fi
    how=manifest
    [[ -n ${MSHA[i]} ]] || how=server-lfs-sha256
  elif [[ -n ${PREFIX[i]} ]]; then
    sha256_of "${part}"
    if [[ ${HASH} != "${PREFIX[i]}"* ]]; then
      RESULT[i]=badsum
      BADSUM[i]="its sha256 ${HASH} does not start with the published prefix ${PREFIX[i]}"
      return 0
    fi
    WANT_SHA=${HASH}
    how=sha256-prefix
  else
    how="size-only"
    if [[ ${SOURCE[i]} == url ]]; then
      warn "${ID[i]}: verified by size only: the manifest gives neither sha256 nor sha256Prefix for this direct download"
    else
      warn "${ID[i]}: verified by size only: the server gives no sha256 for this file (it is not stored in LFS)"
    fi
  fi
  mv -f -- "${part}" "${DEST[i]}"
  rm -f -- "${part}.aria2"
  write_sidecar "${i}" "${WANT_SHA}" "${how}"
  decimal shown "${size}" 1000000
  log "[done] ${ID[i]}: ${shown} MB verified (${WANT_SHA:+sha256 ${WANT_SHA}, }${how}) -> ${DEST[i]}"
  RESULT[i]=placed
}

# download i...: fetches and verifies, in at most two rounds. What fails its checksum is deleted and fetched once
# more; what fails to transfer is fetched once more after a longer pause, from a freshly probed URL.
download() {
  local round i size status=6 f pause todo=("$@") fetch=() again=() retry=() failures=()
  for round in 1 2; do
    RESULT=() FAILURE=() BADSUM=() fetch=() again=() retry=()
    for i in "${todo[@]}"; do
      expect "${i}"
      size=-1
      if [[ -f ${PART[i]} && ! -f ${PART[i]}.aria2 ]]; then size=$(file_size "${PART[i]}"); fi
      if [[ -n ${WANT_SIZE} && ${size} == "${WANT_SIZE}" ]]; then
        now_us "START_US[${i}]" # a complete .part left by an interrupted check only needs its check
        RESULT[i]=check
      else
        fetch+=("${i}")
      fi
    done
    if ((${#fetch[@]} > 0)); then
      if ((HAVE_ARIA2)); then
        fetch_aria2 "${fetch[@]}"
      else
        if ((round == 1)); then log "aria2c not found: downloading with curl, one file at a time"; fi
        fetch_curl "${fetch[@]}"
      fi
    fi
    for i in "${todo[@]}"; do
      if [[ ${RESULT[i]} == ok || ${RESULT[i]} == check ]]; then verify_and_place "${i}"; fi
      case "${RESULT[i]}" in
        placed) ;;
        badsum)
          rm -f -- "${PART[i]}" "${PART[i]}.aria2"
          if ((round == 1)); then
            warn "${ID[i]}: checksum mismatch (${BADSUM[i]}): deleted, fetching it once more"
            again+=("${i}")
          else
            if [[ -n ${MSHA[i]} ]]; then
              stale_pin "${i}"
              failures+=("5|${ID[i]}: checksum mismatch again after a fresh download from ${URL[i]} (${BADSUM[i]}): the pinned sha256 no longer matches what the server sends, or the transfer is corrupted. If the server's file changed: ${STALE}")
            elif [[ ${SOURCE[i]} == url ]]; then
              failures+=("5|${ID[i]}: checksum mismatch again after a fresh download from ${URL[i]} (${BADSUM[i]}): the transfer is corrupted (a proxy, the network or the disk) or the host serves another file than its publisher named")
            else
              failures+=("5|${ID[i]}: checksum mismatch again after a fresh download from ${URL[i]} (${BADSUM[i]}): the bytes do not match the server's own LFS sha256, so the transfer is corrupted (a proxy, the network or the disk)")
            fi
          fi
          ;;
        *)
          if ((round == 1)); then
            warn "${ID[i]}: download failed after ${MAX_TRIES} tries (${FAILURE[i]:-unknown error}): one more round after a longer pause"
            retry+=("${i}")
          else
            failures+=("6|${ID[i]}: download failed from ${URL[i]} in two rounds of ${MAX_TRIES} tries: ${FAILURE[i]:-unknown error}; the partial file is kept and resumes on the next run")
          fi
          ;;
      esac
    done
    if ((${#retry[@]} > 0)); then
      pause=$((RETRY_WAIT * MAX_TRIES))
      log "waiting ${pause} s before the last round for ${#retry[@]} file(s), then probing their URLs again"
      run_tool sleep "${pause}"
      stop_if_interrupted
      for i in "${retry[@]}"; do
        probe "${i}"
        case "${HSTATUS[i]}" in
          2?? | 3??) again+=("${i}") ;;
          401 | 403 | 404) failures+=("4|${ID[i]}: ${HERROR[i]}") ;;
          *) failures+=("6|${ID[i]}: ${HERROR[i]}") ;;
        esac
      done
    fi
    ((${#again[@]} > 0)) || break
    todo=("${again[@]}")
  done
  if ((${#failures[@]} > 0)); then
    for f in "${failures[@]}"; do
      printf '%s: ERROR: %s\n' "${ME}" "${f#*|}" >&2
      if [[ ${f%%|*} == 5 ]]; then status=5; fi
      if [[ ${f%%|*} == 4 && ${status} != 5 ]]; then status=4; fi
    done
    exit "${status}"
  fi
}

# ------------------------------------------------------------------ main
# Two pods sharing one network volume must not write the same .part files.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${MODELS_DIR}/.download-models.lock"
  if ! flock -n 9; then
    log "another download-models.sh is filling ${MODELS_DIR}: waiting for it"
    flock 9 || warn "cannot lock ${MODELS_DIR}/.download-models.lock (a filesystem without locks?): going on"
  fi
fi

log "variant ${VARIANT} from ${MANIFEST} into ${MODELS_DIR} (endpoint ${ENDPOINT}, ${TOOL_NAME})"
tried=""
while :; do
  load_variant "${VARIANT}"
  todo=()
  for i in "${!ID[@]}"; do
    check_present "${i}"
    if ((PRESENT == 0)); then todo+=("${i}"); fi
  done
  ((${#todo[@]} > 0)) || break

  check_disk "${VARIANT}" "${todo[@]}"

  unavailable=() broken=()
  for i in "${todo[@]}"; do
    probe "${i}"
    case "${HSTATUS[i]}" in
      2?? | 3??) ;;
      401 | 403 | 404) unavailable+=("${i}") ;;
      *) broken+=("${i}") ;;
    esac
  done

  if ((${#unavailable[@]} > 0)); then
    fallback=$(jq -r --arg v "${VARIANT}" '.variants[$v].fallback // empty' "${MANIFEST}")
    shared=""
    for i in "${unavailable[@]}"; do
      if [[ -n ${fallback} ]] && jq -e --arg id "${ID[i]}" --arg v "${fallback}" \
        'any(.files[]; .id == $id and any(.variants[]; . == $v or . == "*"))' "${MANIFEST}" >/dev/null; then
        shared=1
      fi
    done
    if [[ -n ${fallback} && -z ${shared} && " ${tried} " != *" ${fallback} "* ]]; then
      for i in "${unavailable[@]}"; do warn "${ID[i]}: ${HERROR[i]}"; done
      warn "the ${VARIANT} files cannot be had: falling back to variant ${fallback}"
      tried="${tried} ${VARIANT}"
      VARIANT=${fallback}
      continue
    fi
    for i in "${unavailable[@]}"; do printf '%s: ERROR: %s: %s\n' "${ME}" "${ID[i]}" "${HERROR[i]}" >&2; done
    exit 4
  fi
  if ((${#broken[@]} > 0)); then
    for i in "${broken[@]}"; do printf '%s: ERROR: %s: %s\n' "${ME}" "${ID[i]}" "${HERROR[i]}" >&2; done
    exit 6
  fi

  fetch=()
  for i in "${todo[@]}"; do
    if [[ -n ${MSHA[i]} && -n ${SSHA[i]} && ${MSHA[i]} != "${SSHA[i]}" ]]; then
      stale_pin "${i}"
      die 5 "${ID[i]}: the pinned sha256 no longer matches the server's file at ${URL[i]} (server ${SSHA[i]}, manifest ${MSHA[i]}): ${STALE}"
    fi
    if [[ -n ${MSIZE[i]} && -n ${SSIZE[i]} && ${MSIZE[i]} != "${SSIZE[i]}" ]]; then
      stale_pin "${i}"
      die 5 "${ID[i]}: the pinned size no longer matches the server's file at ${URL[i]} (server ${SSIZE[i]} bytes, manifest ${MSIZE[i]}): ${STALE}"
    fi
    # Present but only checkable against the server's hash: check it now that the hash is known.
    if [[ -f ${DEST[i]} ]]; then
      expect "${i}"
      size=$(file_size "${DEST[i]}")
      if [[ -n ${WANT_SHA} ]]; then
        decimal shown "${size}" 1000000
        log "[check] ${ID[i]}: hashing the copy already present (${shown} MB)"
        sha256_of "${DEST[i]}"
        if [[ ${HASH} == "${WANT_SHA}" ]]; then
          write_sidecar "${i}" "${WANT_SHA}" server-lfs-sha256
          log "[ok] ${ID[i]}: present and matches the server's sha256"
          continue
        fi
      elif [[ -n ${WANT_SIZE} && ${size} == "${WANT_SIZE}" ]]; then
        write_sidecar "${i}" "" "size-only"
        warn "${ID[i]}: present, verified by size only: the server gives no sha256 for this file"
        continue
      fi
      warn "${ID[i]}: ${DEST[i]} does not match the server's file: fetching it again"
      rm -f -- "${DEST[i]}" "${DEST[i]}.sha256"
    fi
    fetch+=("${i}")
  done
  if ((${#fetch[@]} > 0)); then
    # Check again only if the server told sizes the manifest did not have.
    for i in "${fetch[@]}"; do
      if [[ -z ${MSIZE[i]} && -n ${SSIZE[i]} && ${SSIZE[i]} != "${ESTIMATE[i]}" ]]; then
        check_disk "${VARIANT} (server sizes)" "${fetch[@]}"
        break
      fi
    done
    download "${fetch[@]}"
  fi
  break
done

total=0
for i in "${!ID[@]}"; do
  size=$(file_size "${DEST[i]}")
  total=$((total + size))
done
printf '%s\n' "${VARIANT}" >"${MODELS_DIR}/.steadydancer-variant"
decimal shown "${total}" 1000000000
log "all ${#ID[@]} files of variant ${VARIANT} are present and verified in ${MODELS_DIR} (${shown} GB)"
