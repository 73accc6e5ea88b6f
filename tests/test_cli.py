"""The operator CLI through its real entry point, ``python -m controller``, against moto.

A ThreadedMotoServer on 127.0.0.1 (a free port) holds the stack, built with
tests/moto_stack.py; each test runs the CLI as a subprocess with fake
credentials and ``--endpoint-url`` pointing at the server. Each subprocess
costs ~0.5-1 s (boto3 import), so each test groups the assertions of one
scenario.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from controller.aws_clients import AwsSettings
from controller.contract import route_parameter_name
from tests.moto_stack import REGION, MotoStack, RouteSpec, build_moto_stack

REPO = Path(__file__).resolve().parent.parent
STACK = "cli"
ROUTES = (
    RouteSpec("map-tile", 100, "/map/v1/tile/*"),
    RouteSpec("map-style", 110, "/map/v1/style/*"),
)


@dataclass(frozen=True)
class Server:
    """The moto server of this test module (one per xdist worker)."""

    url: str
    port: int


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    previous = os.environ.get("MOTO_PORT")
    # moto's Step Functions interpreter calls the other services on localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    try:
        yield Server(url=f"http://{host}:{port}", port=port)
    finally:
        moto_server.stop()
        if previous is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = previous


def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in fake_env().items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stack(server: Server, monkeypatch: pytest.MonkeyPatch) -> MotoStack:
    """A fresh two-route stack on the server (the server is reset first)."""
    _fake_credentials(monkeypatch)
    request = urllib.request.Request(f"{server.url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    return build_moto_stack(
        stack=STACK,
        routes=ROUTES,
        settings=AwsSettings(region=REGION, endpoint_url=server.url),
    )


def fake_env() -> dict[str, str]:
    """Fake credentials only: no profile, config file or endpoint leaks in from the host."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def run_cli(
    server: Server | None,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    region: str | None = REGION,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``python -m controller ARGS --endpoint-url URL --region R`` in a clean environment."""
    full_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("NO_COLOR", "STRANGLER_ACTOR")
    }
    full_env.update(fake_env())
    full_env["STRANGLER_ACTOR"] = "tester"
    full_env.update(env or {})
    command = [sys.executable, "-m", "controller", *args]
    if server is not None:
        command += ["--endpoint-url", server.url]
    if region is not None:
        command += ["--region", region]
    return subprocess.run(
        command,
        cwd=REPO,
        env=full_env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_closed_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


# --------------------------------------------------------------------------- usage, discovery


def test_usage_errors_exit_2_before_any_aws_call():
    no_command = run_cli(None, region=None)
    assert no_command.returncode == 2, explain(no_command)
    assert "COMMAND" in no_command.stderr
    missing_route = run_cli(None, "history", region=None)
    assert missing_route.returncode == 2, explain(missing_route)
    assert "--route" in missing_route.stderr
    bad_interval = run_cli(None, "status", "--interval", "0", region=None)
    assert bad_interval.returncode == 2, explain(bad_interval)
    assert "must be greater than 0" in bad_interval.stderr


def test_missing_registry_and_unknown_route_exit_2(stack: MotoStack, server: Server):
    missing = run_cli(server, "status", "--stack", "nope")
    assert missing.returncode == 2, explain(missing)
    assert f"no stack named 'nope' was found in region {REGION}" in missing.stderr
    assert "/strangler/nope/stack" in missing.stderr
    assert "pulumi up" in missing.stderr

    unknown = run_cli(server, "rollback", "--route", "map-tyle", "--stack", STACK, "--json")
    assert unknown.returncode == 2, explain(unknown)
    assert "map-tyle" in unknown.stderr
    assert "map-style, map-tile" in unknown.stderr, "the known routes are listed"
    error = json.loads(unknown.stdout)
    assert error["exit_code"] == 2
    assert error["error"] == "usage"


def test_unreachable_endpoint_exits_3_naming_the_call_and_resource():
    closed = Server(url=f"http://127.0.0.1:{free_closed_port()}", port=0)
    result = run_cli(closed, "status", "--stack", STACK)
    assert result.returncode == 3, explain(result)
    assert "ssm:GetParameter" in result.stderr
    assert f"/strangler/{STACK}/stack" in result.stderr


def test_global_options_before_or_after_the_command(stack: MotoStack, server: Server):
    # --stack before the command; the route list comes from that stack.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller",
            "--stack",
            STACK,
            "--region",
            REGION,
            "--endpoint-url",
            server.url,
            "history",
            "--route",
            "nope",
        ],
        cwd=REPO,
        env={**os.environ, **fake_env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, explain(result)
    assert "known routes" in result.stderr


def put_route_record(stack: MotoStack, name: str, **changes: object) -> None:
    """Rewrite one route's registry record (as a redeploy with other config would)."""
    record = replace(stack.routes[name], **changes)  # type: ignore[arg-type]
    stack.routes[name] = record
    stack.client("ssm").put_parameter(
        Name=route_parameter_name(STACK, name),
        Value=record.to_json(),
        Type="String",
        Overwrite=True,
    )
