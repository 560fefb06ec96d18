"""ComfyUI's HTTP API as the worker uses it (server.py: /system_stats, /object_info/{class}, /upload/image, /prompt,
/history, /queue, /view, /interrupt; every call bounded by a timeout). Errors keep ComfyUI's own words (comfy_errors.py)."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

import aiohttp

from .comfy_errors import describe_rejection
from .errors import JobFailed

SHORT = aiohttp.ClientTimeout(total=30, sock_connect=10)
TRANSFER = aiohttp.ClientTimeout(total=600, sock_connect=10)


@dataclass(frozen=True)
class FileRef:
    filename: str
    subfolder: str
    type: str


class ComfyClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    def _unreachable(self, what: str, error: BaseException) -> JobFailed:
        detail = str(error) or type(error).__name__
        return JobFailed(f"ComfyUI at {self.base_url} did not answer {what} ({detail}): it may have crashed; the worker restarts with it")

    async def _json(self, method: str, path: str, **kwargs: Any) -> Tuple[int, Any]:
        try:
            async with self.session.request(method, self.base_url + path, timeout=kwargs.pop("timeout", SHORT), **kwargs) as response:
                text = await response.text()
                try:
                    return response.status, json.loads(text) if text else None
                except ValueError:
                    return response.status, text
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise self._unreachable(f"{method} {path}", error) from None

    async def object_info(self, class_type: str, attempts: int = 3) -> Optional[Dict[str, Any]]:
        """The class's entry of GET /object_info/{class}; None when ComfyUI does not know the class (it answers {}) or
        has no such route (404). A dropped connection or a 5xx is tried again, with backoff, as the call changes nothing."""
        path = f"/object_info/{quote(class_type, safe='')}"
        for attempt in range(1, attempts + 1):
            try:
                status, body = await self._json("GET", path)
            except JobFailed:
                if attempt == attempts:
                    raise
            else:
                if status == 404:
                    return None
                if status == 200 and isinstance(body, dict):
                    entry = body.get(class_type)
                    return entry if isinstance(entry, dict) else None
                if status < 500 or attempt == attempts:
                    raise JobFailed(f"ComfyUI answered GET {path} with HTTP {status}: {str(body)[:200]}")
            await asyncio.sleep(0.5 * 2 ** (attempt - 1))
        return None  # not reached: the last attempt returns or raises

    async def upload(self, name: str, data: bytes) -> None:
        form = aiohttp.FormData()
        form.add_field("image", data, filename=name, content_type="application/octet-stream")
        form.add_field("overwrite", "true")
        form.add_field("type", "input")
        status, body = await self._json("POST", "/upload/image", data=form, timeout=TRANSFER)
        if status != 200 or not isinstance(body, dict):
            raise JobFailed(f"ComfyUI refused the upload of {name}: HTTP {status} {str(body)[:300]}")
        if body.get("name") != name or body.get("subfolder"):
            stored = f"{body.get('subfolder') or ''}/{body.get('name')}"
            raise JobFailed(f"ComfyUI stored the upload of {name} as {stored}, where the workflow will not find it")

    async def queue(self, prompt: Dict[str, Any], client_id: str) -> str:
        status, body = await self._json("POST", "/prompt", json={"prompt": prompt, "client_id": client_id})
        if status == 200 and isinstance(body, dict) and isinstance(body.get("prompt_id"), str):
            return body["prompt_id"]
        if status == 400 and isinstance(body, dict):
            raise JobFailed(describe_rejection(body))
        raise JobFailed(f"ComfyUI answered POST /prompt with HTTP {status}: {str(body)[:500]}")

    async def history(self, prompt_id: str) -> Optional[Dict[str, Any]]:
        status, body = await self._json("GET", f"/history/{prompt_id}")
        if status != 200 or not isinstance(body, dict):
            raise JobFailed(f"ComfyUI answered GET /history/{prompt_id} with HTTP {status}")
        entry = body.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    async def queued_ids(self) -> List[str]:
        """Prompt ids running or pending (queue items are [number, prompt_id, prompt, extra_data, outputs])."""
        status, body = await self._json("GET", "/queue")
        if status != 200 or not isinstance(body, dict):
            raise JobFailed(f"ComfyUI answered GET /queue with HTTP {status}")
        items = [*body.get("queue_running", []), *body.get("queue_pending", [])]
        return [item[1] for item in items if isinstance(item, list) and len(item) > 1 and isinstance(item[1], str)]

    async def view(self, ref: FileRef) -> bytes:
        params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
        try:
            async with self.session.get(self.base_url + "/view", params=params, timeout=TRANSFER) as response:
                if response.status != 200:
                    raise JobFailed(f"ComfyUI answered GET /view for {ref.subfolder}/{ref.filename} with HTTP {response.status}")
                return await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise self._unreachable(f"GET /view for {ref.filename}", error) from None

    async def stop(self, prompt_id: str) -> None:
        """Ends the prompt wherever it is: interrupted if running (targeted /interrupt), dropped if pending."""
        await self._json("POST", "/interrupt", json={"prompt_id": prompt_id})
        await self._json("POST", "/queue", json={"delete": [prompt_id]})

    async def forget(self, prompt_id: str) -> None:
        """Drops the finished prompt from ComfyUI's in-memory history, which a long-lived worker would fill."""
        await self._json("POST", "/history", json={"delete": [prompt_id]})

    async def websocket(self, client_id: str) -> Optional[aiohttp.ClientWebSocketResponse]:
        """The progress socket; None when it cannot be opened (the caller polls /history instead)."""
        url = self.base_url.replace("http", "ws", 1) + f"/ws?clientId={client_id}"
        try:
            return await self.session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10), heartbeat=30)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return None


async def wait_until_ready(base_url: str, timeout_s: float, log: Callable[[str], None]) -> None:
    """Returns once GET /system_stats answers 200 with JSON; raises TimeoutError after timeout_s."""
    started = time.monotonic()
    next_note = started + 15
    last = "no answer yet"
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(base_url + "/system_stats", timeout=aiohttp.ClientTimeout(total=5)) as response:
                    if response.status == 200:
                        await response.json()
                        return
                    last = f"HTTP {response.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                last = str(error) or type(error).__name__
            now = time.monotonic()
            if now - started >= timeout_s:
                raise TimeoutError(f"ComfyUI at {base_url} did not answer within COMFYUI_READY_TIMEOUT={timeout_s:g} s (last: {last})")
            if now >= next_note:
                log(f"waiting for ComfyUI at {base_url} ({now - started:.0f} s, last: {last})")
                next_note = now + 15
            await asyncio.sleep(0.5)
