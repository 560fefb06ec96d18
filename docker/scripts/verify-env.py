#!/usr/bin/env python3
"""Check that the image's Python environment has what ComfyUI + SteadyDancer need.

Usage: verify-env.py [--build | --runtime] [--json]

  --build    run while building the image: there is no GPU, so CUDA availability is only reported.
  --runtime  run on the pod (the default): a usable CUDA device is required as well.
  --json     print one JSON object instead of one line per piece.

Which optional pieces are required follows the image's build switches, read from the environment:
ENABLE_FLASH_ATTN=true makes flash_attn required, ENABLE_MMPOSE=true makes mmcv (with its compiled
ops), mmengine, mmdet, mmpose and the DWPose alignment module of ComfyUI-WanAnimatePreprocess (imported from
COMFYUI_DIR) required. A C compiler that builds against Python.h is always required (Triton compiles a launcher
at run time: torch.compile, sageattention); CC names it, else gcc or cc on PATH. ComfyUI-Manager, when installed,
must read its config.ini from a place start.sh knows. xformers (the attention fallback) and onnxruntime's CUDA
provider (pose detection) are reported, never required.

Exit status: 0 when every required piece is present, 1 when one is missing or has the wrong version
(each is named with how to fix it), 2 on a usage error.

Standard library only; runs on Python 3.10 (the image's interpreter).
"""

import argparse
import contextlib
import importlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import asdict, dataclass
from typing import Callable, List, Optional

TORCH_VERSION = "2.5.1"
TORCH_CUDA = "12.4"
CONSTRAINTS = "/opt/requirements/constraints.txt"
LOCK = "/opt/requirements/lock.txt"
FLASH_ATTN_WHEEL = (
    "https://github.com/Dao-AILab/flash-attention/releases/download/v2.7.4.post1/"
    "flash_attn-2.7.4.post1+cu12torch2.5cxx11abiFALSE-cp310-cp310-linux_x86_64.whl"
)
MM_VERSIONS = {"mmcv": "2.1.0", "mmengine": "0.10.7", "mmdet": "3.3.0", "mmpose": "1.3.2"}

OK, MISSING, WRONG, SKIPPED = "ok", "missing", "wrong", "skipped"


@dataclass
class Check:
    name: str
    status: str
    required: bool
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.required and self.status in (MISSING, WRONG)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def try_import(module: str):
    """The imported module, or the error text when it cannot be imported (any exception, not only ImportError:
    a broken compiled extension raises OSError or RuntimeError)."""
    try:
        return importlib.import_module(module), ""
    except BaseException as exc:  # noqa: BLE001 - the message is what we report
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return None, f"{type(exc).__name__}: {exc}"


def version_of(module) -> str:
    return str(getattr(module, "__version__", "unknown"))


def base_version(version: str) -> str:
    """'2.5.1+cu124' -> '2.5.1'."""
    return version.split("+", 1)[0]


def check_python() -> Check:
    version = ".".join(str(p) for p in sys.version_info[:3])
    detail = f"{version} at {sys.executable}"
    if sys.version_info[:2] != (3, 10):
        return Check("python", WRONG, False, detail + " (the image and the flash-attn wheel expect 3.10)")
    return Check("python", OK, False, detail)


def check_torch(state: dict) -> Check:
    fix = (
        f"pip install --force-reinstall --no-deps --require-hashes -r {LOCK}  (the image's locked set, torch "
        f"{TORCH_VERSION} among it; keep -c {CONSTRAINTS} on every later pip install)"
    )
    torch, error = try_import("torch")
    if torch is None:
        return Check("torch", MISSING, True, error, fix)
    state["torch"] = torch
    version = version_of(torch)
    cuda = getattr(getattr(torch, "version", None), "cuda", None)
    detail = f"{version} (CUDA build {cuda or 'none'})"
    if base_version(version) != TORCH_VERSION:
        return Check("torch", WRONG, True, f"{detail}, expected {TORCH_VERSION}", fix)
    if cuda != TORCH_CUDA:
        return Check("torch", WRONG, True, f"{detail}, expected a CUDA {TORCH_CUDA} build", fix)
    return Check("torch", OK, True, detail)


def check_cuda(state: dict, runtime: bool) -> Check:
    torch = state.get("torch")
    if torch is None:
        return Check("cuda", MISSING if runtime else SKIPPED, runtime, "torch is not importable", "fix torch first")
    try:
        available = bool(torch.cuda.is_available())
        count = int(torch.cuda.device_count()) if available else 0
        names = [str(torch.cuda.get_device_name(i)) for i in range(count)]
    except Exception as exc:  # noqa: BLE001 - a driver problem surfaces here
        available, names, problem = False, [], f"{type(exc).__name__}: {exc}"
    else:
        problem = ""
    if available:
        return Check("cuda", OK, runtime, f"{len(names)} device(s): {', '.join(names)}")
    detail = problem or "torch.cuda.is_available() is False"
    if not runtime:
        return Check("cuda", SKIPPED, False, f"{detail} (expected while building: no GPU)")
    return Check(
        "cuda",
        MISSING,
        True,
        detail,
        "run the container with a GPU (docker run --gpus all / a RunPod GPU pod) and a driver for CUDA >= 12.4; "
        "check nvidia-smi inside the container",
    )


def check_numpy() -> Check:
    fix = f'pip install -c {CONSTRAINTS} "numpy<2"'
    numpy, error = try_import("numpy")
    if numpy is None:
        return Check("numpy", MISSING, True, error, fix)
    version = version_of(numpy)
    try:
        major = int(version.split(".", 1)[0])
    except ValueError:
        return Check("numpy", WRONG, True, f"unreadable version {version!r}", fix)
    if major >= 2:
        return Check("numpy", WRONG, True, f"{version}, expected < 2 (SteadyDancer, xtcocotools, mmcv)", fix)
    return Check("numpy", OK, True, version)


def check_flash_attn() -> Check:
    required = env_flag("ENABLE_FLASH_ATTN")
    module, error = try_import("flash_attn")
    if module is None:
        if not required:
            return Check("flash_attn", SKIPPED, False, f"not installed ({error}); ENABLE_FLASH_ATTN is not true")
        return Check(
            "flash_attn",
            MISSING,
            True,
            f"{error} (required: ENABLE_FLASH_ATTN=true)",
            f"pip install -c {CONSTRAINTS} {FLASH_ATTN_WHEEL}  (never plain `pip install flash-attn`: it falls back "
            "to an hours-long source build), or build the image with ENABLE_FLASH_ATTN=false",
        )
    return Check("flash_attn", OK, required, version_of(module))


def check_xformers() -> Check:
    module, error = try_import("xformers")
    if module is None:
        return Check("xformers", SKIPPED, False, f"not installed ({error}); optional fallback")
    return Check("xformers", OK, False, version_of(module))


def check_onnxruntime() -> Check:
    # The dance workflow's pose detection asks onnxruntime for CUDAExecutionProvider; a CPU-only onnxruntime
    # (e.g. pulled in beside onnxruntime-gpu) makes it fail or crawl. Reported, not required.
    fix = f"pip uninstall -y onnxruntime && pip install -c {CONSTRAINTS} --force-reinstall onnxruntime-gpu"
    module, error = try_import("onnxruntime")
    if module is None:
        return Check("onnxruntime", SKIPPED, False, f"not installed ({error})", fix)
    try:
        providers = [str(p) for p in module.get_available_providers()]
    except Exception as exc:  # noqa: BLE001
        return Check("onnxruntime", WRONG, False, f"{version_of(module)}: providers unreadable ({exc})", fix)
    detail = f"{version_of(module)} ({', '.join(providers)})"
    if "CUDAExecutionProvider" not in providers:
        return Check("onnxruntime", WRONG, False, detail + ": no CUDAExecutionProvider, pose detection runs on CPU", fix)
    return Check("onnxruntime", OK, False, detail)


def check_mm_stack() -> List[Check]:
    required = env_flag("ENABLE_MMPOSE")
    checks: List[Check] = []
    rebuild = (
        "rebuild the image with ENABLE_MMPOSE=true (mmcv 2.1.0 is compiled in the builder stage with "
        "FORCE_CUDA=1 MMCV_WITH_OPS=1), or set ENABLE_MMPOSE=false if the mmpose pose path is not used"
    )
    for name, expected in MM_VERSIONS.items():
        module, error = try_import(name)
        fix = rebuild if name == "mmcv" else f"pip install -c {CONSTRAINTS} {name}=={expected}"
        if module is None:
            if not required:
                checks.append(Check(name, SKIPPED, False, "not installed; ENABLE_MMPOSE is not true"))
            else:
                checks.append(Check(name, MISSING, True, f"{error} (required: ENABLE_MMPOSE=true)", fix))
            continue
        version = version_of(module)
        if version != expected:
            checks.append(Check(name, WRONG, required, f"{version}, expected {expected}", fix))
            continue
        checks.append(Check(name, OK, required, version))
        if name == "mmcv":
            checks.append(check_mmcv_ops(required, rebuild))
    return checks


def check_mmcv_ops(required: bool, fix: str) -> Check:
    # mmcv-lite and a wheel built without MMCV_WITH_OPS import fine but lack the compiled mmcv._ext.
    ext, error = try_import("mmcv._ext")
    if ext is None:
        return Check("mmcv.ops", MISSING, required, f"compiled ops not importable ({error})", fix)
    ops, error = try_import("mmcv.ops")
    if ops is None:
        return Check("mmcv.ops", MISSING, required, f"mmcv.ops fails to import ({error})", fix)
    return Check("mmcv.ops", OK, required, "compiled ops (mmcv._ext) load")


def check_pose_align() -> Check:
    # The SteadyDancer pose alignment of ComfyUI-WanAnimatePreprocess (steadydancer/pose_align.py): importing it
    # pulls moviepy, diffusers, transformers and its DWPose detector (mmpose, mmdet, mmcv), which no node imports
    # until a workflow uses it.
    if not env_flag("ENABLE_MMPOSE"):
        return Check("dwpose_align", SKIPPED, False, "ENABLE_MMPOSE is not true")
    folder = os.path.join(os.environ.get("COMFYUI_DIR", "/opt/ComfyUI"), "custom_nodes", "ComfyUI-WanAnimatePreprocess", "steadydancer")
    fix = "rebuild the image (WANANIMATEPREPROCESS_REF must have steadydancer/pose_align.py; its imports come from the lock)"
    if not os.path.isfile(os.path.join(folder, "pose_align.py")):
        return Check("dwpose_align", MISSING, True, f"no {folder}/pose_align.py", fix)
    sys.path.insert(0, folder)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints the device it found
            _, error = try_import("pose_align")
    finally:
        sys.path.remove(folder)
    if error:
        return Check("dwpose_align", MISSING, True, f"pose_align does not import ({error})", fix)
    return Check("dwpose_align", OK, True, f"{folder}/pose_align.py imports")


def check_c_compiler() -> Check:
    # Triton builds a small C launcher on first use and stops with "Failed to find C compiler" without one; it
    # includes Python.h.
    fix = "apt-get install gcc libc6-dev python3.10-dev (the image installs them in its final stage)"
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        return Check("c_compiler", MISSING, True, "no C compiler (CC unset, no gcc or cc on PATH): Triton, torch.compile and sageattention fail", fix)
    include = sysconfig.get_paths().get("include", "")
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w", encoding="utf-8") as f:
            f.write("#include <Python.h>\nint main(void) { return Py_IsInitialized(); }\n")
        try:
            result = subprocess.run([cc, source, f"-I{include}", "-c", "-o", os.path.join(tmp, "probe.o")],
                                    capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Check("c_compiler", MISSING, True, f"{cc} cannot run: {exc}", fix)
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()
        return Check("c_compiler", WRONG, True, f"{cc} cannot compile against Python.h ({why[0] if why else 'exit ' + str(result.returncode)})", fix)
    return Check("c_compiler", OK, True, f"{cc} compiles against {include}/Python.h")


MANAGER_CONFIGS = (
    ('get_system_user_directory("manager")', "user/__manager/config.ini"),
    ("'default', 'ComfyUI-Manager'", "user/default/ComfyUI-Manager/config.ini"),
)


def check_manager() -> Check:
    # Where the installed ComfyUI-Manager reads config.ini (start.sh writes network_mode there): read from its
    # prestartup_script.py, not imported (it needs ComfyUI's folder_paths).
    try:
        spec = importlib.util.find_spec("comfyui_manager")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return Check("comfyui_manager", SKIPPED, False, "not installed")
    script = os.path.join(list(spec.submodule_search_locations)[0], "prestartup_script.py")
    try:
        with open(script, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        return Check("comfyui_manager", WRONG, True, f"cannot read {script}: {exc}", "reinstall the image's lock")
    for marker, where in MANAGER_CONFIGS:
        if marker in text:
            return Check("comfyui_manager", OK, True, f"reads {where}")
    return Check("comfyui_manager", WRONG, True, f"{script} reads its config.ini from an unknown place: start.sh could not set it offline",
                 "teach start.sh's manager_config and MANAGER_CONFIGS here the new location")


def run_checks(runtime: bool) -> List[Check]:
    state: dict = {}
    steps: List[Callable[[], object]] = [
        check_python,
        lambda: check_torch(state),
        lambda: check_cuda(state, runtime),
        check_numpy,
        check_flash_attn,
        check_xformers,
        check_onnxruntime,
        check_mm_stack,
        check_pose_align,
        check_c_compiler,
        check_manager,
    ]
    checks: List[Check] = []
    for step in steps:
        result = step()
        if isinstance(result, list):
            checks.extend(result)
        else:
            checks.append(result)  # type: ignore[arg-type]
    return checks


def print_lines(checks: List[Check], mode: str) -> None:
    for c in checks:
        need = "required" if c.required else "optional"
        print(f"{c.status:<8} {c.name:<11} {need:<9} {c.detail}")
    failed = [c for c in checks if c.failed]
    if not failed:
        print(f"verify-env ({mode}): all required pieces present")
        return
    for c in failed:
        print(f"verify-env ({mode}): REQUIRED {c.name} is {c.status}: {c.detail}. Fix: {c.fix}", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Check the image's Python environment for ComfyUI + SteadyDancer.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--build", action="store_true", help="image build time: no GPU expected")
    mode.add_argument("--runtime", action="store_true", help="on the pod (default): a CUDA device is required")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    runtime = not args.build
    mode_name = "runtime" if runtime else "build"

    checks = run_checks(runtime)
    ok = not any(c.failed for c in checks)
    if args.json:
        print(json.dumps({"mode": mode_name, "ok": ok, "checks": [asdict(c) for c in checks]}))
        for c in checks:
            if c.failed:
                print(f"verify-env ({mode_name}): REQUIRED {c.name} is {c.status}. Fix: {c.fix}", file=sys.stderr)
    else:
        print_lines(checks, mode_name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
