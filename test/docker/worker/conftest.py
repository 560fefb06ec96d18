"""Fixtures of the worker's tests: the ComfyUI emulator as a process (dist/test/emulators/comfyuiStandalone.js), a
sink for the runpod SDK's progress posts, an https file server with a throwaway certificate, and an S3 stand-in
(moto's server). The SDK reads RUNPOD_WEBHOOK_POST_OUTPUT when it is imported, so the sink starts here first."""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "docker"
EMULATOR_JS = ROOT / "dist" / "test" / "emulators" / "comfyuiStandalone.js"
sys.path.insert(0, str(DOCKER))


class _Sink(BaseHTTPRequestHandler):
    posts: List[Tuple[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        job_id = unquote(urlsplit(self.path).path.rsplit("/", 1)[-1])
        _Sink.posts.append((job_id, json.loads(body or b"null")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


_sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
threading.Thread(target=_sink.serve_forever, daemon=True).start()
SINK_URL = f"http://127.0.0.1:{_sink.server_address[1]}/progress/$ID?via=sdk"
os.environ["RUNPOD_WEBHOOK_POST_OUTPUT"] = SINK_URL


def progress_of(job_id: str, settle_s: float = 0.5) -> List[str]:
    """What the SDK's progress_update posted for the job (its threads are given a moment to finish)."""
    time.sleep(settle_s)
    return [p["output"] for j, p in _Sink.posts if j == job_id and isinstance(p, dict) and p.get("status") == "IN_PROGRESS"]


class Emulator:
    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not EMULATOR_JS.exists():
            why = f"the ComfyUI emulator is not built ({EMULATOR_JS.relative_to(ROOT)}): run npm run build (needs node)"
            if os.environ.get("CI"):
                raise RuntimeError(why)
            pytest.skip(why)
        self.proc = subprocess.Popen([node, str(EMULATOR_JS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._line()
        if "listening on " not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1]

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _send(self, message: Dict[str, Any]) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        return self._line()

    def configure(self, **options: Any) -> None:
        answer = self._send(options)
        assert answer == "ok", answer

    def requests(self) -> List[Dict[str, Any]]:
        return json.loads(self._send({"requests": True}))

    def posted_prompts(self) -> List[Dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests() if r["method"] == "POST" and r["path"] == "/prompt" and r["body"]]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def models_of_variant(variant: str) -> List[str]:
    """The files download-models.sh leaves for a variant under models/ (each with its .sha256 sidecar), as the TS
    tests' modelsOfVariant gives them to the emulator's installedModels."""
    manifest = json.loads((DOCKER / "models" / "manifest.json").read_text(encoding="utf-8"))
    files: List[str] = []
    for entry in manifest["files"]:
        if variant in entry["variants"] or "*" in entry["variants"]:
            name = entry.get("fileName") or entry["path"].rsplit("/", 1)[-1]
            files += [f"{entry['target']}/{name}", f"{entry['target']}/{name}.sha256"]
    return files


# Each test starts from these (the emulator process lives for the whole session). installedModels: the fp8 files,
# which the dance workflow names; comboForm None: each class's own combo form.
DEFAULTS = {"mode": "success", "refuseWebsockets": False, "jobMs": 200, "bytesPerFrame": 64,
            "installedModels": models_of_variant("fp8"), "comboForm": None, "objectInfoPerClass": True,
            "missingClass": "VHS_VideoCombine"}


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[Emulator]:
    emulator = Emulator()
    yield emulator
    emulator.close()


@pytest.fixture()
def emulator(emulator_process: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    emulator_process.configure(**DEFAULTS)
    monkeypatch.setenv("COMFYUI_URL", emulator_process.url)
    for name in ("MAX_INLINE_BYTES", "INPUT_MAX_BYTES", "BUCKET_ENDPOINT_URL", "BUCKET_ACCESS_KEY_ID", "BUCKET_SECRET_ACCESS_KEY", "BUCKET_NAME", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    return emulator_process


def _self_signed(folder: Path) -> Tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


class HttpsFiles:
    """Serves files over https (a throwaway certificate for 127.0.0.1, trusted through SSL_CERT_FILE); a path
    under /redirect/ answers 302 to the rest of it."""

    def __init__(self, folder: Path) -> None:
        self.files: Dict[str, bytes] = {}
        self.cert, key = _self_signed(folder)
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                if path.startswith("/redirect/"):
                    self.send_response(302)
                    self.send_header("Location", unquote(path[len("/redirect/"):]))
                    self.end_headers()
                    return
                body = files.get(path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def https_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsFiles]:
    server = HttpsFiles(tmp_path_factory.mktemp("tls"))
    yield server
    server.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    why = "moto[server] is not installed in .venv-test (.ci/run installs moto[server]==5.2.5)"
    try:
        import moto.server as server_module
    except ImportError:
        if os.environ.get("CI"):
            raise RuntimeError(why) from None
        pytest.skip(why)
    port = _free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def job_input_cli(job: Dict[str, Any], env: Dict[str, str], timeout: float = 60) -> Tuple[int, str, Optional[Dict[str, Any]]]:
    """`python -m worker --test_input JOB` (the runpod SDK's local test mode): exit status, output, and the job
    result the SDK logs ("Job result: {...}", a Python literal)."""
    import ast

    run = subprocess.run(
        [sys.executable, "-m", "worker", "--test_input", json.dumps(job)],
        cwd=DOCKER, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )
    output = run.stdout + run.stderr
    result = None
    for line in output.splitlines():
        if "Job result: " in line:
            result = ast.literal_eval(line.split("Job result: ", 1)[1])
    return run.returncode, output, result
