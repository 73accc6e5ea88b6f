"""Twin HTTP servers (the ALB, an ECS stand-in): on a loopback port, in a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from typing import Any, Generic, TypeVar

LOOPBACK = "127.0.0.1"

_Owner = TypeVar("_Owner")


class QuietHandler(BaseHTTPRequestHandler):
    """A twin server's request handler: keep-alive, no Nagle delay, no log lines."""

    # Keep-alive, like an ALB target. With HTTP/1.1, http.server writes the
    # headers and the body separately; with Nagle on, the client's delayed ACK
    # adds ~40 ms to every response (measured on this kind of machine), so
    # every timing would measure the kernel instead of the code.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: hundreds of requests per second would drown the progress lines."""


class LoopbackServer(ThreadingHTTPServer, Generic[_Owner]):
    """A server on a free loopback port whose handlers serve for ``owner``."""

    daemon_threads = True

    def __init__(self, owner: _Owner, handler: type[BaseHTTPRequestHandler]) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), handler)


def serve_in_thread(server: BaseServer, name: str) -> threading.Thread:
    """Serve ``server`` in a started daemon thread named ``name``."""
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=name,
        daemon=True,
    )
    thread.start()
    return thread


def stop_serving(server: BaseServer | None, thread: threading.Thread | None) -> None:
    """Stop serving, close the socket and wait for the thread; either may be ``None``."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=5)
