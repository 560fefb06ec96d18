"""docker/worker against the ComfyUI emulator, through the real runpod SDK: its local test mode
(`python -m worker --test_input ...`) and its run_job, which the worker loop calls for every job."""
from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any, Dict
from urllib.request import Request, urlopen

import pytest
from runpod.serverless.modules.rp_job import run_job as sdk_run_job

from conftest import Emulator, HttpsFiles, job_input_cli, progress_of
from worker.handler import handler
from worker.mp4info import probe_mp4

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
DRIVE = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8  # bytes only: the emulator's VHS_LoadVideo reads no file


def run(job_input: Any) -> Dict[str, Any]:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    result = asyncio.run(sdk_run_job(handler, {"id": job_id, "input": job_input}))
    result["id"] = job_id
    return result


def video_of(output: Dict[str, Any]) -> bytes:
    data = base64.b64decode(output["video"]["base64"])
    assert output["video"]["sizeBytes"] == len(data)
    return data


def test_built_in_smoke_through_the_sdk_test_mode_returns_the_mp4_with_frames_fps_duration(emulator: Emulator) -> None:
    status, output, result = job_input_cli({"id": "cli-smoke", "input": {"workflow": "smoke"}}, {"COMFYUI_URL": emulator.url})
    assert status == 0, output
    assert result is not None, output
    out = result["output"]
    assert out["video"]["filename"].startswith("smoke_") and out["video"]["mimeType"] == "video/mp4"
    info = probe_mp4(video_of(out))
    assert (out["frames"], out["fps"], out["durationSeconds"]) == (16, 8.0, 2.0) == (info.frames, info.fps, info.duration_seconds)
    assert uuid.UUID(out["promptId"])
    progress = progress_of("cli-smoke")
    assert any(p.startswith("queued the built-in workflow smoke as prompt ") for p in progress), progress
    assert "executing node 2 of 2: 2 (VHS_VideoCombine)" in progress, progress


def test_the_sdk_test_mode_fails_the_job_with_comfyuis_words_for_an_unknown_node(emulator: Emulator) -> None:
    workflow = {"1": {"class_type": "NoSuchNode", "inputs": {}}}
    status, output, _ = job_input_cli({"id": "cli-bad", "input": {"workflow": workflow}}, {"COMFYUI_URL": emulator.url})
    assert status == 1, output
    assert "Job cli-bad failed with error: ComfyUI rejected the workflow (invalid_prompt): Cannot execute because node NoSuchNode does not exist: Node ID '#1'" in output


def test_steadydancer_uploads_base64_and_https_inputs_and_sets_the_seed_in_the_queued_prompt(
    emulator: Emulator, https_files: HttpsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(https_files.cert))
    https_files.files["/drive.mp4"] = DRIVE
    result = run({
        "workflow": "steadydancer",
        "inputs": [
            {"name": "steadydancer_ref.png", "data": "data:image/png;base64," + base64.b64encode(PNG).decode()},
            {"name": "steadydancer_drive.mp4", "url": https_files.base + "/drive.mp4?X-Amz-Signature=secret"},
        ],
        "seed": 987654321,
    })
    assert "error" not in result, result
    out = result["output"]
    assert out["video"]["filename"].startswith("dance_")  # the saved output, not the pose preview (type temp)
    assert out["frames"] == 30 and out["frames"] == probe_mp4(video_of(out)).frames
    queued = [p for p in emulator.posted_prompts() if p["prompt"].get("23", {}).get("class_type") == "VHS_VideoCombine"][-1]
    assert queued["prompt"]["20"]["inputs"]["seed"] == 987654321
    assert any(p == "uploading input steadydancer_drive.mp4" for p in progress_of(result["id"]))


def test_an_api_format_workflow_runs_as_given(emulator: Emulator) -> None:
    workflow = {
        "7": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 5, "color": 0}},
        "9": {"class_type": "VHS_VideoCombine", "inputs": {
            "images": ["7", 0], "frame_rate": 8, "loop_count": 0, "filename_prefix": "api/clip", "format": "video/h264-mp4",
            "pix_fmt": "yuv420p", "crf": 19, "save_metadata": False, "trim_to_audio": False, "pingpong": False, "save_output": True}},
    }
    result = run({"workflow": workflow, "seed": 5})
    assert "error" not in result, result
    assert result["output"]["frames"] == 5 and result["output"]["durationSeconds"] == 0.625
    assert result["output"]["video"]["filename"].startswith("clip_")


def test_a_400_from_post_prompt_fails_the_job_with_comfyuis_node_errors(emulator: Emulator) -> None:
    result = run({"workflow": {"1": {"class_type": "EmptyImage", "inputs": {"width": 0, "height": 64, "batch_size": 1, "color": 0}},
                               "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}})
    assert result["error"].startswith("ComfyUI rejected the workflow (prompt_outputs_failed_validation): Prompt outputs failed validation"), result
    assert "node 1 (EmptyImage): Value 0 smaller than min of 1: width" in result["error"]


def test_an_execution_error_fails_the_job_with_the_node_and_comfyuis_exception(emulator: Emulator) -> None:
    emulator.configure(mode="oom")
    result = run({"workflow": "smoke"})
    assert result["error"].startswith("ComfyUI failed in node 2 (VHS_VideoCombine): torch.OutOfMemoryError: Allocation on device"), result
    assert "This error means you ran out of memory on your GPU." in result["error"]


def test_a_prompt_past_timeout_seconds_is_interrupted_and_the_job_says_so(emulator: Emulator) -> None:
    emulator.configure(mode="neverFinishes")
    result = run({"workflow": "smoke", "timeoutSeconds": 1})
    assert "did not finish prompt" in result["error"] and "within timeoutSeconds=1: it was interrupted" in result["error"], result
    interrupts = [json.loads(r["body"] or "{}").get("prompt_id") for r in emulator.requests() if r["path"] == "/interrupt"]
    assert interrupts and interrupts[-1] and interrupts[-1] in result["error"], interrupts


def test_a_prompt_someone_else_interrupts_fails_the_job_saying_so(emulator: Emulator) -> None:
    emulator.configure(mode="neverFinishes")

    async def interrupt_midway() -> Dict[str, Any]:
        task = asyncio.ensure_future(handler({"id": "interrupted", "input": {"workflow": "smoke"}}))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(urlopen, Request(emulator.url + "/interrupt", data=b"", method="POST"), None, 10)
        return await task

    result = asyncio.run(interrupt_midway())
    assert result["error"].startswith("ComfyUI interrupted the prompt at node 2 (VHS_VideoCombine): someone cancelled it"), result


def test_a_cancelled_job_interrupts_its_prompt(emulator: Emulator) -> None:
    emulator.configure(mode="neverFinishes")

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(handler({"id": "cancelled", "input": {"workflow": "smoke"}}))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    queued = [p.rsplit(" ", 1)[-1] for p in progress_of("cancelled") if p.startswith("queued ")]
    interrupts = [json.loads(r["body"] or "{}").get("prompt_id") for r in emulator.requests() if r["path"] == "/interrupt"]
    assert queued and queued[-1] in interrupts, (queued, interrupts)


def test_without_a_websocket_the_worker_polls_the_history(emulator: Emulator) -> None:
    emulator.configure(refuseWebsockets=True)
    before = len(emulator.requests())
    result = run({"workflow": "smoke"})
    assert "error" not in result, result
    assert result["output"]["frames"] == 16
    assert any(r["path"].startswith("/history/") and r["method"] == "GET" for r in emulator.requests()[before:])
    emulator.configure(mode="oom")
    failed = run({"workflow": "smoke"})  # the failure read from the history entry, as no event arrives
    assert failed["error"].startswith("ComfyUI failed in node 2 (VHS_VideoCombine): torch.OutOfMemoryError: Allocation on device"), failed


def test_a_truncated_video_is_a_clear_error(emulator: Emulator) -> None:
    emulator.configure(mode="truncatedVideo")
    result = run({"workflow": "smoke"})
    assert result.get("error", "").startswith("ComfyUI's video smoke_"), result
    assert "cannot be read as MP4: box 'mdat'" in result["error"] and "the file is truncated" in result["error"]


def test_a_video_above_max_inline_bytes_without_a_bucket_fails_naming_the_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_INLINE_BYTES", "1000")
    result = run({"workflow": "smoke"})
    assert "more than MAX_INLINE_BYTES (1000) returns inline, and no bucket is configured" in result["error"], result
    assert "BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY" in result["error"]
    monkeypatch.setenv("BUCKET_ENDPOINT_URL", "https://s3.example.com")
    half = run({"workflow": "smoke"})
    assert "(BUCKET_ENDPOINT_URL is set but BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY are not)" in half["error"], half


def test_a_video_above_max_inline_bytes_goes_to_the_bucket_and_the_job_returns_a_url(
    emulator: Emulator, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    secret = "s3-secret-" + uuid.uuid4().hex
    boto3.client("s3", endpoint_url=s3_url, aws_access_key_id="k", aws_secret_access_key=secret, region_name="us-east-1").create_bucket(Bucket="videos")
    for name, value in {"MAX_INLINE_BYTES": "1000", "BUCKET_ENDPOINT_URL": s3_url, "BUCKET_ACCESS_KEY_ID": "k",
                        "BUCKET_SECRET_ACCESS_KEY": secret, "BUCKET_NAME": "videos"}.items():
        monkeypatch.setenv(name, value)
    result = run({"workflow": "smoke"})
    assert "error" not in result, result
    video = result["output"]["video"]
    assert "base64" not in video and video["url"].startswith(f"{s3_url}/videos/{result['id']}/smoke_")
    assert secret not in json.dumps(result)
    with urlopen(video["url"], timeout=10) as response:
        body = response.read()
        assert response.headers["Content-Type"] == "video/mp4"
    assert len(body) == video["sizeBytes"] and probe_mp4(body).frames == 16
    assert "saving " in " ".join(progress_of(result["id"], settle_s=0.2))


def test_bad_input_lists_every_problem_and_what_to_change(emulator: Emulator) -> None:
    prompts = len(emulator.posted_prompts())
    result = run({
        "workflow": "dance",
        "inputs": [{"name": "../x.png", "data": "aGk="}, {"name": "a.png", "url": "http://example.com/a.png"},
                   {"name": "b.png"}, {"name": "c.png", "data": "aGk=", "url": "https://example.com/c.png"}],
        "seed": -1,
        "timeoutSecond": 5,
    })
    error = result["error"]
    for expected in (
        "unknown input member(s) timeoutSecond", "unknown workflow 'dance': use one of smoke, steadydancer",
        "inputs[0].name '../x.png' must be a plain file name", "inputs[1].url (a.png) must be an https:// URL",
        "inputs[2] (b.png) must have exactly one of data (base64) and url (https), not neither", "not both",
        "seed must be a whole number from 0 to 18446744073709551615, got -1",
    ):
        assert expected in error, error
    assert len(emulator.posted_prompts()) == prompts, "nothing is queued for a bad input"


def test_https_inputs_refuse_redirects_off_https_oversize_bodies_and_untrusted_certificates(
    emulator: Emulator, https_files: HttpsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    https_files.files["/big.mp4"] = DRIVE
    item = lambda url: {"workflow": "smoke", "inputs": [{"name": "d.mp4", "url": url}]}  # noqa: E731
    untrusted = run(item(https_files.base + "/big.mp4"))
    assert "input d.mp4: TLS to " in untrusted["error"] and "certificate is not trusted" in untrusted["error"], untrusted
    monkeypatch.setenv("SSL_CERT_FILE", str(https_files.cert))
    redirected = run(item(https_files.base + "/redirect/http://127.0.0.1:9/x.mp4"))
    assert "redirects to http://127.0.0.1:9/x.mp4, which is not https" in redirected["error"], redirected
    monkeypatch.setenv("INPUT_MAX_BYTES", "100")
    big = run(item(https_files.base + "/big.mp4?sig=hidden"))
    assert f"is {len(DRIVE)} bytes, more than INPUT_MAX_BYTES (100)" in big["error"] and "hidden" not in big["error"], big


def test_the_worker_waits_for_comfyui_then_gives_up_after_comfyui_ready_timeout(emulator: Emulator) -> None:
    env = {"COMFYUI_URL": "http://127.0.0.1:9", "COMFYUI_READY_TIMEOUT": "1"}
    status, output, _ = job_input_cli({"input": {"workflow": "smoke"}}, env, timeout=30)
    assert status == 1, output
    assert "ComfyUI at http://127.0.0.1:9 did not answer within COMFYUI_READY_TIMEOUT=1 s" in output
    assert "Starting Serverless Worker" not in output, "no job is taken before ComfyUI answers"
