"""``python -m controller verify`` through its real entry point, on the twin's moto server.

The route's checker is the real functions/traffic_check handler (routed from
moto's Lambda Invoke), calling a stand-in ALB on 127.0.0.1 that answers as
"the function" when the preview header is there and as "ECS" otherwise.
Nothing is recorded: the route's history and weights stay as deployed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controller.core.weights import ALL_ECS
from tests.aws.test_traffic_check import PREVIEW, Behaviour, _Handler, check_app
from tests.aws_fixtures import SharedTwin, TwinWorld
from tests.twin.test_cli import World, cli, ok

ROUTE = "map-tile"
CHECKER = "strangler-three-map-tile-check"


@pytest.fixture
def checked(
    twin: TwinWorld, shared_twin: SharedTwin, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[World, Behaviour]]:
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.behaviour = Behaviour()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = {
        "route": ROUTE,
        "baseUrl": f"http://127.0.0.1:{server.server_address[1]}",
        "previewHeader": PREVIEW,
        "samples": [{"path": "/map/v1/tile/1/2/3.png"}],
        "compare": "exact",
        "headers": ["Cache-Control", "Content-Encoding"],
        "hookFunctionArn": None,
        "hostHeader": None,
    }
    monkeypatch.setenv(check_app.ENV_CHECK, json.dumps(config))
    monkeypatch.setattr(check_app, "_config", None)
    twin.put_route_record(ROUTE, check_function_name=CHECKER)
    url = shared_twin.endpoint(twin)
    assert twin.router is not None
    twin.router.register(CHECKER, check_app.handler)
    try:
        yield World(url=url, stack=twin), server.behaviour  # type: ignore[attr-defined]
    finally:
        twin.router.register(CHECKER, None)
        server.shutdown()
        server.server_close()


def test_verify_prints_one_row_per_sample_and_passes(checked: tuple[World, Behaviour]) -> None:
    world, _ = checked
    result = ok(cli(world, "verify", "--stack", "three", "--route", ROUTE))
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{ROUTE}: verify -> passed: verify passed: 1 sample(s)")
    assert lines[2].split()[:2] == ["SAMPLE", "LAMBDA"]
    assert lines[3].split() == [
        "#1",
        "GET",
        "/map/v1/tile/1/2/3.png",
        "200",
        "200",
        "15",
        "15",
        "same",
    ]
    assert world.stack.service().history(ROUTE, 10) == [], "verify records nothing"


def test_a_difference_exits_1_naming_the_sample_the_field_and_both_values(
    checked: tuple[World, Behaviour],
) -> None:
    world, behaviour = checked
    behaviour.function_cache = "no-store"
    result = ok(cli(world, "verify", "--stack", "three", "--route", ROUTE), code=1)
    assert "verify -> differs" in result.stdout
    assert "#1 GET /map/v1/tile/1/2/3.png  cache-control  no-store  public, max-age=86400" in (
        result.stdout
    )
    payload = json.loads(
        ok(cli(world, "verify", "--stack", "three", "--route", ROUTE, "--json"), code=1).stdout
    )
    assert payload["result"] == "differs"
    assert payload["details"]["differences"] == [
        {
            "sample": "#1 GET /map/v1/tile/1/2/3.png",
            "field": "cache-control",
            "lambda": "no-store",
            "ecs": "public, max-age=86400",
        }
    ]
    assert world.stack.live_weights() == ALL_ECS
