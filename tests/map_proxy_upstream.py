"""Test helpers for the map proxy: a loopback upstream, a fake Lambda context,
the module loader and parsers for what the function prints.

The upstream is a real threaded `http.server` on 127.0.0.1, bound to port 0,
speaking HTTP/1.1 with keep-alive. `disable_nagle_algorithm` matters: without
it the server writes headers and body separately and the client's delayed ACK
adds ~40 ms to every response.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

FUNCTION_DIR = Path(__file__).resolve().parents[1] / "functions" / "map_proxy"
# Loaded under this name (not `app`) so that it cannot collide with another
# function's `app` module in the same test process.
APP_MODULE_NAME = "map_proxy_app"

# Limit mirrored from proxy_constants, kept literal so that a change there is
# a visible decision in the tests too.
ALB_LIMIT = 1_000_000

# A valid 1x1 PNG followed by bytes that are not UTF-8, so that a text
# round trip would corrupt it.
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82" + bytes(range(256))
)
PNG_ETAG = '"png-v1"'
BIG_ETAG = '"big-v1"'
PBF_RAW = b"\x1a\x8f\x01\x0a\x05water\x28\x80\x20\x78\x02" + bytes(range(200))
PBF_GZIP = gzip.compress(PBF_RAW, mtime=0)
JSON_TEXT = '{"name": "東京", "zoom": [0, 18]}'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
EXPIRES = "Thu, 01 Dec 2033 16:00:00 GMT"


def load_function_module(name: str) -> ModuleType:
    """Import one of the function's own modules (`proxy_core`, ...).

    They import each other as top-level modules, as in Lambda, where the
    folder root is on sys.path.
    """
    if str(FUNCTION_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTION_DIR))
    return importlib.import_module(name)


def load_app(env: dict[str, str]) -> ModuleType:
    """Import `functions/map_proxy/app.py` once per process.

    The function folder goes on sys.path, as in Lambda where the folder root
    is the task root. `env` is in place only while the module initialises;
    tests then call `configure()` with their own (monkeypatched) environment.
    """
    loaded = sys.modules.get(APP_MODULE_NAME)
    if loaded is not None:
        return loaded
    if str(FUNCTION_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTION_DIR))
    with mock.patch.dict(os.environ, env):
        spec = importlib.util.spec_from_file_location(APP_MODULE_NAME, FUNCTION_DIR / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[APP_MODULE_NAME] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[APP_MODULE_NAME]
            raise
    return module


@dataclass
class FakeLambdaContext:
    """The parts of the Lambda context object that the function uses."""

    remaining_ms: int = 3000
    function_name: str = "strangler-tiles-proxy"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:ap-northeast-1:123456789012:function:strangler-tiles-proxy"
    )
    aws_request_id: str = "6f8d5c3e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class SeenRequest:
    """A request as the upstream received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    client_port: int


@dataclass
class UpstreamState:
    """What the upstream saw, shared with its handler threads."""

    requests: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seen: SeenRequest) -> None:
        with self.lock:
            self.requests.append(seen)

    def snapshot(self) -> list[SeenRequest]:
        with self.lock:
            return list(self.requests)


def _make_handler(state: UpstreamState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean

        # --- plumbing ----------------------------------------------------
        def _send(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            *,
            content_length: bool = True,
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if content_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and body:
                self.wfile.write(body)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            state.record(
                SeenRequest(
                    method=self.command,
                    path=parts.path,
                    query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    client_port=self.client_address[1],
                )
            )
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            first = parts.path.strip("/").split("/")[0].split(".")[0]
            route = getattr(self, "_route_" + first, None)
            if route is None:
                self._send(404, b"no such route\n", {"Content-Type": "text/plain"})
                return
            route(parts.path, parse_qs(parts.query))

        do_GET = _dispatch
        do_HEAD = _dispatch
        do_POST = _dispatch

        # --- routes --------------------------------------------------------
        def _route_tiles(self, path: str, query: dict[str, list[str]]) -> None:
            if path.endswith(".png"):
                caching = {
                    "Cache-Control": "public, max-age=86400",
                    "ETag": PNG_ETAG,
                    "Last-Modified": LAST_MODIFIED,
                    "Expires": EXPIRES,
                }
                if self.headers.get("If-None-Match") == PNG_ETAG:
                    self._send(304, b"", caching, content_length=False)
                    return
                headers = {
                    "Content-Type": "image/png",
                    **caching,
                    "Set-Cookie": "internal=1",
                    "X-Internal-Node": "ecs-task-7",
                    "Connection": "keep-alive",
                }
                self._send(200, PNG_BYTES, headers)
            elif path.endswith(".pbf"):
                self._send(
                    200,
                    PBF_GZIP,
                    {
                        "Content-Type": "application/x-protobuf",
                        "Content-Encoding": "gzip",
                        "Vary": "Accept-Encoding",
                        "Cache-Control": "public, max-age=3600",
                    },
                )
            else:
                self._send(404, b"tile not found\n", {"Content-Type": "text/plain"})

        def _route_meta(self, path: str, query: dict[str, list[str]]) -> None:
            self._send(
                200,
                JSON_TEXT.encode("utf-8"),
                {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-cache"},
            )

        def _route_missing(self, path: str, query: dict[str, list[str]]) -> None:
            self._send(
                404,
                b"not found\n",
                {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "max-age=60"},
            )

        def _route_error(self, path: str, query: dict[str, list[str]]) -> None:
            self._send(500, b"upstream exploded\n", {"Content-Type": "text/plain"})

        def _route_empty(self, path: str, query: dict[str, list[str]]) -> None:
            self._send(200, b"", {"Content-Type": "image/png"})

        def _route_slow(self, path: str, query: dict[str, list[str]]) -> None:
            time.sleep(float(query.get("delay", ["1.0"])[0]))
            self._send(200, b"late\n", {"Content-Type": "text/plain"})

        def _route_drip(self, path: str, query: dict[str, list[str]]) -> None:
            # Headers at once, then one byte per `gap` seconds: every single
            # read is fast, only the whole body is slow.
            gap = float(query.get("gap", ["0.15"])[0])
            count = int(query.get("count", ["20"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(count))
            self.end_headers()
            try:
                for _ in range(count):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(gap)
            except OSError:
                pass  # the proxy gave up and closed the connection

        def _route_big(self, path: str, query: dict[str, list[str]]) -> None:
            # Declared length just over the limit.
            if self.headers.get("If-None-Match") == BIG_ETAG:
                # A 304 may carry the Content-Length a 200 would have (RFC
                # 9110, 8.6), with no content.
                self.send_response(304)
                self.send_header("ETag", BIG_ETAG)
                self.send_header("Content-Length", str(ALB_LIMIT + 1))
                self.end_headers()
                return
            self._send(
                200,
                b"\0" * (ALB_LIMIT + 1),
                {"Content-Type": "application/octet-stream", "ETag": BIG_ETAG},
            )

        def _route_bigchunked(self, path: str, query: dict[str, list[str]]) -> None:
            # No declared length: the proxy must count while reading.
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\1" * 65536
            sent = 0
            try:
                while sent <= ALB_LIMIT + 65536:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    sent += len(chunk)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the proxy stopped reading and closed the connection

        def _route_base64toobig(self, path: str, query: dict[str, list[str]]) -> None:
            # Fits the raw-body cap, but not once Base64-encoded (4/3).
            self._send(200, b"\2" * 800_000, {"Content-Type": "image/png"})

        def _route_echo(self, path: str, query: dict[str, list[str]]) -> None:
            body = json.dumps({"method": self.command}).encode()
            self._send(200, body, {"Content-Type": "application/json"})

        def _route_dropafter(self, path: str, query: dict[str, list[str]]) -> None:
            # Answer, then close the kept-alive connection without saying so,
            # as an upstream does when its idle timeout fires.
            self._send(200, b"ok\n", {"Content-Type": "text/plain"})
            self.close_connection = True

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The proxy hangs up on purpose (oversized or too slow bodies): a
        # broken pipe on the server side is expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LoopbackUpstream:
    """A threaded HTTP/1.1 upstream on 127.0.0.1 (port 0), for a `with` block."""

    def __init__(self) -> None:
        self.state = UpstreamState()
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self.state))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LoopbackUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- Output parsing -------------------------------------------------------------


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line of captured stdout that is a JSON object."""
    found: list[dict[str, Any]] = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


def emf_lines(output: str) -> list[dict[str, Any]]:
    """The CloudWatch Embedded Metric Format documents in captured stdout."""
    return [line for line in json_lines(output) if "_aws" in line]


def log_lines(output: str) -> list[dict[str, Any]]:
    """The structured log records in captured stdout."""
    return [line for line in json_lines(output) if "_aws" not in line and "level" in line]
