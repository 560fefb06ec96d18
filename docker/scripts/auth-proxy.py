#!/usr/bin/env python3
"""The authenticating front of ComfyUI: what the world reaches on the pod's public port.

ComfyUI itself listens on 127.0.0.1 only; this process listens on the public address and forwards HTTP
(streamed both ways, bodies untouched) and websockets to it, after checking each request for the token in
COMFYUI_AUTH_TOKEN:
  * programs send `Authorization: Bearer <token>` (the post-deploy checks do);
  * a browser gets a small sign-in page, posts the token once, and from then on carries an HttpOnly, Secure,
    SameSite=Lax cookie (a value derived from the token, not the token itself).
Anything else gets 401. The token is read from the environment only (never argv), compared in constant time,
and never logged; no access log is written. COMFYUI_AUTH=off forwards everything unchecked, for a ComfyUI
behind an authenticating proxy of the user's own.

Usage: auth-proxy.py --listen 0.0.0.0 --port 8188 --upstream http://127.0.0.1:8189
Needs aiohttp, which ComfyUI's own requirements install into the image's venv.
"""
import argparse
import asyncio
import hashlib
import hmac
import html
import os
import signal
import sys
from urllib.parse import parse_qs

from aiohttp import ClientSession, ClientTimeout, TCPConnector, WSMsgType, web
from aiohttp.client_exceptions import ClientConnectionError, ClientError, WSServerHandshakeError
from yarl import URL

ME = "auth-proxy"
COOKIE = "comfyui_auth"
LOGIN_PATH = "/__auth/login"
# Headers that describe one hop, not the message (RFC 9110 section 7.6.1), never forwarded as they are.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade",
}
# Websocket handshake headers aiohttp's client writes itself.
WS_HANDSHAKE = {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-accept"}

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ComfyUI: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
input{{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}}button{{padding:.5rem 1rem}}</style></head>
<body><h1>ComfyUI</h1>
<p>This ComfyUI needs its access token. Print it with
<code>pulumi stack output --show-secrets comfyToken</code>.</p>
{message}
<form method="post" action="{action}">
<input type="hidden" name="next" value="{next}">
<input type="password" name="token" autocomplete="current-password" placeholder="access token" autofocus required>
<button type="submit">Open ComfyUI</button></form></body></html>
"""


def log(message):
    print(f"{ME}: {message}", flush=True)


def session_value(token):
    """What the browser cookie holds: bound to the token, useless for anything but this front."""
    return hmac.new(token.encode(), b"comfyui-browser-session", hashlib.sha256).hexdigest()


def safe_next(target):
    """A path on this host to return to after signing in; anything else goes to the root."""
    if not target.startswith("/") or target.startswith("//") or target.startswith(LOGIN_PATH):
        return "/"
    return target


class Front:
    def __init__(self, upstream, token):
        self.upstream = upstream.rstrip("/")
        self.token = token.encode() if token is not None else None
        self.cookie = session_value(token) if token is not None else None
        self.session = None

    # ------------------------------------------------------------------ auth
    def authorised(self, request):
        if self.token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), self.token):
            return True
        cookie = request.cookies.get(COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self.cookie.encode())

    def refuse(self, request, message=""):
        wants_page = request.method == "GET" and "text/html" in request.headers.get("Accept", "")
        if wants_page:
            body = LOGIN_PAGE.format(
                action=LOGIN_PATH, next=html.escape(safe_next(request.path_qs), quote=True), message=message
            )
            return web.Response(status=401, text=body, content_type="text/html",
                                headers={"Cache-Control": "no-store", "WWW-Authenticate": 'Bearer realm="ComfyUI"'})
        return web.Response(status=401, text="401: Unauthorized: send Authorization: Bearer <token>\n",
                            headers={"WWW-Authenticate": 'Bearer realm="ComfyUI"'})

    async def login(self, request):
        if self.token is None:
            raise web.HTTPFound("/")
        if request.method != "POST":
            return self.refuse(request)
        body = await request.read()
        if len(body) > 16384:
            return web.Response(status=413, text="413: sign-in form too large\n")
        form = parse_qs(body.decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0].strip()
        target = safe_next((form.get("next") or ["/"])[0])
        if not hmac.compare_digest(given.encode(), self.token):
            page = LOGIN_PAGE.format(action=LOGIN_PATH, next=html.escape(target, quote=True),
                                     message="<p><strong>That token is not this ComfyUI's.</strong></p>")
            return web.Response(status=401, text=page, content_type="text/html", headers={"Cache-Control": "no-store"})
        response = web.HTTPSeeOther(target)
        response.set_cookie(COOKIE, self.cookie, httponly=True, secure=True, samesite="Lax", path="/")
        raise response

    # ------------------------------------------------------------------ forwarding
    def upstream_headers(self, request):
        headers = {}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length":
                continue
            if self.token is not None and lower == "authorization":
                continue  # ours: ComfyUI has no use for it
            headers[name] = value
        if self.token is not None and "Cookie" in headers:
            kept = [c for c in headers["Cookie"].split(";") if c.strip().split("=", 1)[0] != COOKIE]
            if kept:
                headers["Cookie"] = ";".join(kept).strip()
            else:
                del headers["Cookie"]
        # Host stays the client's: ComfyUI compares it with Origin to refuse cross-site browser requests.
        forwarded_for = request.headers.get("X-Forwarded-For")
        peer = request.remote or ""
        headers["X-Forwarded-For"] = f"{forwarded_for}, {peer}" if forwarded_for else peer
        return headers

    def upstream_url(self, request):
        # The raw path, percent-escapes as sent: ComfyUI's userdata routes take names like workflows%2Fa.json.
        return URL(self.upstream + request.rel_url.raw_path_qs, encoded=True)

    async def handle(self, request):
        if request.path == LOGIN_PATH:
            return await self.login(request)
        if not self.authorised(request):
            return self.refuse(request)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.websocket(request)
        return await self.http(request)

    async def http(self, request):
        url = self.upstream_url(request)
        body = request.content if request.can_read_body else None
        try:
            upstream = await self.session.request(
                request.method, url, headers=self.upstream_headers(request), data=body, allow_redirects=False
            )
        except (ClientConnectionError, asyncio.TimeoutError):
            return web.Response(status=502, text="502: ComfyUI is not answering (still starting or loading models?)\n")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except (ClientError, ConnectionResetError, asyncio.TimeoutError):
                # The upstream or the client went away mid-body: end this exchange; the client sees a cut body.
                if request.transport is not None:
                    request.transport.close()
                return response
            await response.write_eof()
            return response

    async def websocket(self, request):
        url = self.upstream_url(request)
        headers = {k: v for k, v in self.upstream_headers(request).items() if k.lower() not in WS_HANDSHAKE}
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        headers.pop("Sec-WebSocket-Protocol", None)
        try:
            upstream = await self.session.ws_connect(url, headers=headers, protocols=protocols, max_msg_size=0,
                                                     autoping=True)
        except WSServerHandshakeError as err:
            return web.Response(status=err.status or 502, text=f"{err.status}: ComfyUI refused the websocket\n")
        except (ClientError, asyncio.TimeoutError):
            return web.Response(status=502, text="502: ComfyUI is not answering (still starting or loading models?)\n")
        client = web.WebSocketResponse(protocols=protocols, max_msg_size=0, autoping=True)
        await client.prepare(request)

        async def pump(source, sink):
            async for msg in source:
                if msg.type == WSMsgType.TEXT:
                    await sink.send_str(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await sink.send_bytes(msg.data)
                else:
                    break
            if not sink.closed:
                await sink.close()

        tasks = [asyncio.ensure_future(pump(upstream, client)), asyncio.ensure_future(pump(client, upstream))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await upstream.close()
            await client.close()
        return client

    # ------------------------------------------------------------------ lifecycle
    async def start(self, app):
        # No total timeout: a video download or a long generation may stream for a long while.
        timeout = ClientTimeout(total=None, connect=10, sock_connect=10)
        self.session = ClientSession(timeout=timeout, auto_decompress=False, connector=TCPConnector(limit=0),
                                     cookie_jar=None)

    async def stop(self, app):
        if self.session is not None:
            await self.session.close()


def main(argv):
    parser = argparse.ArgumentParser(description="authenticating reverse proxy in front of ComfyUI")
    parser.add_argument("--listen", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8188, help="0 picks a free port (printed at start)")
    parser.add_argument("--upstream", default="http://127.0.0.1:8189")
    args = parser.parse_args(argv)

    mode = os.environ.get("COMFYUI_AUTH", "token")
    token = os.environ.get("COMFYUI_AUTH_TOKEN", "")
    if mode == "off":
        token = None
        log("WARNING: COMFYUI_AUTH=off: forwarding every request unchecked; only safe behind a proxy of your own")
    elif mode != "token":
        log(f"ERROR: COMFYUI_AUTH must be token or off, got {mode!r}")
        return 2
    elif len(token) < 16:
        log("ERROR: COMFYUI_AUTH_TOKEN is unset or shorter than 16 characters: refusing to serve ComfyUI "
            "without authentication (set COMFYUI_AUTH=off only behind an authenticating proxy of your own)")
        return 2

    front = Front(args.upstream, token)
    # No client_max_size limit applies: bodies are streamed to ComfyUI, never read whole here.
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", front.handle)
    app.on_startup.append(front.start)
    app.on_cleanup.append(front.stop)

    async def serve():
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, args.listen, args.port)
        await site.start()
        ports = [s.getsockname()[1] for s in (site._server.sockets if site._server else [])]  # noqa: SLF001
        auth = "bearer token or sign-in cookie required" if token is not None else "NO authentication"
        log(f"listening on {args.listen}:{ports[0] if ports else args.port}, forwarding to {args.upstream} ({auth})")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log("stopping")
        await runner.cleanup()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
