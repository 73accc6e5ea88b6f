"""Tests of rehearsal/serve.py: the stack on a moto server, used from another process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
from pathlib import Path

import boto3
import pytest

from rehearsal.serve import serve
from rehearsal.world import moto_patches
from rehearsal.world.twin import Twin
from tests.processes import run_python

PROJECT = Path(__file__).resolve().parents[2]
# Not the default (1000): the answer must come from the option.
ACCOUNT_CONCURRENCY = 750


@pytest.fixture(scope="module")
def served():
    """``serve`` in a thread on a free port; yields (twin, printed text)."""
    limit_before = moto_patches.account_concurrency()
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
                account_concurrency=ACCOUNT_CONCURRENCY,
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
    assert moto_patches.account_concurrency() == limit_before, "the limit is put back"


def test_account_settings_report_the_configured_limit(served):
    twin, text = served
    client = boto3.client("lambda", **twin.emulator.client_kwargs())
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    reserved = sum(
        client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions", 0)
        for name in names
    )
    assert reserved >= 200, "the route function reserves 200 (Pulumi.prod.yaml)"
    limit = client.get_account_settings()["AccountLimit"]
    assert limit["ConcurrentExecutions"] == ACCOUNT_CONCURRENCY
    assert limit["UnreservedConcurrentExecutions"] == ACCOUNT_CONCURRENCY - reserved
    assert f"concurrency limit: {ACCOUNT_CONCURRENCY}" in text


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
    completed = run_python(
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
        cwd=PROJECT,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    assert "map-tile" in json.dumps(json.loads(completed.stdout))


def run_cli(twin: Twin, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m controller`` against the served twin, as an operator would type it."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "STRANGLER_ACTOR": "e2e",
    }
    common = ["--stack", "prod", "--region", twin.emulator.region]
    common += ["--endpoint-url", str(twin.emulator.endpoint_url), "--json"]
    return run_python("-m", "controller", *argv, *common, cwd=PROJECT, env=env)


def test_operator_cli_start_rollback_history_end_to_end(served):
    """serve + status, start, rollback and history, through the real entry points."""
    twin, _ = served
    started = run_cli(twin, "start", "--route", "map-tile")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["action"] == "start"

    rolled = run_cli(twin, "rollback", "--route", "map-tile", "--reason", "e2e drill")
    assert rolled.returncode == 0, rolled.stderr
    assert json.loads(rolled.stdout)["status"] == "rolled_back"

    status = run_cli(twin, "status", "--route", "map-tile")
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)
    assert (row["status"], row["weights"]) == ("rolled_back", {"ecs": 100.0, "lambda": 0.0})

    history = run_cli(twin, "history", "--route", "map-tile")
    assert history.returncode == 0, history.stderr
    newest = json.loads(history.stdout)[0]
    assert (newest["event"], newest["actor"], newest["to"]) == (
        "rollback",
        "operator:e2e",
        "rolled_back",
    )
    assert newest["reason"] == "e2e drill"

    refused = run_cli(twin, "start", "--route", "map-tile")
    assert refused.returncode == 1, refused.stdout
