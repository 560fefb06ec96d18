"""ComfyUI's error answers as one message in its own words: a 400 from POST /prompt (error + node_errors, see
execution.py validate_prompt) and the execution_error / execution_interrupted events (execution.py execute)."""
from __future__ import annotations

from typing import Any, Dict, List


def _reason(detail: Any) -> str:
    if not isinstance(detail, dict):
        return str(detail)
    message = str(detail.get("message") or detail.get("type") or "invalid")
    details = detail.get("details")
    if isinstance(details, str) and details.strip():
        return f"{message.rstrip('.')}: {details.strip()}"
    return message


def describe_rejection(body: Dict[str, Any]) -> str:
    error = body.get("error")
    if isinstance(error, str):  # the 2024 builds: {"error": "no prompt", "node_errors": []}
        head = f"ComfyUI rejected the workflow: {error}"
    elif isinstance(error, dict):
        head = f"ComfyUI rejected the workflow ({error.get('type', 'error')}): {_reason(error)}"
    else:
        head = "ComfyUI rejected the workflow"
    lines: List[str] = []
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, node in node_errors.items():
            if not isinstance(node, dict):
                continue
            reasons = "; ".join(_reason(e) for e in node.get("errors", [])) or "invalid"
            lines.append(f"node {node_id} ({node.get('class_type', '?')}): {reasons}")
    return head + ("" if not lines else " | " + " | ".join(lines))


def describe_execution_error(data: Dict[str, Any]) -> str:
    where = f"node {data.get('node_id', '?')} ({data.get('node_type', '?')})"
    kind = data.get("exception_type") or "an exception"
    message = str(data.get("exception_message") or "").strip()
    return f"ComfyUI failed in {where}: {kind}: {message}" if message else f"ComfyUI failed in {where}: {kind}"


def describe_interrupted(data: Dict[str, Any]) -> str:
    where = f" at node {data['node_id']} ({data.get('node_type', '?')})" if data.get("node_id") else ""
    return f"ComfyUI interrupted the prompt{where}: someone cancelled it (POST /interrupt or the UI's Cancel)"


def describe_failed_entry(entry: Dict[str, Any]) -> str:
    """A history entry whose status is error: the execution_error / _interrupted message it recorded."""
    messages = (entry.get("status") or {}).get("messages") or []
    for item in messages:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict):
            if item[0] == "execution_error":
                return describe_execution_error(item[1])
            if item[0] == "execution_interrupted":
                return describe_interrupted(item[1])
    return "ComfyUI marked the prompt as failed without saying why (no execution_error in its history)"
