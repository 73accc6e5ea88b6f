"""Serving a twin HTTP server (the ALB, an ECS stand-in) in a daemon thread, and stopping it."""

from __future__ import annotations

import threading
from socketserver import BaseServer


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
