"""Before queueing, asks ComfyUI which files its loader nodes can load (GET /object_info/{class}) and compares them
with the files the workflow names. A worker holds whichever variant start.sh found or downloaded
(STEADYDANCER_VARIANT, fp16 after download-models.sh fell back from fp8, or what a network volume or baked image
has), while the built-in steadydancer workflow names the fp8 diffusion model; without this, POST /prompt answers
value_not_in_list, or, when another output of the graph (the pose preview) is still valid, runs only that one.

The same table and rules as the pod-side checks (checks/modelPreflight.ts), kept here so the image needs nothing
of TypeScript."""
from __future__ import annotations

import asyncio
import copy
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set

from .comfy import ComfyClient
from .errors import JobFailed
from .job_input import Workflow

# Inputs that name a file under ComfyUI's models/, per node class. Names as in the node sources:
# kijai/ComfyUI-WanVideoWrapper (nodes_model_loading.py, nodes.py), kijai/ComfyUI-WanAnimatePreprocess,
# ComfyUI's nodes.py. WanVideoModelLoader lists `unet_gguf` (.gguf files of diffusion_models) and diffusion_models.
MODEL_FILE_INPUTS: Dict[str, tuple] = {
    "WanVideoModelLoader": ("model",),
    "WanVideoVAELoader": ("model_name",),
    "WanVideoTinyVAELoader": ("model_name",),
    "WanVideoLoraSelect": ("lora",),
    "WanVideoLoraSelectMulti": ("lora_0", "lora_1", "lora_2", "lora_3", "lora_4"),
    "WanVideoVACEModelSelect": ("vace_model",),
    "WanVideoExtraModelSelect": ("extra_model",),
    "WanVideoTextEncodeCached": ("model_name",),
    "LoadWanVideoT5TextEncoder": ("model_name",),
    "LoadWanVideoClipTextEncoder": ("model_name",),
    "OnnxDetectionModelLoader": ("vitpose_model", "yolo_model"),
    "CLIPVisionLoader": ("clip_name",),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "VAELoader": ("vae_name",),
    "UNETLoader": ("unet_name",),
    "CLIPLoader": ("clip_name",),
    "LoraLoader": ("lora_name",),
    "LoraLoaderModelOnly": ("lora_name",),
}

DIFFUSION_LOADER = "WanVideoModelLoader"
STEADYDANCER = re.compile(r"steadydancer", re.IGNORECASE)
LORA_SELECTORS = {"WanVideoLoraSelect", "WanVideoLoraSelectMulti", "WanVideoLoraSelectByName"}
# Files a folder listing may show that are no model: download-models.sh sidecars and partial downloads.
NOT_A_MODEL = re.compile(r"\.(sha256|part|aria2|lock)$|(^|/)\.")
SHOWN_OPTIONS = 6

MISSING_FIX = (
    "A serverless worker loads the files of its network volume (/runpod-volume/models, the endpoint's "
    "serverless.networkVolumeId), of MODELS_DIR, or of the image (built with BAKE_STEADYDANCER=true), and otherwise "
    "what start.sh downloaded for STEADYDANCER_VARIANT when this worker started: look at the worker's logs "
    "(download-models lines: a download that failed) and at that folder's .steadydancer-variant, put the file on the "
    "network volume or bake it into the image, or send a workflow that names installed files."
)


@dataclass(frozen=True)
class ModelReference:
    node_id: str
    class_type: str
    input: str
    value: str

    @property
    def label(self) -> str:
        return f"node {self.node_id} ({self.class_type})"


@dataclass
class PreflightResult:
    prompt: Workflow
    # {nodeId, classType, input, wanted, used}: the job output's modelSubstitutions.
    substitutions: List[Dict[str, str]] = field(default_factory=list)


def model_references(prompt: Workflow) -> List[ModelReference]:
    """The literal string values of the inputs in MODEL_FILE_INPUTS (linked inputs are skipped)."""
    found: List[ModelReference] = []
    for node_id, node in prompt.items():
        inputs = node.get("inputs") or {}
        for name in MODEL_FILE_INPUTS.get(node.get("class_type"), ()):
            value = inputs.get(name)
            if isinstance(value, str) and value:
                found.append(ModelReference(str(node_id), node["class_type"], name, value))
    return found


def combo_options(declaration: Any) -> Optional[List[str]]:
    """A combo's options: `[[option, ...], {...}?]` (V1 nodes) or `["COMBO", {"options": [...]}]` (V3 nodes and newer
    builds); None when the input is not a combo (INT, STRING, a link type...)."""
    if not isinstance(declaration, list) or not declaration:
        return None
    first = declaration[0]
    if isinstance(first, list):
        return [str(o) for o in first]
    if first == "COMBO" and len(declaration) > 1 and isinstance(declaration[1], dict):
        options = declaration[1].get("options", [])
        return [str(o) for o in options] if isinstance(options, list) else None
    return None


def _declared_options(info: Dict[str, Any], name: str) -> Optional[List[str]]:
    groups = info.get("input") if isinstance(info.get("input"), dict) else {}
    for group in (groups.get("required"), groups.get("optional")):
        if isinstance(group, dict) and name in group:
            return combo_options(group[name])
    return None


def _show(options: List[str]) -> str:
    models = [o for o in options if not NOT_A_MODEL.search(o)]
    if not models:
        return "nothing"
    shown = ", ".join(f'"{o}"' for o in models[:SHOWN_OPTIONS])
    return f"{shown} and {len(models) - SHOWN_OPTIONS} more" if len(models) > SHOWN_OPTIONS else shown


def load_manifest(path: Path) -> Optional[Dict[str, Any]]:
    """The model manifest, only to name variants in messages; None when it cannot be read."""
    try:
        with path.open(encoding="utf-8") as file:
            manifest = json.load(file)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _variant_of(manifest: Optional[Dict[str, Any]], file_name: str) -> Optional[str]:
    """The variant a file belongs to, from the manifest's variant-specific files (matched by base name)."""
    base = posixpath.basename(file_name)
    for entry in (manifest or {}).get("files") or []:
        # A Hugging Face file is named by its path in the repository, a direct download by fileName.
        if not isinstance(entry, dict) or posixpath.basename(str(entry.get("fileName") or entry.get("path") or "")) != base:
            continue
        variants = entry.get("variants") or []
        if "*" not in variants and variants and isinstance(variants[0], str):
            return variants[0]
    return None


def _swap_sentence(manifest: Optional[Dict[str, Any]], wanted: str, used: str) -> str:
    wanted_variant, used_variant = _variant_of(manifest, wanted), _variant_of(manifest, used)
    named = f"the {wanted_variant} file the workflow names" if wanted_variant else f"{posixpath.basename(wanted)}, which the workflow names"
    why = ""
    if manifest and wanted_variant and used_variant:
        fallback = ((manifest.get("variants") or {}).get(wanted_variant) or {}).get("fallback")
        why = f" ({wanted_variant} → {used_variant} fallback?)" if fallback == used_variant else f" (STEADYDANCER_VARIANT={used_variant}?)"
    return f"the worker has {posixpath.basename(used)}, not {named}{why}: using it"


def _linked(prompt: Workflow, value: Any) -> Optional[str]:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0] in prompt:
        return value[0]
    return None


def _adapt_for_gguf(prompt: Workflow, loader_id: str) -> tuple:
    """What a GGUF file needs from the loader and its LoRA chain (WanVideoModelLoader.loadmodel): quantization
    "disabled" (set here), no merged LoRAs and no vram_management_args (reported: the workflow has to change)."""
    inputs = prompt[loader_id].setdefault("inputs", {})
    changes: List[str] = []
    problems: List[str] = []
    quantization = inputs.get("quantization")
    if isinstance(quantization, str) and quantization != "disabled":
        inputs["quantization"] = "disabled"
        changes.append(f"quantization {quantization} → disabled (the wrapper loads GGUF weights only with quantization disabled)")
    vram = _linked(prompt, inputs.get("vram_management_args"))
    if vram:
        problems.append(f"node {vram} ({prompt[vram].get('class_type', '?')}) sets vram_management_args, which GGUF models do not support: use WanVideoBlockSwap instead")
    seen: Set[str] = set()
    node_id = _linked(prompt, inputs.get("lora"))
    while node_id and node_id not in seen:
        seen.add(node_id)
        node = prompt[node_id]
        if node.get("class_type") not in LORA_SELECTORS:
            break
        lora_inputs = node.get("inputs") or {}
        # merge_loras defaults to true in the LoRA select nodes.
        if lora_inputs.get("merge_loras") is not False:
            problems.append(f"node {node_id} ({node['class_type']}) merges its LoRA into the model (merge_loras true), which GGUF models do not support: set merge_loras to false")
        node_id = _linked(prompt, lora_inputs.get("prev_lora"))
    return changes, problems


def _substitute(prompt: Workflow, ref: ModelReference, used: str, manifest: Optional[Dict[str, Any]], note: Callable[[str], None]) -> Optional[str]:
    """Puts `used` in place of the SteadyDancer file the workflow names; returns a problem instead when the workflow
    cannot load it as it stands."""
    inputs = prompt[ref.node_id].setdefault("inputs", {})
    sentence = f"{ref.label}: {_swap_sentence(manifest, ref.value, used)}"
    if used.lower().endswith(".gguf"):
        changes, problems = _adapt_for_gguf(prompt, ref.node_id)
        if problems:
            return (f'{ref.label} {ref.input} "{ref.value}" is not installed; the one SteadyDancer file installed, "{used}", is GGUF, '
                    f"which this workflow cannot load as it stands: {'; '.join(problems)}")
        note(f"{sentence}; {'; '.join(changes)}" if changes else sentence)
    else:
        quantization = inputs.get("quantization")
        # A *_scaled mode fails on weights that are not scaled fp8; "disabled" lets the loader detect the format.
        if isinstance(quantization, str) and "scaled" in quantization and not re.search("scaled", used, re.IGNORECASE):
            inputs["quantization"] = "disabled"
            note(f"{sentence}; quantization {quantization} → disabled (scaled modes need scaled fp8 weights)")
        else:
            note(sentence)
    inputs[ref.input] = used
    return None


async def preflight_models(
    comfy: ComfyClient, workflow: Workflow, manifest: Optional[Dict[str, Any]], note: Callable[[str], None]
) -> PreflightResult:
    """Checks every model file the workflow names against what ComfyUI lists for that input. A missing SteadyDancer
    diffusion model is replaced by the one other SteadyDancer file installed (said through `note`, as is what could
    not be checked); anything else missing raises JobFailed before anything is queued. Classes ComfyUI does not know
    are left to POST /prompt (its error names them)."""
    refs = model_references(workflow)
    result = PreflightResult(workflow)
    if not refs:
        return result
    classes = sorted({r.class_type for r in refs})
    answers = await asyncio.gather(*(comfy.object_info(c) for c in classes), return_exceptions=True)
    infos: Dict[str, Dict[str, Any]] = {}
    for class_type, answer in zip(classes, answers):
        if isinstance(answer, JobFailed):
            note(f"could not ask ComfyUI which files {class_type} can load ({answer}): leaving them to POST /prompt")
        elif isinstance(answer, BaseException):
            raise answer
        elif answer is not None:  # None: a class ComfyUI does not know (custom node missing): POST /prompt names it
            infos[class_type] = answer

    prompt = copy.deepcopy(workflow)
    missing: List[str] = []
    checked = 0
    for ref in refs:
        available = _declared_options(infos[ref.class_type], ref.input) if ref.class_type in infos else None
        if available is None:
            continue
        checked += 1
        if ref.value in available:
            continue
        where = f'{ref.label} {ref.input} "{ref.value}"'
        if ref.class_type == DIFFUSION_LOADER and STEADYDANCER.search(ref.value):
            others = [o for o in available if STEADYDANCER.search(o) and not NOT_A_MODEL.search(o)]
            if len(others) > 1:
                missing.append(f"{where} is not installed, and several other SteadyDancer files are ({_show(others)}): the worker cannot tell which to use")
                continue
            if others:
                problem = _substitute(prompt, ref, others[0], manifest, note)
                if problem:
                    missing.append(problem)
                else:
                    result.substitutions.append({"nodeId": ref.node_id, "classType": ref.class_type, "input": ref.input, "wanted": ref.value, "used": others[0]})
                continue
        missing.append(f"{where} is not installed (installed for {ref.input}: {_show(available)})")

    if missing:
        what = "a model file" if len(missing) == 1 else f"{len(missing)} model files"
        raise JobFailed(f"the workflow names {what} ComfyUI does not have (checked before queueing): {'; '.join(missing)}. {MISSING_FIX}")
    if result.substitutions:
        result.prompt = prompt
    elif checked:
        note(f"model files: all {checked} the workflow names are installed")
    return result
