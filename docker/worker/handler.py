"""The RunPod job handler: input checked, files uploaded to ComfyUI, the prompt queued and followed, the video
returned inline (base64) or through the bucket, with frames, fps and duration read from the MP4 itself."""
from __future__ import annotations

import asyncio
import base64
import posixpath
import uuid
from typing import Any, Callable, Dict, List

import aiohttp
import runpod

from .comfy import ComfyClient, FileRef, wait_until_ready
from .config import Settings, settings_from_env
from .errors import JobFailed
from .follow import PromptWatch
from .inputs import fetch
from .job_input import JobInput, apply_seed, parse_job_input
from .model_preflight import load_manifest, preflight_models
from .mp4info import Mp4Error, probe_mp4
from .storage import upload_video

MIME_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}


def log(text: str) -> None:
    print(f"worker: {text}", flush=True)


def video_ref(outputs: Dict[str, Any]) -> FileRef:
    """The saved video among a finished prompt's outputs: VHS_VideoCombine's `gifs`, core SaveVideo's `images`
    flagged `animated`; only type "output" (a preview, e.g. the pose video of the dance workflow, is "temp")."""
    refs: List[Dict[str, Any]] = []
    for output in outputs.values():
        if not isinstance(output, dict):
            continue
        refs.extend(output.get("gifs") or [])
        if any(output.get("animated") or []):
            refs.extend(output.get("images") or [])
    saved = [r for r in refs if isinstance(r, dict) and r.get("type") == "output" and isinstance(r.get("filename"), str)]
    videos = [r for r in saved if posixpath.splitext(r["filename"])[1].lower() in MIME_TYPES]
    if not videos:
        seen = ", ".join(f"{r.get('filename')} ({r.get('type')})" for r in refs if isinstance(r, dict)) or "nothing"
        raise JobFailed(
            f"the workflow saved no MP4 video (saw: {seen}): its VHS_VideoCombine needs format video/h264-mp4 and "
            "save_output true, or use core SaveVideo"
        )
    ref = videos[0]
    return FileRef(ref["filename"], str(ref.get("subfolder") or ""), "output")


async def run(job: Dict[str, Any], request: JobInput, settings: Settings, report: Callable[[str], None]) -> Dict[str, Any]:
    prompt, seeded = apply_seed(request.workflow, request.seed)
    if request.seed is not None:
        log(f"seed {request.seed} set in {', '.join(seeded) or 'no input (the workflow has no seed / noise_seed input)'}")
    async with aiohttp.ClientSession() as session:
        comfy = ComfyClient(settings.comfyui_url, session)
        # Before the uploads too: a worker without the files fails at once, having fetched nothing.
        models = await preflight_models(comfy, prompt, load_manifest(settings.model_manifest), report)
        prompt = models.prompt
        for item in request.inputs:
            report(f"uploading input {item.name}")
            await comfy.upload(item.name, await fetch(session, item, settings.input_max_bytes, settings.input_timeout_s))
        client_id = uuid.uuid4().hex
        ws = await comfy.websocket(client_id)
        if ws is None:
            log("ComfyUI's websocket could not be opened: following the prompt by polling /history")
        try:
            prompt_id = await comfy.queue(prompt, client_id)
            report(f"queued {request.label} as prompt {prompt_id}")
            entry = await PromptWatch(comfy, prompt_id, prompt, report).wait(ws, request.timeout_s)
        finally:
            if ws is not None:
                await ws.close()
        ref = video_ref(entry.get("outputs") or {})
        report(f"reading {ref.filename}")
        data = await comfy.view(ref)
        await comfy.forget(prompt_id)
    try:
        info = probe_mp4(data)
    except Mp4Error as error:
        raise JobFailed(f"ComfyUI's video {ref.filename} cannot be read as MP4: {error}") from None
    mime = MIME_TYPES[posixpath.splitext(ref.filename)[1].lower()]
    video: Dict[str, Any] = {"filename": ref.filename, "mimeType": mime, "sizeBytes": len(data)}
    if len(data) <= settings.max_inline_bytes:
        video["base64"] = base64.b64encode(data).decode("ascii")
    elif settings.bucket is None:
        raise JobFailed(
            f"the video is {len(data)} bytes, more than MAX_INLINE_BYTES ({settings.max_inline_bytes}) returns inline, "
            f"and no bucket is configured{f' ({settings.bucket_problem})' if settings.bucket_problem else ''}: set "
            "BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY (optionally BUCKET_NAME) on the "
            "endpoint to get a URL instead, or raise MAX_INLINE_BYTES (RunPod refuses results above about 20 MB)"
        )
    else:
        report(f"saving {ref.filename} to the bucket")
        video["url"] = await asyncio.to_thread(upload_video, settings.bucket, f"{job.get('id', 'job')}/{ref.filename}", data, mime)
    return {
        "promptId": prompt_id, "video": video, "frames": info.frames, "fps": info.fps, "durationSeconds": info.duration_seconds,
        "modelSubstitutions": models.substitutions,
    }


async def handler(job: Dict[str, Any]) -> Dict[str, Any]:
    """runpod.serverless.start's handler. A failure is returned as {"error": message}, which the SDK turns into a
    FAILED job carrying exactly that message (a raised exception would carry a traceback instead)."""
    job_id = str(job.get("id", "?"))

    def report(text: str) -> None:
        log(f"{job_id}: {text}")
        runpod.serverless.progress_update(job, text)

    try:
        try:
            settings = settings_from_env()
        except ValueError as error:
            raise JobFailed(f"the worker's environment is wrong: {error}") from None
        request = parse_job_input(job.get("input"), settings.workflows_dir)
        return await run(job, request, settings, report)
    except JobFailed as failure:
        log(f"{job_id}: failed: {failure}")
        return {"error": str(failure)}


def main() -> int:
    """Waits (bounded) for ComfyUI to answer, then takes jobs; with --test_input (read by runpod.serverless.start
    from sys.argv, as are --rp_log_level and the SDK's other flags), runs that one job and exits.

    The wait is here rather than in start.sh: RunPod hands a worker jobs once runpod.serverless.start polls for
    them, so waiting before that call is what keeps a job from reaching a ComfyUI still importing its nodes; the
    same wait serves a --test_input run; and start.sh, which watches both processes, already stops ComfyUI and
    exits when the worker gives up."""
    try:
        settings = settings_from_env()
    except ValueError as error:
        log(f"ERROR: {error}")
        return 2
    log(f"waiting for ComfyUI at {settings.comfyui_url} (up to COMFYUI_READY_TIMEOUT={settings.ready_timeout_s:g} s)")
    try:
        asyncio.run(wait_until_ready(settings.comfyui_url, settings.ready_timeout_s, log))
    except TimeoutError as error:
        log(f"ERROR: {error}")
        return 1
    log("ComfyUI answers: taking jobs")
    runpod.serverless.start({"handler": handler})
    return 0
