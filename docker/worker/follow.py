"""Waiting for a queued prompt: its websocket events (progress, errors, `executing` with node null once the history
is written) and, when the socket is missing or drops, polling /history and /queue. Bounded by the job's timeout,
after which the prompt is interrupted."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable, Dict, Optional, Set

import aiohttp

from .comfy import ComfyClient
from .comfy_errors import describe_execution_error, describe_failed_entry, describe_interrupted
from .errors import JobFailed

POLL_S = 1.0
# Sampler steps and VHS frames each send a progress event; the job's progress is updated at most this often.
PROGRESS_EVERY_S = 2.0


class PromptWatch:
    def __init__(self, comfy: ComfyClient, prompt_id: str, prompt: Dict[str, Any], report: Callable[[str], None]) -> None:
        self.comfy = comfy
        self.prompt_id = prompt_id
        self.prompt = prompt
        self.report = report
        self.total = len(prompt)
        self.started: Set[str] = set()
        self.last_progress = 0.0
        self.missing_polls = 0

    def _class(self, node: Any) -> str:
        return str(self.prompt.get(str(node), {}).get("class_type", "?"))

    async def _finished(self) -> Dict[str, Any]:
        entry = await self.comfy.history(self.prompt_id)
        if entry is None:
            raise JobFailed(f"ComfyUI said prompt {self.prompt_id} was done but has no history for it")
        return self._checked(entry)

    def _checked(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        status = entry.get("status") or {}
        if status.get("status_str") == "error" or status.get("completed") is False:
            raise JobFailed(describe_failed_entry(entry))
        return entry

    def _on_event(self, kind: str, data: Dict[str, Any]) -> bool:
        """True once the prompt is done (history written); raises on its failure."""
        if data.get("prompt_id") not in (None, self.prompt_id):
            return False
        if kind == "execution_cached":
            self.total = max(1, len(self.prompt) - len(data.get("nodes") or []))
        elif kind == "executing":
            node = data.get("node")
            if node is None:
                return data.get("prompt_id") == self.prompt_id
            if node not in self.started:
                self.started.add(node)
                self.report(f"executing node {len(self.started)} of {self.total}: {node} ({self._class(node)})")
        elif kind == "progress":
            now = time.monotonic()
            if now - self.last_progress >= PROGRESS_EVERY_S:
                self.last_progress = now
                node = data.get("node")
                self.report(f"node {node} ({self._class(node)}): {data.get('value')}/{data.get('max')}")
        elif kind == "execution_error" and data.get("prompt_id") == self.prompt_id:
            raise JobFailed(describe_execution_error(data))
        elif kind == "execution_interrupted" and data.get("prompt_id") == self.prompt_id:
            raise JobFailed(describe_interrupted(data))
        return False

    async def _poll_once(self) -> Optional[Dict[str, Any]]:
        # Queue first, then history: a prompt that finishes between the two is found in the history.
        queued = self.prompt_id in await self.comfy.queued_ids()
        entry = await self.comfy.history(self.prompt_id)
        if entry is not None:
            return self._checked(entry)
        self.missing_polls = 0 if queued else self.missing_polls + 1
        if self.missing_polls >= 2:
            raise JobFailed(f"ComfyUI lost prompt {self.prompt_id}: it is neither queued nor in the history (ComfyUI restarted?)")
        return None

    async def _follow_socket(self, ws: aiohttp.ClientWebSocketResponse, deadline: float) -> Optional[Dict[str, Any]]:
        """The history entry, or None when the socket closed first (the caller polls on)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError
            try:
                message = await ws.receive(timeout=min(remaining, 10.0))
            except asyncio.TimeoutError:
                found = await self._poll_once()  # a quiet socket: make sure no event was missed
                if found is not None:
                    return found
                continue
            if message.type == aiohttp.WSMsgType.TEXT:
                try:
                    event = json.loads(message.data)
                except ValueError:
                    continue
                data = event.get("data") if isinstance(event, dict) else None
                if isinstance(data, dict) and self._on_event(str(event.get("type")), data):
                    return await self._finished()
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                return None
            # BINARY frames are previews (protocol.BinaryEventTypes): nothing the job needs.

    async def _follow(self, ws: Optional[aiohttp.ClientWebSocketResponse], deadline: float) -> Dict[str, Any]:
        if ws is not None:
            found = await self._follow_socket(ws, deadline)
            if found is not None:
                return found
            self.report("the progress socket closed; polling ComfyUI's history")
        while True:
            found = await self._poll_once()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise asyncio.TimeoutError
            await asyncio.sleep(POLL_S)

    async def _stop(self) -> str:
        """Interrupts the prompt; what became of it, for the job's error."""
        try:
            await self.comfy.stop(self.prompt_id)
            return "it was interrupted"
        except JobFailed as error:
            return f"interrupting it failed too ({error})"

    async def wait(self, ws: Optional[aiohttp.ClientWebSocketResponse], timeout_s: float) -> Dict[str, Any]:
        try:
            return await self._follow(ws, time.monotonic() + timeout_s)
        except asyncio.CancelledError:
            # RunPod cancelled the job (its /cancel, or the endpoint's execution timeout): ComfyUI would run on.
            await asyncio.shield(self._stop())
            raise
        except asyncio.TimeoutError:
            outcome = await self._stop()
            raise JobFailed(
                f"ComfyUI did not finish prompt {self.prompt_id} within timeoutSeconds={timeout_s:g}: {outcome}. "
                "Raise timeoutSeconds (and the endpoint's execution timeout) for longer videos"
            ) from None
