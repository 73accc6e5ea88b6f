"""Tests of rehearsal/serve.py: the stack alive on a moto server, used from other processes.

One served twin for the whole module (``served``): the operator's sequence of
the README (start, status, fault, history, a refused start) runs against it
through the real entry points, ``python -m controller`` and ``python -m
rehearsal fault``.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from controller.cli.main import Io
from controller.cli.main import main as controller_main
from rehearsal.cli import main as rehearsal_main
from rehearsal.serve import serve
from rehearsal.world import moto_patches
from rehearsal.world.twin import Twin
from tests.processes import run_python

PROJECT = Path(__file__).resolve().parents[2]
# Not the default (1000): the answer must come from the option.
ACCOUNT_CONCURRENCY = 750
# Short bakes; the 1 % stage is stretched to about 4 s at the default rate so
# that its Check sees requests. The later bakes leave time to fire the alarm
# once the stage has advanced.
BAKE_SECONDS = 3
# Generous bounds on a shared machine; the sequence normally takes seconds.
PROGRESSING_WITHIN_SECONDS = 10.0
ADVANCES_WITHIN_SECONDS = 30.0
POLL_SECONDS = 0.2

# The controller's Powertools Metrics warns on invocations without a metric;
# the live stack silences it, but pytest resets the filters for every test.
pytestmark = [
    pytest.mark.own_stack,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


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
                bake_seconds=BAKE_SECONDS,
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


def controller(twin: Twin, *argv: str) -> tuple[int, Any, str]:
    """``python -m controller ARGV --json`` against the served twin, through its main function.

    Returns the exit code, the JSON on stdout (None when empty) and stderr.
    """
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "STRANGLER_ACTOR": "e2e",
    }
    common = ["--stack", "prod", "--region", twin.emulator.region]
    common += ["--endpoint-url", str(twin.emulator.endpoint_url), "--json"]
    out, err = io.StringIO(), io.StringIO()
    code = controller_main([*argv, *common], io=Io(stdout=out, stderr=err, env=env))
    text = out.getvalue().strip()
    return code, json.loads(text) if text else None, err.getvalue()


def status_of(twin: Twin, route: str) -> dict[str, Any]:
    code, rows, err = controller(twin, "status", "--route", route)
    assert code == 0, err
    (row,) = rows
    return dict(row)


def wait_for(
    what: str,
    probe: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    within: float,
) -> dict[str, Any]:
    """Call ``probe`` until ``done`` holds for its answer; the answer (fails after ``within`` s)."""
    deadline = time.monotonic() + within
    while True:
        answer = probe()
        if done(answer):
            return answer
        assert time.monotonic() < deadline, f"{what} within {within:g} s; last status: {answer}"
        time.sleep(POLL_SECONDS)


def test_operator_sequence_start_progress_fault_history_refused_start(served):
    """The README's walkthrough: the run progresses by itself, an alarm sends it back to ECS."""
    twin, text = served
    assert f"stages as served 1% 4s, 10% {BAKE_SECONDS}s" in text
    code, started, err = controller(twin, "start", "--route", "map-tile")
    assert code == 0, err
    assert started["action"] == "start"

    first = wait_for(
        "progressing",
        lambda: status_of(twin, "map-tile"),
        lambda row: row["status"] == "progressing",
        PROGRESSING_WITHIN_SECONDS,
    )
    advanced = wait_for(
        "the stage advances by itself",
        lambda: status_of(twin, "map-tile"),
        lambda row: row["stage"] > first["stage"],
        ADVANCES_WITHIN_SECONDS,
    )
    assert advanced["status"] == "progressing", advanced

    out, err_text = io.StringIO(), io.StringIO()
    fault = ["fault", "--endpoint-url", str(twin.emulator.endpoint_url), "--route", "map-tile"]
    assert rehearsal_main([*fault, "--kind", "alarm"], out, err_text) == 0, err_text.getvalue()
    assert "reads back ECS 100 %" in out.getvalue(), out.getvalue()

    after = status_of(twin, "map-tile")
    assert (after["status"], after["weights"]) == ("rolled_back", {"ecs": 100.0, "lambda": 0.0})

    code, history, err = controller(twin, "history", "--route", "map-tile")
    assert code == 0, err
    events = [entry["event"] for entry in reversed(history)]
    assert events[0] == "begin", events
    for wanted in ("shift", "check_passed", "rollback"):
        assert wanted in events, f"{wanted} missing from {events}"
    assert all(entry["reason"] for entry in history), history
    rollback = next(entry for entry in history if entry["event"] == "rollback")
    assert "in ALARM" in rollback["reason"], rollback

    code, _, err = controller(twin, "start", "--route", "map-tile")
    assert code == 1, err
    assert "rolled_back" in err, err

    # The fault desk undoes what it did: the alarms are OK again.
    out = io.StringIO()
    assert rehearsal_main([*fault, "--kind", "clear"], out, io.StringIO()) == 0
    assert "back to OK" in out.getvalue(), out.getvalue()


def test_fault_drift_and_upstream_then_clear_undoes_them(served):
    """After the walkthrough (the route rolled back): the other kinds, each undone by clear."""
    twin, _ = served
    url = str(twin.emulator.endpoint_url)

    def fault(kind: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        argv = ["fault", "--endpoint-url", url, "--route", "map-tile", "--kind", kind]
        assert rehearsal_main(argv, out, err) == 0, err.getvalue()
        return out.getvalue()

    before = status_of(twin, "map-tile")["alb_weights"]
    assert "weights changed by hand" in fault("drift")
    drifted = status_of(twin, "map-tile")
    assert drifted["alb_weights"] != before and drifted["drift"] is True, drifted
    assert "answers 503" in fault("upstream")
    cleared = fault("clear")
    assert "weights put back by hand" in cleared and "serves tiles again" in cleared, cleared
    after = status_of(twin, "map-tile")
    assert (after["alb_weights"], after["drift"]) == (before, False), after
    assert "nothing to clear" in fault("clear")


def test_fault_names_an_unknown_route_and_exits_1(served):
    twin, _ = served
    err = io.StringIO()
    argv = ["fault", "--endpoint-url", str(twin.emulator.endpoint_url), "--route", "nope"]
    assert rehearsal_main(argv, io.StringIO(), err) == 1
    assert "no route 'nope'" in err.getvalue() and "map-tile" in err.getvalue()


def test_fault_on_something_that_is_not_a_served_twin_says_so():
    err = io.StringIO()
    argv = ["fault", "--endpoint-url", "http://127.0.0.1:9", "--route", "map-tile"]
    assert rehearsal_main(argv, io.StringIO(), err) == 1
    assert "cannot reach http://127.0.0.1:9" in err.getvalue()
