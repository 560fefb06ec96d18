#!/usr/bin/env bash
# Container entrypoint of the ComfyUI + SteadyDancer image: checks that a GPU is usable, picks ComfyUI's VRAM and
# attention settings for it, makes sure the models are there, points ComfyUI at them, then runs ComfyUI with
# SIGTERM/SIGINT forwarded so that a pod stop is clean. Exits with ComfyUI's status.
#
# Environment (all optional; defaults are the image's paths):
#   MODE (pod)             pod: ComfyUI behind the authenticating front, with sshd and the watchdog when asked for.
#                          serverless: a RunPod queue worker: ComfyUI on 127.0.0.1 and the job worker
#                          (python -m worker from ${STEADYDANCER_HOME}, docker/worker) beside it; no front, no sshd,
#                          no watchdog, as a serverless worker exposes no port and RunPod scales it
#   VENV_DIR (/opt/venv)   COMFYUI_DIR (/opt/ComfyUI)   STEADYDANCER_HOME (/opt/steadydancer)
#   DOWNLOAD_MODELS_SCRIPT (${STEADYDANCER_HOME}/scripts/download-models.sh)
#   MODEL_MANIFEST         (${STEADYDANCER_HOME}/models/manifest.json)
#   BAKED_MARKER           (${COMFYUI_DIR}/models/.steadydancer-baked): holds the variant baked into the image;
#                          nothing is fetched unless STEADYDANCER_VARIANT asks for another one (the requested
#                          variant's fallback in the manifest counts as that variant: a build that fell back
#                          from fp8 to fp16 bakes fp16 while the image's STEADYDANCER_VARIANT still says fp8)
#   WORKSPACE_DIR          (/workspace; /runpod-volume with MODE=serverless): the RunPod volume
#   MODELS_DIR             (${WORKSPACE_DIR}/models when WORKSPACE_DIR is a writable folder, else ${COMFYUI_DIR}/models)
#   SKIP_MODEL_DOWNLOAD=1  start without fetching models
#   VRAM_MODE              auto | lowvram | normalvram | highvram (auto)
#   ATTENTION_MODE         auto | flash | xformers | sdpa (auto)
#   PYTORCH_CUDA_ALLOC_CONF (expandable_segments:True)
#   MANAGER_NETWORK_MODE   ComfyUI-Manager network_mode (offline)
#   COMFYUI_LISTEN (0.0.0.0)  COMFYUI_PORT (8188): where the authenticating front (auth-proxy.py) listens
#   COMFYUI_INTERNAL_PORT (8189): ComfyUI itself, on 127.0.0.1 only
#   COMFYUI_AUTH_TOKEN     the token the front asks for (16+ characters; required unless COMFYUI_AUTH=off)
#   COMFYUI_AUTH (token)   off: the front forwards every request unchecked (behind a proxy of your own only)
#   AUTH_PROXY             (${STEADYDANCER_HOME}/scripts/auth-proxy.py)
#   COMFYUI_ARGS (extra ComfyUI flags, split on spaces)
#   COMFYUI_PID_FILE (/tmp/comfyui.pid)
#   PUBLIC_KEY             SSH public keys (one a line): sshd is started for root with them; none, no sshd
#   SSH_AUTHORIZED_KEYS (/root/.ssh/authorized_keys)  SSH_KEYGEN_PREFIX (empty: host keys in /etc/ssh)
#   SSHD_RUN_DIR (/run/sshd)
#   IDLE_STOP_MINUTES, MAX_LIFETIME_HOURS, LIFETIME_ACTION: start scripts/pod-watchdog.py beside ComfyUI, which
#                          stops or terminates the pod (see that script); WATCHDOG_SCRIPT, WATCHDOG_* pass through
# Plus the download script's variables (STEADYDANCER_VARIANT, HF_TOKEN, HF_ENDPOINT, DOWNLOAD_*), passed through.
set -euo pipefail

readonly ME="start"
log() { printf '%s: %s\n' "${ME}" "$*"; }
die() {
  local status=$1
  shift
  printf '%s: ERROR: %s\n' "${ME}" "$*" >&2
  exit "${status}"
}

# ------------------------------------------------------------------ signals
# Children run in the background so that TERM/INT can be forwarded; background children of a non-interactive
# shell ignore INT, so both are forwarded as TERM.
CHILD_PID=""
FRONT_PID=""
STOPPING=0
on_signal() {
  STOPPING=1
  if [[ -n ${FRONT_PID} ]]; then kill -TERM "${FRONT_PID}" 2>/dev/null || true; fi
  if [[ -n ${CHILD_PID} ]]; then
    log "SIG$1 received: stopping PID ${CHILD_PID}"
    kill -TERM "${CHILD_PID}" 2>/dev/null || true
  else
    die "$2" "SIG$1 received while starting: stopped"
  fi
}
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

# run_child CMD...: runs CMD in the background, waits for it (through forwarded signals), sets CHILD_STATUS.
CHILD_STATUS=0
run_child() {
  "$@" &
  CHILD_PID=$!
  wait_child
}
wait_child() {
  while :; do
    CHILD_STATUS=0
    wait "${CHILD_PID}" || CHILD_STATUS=$?
    kill -0 "${CHILD_PID}" 2>/dev/null || break # else wait returned early for a trapped signal
  done
  # A trapped signal can cut wait short just as the child ends; bash keeps the status, so ask once more.
  CHILD_STATUS=0
  wait "${CHILD_PID}" || CHILD_STATUS=$?
  CHILD_PID=""
}

VENV_DIR=${VENV_DIR:-/opt/venv}
COMFYUI_DIR=${COMFYUI_DIR:-/opt/ComfyUI}
STEADYDANCER_HOME=${STEADYDANCER_HOME:-/opt/steadydancer}
DOWNLOAD_MODELS_SCRIPT=${DOWNLOAD_MODELS_SCRIPT:-${STEADYDANCER_HOME}/scripts/download-models.sh}
MODEL_MANIFEST=${MODEL_MANIFEST:-${STEADYDANCER_HOME}/models/manifest.json}
BAKED_MARKER=${BAKED_MARKER:-${COMFYUI_DIR}/models/.steadydancer-baked}
MODE=${MODE:-pod}
case "${MODE}" in
  pod) WORKSPACE_DIR=${WORKSPACE_DIR:-/workspace} ;;
  # RunPod mounts an endpoint's network volume at /runpod-volume on its workers (at /workspace on pods).
  serverless) WORKSPACE_DIR=${WORKSPACE_DIR:-/runpod-volume} ;;
  *) die 2 "MODE must be pod (ComfyUI behind the authenticating front) or serverless (a RunPod queue worker), got '${MODE}'" ;;
esac
VRAM_MODE=${VRAM_MODE:-auto}
ATTENTION_MODE=${ATTENTION_MODE:-auto}
MANAGER_NETWORK_MODE=${MANAGER_NETWORK_MODE:-offline}
COMFYUI_LISTEN=${COMFYUI_LISTEN:-0.0.0.0}
COMFYUI_PORT=${COMFYUI_PORT:-8188}
COMFYUI_PID_FILE=${COMFYUI_PID_FILE:-/tmp/comfyui.pid}

case "${VRAM_MODE}" in auto | lowvram | normalvram | highvram) ;; *) die 2 "VRAM_MODE must be auto, lowvram, normalvram or highvram, got '${VRAM_MODE}'" ;; esac
case "${ATTENTION_MODE}" in auto | flash | xformers | sdpa) ;; *) die 2 "ATTENTION_MODE must be auto, flash, xformers or sdpa, got '${ATTENTION_MODE}'" ;; esac
case "${MANAGER_NETWORK_MODE}" in public | private | offline) ;; *) die 2 "MANAGER_NETWORK_MODE must be public, private or offline, got '${MANAGER_NETWORK_MODE}'" ;; esac
[[ ${COMFYUI_PORT} =~ ^[0-9]+$ ]] || die 2 "COMFYUI_PORT must be a port number, got '${COMFYUI_PORT}'"
[[ -f ${COMFYUI_DIR}/main.py ]] || die 2 "no ComfyUI at ${COMFYUI_DIR} (main.py missing; set COMFYUI_DIR)"

# ------------------------------------------------------------------ authenticating front (or the worker)
# ComfyUI listens on 127.0.0.1 only. What the pod's port reaches is auth-proxy.py, which forwards a request
# (HTTP and the websocket) only when it carries COMFYUI_AUTH_TOKEN; checked here, before any GPU or download work.
# With MODE=serverless nothing listens outside: the job worker takes its jobs from RunPod and speaks to ComfyUI on
# loopback, so it stands where the front stands (started beside ComfyUI, and each stops when the other ends).
COMFYUI_INTERNAL_PORT=${COMFYUI_INTERNAL_PORT:-8189}
COMFYUI_AUTH=${COMFYUI_AUTH:-token}
AUTH_PROXY=${AUTH_PROXY:-${STEADYDANCER_HOME}/scripts/auth-proxy.py}
[[ ${COMFYUI_INTERNAL_PORT} =~ ^[0-9]+$ && ${COMFYUI_INTERNAL_PORT} != "${COMFYUI_PORT}" ]] ||
  die 2 "COMFYUI_INTERNAL_PORT must be a port number other than COMFYUI_PORT (${COMFYUI_PORT}), got '${COMFYUI_INTERNAL_PORT}'"
if [[ ${MODE} == pod ]]; then
  front_name="the front"
  case "${COMFYUI_AUTH}" in
    token)
      token=${COMFYUI_AUTH_TOKEN:-}
      ((${#token} >= 16)) || die 2 "COMFYUI_AUTH_TOKEN is unset or shorter than 16 characters: ComfyUI is not served without authentication. Pass a token (the Pulumi stack does: stack output comfyToken), or COMFYUI_AUTH=off when an authenticating proxy of your own is in front"
      unset token
      front_why="token required"
      ;;
    off) front_why="COMFYUI_AUTH=off: NO authentication, anyone who reaches the port can use ComfyUI" ;;
    *) die 2 "COMFYUI_AUTH must be token or off, got '${COMFYUI_AUTH}'" ;;
  esac
  [[ -r ${AUTH_PROXY} ]] || die 2 "no authenticating front at ${AUTH_PROXY} (set AUTH_PROXY)"
else
  front_name="the worker"
  [[ -r ${STEADYDANCER_HOME}/worker/__main__.py ]] || die 2 "MODE=serverless but there is no worker at ${STEADYDANCER_HOME}/worker (set STEADYDANCER_HOME)"
fi

# start_front: runs the front in the background (FRONT_PID). The token travels in its environment, never argv.
start_front() {
  log "starting the front on ${COMFYUI_LISTEN}:${COMFYUI_PORT} for ComfyUI on 127.0.0.1:${COMFYUI_INTERNAL_PORT} (${front_why})"
  COMFYUI_AUTH=${COMFYUI_AUTH} python -u "${AUTH_PROXY}" --listen "${COMFYUI_LISTEN}" --port "${COMFYUI_PORT}" \
    --upstream "http://127.0.0.1:${COMFYUI_INTERNAL_PORT}" &
  FRONT_PID=$!
}

# start_worker: runs the job worker in the background (FRONT_PID) once ComfyUI is launched; the worker waits
# (bounded, COMFYUI_READY_TIMEOUT) for ComfyUI to answer before it takes a job, and exits non-zero when it never does.
start_worker() {
  log "starting the serverless worker (python -m worker in ${STEADYDANCER_HOME}) for ComfyUI on 127.0.0.1:${COMFYUI_INTERNAL_PORT}"
  (cd "${STEADYDANCER_HOME}" && COMFYUI_URL="http://127.0.0.1:${COMFYUI_INTERNAL_PORT}" exec python -u -m worker) &
  FRONT_PID=$!
}

# wait_with_front: waits for ComfyUI (CHILD_PID) and the front (or the worker); whichever ends first ends the other.
# Sets CHILD_STATUS to ComfyUI's status, or 1 when the front died on its own (nothing could reach ComfyUI).
wait_with_front() {
  local front_status=0
  while kill -0 "${CHILD_PID}" 2>/dev/null && kill -0 "${FRONT_PID}" 2>/dev/null; do
    wait -n "${CHILD_PID}" "${FRONT_PID}" 2>/dev/null || true
  done
  if kill -0 "${CHILD_PID}" 2>/dev/null; then
    wait "${FRONT_PID}" 2>/dev/null || front_status=$?
    FRONT_PID=""
    if ((!STOPPING)); then # else on_signal has already asked ComfyUI to stop
      log "${front_name} exited (status ${front_status}): stopping ComfyUI, which nothing can reach without it"
      kill -TERM "${CHILD_PID}" 2>/dev/null || true
    fi
    wait_child
    if ((!STOPPING && CHILD_STATUS == 0)); then CHILD_STATUS=1; fi
  else
    wait_child
    kill -TERM "${FRONT_PID}" 2>/dev/null || true
    wait "${FRONT_PID}" 2>/dev/null || true
    FRONT_PID=""
  fi
}

if [[ -x ${VENV_DIR}/bin/python ]]; then
  export VIRTUAL_ENV=${VENV_DIR}
  export PATH="${VENV_DIR}/bin:${PATH}"
fi
command -v python >/dev/null 2>&1 || die 2 "python not found (no venv at ${VENV_DIR} and none on PATH)"

# ------------------------------------------------------------------ 0. sshd and the pod watchdog
# Both start before the GPU checks and the model download: SSH helps debug a pod that is still downloading,
# and the lifetime limit counts from the container's start.
SSH_AUTHORIZED_KEYS=${SSH_AUTHORIZED_KEYS:-/root/.ssh/authorized_keys}
SSH_KEYGEN_PREFIX=${SSH_KEYGEN_PREFIX:-}
SSHD_RUN_DIR=${SSHD_RUN_DIR:-/run/sshd}
WATCHDOG_SCRIPT=${WATCHDOG_SCRIPT:-${STEADYDANCER_HOME}/scripts/pod-watchdog.py}

# sshd with the keys in PUBLIC_KEY (pod.publicKey, or the account's keys RunPod injects with startSsh). Host keys
# are made on the first start of a container. A failure here is logged and ComfyUI starts anyway.
start_sshd() {
  if [[ -z ${PUBLIC_KEY:-} ]]; then
    log "sshd: not started: PUBLIC_KEY is empty (set pod.publicKey, or register a key in the RunPod account settings)"
    return 0
  fi
  local sshd_bin keys_dir host_dir key_count fingerprints="" key
  sshd_bin=$(command -v sshd 2>/dev/null) || sshd_bin=/usr/sbin/sshd
  if [[ ! -x ${sshd_bin} ]] || ! command -v ssh-keygen >/dev/null 2>&1; then
    log "sshd: not started: openssh-server is not installed in this image"
    return 0
  fi
  keys_dir=$(dirname "${SSH_AUTHORIZED_KEYS}")
  if ! { mkdir -p "${keys_dir}" && chmod 700 "${keys_dir}"; }; then
    log "sshd: not started: cannot create ${keys_dir}"
    return 0
  fi
  # Existing keys are kept; each key line appears once however often the container restarts.
  { if [[ -f ${SSH_AUTHORIZED_KEYS} ]]; then cat "${SSH_AUTHORIZED_KEYS}"; fi; printf '%s\n' "${PUBLIC_KEY}"; } |
    tr -d '\r' | awk 'NF && !seen[$0]++' >"${SSH_AUTHORIZED_KEYS}.tmp"
  mv -f "${SSH_AUTHORIZED_KEYS}.tmp" "${SSH_AUTHORIZED_KEYS}"
  chmod 600 "${SSH_AUTHORIZED_KEYS}"
  key_count=$(tr -d '\r' <<<"${PUBLIC_KEY}" | grep -c '[^[:space:]]') || key_count=0
  host_dir=${SSH_KEYGEN_PREFIX}/etc/ssh
  mkdir -p "${host_dir}"
  local keygen_out
  if ! keygen_out=$(ssh-keygen -A ${SSH_KEYGEN_PREFIX:+-f "${SSH_KEYGEN_PREFIX}"} 2>&1); then
    log "sshd: not started: ssh-keygen -A could not make host keys: ${keygen_out//$'\n'/ }"
    return 0
  fi
  for key in "${host_dir}"/ssh_host_*_key.pub; do
    if [[ -f ${key} ]]; then fingerprints+=" $(ssh-keygen -lf "${key}" 2>/dev/null | awk '{print $4 " " $2}');"; fi
  done
  mkdir -p "${SSHD_RUN_DIR}" && chmod 755 "${SSHD_RUN_DIR}"
  local sshd_out
  if ! sshd_out=$("${sshd_bin}" 2>&1); then
    log "sshd: failed to start: ${sshd_out//$'\n'/ }"
    return 0
  fi
  log "sshd: listening on port 22 for root with ${key_count} key(s) from PUBLIC_KEY; host keys:${fingerprints:- none listed}"
}

# The idle/lifetime watchdog runs beside ComfyUI when a limit is set; bad settings stop the start (exit 2), so a
# pod is never left running without the limit it was given. It is stopped when this script exits.
WATCHDOG_PID=""
stop_watchdog() {
  if [[ -n ${WATCHDOG_PID} ]]; then kill -TERM "${WATCHDOG_PID}" 2>/dev/null || true; fi
}
start_watchdog() {
  if [[ -z ${IDLE_STOP_MINUTES:-} && -z ${MAX_LIFETIME_HOURS:-} ]]; then return 0; fi
  if [[ ${IDLE_STOP_MINUTES:-0} =~ ^0*(\.0*)?$ && ${MAX_LIFETIME_HOURS:-0} =~ ^0*(\.0*)?$ ]]; then return 0; fi
  [[ -r ${WATCHDOG_SCRIPT} ]] || die 2 "IDLE_STOP_MINUTES/MAX_LIFETIME_HOURS are set but ${WATCHDOG_SCRIPT} is missing (set WATCHDOG_SCRIPT)"
  local check_out
  check_out=$(python "${WATCHDOG_SCRIPT}" --check 2>&1) || die 2 "the pod watchdog cannot run: ${check_out//$'\n'/ }"
  # ComfyUI itself, not a front that may ask for a token: COMFYUI_INTERNAL_PORT where ComfyUI sits behind one.
  export WATCHDOG_COMFYUI_URL=${WATCHDOG_COMFYUI_URL:-http://127.0.0.1:${COMFYUI_INTERNAL_PORT:-${COMFYUI_PORT}}}
  python -u "${WATCHDOG_SCRIPT}" &
  WATCHDOG_PID=$!
  trap stop_watchdog EXIT
  log "watchdog: started (PID ${WATCHDOG_PID}; IDLE_STOP_MINUTES=${IDLE_STOP_MINUTES:-0} MAX_LIFETIME_HOURS=${MAX_LIFETIME_HOURS:-0} LIFETIME_ACTION=${LIFETIME_ACTION:-stop})"
}
if [[ ${MODE} == pod ]]; then
  start_sshd
  start_watchdog
else
  log "MODE=serverless: no authenticating front, no sshd, no watchdog (a serverless worker exposes no port; RunPod starts and stops workers)"
fi

# ------------------------------------------------------------------ 1. GPU preflight
no_gpu() {
  die 1 "no GPU visible: $1. The pod or container was started without a GPU (RunPod: a GPU pod; docker: --gpus all with the NVIDIA Container Toolkit), the NVIDIA driver is not loaded, or the driver is too old for CUDA 12.4 (needs driver 550 or newer)."
}
# check_torch LINE: stops with what really failed, from the probe's torch line: torch not importable from the
# venv (nothing to do with the GPU), CUDA not usable, or a GPU this PyTorch build has no kernels for.
check_torch() {
  local line=$1 rest
  case "${line}" in
    ok*) return 0 ;;
    "import "*)
      rest=${line#import }
      die 1 "PyTorch is not importable from ${rest##*| } (${rest%% | *}). The GPU is not the problem (nvidia-smi sees ${gpu_name}, driver ${gpu_driver}): the image's venv at ${VENV_DIR} is missing torch or is broken, or another python is first on PATH. Rebuild the image, or run ${VENV_DIR}/bin/python -m pip install --no-deps --require-hashes -r /opt/requirements/lock.txt"
      ;;
    "kernel "*)
      rest=${line#kernel }
      # rest: CAPABILITY TORCH_VERSION ARCHES | ERROR
      local capability=${rest%% *} after=${rest#* } version arches
      version=${after%% *}
      arches=${after#* }
      arches=${arches%% | *}
      die 1 "the GPU (${gpu_name}, compute capability ${capability}) cannot run this image's PyTorch ${version}, which has kernels for ${arches} only: its first CUDA kernel failed (${rest##*| }). Use a GPU of a supported family (Ampere, Ada Lovelace or Hopper; see the README), e.g. pod.gpuTypes: NVIDIA L40S, NVIDIA A100 80GB PCIe, NVIDIA H100 80GB HBM3"
      ;;
    *) no_gpu "PyTorch cannot initialise CUDA (${line#cuda }; driver ${gpu_driver:-unknown})" ;;
  esac
}
command -v nvidia-smi >/dev/null 2>&1 || no_gpu "nvidia-smi is not available in the container"
gpu_list=$(nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader,nounits 2>&1) ||
  no_gpu "nvidia-smi failed: ${gpu_list//$'\n'/ }"
IFS=, read -r _ gpu_name gpu_mib gpu_driver <<<"${gpu_list%%$'\n'*}" || true
gpu_name=${gpu_name# }
gpu_mib=${gpu_mib// /}
gpu_driver=${gpu_driver// /}
[[ ${gpu_mib} =~ ^[0-9]+$ ]] || no_gpu "nvidia-smi lists no GPU (${gpu_list//$'\n'/ })"
gpu_count=$(grep -c . <<<"${gpu_list}")
log "GPU: ${gpu_name}, ${gpu_mib} MiB, driver ${gpu_driver}${gpu_count:+ (${gpu_count} listed)}"

# One Python run (one torch import) initialises CUDA, runs a tiny kernel, looks for the optional attention
# kernels and for where the installed ComfyUI-Manager reads its config.ini.
probe_out=$(python - <<'PY' 2>&1
import importlib, importlib.util, os, sys

def one_line(err):
    return (type(err).__name__ + ": " + str(err)).replace("\n", " ")[:400]

# ComfyUI-Manager (the pip package): the config path its prestartup_script.py uses, read without importing it.
try:
    spec = importlib.util.find_spec("comfyui_manager")
except Exception:  # noqa: BLE001 - a broken package counts as absent
    spec = None
if spec is None or not spec.submodule_search_locations:
    print("manager none")
else:
    try:
        with open(os.path.join(list(spec.submodule_search_locations)[0], "prestartup_script.py"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        text = ""
    if 'get_system_user_directory("manager")' in text:
        print("manager user/__manager/config.ini")
    elif "'default', 'ComfyUI-Manager'" in text:
        print("manager user/default/ComfyUI-Manager/config.ini")
    else:
        print("manager unknown")

try:
    import torch
except Exception as err:  # noqa: BLE001 - any failure means torch is unusable
    print("torch import", one_line(err), "|", sys.executable)
    sys.exit(0)
try:
    torch.cuda.init()
    count = torch.cuda.device_count()
except Exception as err:  # noqa: BLE001 - any failure means CUDA is unusable
    print("torch cuda", one_line(err))
    sys.exit(0)
capability = "unknown"
try:
    major, minor = torch.cuda.get_device_capability(0)
    capability = f"{major}.{minor}"
    arches = ",".join(torch.cuda.get_arch_list()) or "none"
    # torch.cuda.init() passes on a GPU this build has no kernels for; the first kernel fails.
    (torch.ones(8, device="cuda") * 2).sum().item()
except Exception as err:  # noqa: BLE001
    print("torch kernel", capability, getattr(torch, "__version__", "?"), locals().get("arches", "unknown"), "|", one_line(err))
    sys.exit(0)
print("torch ok", torch.__version__, "CUDA", torch.version.cuda, "devices", count)
print("capability", capability, arches)

for label, module, package in (("flash_attn", "flash_attn", "flash_attn"), ("xformers", "xformers.ops", "xformers")):
    try:
        importlib.import_module(module)
        print(label, "ok", getattr(sys.modules[package], "__version__", "?"))
    except Exception as err:  # noqa: BLE001 - a broken wheel counts as absent
        print(label, "no", one_line(err))
PY
) || die 1 "python could not run the GPU probe: ${probe_out//$'\n'/ }"
probe_line() { # KEY: rest of the probe's "KEY ..." line
  local line
  while IFS= read -r line; do
    if [[ ${line} == "$1 "* ]]; then
      printf '%s' "${line#"$1 "}"
      return 0
    fi
  done <<<"${probe_out}"
}
torch_line=$(probe_line torch)
check_torch "${torch_line}"
log "PyTorch: ${torch_line#ok }"
capability_line=$(probe_line capability)
log "GPU compute capability: ${capability_line%% *} (this PyTorch has kernels for ${capability_line#* })"

# ------------------------------------------------------------------ 2. VRAM mode
# lowvram below 20 GB: the fp8 14B weights alone are ~16 GB, so ComfyUI must stream weights from CPU RAM.
# normalvram for 24-48 GB cards: ComfyUI's default, loading and offloading models as memory allows.
# highvram from 60 GB (A100/H100 80 GB): the fp8 model (~16 GB), the T5 encoder (~11 GB), CLIP vision and the
# VAE all fit, so keeping them on the GPU between runs saves reloading them for every video.
if [[ ${VRAM_MODE} == auto ]]; then
  if ((gpu_mib < 20000)); then
    vram_mode=lowvram
    vram_why="${gpu_mib} MiB < 20000 MiB: weights are streamed from CPU RAM"
  elif ((gpu_mib < 60000)); then
    vram_mode=normalvram
    vram_why="20000 <= ${gpu_mib} MiB < 60000 MiB: ComfyUI's default offloading"
  else
    vram_mode=highvram
    vram_why="${gpu_mib} MiB >= 60000 MiB: models stay on the GPU between runs"
  fi
else
  vram_mode=${VRAM_MODE}
  vram_why="set by VRAM_MODE"
fi
log "VRAM: --${vram_mode} (${vram_why})"

# ------------------------------------------------------------------ 3. attention
flash_line=$(probe_line flash_attn)
xformers_line=$(probe_line xformers)
attention_flags=()
use_flash() {
  attention_mode=flash
  attention_flags=(--use-flash-attention)
  attention_why="flash_attn ${flash_line#ok } imports"
}
use_xformers() {
  attention_mode=xformers
  attention_flags=()
  attention_why="xformers ${xformers_line#ok } imports; ComfyUI uses it by default"
}
use_sdpa() {
  attention_mode=sdpa
  attention_flags=(--use-pytorch-cross-attention --disable-xformers)
  attention_why=$1
}
case "${ATTENTION_MODE}" in
  auto)
    if [[ ${flash_line} == ok* ]]; then
      use_flash
    elif [[ ${xformers_line} == ok* ]]; then
      use_xformers
      attention_why="${attention_why}; flash_attn does not (${flash_line#no })"
    else
      use_sdpa "PyTorch SDPA: neither flash_attn (${flash_line#no }) nor xformers (${xformers_line#no }) imports"
    fi
    ;;
  flash)
    [[ ${flash_line} == ok* ]] || die 1 "ATTENTION_MODE=flash but flash_attn does not import: ${flash_line#no }"
    use_flash
    ;;
  xformers)
    [[ ${xformers_line} == ok* ]] || die 1 "ATTENTION_MODE=xformers but xformers does not import: ${xformers_line#no }"
    use_xformers
    ;;
  *) use_sdpa "PyTorch SDPA, set by ATTENTION_MODE" ;;
esac
log "attention: ${attention_mode} ${attention_flags[*]:-(no flag)} (${attention_why})"

# ------------------------------------------------------------------ 4. CUDA allocator
export PYTORCH_CUDA_ALLOC_CONF=${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}
log "PYTORCH_CUDA_ALLOC_CONF=${PYTORCH_CUDA_ALLOC_CONF}"

# ------------------------------------------------------------------ 5. models
# The same three ways for MODE=serverless, where they decide the cold start of every new worker: a network volume
# (/runpod-volume) or baked weights cost nothing here; without either, each cold worker downloads the variant's
# files (manifest sizes: about 35 GB for fp8, 50 GB for fp16) before it takes a job: many minutes, billed as
# worker time, on every cold start.
if [[ -n ${MODELS_DIR:-} ]]; then
  models_dir=${MODELS_DIR}
elif [[ -d ${WORKSPACE_DIR} && -w ${WORKSPACE_DIR} ]]; then
  models_dir=${WORKSPACE_DIR}/models
else
  models_dir=${COMFYUI_DIR}/models
fi
# Whether the baked variant serves the requested one: sets baked_ok (1/0) and says why in baked_why.
requested_variant=${STEADYDANCER_VARIANT:-}
baked_variant=""
baked_ok=0
baked_why=""
check_baked() {
  local fallback=""
  [[ -f ${BAKED_MARKER} ]] || return 0
  baked_variant=$(<"${BAKED_MARKER}")
  baked_variant=${baked_variant//[[:space:]]/}
  if [[ -z ${requested_variant} || ${requested_variant} == "${baked_variant}" ]]; then
    baked_ok=1
    baked_why="${baked_variant:-the} variant is baked into the image (${BAKED_MARKER})"
  elif ! command -v jq >/dev/null 2>&1 || [[ ! -r ${MODEL_MANIFEST} ]]; then
    baked_why="its fallback cannot be read: no jq or no manifest at ${MODEL_MANIFEST}"
  else
    fallback=$(jq -r --arg v "${requested_variant}" '.variants[$v].fallback // empty' "${MODEL_MANIFEST}" 2>/dev/null) || fallback=""
    if [[ -n ${fallback} && ${fallback} == "${baked_variant}" ]]; then
      baked_ok=1
      baked_why="${baked_variant} is baked into the image (${BAKED_MARKER}), the manifest's fallback of the requested ${requested_variant}: the build fell back to it"
    else
      baked_why="the manifest's fallback of ${requested_variant} is ${fallback:-none}"
    fi
  fi
}
check_baked
if ((!baked_ok)) && [[ -f ${BAKED_MARKER} ]]; then
  log "models: STEADYDANCER_VARIANT=${requested_variant} but the image has ${baked_variant:-an unnamed variant} baked in, which does not stand in for it (${baked_why})"
fi
if ((baked_ok)); then
  log "models: ${baked_why}, nothing to fetch"
elif [[ ${SKIP_MODEL_DOWNLOAD:-0} == 1 ]]; then
  log "models: SKIP_MODEL_DOWNLOAD=1, nothing fetched (ComfyUI looks in ${models_dir})"
else
  [[ -x ${DOWNLOAD_MODELS_SCRIPT} ]] || die 2 "cannot run ${DOWNLOAD_MODELS_SCRIPT} (set DOWNLOAD_MODELS_SCRIPT)"
  log "models: fetching into ${models_dir} with ${DOWNLOAD_MODELS_SCRIPT}"
  run_child env MODELS_DIR="${models_dir}" MODEL_MANIFEST="${MODEL_MANIFEST}" "${DOWNLOAD_MODELS_SCRIPT}"
  if ((CHILD_STATUS != 0)); then
    die "${CHILD_STATUS}" "model download failed (exit ${CHILD_STATUS}): ComfyUI not started. Fix the cause above and restart; finished files are kept and partial ones resume."
  fi
fi

# ------------------------------------------------------------------ 6. extra_model_paths.yaml
# Maps every model folder on the volume, including diffusion_models, text_encoders and detection that the
# RunPod worker's file leaves out (ComfyUI only maps unet/clip to them as legacy names).
extra_paths=${COMFYUI_DIR}/extra_model_paths.yaml
models_real=$(cd "${models_dir}" 2>/dev/null && pwd -P) || models_real=""
comfy_models_real=$(cd "${COMFYUI_DIR}/models" 2>/dev/null && pwd -P) || comfy_models_real=""
if [[ -n ${models_real} && ${models_real} != "${comfy_models_real}" ]]; then
  folders="checkpoints clip clip_vision controlnet detection diffusion_models embeddings loras text_encoders unet upscale_models vae"
  if [[ -r ${MODEL_MANIFEST} ]] && command -v jq >/dev/null 2>&1; then
    manifest_folders=$(jq -r '[.files[].target | split("/")[0]] | unique | join(" ")' "${MODEL_MANIFEST}" 2>/dev/null) || manifest_folders=""
    folders="${folders} ${manifest_folders}"
  fi
  yaml_root=${models_real//\\/\\\\}
  yaml_root=${yaml_root//\"/\\\"}
  {
    printf '# Written by start.sh at each start: ComfyUI also finds the models under %s.\n' "${models_real}"
    printf 'steadydancer_models:\n  base_path: "%s"\n' "${yaml_root}"
    tr ' ' '\n' <<<"${folders}" | sort -u | while IFS= read -r folder; do
      if [[ -n ${folder} ]]; then printf '  %s: %s\n' "${folder}" "${folder}"; fi
    done
  } >"${extra_paths}.tmp"
  mv -f "${extra_paths}.tmp" "${extra_paths}"
  log "extra_model_paths.yaml: ComfyUI also looks in ${models_real}"
elif [[ -f ${extra_paths} ]] && grep -q '^# Written by start.sh' "${extra_paths}"; then
  rm -f "${extra_paths}" # ours, from a start with a volume that is gone now
fi

# ------------------------------------------------------------------ 6b. DWPose weights for the pose alignment
# ComfyUI-WanAnimatePreprocess's steadydancer/pose_align.py loads its DWPose checkpoints from its own
# pretrained_weights/dwpose/ folder; the manifest puts them under detection/dwpose/ of the models folder.
dwpose_src=${models_dir}/detection/dwpose
dwpose_dst=${COMFYUI_DIR}/custom_nodes/ComfyUI-WanAnimatePreprocess/steadydancer/pretrained_weights/dwpose
if [[ -d ${dwpose_src} && -d ${dwpose_dst%/pretrained_weights/dwpose} ]]; then
  mkdir -p "${dwpose_dst}"
  linked=0
  for weight in "${dwpose_src}"/*.pth; do
    [[ -f ${weight} ]] || continue
    ln -sfn "${weight}" "${dwpose_dst}/${weight##*/}"
    linked=$((linked + 1))
  done
  log "DWPose: ${linked} checkpoint(s) from ${dwpose_src} linked into ${dwpose_dst}"
fi

# ------------------------------------------------------------------ 7. ComfyUI-Manager network mode
# The Manager is the comfyui_manager pip package, loaded by ComfyUI's --enable-manager. Its config.ini is written
# where the installed version reads it (the probe read that from its prestartup_script.py: user/__manager/ in
# 4.x, through folder_paths.get_system_user_directory("manager")), and only there: when both an old and a new
# location exist, newer Managers take it for a first start after an upgrade and reinstall ComfyUI's requirements.
manager_flags=()
manager_where=$(probe_line manager)
case "${manager_where}" in
  none | "") log "ComfyUI-Manager: not installed, nothing to set" ;;
  unknown) die 1 "ComfyUI-Manager is installed but reads its config.ini from a place this script does not know, so MANAGER_NETWORK_MODE=${MANAGER_NETWORK_MODE} could not be applied: update start.sh (section 7) for this Manager version" ;;
  *)
    manager_config=${COMFYUI_DIR}/${manager_where}
    mkdir -p "${manager_config%/*}"
    if [[ -f ${manager_config} ]]; then
      awk -v mode="${MANAGER_NETWORK_MODE}" '
        /^[ \t]*network_mode[ \t]*=/ { next }
        { print }
        /^\[default\][ \t]*$/ && !done { print "network_mode = " mode; done = 1 }
        END { if (!done) { print "[default]"; print "network_mode = " mode } }' "${manager_config}" >"${manager_config}.tmp"
      mv -f "${manager_config}.tmp" "${manager_config}"
    else
      printf '[default]\nnetwork_mode = %s\n' "${MANAGER_NETWORK_MODE}" >"${manager_config}"
    fi
    manager_flags=(--enable-manager)
    log "ComfyUI-Manager: network_mode = ${MANAGER_NETWORK_MODE} in ${manager_config} (where the installed Manager reads it)"
    ;;
esac

# ------------------------------------------------------------------ 8. ComfyUI
extra_args=()
if [[ -n ${COMFYUI_ARGS:-} ]]; then read -r -a extra_args <<<"${COMFYUI_ARGS}"; fi
args=(main.py --listen 127.0.0.1 --port "${COMFYUI_INTERNAL_PORT}" "--${vram_mode}" "${attention_flags[@]}" "${manager_flags[@]}" "${extra_args[@]}")
cd "${COMFYUI_DIR}"
if [[ ${MODE} == pod ]]; then start_front; fi
log "starting ComfyUI: python -u ${args[*]}"
# ComfyUI and its custom nodes have no use for the front's token or the worker's bucket keys.
env -u COMFYUI_AUTH_TOKEN -u BUCKET_ACCESS_KEY_ID -u BUCKET_SECRET_ACCESS_KEY python -u "${args[@]}" &
CHILD_PID=$!
printf '%s\n' "${CHILD_PID}" >"${COMFYUI_PID_FILE}"
comfy_pid=${CHILD_PID}
if [[ ${MODE} == serverless ]]; then start_worker; fi
wait_with_front
if [[ -f ${COMFYUI_PID_FILE} ]] && [[ $(<"${COMFYUI_PID_FILE}") == "${comfy_pid}" ]]; then rm -f "${COMFYUI_PID_FILE}"; fi
log "ComfyUI exited with status ${CHILD_STATUS}"
if ((CHILD_STATUS != 0)); then exit "${CHILD_STATUS}"; fi
