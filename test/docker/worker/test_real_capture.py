"""The worker's reading of ComfyUI against what a real ComfyUI 0.3.64 answered (test/fixtures/comfyui-real-0.3.64):
the 400 bodies of POST /prompt, the history entry of a smoke run and that run's websocket messages."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from worker.comfy_errors import describe_rejection
from worker.follow import PromptWatch
from worker.handler import video_ref

CAPTURE = Path(__file__).resolve().parents[2] / "fixtures" / "comfyui-real-0.3.64"
RESPONSES: Dict[str, Any] = json.loads((CAPTURE / "responses.json").read_text(encoding="utf-8"))


def test_the_real_400_bodies_become_comfyuis_own_words() -> None:
    assert describe_rejection(RESPONSES["prompt_post_missing_node"]["json"]) == (
        "ComfyUI rejected the workflow (invalid_prompt): Cannot execute because node NoSuchNodeClass does not exist: Node ID '#1'"
    )
    assert describe_rejection(RESPONSES["prompt_post_invalid_value"]["json"]) == (
        "ComfyUI rejected the workflow (prompt_outputs_failed_validation): Prompt outputs failed validation"
        " | node 1 (EmptyImage): Value 0 smaller than min of 1: width"
    )


def test_the_real_history_entry_names_the_saved_video() -> None:
    prompt_id = RESPONSES["prompt_post_ok"]["json"]["prompt_id"]
    entry = RESPONSES["history_entry"]["json"][prompt_id]
    ref = video_ref(entry["outputs"])
    assert (ref.filename, ref.subfolder, ref.type) == ("smoke_00001.mp4", "rc-ws", "output")


def test_the_real_websocket_run_is_followed_to_its_end() -> None:
    lines = (CAPTURE / "ws.jsonl").read_text(encoding="utf-8").splitlines()
    ids = json.loads(lines[0])
    prompt = RESPONSES["prompt_post_ok"]["request_body"]["prompt"]
    reports: List[str] = []
    watch = PromptWatch(None, ids["prompt_id"], prompt, reports.append)  # type: ignore[arg-type]  # events only
    done_at = None
    messages = [json.loads(line) for line in lines[1:]]
    for index, message in enumerate(messages):
        event = message.get("json")
        if message.get("kind") == "text" and isinstance(event, dict) and isinstance(event.get("data"), dict):
            if watch._on_event(event["type"], event["data"]):
                done_at = index
    assert done_at == max(i for i, m in enumerate(messages) if m.get("kind") == "text"), "done at the last message (executing null)"
    assert reports[:2] == ["executing node 1 of 2: 1 (EmptyImage)", "executing node 2 of 2: 2 (VHS_VideoCombine)"], reports
