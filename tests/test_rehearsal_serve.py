"""Tests of rehearsal/serve.py: the stack on a moto server, used from another process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from rehearsal.serve import serve
from rehearsal.twin import Twin
from tests.test_rehearsal_apply import program_with_controller

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``serve`` in a thread on a free port; yields (twin, printed text)."""
    main_path = program_with_controller(tmp_path_factory.mktemp("program"))
    stop = threading.Event()
    ready = threading.Event()
    twins: list[Twin] = []
    out = io.StringIO()
    errors: list[BaseException] = []

    def on_ready(twin: Twin) -> None:
        twins.append(twin)
        ready.set()

    def target() -> None:
        try:
            serve(
                "prod",
                PROJECT,
                port=0,
                main_path=main_path,
                out=out,
                stop=stop,
                on_ready=on_ready,
            )
        except BaseException as error:
            errors.append(error)
            ready.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert ready.wait(timeout=180), "serve did not come up"
    assert not errors, errors
    yield twins[0], out.getvalue()
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive(), "serve did not stop"


def test_prints_the_endpoint_and_the_routes(served):
    twin, text = served
    endpoint = twin.emulator.endpoint_url
    assert endpoint and endpoint.startswith("http://127.0.0.1:")
    assert f"is up: {endpoint} (region ap-northeast-1)" in text
    assert "routes: map-tile" in text
    assert f"--endpoint-url {endpoint}" in text


def test_another_client_sees_the_stack(served):
    twin, _ = served
    elbv2 = boto3.client("elbv2", **twin.emulator.client_kwargs())
    rules = elbv2.describe_rules(ListenerArn=twin.brownfield.listener_arn)["Rules"]
    assert any(not rule["IsDefault"] and rule["Priority"] == "100" for rule in rules)


def test_operator_cli_status_works_against_it(served):
    twin, _ = served
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller",
            "status",
            "--stack",
            "prod",
            "--region",
            twin.emulator.region,
            "--endpoint-url",
            str(twin.emulator.endpoint_url),
            "--json",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "map-tile" in json.dumps(json.loads(completed.stdout))
