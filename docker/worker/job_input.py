"""The job's input (README, "Serverless worker"), checked whole: every problem is listed at once."""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .errors import JobFailed

Workflow = Dict[str, Dict[str, Any]]

# Built-in names and their files in docker/workflows/ (shipped to /opt/steadydancer/workflows/).
BUILT_IN_WORKFLOWS = {"smoke": "smoke.json", "steadydancer": "steadydancer-dance.json"}
KNOWN_MEMBERS = ("workflow", "inputs", "seed", "timeoutSeconds")
SEED_INPUTS = ("seed", "noise_seed")
# ComfyUI's seed widgets take 0 .. 2**64 - 1 (0xffffffffffffffff in the samplers' INPUT_TYPES).
MAX_SEED = 2**64 - 1
DEFAULT_TIMEOUT_S = 1800.0
MAX_TIMEOUT_S = 24 * 3600.0
# A plain file name as ComfyUI's input folder takes it: no folders, no leading dot.
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.() +-]{0,199}$")


@dataclass(frozen=True)
class InputFile:
    name: str
    data: Optional[str]  # base64, or a data: URI
    url: Optional[str]  # https only


@dataclass(frozen=True)
class JobInput:
    workflow: Workflow
    label: str  # "the built-in workflow smoke" or "the job's workflow"
    inputs: Tuple[InputFile, ...]
    seed: Optional[int]
    timeout_s: float


def _load_built_in(name: str, workflows_dir: Path) -> Workflow:
    path = workflows_dir / BUILT_IN_WORKFLOWS[name]
    try:
        with path.open(encoding="utf-8") as file:
            loaded = json.load(file)
    except (OSError, ValueError) as error:
        raise JobFailed(f"the built-in workflow {name} cannot be read from {path}: {error} (a broken image?)") from None
    if not isinstance(loaded, dict):
        raise JobFailed(f"the built-in workflow {name} at {path} is not an API-format object (a broken image?)")
    return loaded


def _check_workflow(value: Dict[Any, Any], problems: List[str]) -> None:
    if not value:
        problems.append("workflow is an empty object: give a built-in name or an API-format prompt {node id: {class_type, inputs}}")
        return
    bad = [
        str(node_id)
        for node_id, node in value.items()
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str) or not isinstance(node.get("inputs", {}), dict)
    ]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        problems.append(
            f"workflow node(s) {shown} are not {{\"class_type\": \"...\", \"inputs\": {{...}}}}: "
            "send the API format (ComfyUI's \"Export (API)\"), not the UI's saved workflow"
        )


def _parse_inputs(raw: Any, problems: List[str]) -> Tuple[InputFile, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("inputs must be a list of {\"name\", \"data\"} or {\"name\", \"url\"} objects")
        return ()
    files: List[InputFile] = []
    seen = set()
    for index, item in enumerate(raw):
        where = f"inputs[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object with name and data or url")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not PLAIN_NAME.match(name) or ".." in name:
            problems.append(
                f"{where}.name {name!r} must be a plain file name (letters, digits, '_', '-', '.', no folders, "
                "not starting with a dot), as the workflow's LoadImage / VHS_LoadVideo names it"
            )
            continue
        if name in seen:
            problems.append(f"{where}.name {name!r} is given twice")
            continue
        seen.add(name)
        data, url = item.get("data"), item.get("url")
        if (data is None) == (url is None):
            given = "both" if data is not None else "neither"
            problems.append(f"{where} ({name}) must have exactly one of data (base64) and url (https), not {given}")
            continue
        if data is not None and (not isinstance(data, str) or not data):
            problems.append(f"{where}.data ({name}) must be a non-empty base64 string")
            continue
        if url is not None and (not isinstance(url, str) or not url.lower().startswith("https://")):
            problems.append(f"{where}.url ({name}) must be an https:// URL; other schemes are refused")
            continue
        files.append(InputFile(name, data, url))
    return tuple(files)


def parse_job_input(raw: Any, workflows_dir: Path) -> JobInput:
    if not isinstance(raw, dict):
        raise JobFailed("the job input must be an object with at least \"workflow\" (a built-in name or an API-format prompt)")
    problems: List[str] = []
    unknown = sorted(str(k) for k in raw if k not in KNOWN_MEMBERS)
    if unknown:
        problems.append(f"unknown input member(s) {', '.join(unknown)}: the worker reads {', '.join(KNOWN_MEMBERS)}")
    workflow: Workflow = {}
    label = "the job's workflow"
    spec = raw.get("workflow")
    if isinstance(spec, str):
        if spec in BUILT_IN_WORKFLOWS:
            label = f"the built-in workflow {spec}"
        else:
            problems.append(f"unknown workflow {spec!r}: use one of {', '.join(BUILT_IN_WORKFLOWS)}, or send an API-format prompt object")
    elif isinstance(spec, dict):
        _check_workflow(spec, problems)
        workflow = spec
    else:
        problems.append("workflow is missing: give a built-in name (" + ", ".join(BUILT_IN_WORKFLOWS) + ") or an API-format prompt object")
    inputs = _parse_inputs(raw.get("inputs"), problems)
    seed = raw.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        problems.append(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    timeout = raw.get("timeoutSeconds", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_S:
        problems.append(f"timeoutSeconds must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}, got {timeout!r}")
    if problems:
        raise JobFailed("bad job input: " + "; ".join(problems))
    if isinstance(spec, str):
        workflow = _load_built_in(spec, workflows_dir)
    return JobInput(workflow, label, inputs, seed, float(timeout))


def apply_seed(workflow: Workflow, seed: Optional[int]) -> Tuple[Workflow, List[str]]:
    """A copy with every literal seed / noise_seed input set to seed, and where each was ("20.seed")."""
    prompt = copy.deepcopy(workflow)
    replaced: List[str] = []
    if seed is None:
        return prompt, replaced
    for node_id, node in prompt.items():
        inputs = node.get("inputs", {})
        for key in SEED_INPUTS:
            # A linked input (["node", index]) takes its seed from another node, which gets it itself.
            if key in inputs and not isinstance(inputs[key], list):
                inputs[key] = seed
                replaced.append(f"{node_id}.{key}")
    return prompt, replaced
