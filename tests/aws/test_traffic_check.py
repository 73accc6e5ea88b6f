"""functions/traffic_check through its handler, against a real HTTP server on 127.0.0.1.

The server plays the ALB: with the preview header it answers as "the
function", without it as "ECS"; each test decides how the two differ.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "traffic_check"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

import check_app  # noqa: E402

from controller.core.verify import report_from_answer  # noqa: E402

PREVIEW = "X-Strangler-Preview"
TILE = b"\x89PNG tile bytes"


class Behaviour:
    """How each side answers; ``seen`` records (method, path, preview header) per request."""

    def __init__(self) -> None:
        self.function_cache = "public, max-age=86400"
        self.function_body = TILE
        self.seen: list[tuple[str, str, str | None]] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def _answer(self) -> None:
        behaviour: Behaviour = self.server.behaviour
        preview = self.headers.get(PREVIEW)
        behaviour.seen.append((self.command, self.path, preview))
        function = preview == "map-tile"
        body = behaviour.function_body if function else TILE
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header(
            "Cache-Control", behaviour.function_cache if function else "public, max-age=86400"
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def alb() -> Iterator[tuple[str, Behaviour]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.behaviour = Behaviour()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.behaviour  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def checker(alb: tuple[str, Behaviour], monkeypatch: pytest.MonkeyPatch) -> Behaviour:
    url, behaviour = alb
    config = {
        "route": "map-tile",
        "baseUrl": url,
        "previewHeader": PREVIEW,
        "samples": [
            {"path": "/map/v1/tile/1/2/3.png"},
            {"path": "/map/v1/tile/1/2/4.png", "method": "HEAD"},
        ],
        "compare": "exact",
        "headers": ["Cache-Control", "Content-Encoding"],
        "hookFunctionArn": None,
        "hostHeader": None,
    }
    monkeypatch.setenv(check_app.ENV_CHECK, json.dumps(config))
    monkeypatch.setattr(check_app, "_config", None)
    return behaviour


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 18_000


def test_each_sample_goes_to_both_sides_and_equal_answers_pass(checker: Behaviour) -> None:
    answer = check_app.handler({"route": "map-tile"}, Context())
    assert answer["passed"] is True and answer["differences"] == []
    assert checker.seen == [
        ("GET", "/map/v1/tile/1/2/3.png", "map-tile"),
        ("GET", "/map/v1/tile/1/2/3.png", None),
        ("HEAD", "/map/v1/tile/1/2/4.png", "map-tile"),
        ("HEAD", "/map/v1/tile/1/2/4.png", None),
    ]
    first = answer["samples"][0]
    assert first["lambda"]["bodyLength"] == len(TILE) == first["ecs"]["bodyLength"]
    assert report_from_answer("map-tile", json.loads(json.dumps(answer))).passed


def test_a_changed_cache_control_and_body_are_reported_with_both_values(
    checker: Behaviour,
) -> None:
    checker.function_cache = "no-store"
    checker.function_body = TILE + b"!"
    answer = check_app.handler({"route": "map-tile"}, Context())
    assert answer["passed"] is False
    assert [(d["sample"], d["field"]) for d in answer["differences"]] == [
        ("#1 GET /map/v1/tile/1/2/3.png", "cache-control"),
        ("#1 GET /map/v1/tile/1/2/3.png", "body-length"),
        ("#1 GET /map/v1/tile/1/2/3.png", "body-sha256"),
        ("#2 HEAD /map/v1/tile/1/2/4.png", "cache-control"),
    ]
    assert answer["differences"][0]["lambda"] == "no-store"
    assert answer["differences"][0]["ecs"] == "public, max-age=86400"


def test_an_unreachable_alb_is_a_difference_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, checker: Behaviour
) -> None:
    config = json.loads(check_app.os.environ[check_app.ENV_CHECK])
    config["baseUrl"] = "http://127.0.0.1:9"  # discard port: connection refused
    monkeypatch.setenv(check_app.ENV_CHECK, json.dumps(config))
    monkeypatch.setattr(check_app, "_config", None)
    answer = check_app.handler({"route": "map-tile"}, Context())
    assert answer["passed"] is False, "a check that reached nothing has not passed"
    assert [d["field"] for d in answer["differences"]] == ["status", "status"]
    assert answer["differences"][0]["lambda"].startswith("no answer: ConnectionRefusedError")
