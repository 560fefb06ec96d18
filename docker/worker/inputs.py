"""The job's input files as bytes: base64 (or a data: URI) decoded, https URLs downloaded with a timeout and a cap."""
from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
from urllib.parse import urljoin, urlsplit

import aiohttp

from .errors import JobFailed
from .job_input import InputFile

MAX_REDIRECTS = 5
ATTEMPTS = 3
CHUNK = 1024 * 1024


def shown_url(url: str) -> str:
    """scheme://host/path: a presigned URL's query carries its signature, which stays out of messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"


def decode_data(item: InputFile, max_bytes: int) -> bytes:
    text = (item.data or "").strip()
    if text.startswith("data:"):
        header, comma, text = text.partition(",")
        if not comma or not header.endswith(";base64"):
            raise JobFailed(f"input {item.name}: a data: URI must be base64 (data:<type>;base64,<data>)")
    if len(text) * 3 // 4 > max_bytes + 3:
        raise JobFailed(f"input {item.name}: more than INPUT_MAX_BYTES ({max_bytes} bytes) once decoded; pass a url instead")
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise JobFailed(f"input {item.name}: data is not valid base64 ({error})") from None
    if not decoded:
        raise JobFailed(f"input {item.name}: data decodes to nothing")
    if len(decoded) > max_bytes:
        raise JobFailed(f"input {item.name}: {len(decoded)} bytes, more than INPUT_MAX_BYTES ({max_bytes})")
    return decoded


class _Retryable(Exception):
    pass


async def _get_once(session: aiohttp.ClientSession, item: InputFile, max_bytes: int, timeout_s: float) -> bytes:
    url = item.url or ""
    context = ssl.create_default_context()  # per call: honours SSL_CERT_FILE / SSL_CERT_DIR as set now
    timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 30))
    for _ in range(MAX_REDIRECTS + 1):
        if urlsplit(url).scheme.lower() != "https":
            raise JobFailed(f"input {item.name}: {shown_url(item.url or '')} redirects to {shown_url(url)}, which is not https")
        try:
            async with session.get(url, ssl=context, timeout=timeout, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status >= 500 or response.status == 429:
                    raise _Retryable(f"answered {response.status} {response.reason}")
                if response.status != 200:
                    raise JobFailed(f"input {item.name}: GET {shown_url(url)} answered {response.status} {response.reason}")
                if (response.content_length or 0) > max_bytes:
                    raise JobFailed(
                        f"input {item.name}: {shown_url(url)} is {response.content_length} bytes, more than INPUT_MAX_BYTES ({max_bytes})"
                    )
                body = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise JobFailed(f"input {item.name}: {shown_url(url)} sends more than INPUT_MAX_BYTES ({max_bytes} bytes)")
                if not body:
                    raise JobFailed(f"input {item.name}: {shown_url(url)} is empty")
                return bytes(body)
        except aiohttp.ClientSSLError as error:
            raise JobFailed(
                f"input {item.name}: TLS to {shown_url(url)} failed ({error}); the server's certificate is not trusted"
            ) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise _Retryable(str(error) or type(error).__name__) from None
    raise JobFailed(f"input {item.name}: {shown_url(item.url or '')} redirects more than {MAX_REDIRECTS} times")


async def download(session: aiohttp.ClientSession, item: InputFile, max_bytes: int, timeout_s: float) -> bytes:
    last = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _get_once(session, item, max_bytes, timeout_s)
        except _Retryable as error:
            last = str(error)
            if attempt < ATTEMPTS:
                await asyncio.sleep(attempt)
    raise JobFailed(
        f"input {item.name}: {shown_url(item.url or '')} could not be fetched in {ATTEMPTS} attempts "
        f"(each up to INPUT_DOWNLOAD_TIMEOUT={timeout_s:g} s): {last}"
    )


async def fetch(session: aiohttp.ClientSession, item: InputFile, max_bytes: int, timeout_s: float) -> bytes:
    if item.data is not None:
        return decode_data(item, max_bytes)
    return await download(session, item, max_bytes, timeout_s)
