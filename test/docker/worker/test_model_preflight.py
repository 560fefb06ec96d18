"""The worker's model pre-flight against the ComfyUI emulator: it asks GET /object_info/{class} what the loaders can
load before it queues, so a worker holding only the fp16 SteadyDancer file runs the fp8-naming built-in workflow,
a missing file fails the job before anything is uploaded or queued, and a worker that has the named files is left
alone."""
from __future__ import annotations

import asyncio
import base64
from typing import Any, Dict, List

import aiohttp
from aiohttp import web

from conftest import Emulator, models_of_variant, progress_of
from test_worker import DRIVE, PNG, run
from worker.comfy import ComfyClient
from worker.model_preflight import preflight_models

FP8 = "WanVideo/SteadyDancer/Wan21_SteadyDancer_fp8_e4m3fn_scaled_KJ.safetensors"
FP16 = "WanVideo/SteadyDancer/Wan21_I2V_SteadyDancer_fp16.safetensors"
Q8 = "WanVideo/SteadyDancer/Wan21_I2V_SteadyDancer_fp16-Q8_0_fix_5d_tensor.gguf"
DANCE_INPUTS = [
    {"name": "steadydancer_ref.png", "data": base64.b64encode(PNG).decode()},
    {"name": "steadydancer_drive.mp4", "data": base64.b64encode(DRIVE).decode()},
]


def dance(**extra: Any) -> Dict[str, Any]:
    return {"workflow": "steadydancer", "inputs": DANCE_INPUTS, **extra}


def posts(emulator: Emulator, since: int, route: str) -> List[Dict[str, Any]]:
    return [r for r in emulator.requests()[since:] if r["method"] == "POST" and r["path"] == route]


def test_the_fp8_workflow_on_an_fp16_only_worker_runs_the_fp16_file_and_reports_the_substitution(emulator: Emulator) -> None:
    emulator.configure(installedModels=models_of_variant("fp16"))
    result = run(dance())
    assert "error" not in result, result
    out = result["output"]
    assert out["modelSubstitutions"] == [
        {"nodeId": "16", "classType": "WanVideoModelLoader", "input": "model", "wanted": FP8, "used": FP16},
    ]
    assert out["video"]["filename"].startswith("dance_") and out["frames"] == 30
    assert emulator.posted_prompts()[-1]["prompt"]["16"]["inputs"]["model"] == FP16
    sentence = ("node 16 (WanVideoModelLoader): the worker has Wan21_I2V_SteadyDancer_fp16.safetensors, "
                "not the fp8 file the workflow names (fp8 → fp16 fallback?): using it")
    assert sentence in progress_of(result["id"])


def test_a_missing_file_fails_the_job_before_any_upload_or_post_prompt_naming_it_and_the_serverless_fix(emulator: Emulator) -> None:
    emulator.configure(installedModels=[f for f in models_of_variant("fp8") if not f.startswith("vae/")])
    before = len(emulator.requests())
    result = run(dance())
    error = result["error"]
    assert error.startswith(
        "the workflow names a model file ComfyUI does not have (checked before queueing): node 7 (WanVideoVAELoader) "
        'model_name "wanvideo/Wan2_1_VAE_bf16.safetensors" is not installed (installed for model_name: nothing). '
    ), error
    for advice in ("network volume (/runpod-volume/models", "MODELS_DIR", "BAKE_STEADYDANCER=true", "STEADYDANCER_VARIANT"):
        assert advice in error, error
    assert posts(emulator, before, "/prompt") == [] and posts(emulator, before, "/upload/image") == []


def test_nothing_changes_when_the_named_files_are_installed(emulator: Emulator) -> None:
    before = len(emulator.requests())
    result = run(dance(seed=7))
    assert "error" not in result, result
    assert result["output"]["modelSubstitutions"] == []
    queued = emulator.posted_prompts()[-1]["prompt"]
    assert queued["16"]["inputs"]["model"] == FP8 and queued["16"]["inputs"]["quantization"] == "disabled"
    assert any(r["path"] == "/object_info/WanVideoModelLoader" for r in emulator.requests()[before:])
    assert "model files: all 7 the workflow names are installed" in progress_of(result["id"])


def test_a_gguf_file_in_the_combo_form_of_newer_builds_is_used_with_quantization_disabled(emulator: Emulator) -> None:
    gguf_only = [f for f in models_of_variant("fp8") if "fp8_e4m3fn" not in f] + [f"diffusion_models/{Q8}"]
    emulator.configure(installedModels=gguf_only, comboForm="COMBO")
    result = run(dance())
    assert "error" not in result, result
    assert [s["used"] for s in result["output"]["modelSubstitutions"]] == [Q8]
    queued = emulator.posted_prompts()[-1]["prompt"]["16"]["inputs"]
    assert (queued["model"], queued["quantization"]) == (Q8, "disabled")


def test_several_other_steadydancer_files_are_refused_rather_than_guessed(emulator: Emulator) -> None:
    emulator.configure(installedModels=models_of_variant("fp16") + [f"diffusion_models/{Q8}"])
    before = len(emulator.requests())
    result = run(dance())
    assert f'node 16 (WanVideoModelLoader) model "{FP8}" is not installed, and several other SteadyDancer files are ("{Q8}", "{FP16}")' in result["error"], result
    assert posts(emulator, before, "/prompt") == []


def test_without_object_info_per_class_the_workflow_is_queued_as_it_is(emulator: Emulator) -> None:
    emulator.configure(installedModels=models_of_variant("fp16"), objectInfoPerClass=False)
    result = run(dance())
    # Nothing could be checked, so the fp8 name goes to ComfyUI, which drops the dance output (value_not_in_list)
    # and runs only the pose preview: the failure the pre-flight exists to prevent.
    assert emulator.posted_prompts()[-1]["prompt"]["16"]["inputs"]["model"] == FP8
    assert result["error"].startswith("the workflow saved no MP4 video (saw: pose_"), result


def test_a_loader_class_comfyui_does_not_know_is_left_to_post_prompts_rejection(emulator: Emulator) -> None:
    emulator.configure(mode="missingNode", missingClass="WanVideoModelLoader")
    before = len(emulator.requests())
    result = run(dance())
    assert "Cannot execute because node WanVideoModelLoader does not exist" in result["error"], result
    assert len(posts(emulator, before, "/prompt")) == 1


def test_object_info_is_asked_again_after_a_5xx_and_a_class_that_keeps_failing_is_left_to_post_prompt() -> None:
    asked: List[str] = []
    notes: List[str] = []

    async def object_info(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        asked.append(name)
        if name == "VAELoader" and asked.count(name) == 1 or name == "CLIPVisionLoader":
            return web.Response(status=502, text="bad gateway")
        return web.json_response({name: {"input": {"required": {"vae_name": [["other.safetensors"]]}}}})

    async def scenario() -> str:
        app = web.Application()
        app.router.add_get("/object_info/{name}", object_info)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        workflow = {"1": {"class_type": "VAELoader", "inputs": {"vae_name": "a.safetensors"}},
                    "2": {"class_type": "CLIPVisionLoader", "inputs": {"clip_name": "c.safetensors"}}}
        try:
            async with aiohttp.ClientSession() as session:
                await preflight_models(ComfyClient(f"http://127.0.0.1:{port}", session), workflow, None, notes.append)
        except Exception as error:  # noqa: BLE001 - the message is what the test reads
            return str(error)
        finally:
            await runner.cleanup()
        return "no failure"

    message = asyncio.run(scenario())
    # VAELoader answered on the second try, so its missing file is found; CLIPVisionLoader never answered (3 tries).
    assert asked.count("VAELoader") == 2 and asked.count("CLIPVisionLoader") == 3, asked
    assert message.startswith('the workflow names a model file ComfyUI does not have (checked before queueing): node 1 (VAELoader) '
                              'vae_name "a.safetensors" is not installed (installed for vae_name: "other.safetensors").'), message
    assert len(notes) == 1 and notes[0].startswith("could not ask ComfyUI which files CLIPVisionLoader can load (ComfyUI answered "
                                                   "GET /object_info/CLIPVisionLoader with HTTP 502: bad gateway): leaving them to POST /prompt"), notes
