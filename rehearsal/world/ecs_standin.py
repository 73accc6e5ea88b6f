"""A local HTTP server that stands in for an ECS service: the monolith, or the map upstream.

The rehearsal starts one per ECS target group (what the rule's ECS side
serves) and one per route function as its ``UPSTREAM_URL`` (the map delivery
service the function calls). Each answers every GET/HEAD with a small PNG
tile, with the caching headers a tile server sends, and a 304 to a matching
``If-None-Match``. :meth:`StandinServer.set_failing` turns it into a broken
upstream (503 to everything), which the route function maps to 502 and counts
as ``AppErrors``: the failure the rehearsal injects is visible in the metrics
the alarms watch.

Bound to 127.0.0.1 on a free port (port 0), so parallel rehearsals and tests
never collide.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from http import HTTPStatus

from rehearsal.world.serving import (
    LOOPBACK,
    LoopbackServer,
    QuietHandler,
    serve_in_thread,
    stop_serving,
)

__all__ = ["DIVERGENT_CACHE_CONTROL", "TILE_PNG", "StandinServer"]


def _png(width: int, height: int) -> bytes:
    """A valid, minimal grey PNG (so binary bodies really travel as Base64)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


TILE_PNG = _png(16, 16)
CACHE_CONTROL = "public, max-age=86400"
# What a divergent stand-in sends for its divergent path (``rehearsal run --diverge``).
DIVERGENT_CACHE_CONTROL = "no-store"
_ETAG = '"' + hashlib.sha256(TILE_PNG).hexdigest()[:16] + '"'


class _Handler(QuietHandler):
    server: LoopbackServer[StandinServer]

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        standin = self.server.owner
        failing = standin.record_request()
        if failing:
            self._send(
                HTTPStatus.SERVICE_UNAVAILABLE, b"upstream failing\n", "text/plain", with_body
            )
            return
        if self.headers.get("If-None-Match") == _ETAG:
            self._send(HTTPStatus.NOT_MODIFIED, b"", None, False)
            return
        self._send(HTTPStatus.OK, TILE_PNG, "image/png", with_body)

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str | None, with_body: bool
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if status == HTTPStatus.OK:
            divergent = self.server.owner.divergent_path
            path = self.path.split("?", 1)[0]
            cache = DIVERGENT_CACHE_CONTROL if path == divergent else CACHE_CONTROL
            self.send_header("Cache-Control", cache)
            self.send_header("ETag", _ETAG)
        self.send_header("X-Standin", self.server.owner.name)
        self.send_header(
            "Content-Length", str(len(body) if status != HTTPStatus.NOT_MODIFIED else 0)
        )
        self.end_headers()
        if with_body and body:
            self.wfile.write(body)


class StandinServer:
    """One stand-in service on 127.0.0.1 (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._failing = False
        self._requests = 0
        self.divergent_path: str | None = None
        self._server: LoopbackServer[StandinServer] | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError(f"stand-in {self.name} is not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """The loopback address it listens on."""
        return LOOPBACK

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def requests(self) -> int:
        """How many requests it answered."""
        with self._lock:
            return self._requests

    def start(self) -> StandinServer:
        """Bind a free port and serve in a daemon thread; returns self."""
        self._server = LoopbackServer(self, _Handler)
        self._thread = serve_in_thread(self._server, f"standin-{self.name}")
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        stop_serving(self._server, self._thread)
        self._server = None
        self._thread = None

    @property
    def failing(self) -> bool:
        """True while it answers 503 to everything."""
        with self._lock:
            return self._failing

    def set_failing(self, failing: bool) -> None:
        """From now on answer 503 to everything (True), or serve tiles again (False)."""
        with self._lock:
            self._failing = failing

    def set_divergent(self, path: str | None) -> None:
        """Answer ``path`` with another Cache-Control (None: like every other path again)."""
        self.divergent_path = path

    def record_request(self) -> bool:
        """Count one request; True when it must fail."""
        with self._lock:
            self._requests += 1
            return self._failing

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
