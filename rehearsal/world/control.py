"""The twin's own endpoints, beside moto's, on the served emulator.

A served twin (``python -m rehearsal serve``) holds things that are not AWS
resources: the stand-in of each route's upstream, the request loop. Another
process (``python -m rehearsal fault``) reaches them at
``{endpoint}/strangler-twin/<name>`` on the same port as the emulator, as
moto keeps its own ``/moto-api/`` there: one address to type, nothing else
to discover.

:class:`ControlMount` is a WSGI middleware in front of moto's application.
An endpoint is a function of the request's JSON body that returns
``(HTTP status, JSON answer)``; a path under the prefix with no endpoint
answers 404 naming the known ones, and every other path goes to moto.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["CONTROL_PREFIX", "ControlEndpoint", "ControlMount"]

CONTROL_PREFIX = "/strangler-twin/"
# A fault request is a few hundred bytes; refuse anything far larger.
MAX_BODY_BYTES = 64 * 1024

ControlEndpoint = Callable[[Any], tuple[int, Any]]
"""``endpoint(json_body) -> (status, json_answer)``."""

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


class ControlMount:
    """WSGI middleware: ``POST {prefix}<name>`` to a registered endpoint, the rest to ``app``."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._endpoints: dict[str, ControlEndpoint] = {}
        self._lock = threading.Lock()

    def register(self, name: str, endpoint: ControlEndpoint) -> None:
        """Answer ``POST {prefix}{name}`` with ``endpoint``."""
        with self._lock:
            self._endpoints[name] = endpoint

    def unregister(self, name: str) -> None:
        """Stop answering ``name`` (404 from now on)."""
        with self._lock:
            self._endpoints.pop(name, None)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "")
        if not path.startswith(CONTROL_PREFIX):
            return self.app(environ, start_response)
        name = path[len(CONTROL_PREFIX) :]
        with self._lock:
            endpoint = self._endpoints.get(name)
            known = sorted(self._endpoints)
        if endpoint is None:
            listed = ", ".join(known) or "none"
            return _answer(start_response, 404, {"error": f"no endpoint {name!r}; known: {listed}"})
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, 405, {"error": f"{path} takes POST"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            return _answer(start_response, 400, {"error": "bad Content-Length"})
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError as error:
            return _answer(start_response, 400, {"error": f"the body is not JSON: {error}"})
        status, answer = endpoint(body)
        return _answer(start_response, status, answer)


def _answer(start_response: StartResponse, status: int, answer: Any) -> list[bytes]:
    data = json.dumps(answer).encode("utf-8")
    reason = _REASONS.get(status, "Error")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
