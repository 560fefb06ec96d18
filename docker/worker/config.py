"""The worker's settings, read from the environment at each use so an endpoint's env change needs no rebuild."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

# docker/worker/../workflows in the repository, /opt/steadydancer/worker/../workflows in the image.
DEFAULT_WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"
# docker/models/manifest.json in the repository; the image sets MODEL_MANIFEST (/opt/steadydancer/models/manifest.json).
DEFAULT_MODEL_MANIFEST = Path(__file__).resolve().parent.parent / "models" / "manifest.json"


@dataclass(frozen=True)
class Bucket:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    # None: the runpod SDK's convention (rp_upload), a bucket named after the month, e.g. "12-26".
    name: Optional[str]


@dataclass(frozen=True)
class Settings:
    comfyui_url: str
    max_inline_bytes: int
    input_max_bytes: int
    input_timeout_s: float
    ready_timeout_s: float
    workflows_dir: Path
    # Read only to name variants in the model pre-flight's messages.
    model_manifest: Path
    bucket: Optional[Bucket]
    # Set when BUCKET_ENDPOINT_URL is given without both keys: the job that needs the bucket says so.
    bucket_problem: Optional[str]


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def settings_from_env(env: Optional[Mapping[str, str]] = None) -> Settings:
    """Raises ValueError naming the variable when one is malformed."""
    env = os.environ if env is None else env
    endpoint = env.get("BUCKET_ENDPOINT_URL", "").strip()
    key_id = env.get("BUCKET_ACCESS_KEY_ID", "").strip()
    secret = env.get("BUCKET_SECRET_ACCESS_KEY", "").strip()
    bucket: Optional[Bucket] = None
    problem: Optional[str] = None
    if endpoint:
        if not endpoint.startswith(("https://", "http://")):
            raise ValueError(f"BUCKET_ENDPOINT_URL must be an http(s) URL, got {endpoint!r}")
        if key_id and secret:
            bucket = Bucket(endpoint, key_id, secret, env.get("BUCKET_NAME", "").strip() or None)
        else:
            missing = [n for n, v in (("BUCKET_ACCESS_KEY_ID", key_id), ("BUCKET_SECRET_ACCESS_KEY", secret)) if not v]
            problem = f"BUCKET_ENDPOINT_URL is set but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not"
    return Settings(
        comfyui_url=(env.get("COMFYUI_URL", "").strip() or "http://127.0.0.1:8189").rstrip("/"),
        max_inline_bytes=int(_number(env, "MAX_INLINE_BYTES", 10 * 1024 * 1024, 0)),
        input_max_bytes=int(_number(env, "INPUT_MAX_BYTES", 200 * 1024 * 1024, 1)),
        input_timeout_s=_number(env, "INPUT_DOWNLOAD_TIMEOUT", 120, 1),
        ready_timeout_s=_number(env, "COMFYUI_READY_TIMEOUT", 600, 1),
        workflows_dir=DEFAULT_WORKFLOWS_DIR,
        model_manifest=Path(env.get("MODEL_MANIFEST", "").strip() or DEFAULT_MODEL_MANIFEST),
        bucket=bucket,
        bucket_problem=problem,
    )
