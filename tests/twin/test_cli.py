"""The operator CLI through its real entry point, ``python -m controller``, against the twin.

The twin (the real program applied to moto, the ``twin`` fixture) is served
by a moto server on 127.0.0.1 (port 0: a free one) in this process. Each test
runs the CLI as a subprocess, with fake credentials and ``--endpoint-url``
pointing at the server, exactly as an operator would run it. The state a
scenario needs (a run in progress, a rollback by an alarm) is set up through
:class:`controller.service.CanaryService`, the code the state machine's tasks
run; executions wait in their first task (the twin holds their controller
calls), so they stay RUNNING until something stops them.

The twin is put back as deployed before every test; each test first deploys
the long-baking plan below for every route.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controller.core.lifecycle import Status
from controller.core.state_machine import Outcome
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from controller.service import RunContext
from tests.aws_fixtures import REGION, SLOW_PLAN, TWIN_ROUTES, SharedTwin, TwinWorld
from tests.cli_views import ROLLBACK_DONE
from tests.processes import FAKE_CREDENTIALS

REPO = Path(__file__).resolve().parents[2]
STACK = "three"
KNOWN = "map-poi, map-tile, route-search"
TOKYO = ZoneInfo("Asia/Tokyo")


def fake_env() -> dict[str, str]:
    """Fake credentials only: no profile, config file or endpoint leaks in from the host."""
    return dict(FAKE_CREDENTIALS)


@dataclass(frozen=True)
class World:
    """The moto server's URL and the twin it serves."""

    url: str
    stack: TwinWorld


def _post(url: str, body: bytes = b"") -> None:
    # text/plain: with urllib's default form encoding, moto would not see the body.
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
def world(twin: TwinWorld, shared_twin: SharedTwin) -> World:
    url = shared_twin.endpoint(twin)
    assert twin.registry().stack().routes == TWIN_ROUTES
    for route in TWIN_ROUTES:
        twin.set_plan(SLOW_PLAN, route=route)
    return World(url=url, stack=twin)


def cli(
    world: World | None,
    *args: str,
    env: dict[str, str] | None = None,
    endpoint: str | None = None,
    region: str | None = REGION,
) -> subprocess.CompletedProcess[str]:
    """``python -m controller ARGS [--endpoint-url URL --region R]`` in a clean environment."""
    full_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("NO_COLOR", "STRANGLER_ACTOR")
    }
    full_env.update(fake_env())
    full_env["STRANGLER_ACTOR"] = "tester"
    full_env.update(env or {})
    command = [sys.executable, "-m", "controller", *args]
    url = endpoint or (world.url if world is not None else None)
    if url is not None:
        command += ["--endpoint-url", url]
    if region is not None:
        command += ["--region", region]
    return subprocess.run(
        command, cwd=REPO, env=full_env, input="", capture_output=True, text=True, timeout=120
    )


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    """Assert the exit code, showing both streams when it is wrong."""
    assert result.returncode == code, (
        f"exit {result.returncode}, expected {code}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def row(result: subprocess.CompletedProcess[str], route: str) -> list[str]:
    """The cells of one route's row in the status table (split on whitespace)."""
    for line in result.stdout.splitlines():
        cells = line.split()
        if cells and cells[0] == route:
            return cells
    raise AssertionError(f"no row for route {route} in:\n{result.stdout}")


def in_progress(world: World, route: str) -> str:
    """Start an execution and run its Begin and first Shift; returns the execution ARN."""
    return in_progress_run(world, route).execution_arn


def in_progress_run(world: World, route: str) -> RunContext:
    """Start an execution and run its Begin and first Shift (the tasks' service calls)."""
    stack = world.stack
    arn = stack.start_execution(
        f"{route}-run", stack.execution_input(route, actor="schedule", trigger="schedule")
    )
    stack.park(arn)
    service = stack.service()
    run = RunContext(route, arn, "schedule", "schedule", stack.route(route).plan)
    assert service.begin(run).outcome == Outcome.RUN
    service.shift(run)
    assert stack.live_weights(route) == Weights.from_percent(10.0)
    return run


def execution_status(world: World, arn: str) -> str:
    return world.stack.execution_status(arn)


def put_route_record(world: World, name: str, **changes: object) -> None:
    """Rewrite one route's registry record (what a redeploy with another config does)."""
    world.stack.put_route_record(name, **changes)


def closed_port_url() -> str:
    """An endpoint nothing listens on (a port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# --------------------------------------------------------------------------- usage, discovery


def test_usage_errors_exit_2_before_any_aws_call():
    assert "COMMAND" in ok(cli(None, region=None), 2).stderr
    assert "--route" in ok(cli(None, "history", region=None), 2).stderr
    interval = ok(cli(None, "status", "--interval", "0", region=None), 2)
    assert "must be greater than 0" in interval.stderr
    profile = ok(cli(None, "status", "--profile", "nope", region=None), 2)
    assert "AWS profile 'nope' was not found" in profile.stderr
    region = ok(cli(None, "status", region=None), 2)
    assert "no AWS region is configured" in region.stderr
    assert "--region" in region.stderr


def test_missing_registry_and_unknown_route_exit_2(world: World):
    missing = ok(cli(world, "status", "--stack", "nope"), 2)
    assert f"no stack named 'nope' was found in region {REGION}" in missing.stderr
    assert "/strangler/nope/stack" in missing.stderr
    assert "pulumi up" in missing.stderr

    # Common options also work before the command name.
    unknown = ok(cli(world, "--stack", STACK, "--json", "rollback", "--route", "tyle"), 2)
    assert "route tyle" in unknown.stderr
    assert KNOWN in unknown.stderr, "the known routes are listed"
    assert json.loads(unknown.stdout)["exit_code"] == 2
    assert world.stack.live_weights("map-tile") == ALL_ECS, "nothing was written"


def test_unreachable_endpoint_exits_3_naming_the_call_and_resource():
    result = ok(cli(None, "status", "--stack", STACK, endpoint=closed_port_url()), 3)
    assert "ssm:GetParameter" in result.stderr
    assert f"/strangler/{STACK}/stack" in result.stderr
    assert "--endpoint-url" in result.stderr  # the hint says what to check


def test_access_denied_exits_3_naming_the_call_and_resource(world: World):
    """An operator whose IAM policy lacks elasticloadbalancing:DescribeRules."""
    iam = world.stack.client("iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(
        UserName="reader",
        PolicyName="registry-and-state-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["ssm:GetParameter", "ssm:GetParametersByPath", "dynamodb:*"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    credentials = {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "AWS_SESSION_TOKEN": "",
    }
    _post(f"{world.url}/moto-api/reset-auth", b"0")  # moto checks IAM from now on
    try:
        result = cli(world, "status", "--stack", STACK, "--route", "map-tile", env=credentials)
    finally:
        _post(f"{world.url}/moto-api/reset-auth", b"inf")
        # The twin is shared by the session: the operator leaves with the test.
        iam.delete_access_key(UserName="reader", AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName="reader", PolicyName="registry-and-state-only")
        iam.delete_user(UserName="reader")
    ok(result, 3)
    rule_arn = world.stack.route("map-tile").rule_arn
    assert "elasticloadbalancing:DescribeRules" in result.stderr
    assert rule_arn in result.stderr
    assert "AccessDenied" in result.stderr
    assert "IAM policy" in result.stderr  # the hint
    assert row(result, "map-tile")[1] == "error"


# --------------------------------------------------------------------------- a run in progress


def test_progressing_route_status_refused_start_rollback_and_history(world: World):
    execution = in_progress(world, "map-tile")

    table = ok(cli(world, "status", "--stack", STACK))
    cells = row(table, "map-tile")
    assert cells[1:3] == ["progressing", "0/3"], cells
    assert cells[3:10] == ["ecs", "90", "%", "/", "lambda", "10", "%"], cells
    assert cells[10] == "OK", cells
    assert cells[11] == execution.rsplit(":", 1)[-1]
    assert cells[12:14] == ["next", "stage"], cells
    assert cells[15].startswith("9m") or cells[15].startswith("10m0"), cells
    assert "DRIFT" not in table.stdout

    as_json = json.loads(
        ok(cli(world, "status", "--stack", STACK, "--route", "map-tile", "--json")).stdout
    )
    assert len(as_json) == 1
    tile = as_json[0]
    assert {k: tile[k] for k in ("route", "status", "stage", "stages", "drift", "alarm")} == {
        "route": "map-tile",
        "status": "progressing",
        "stage": 0,
        "stages": 3,
        "drift": False,
        "alarm": "OK",
    }
    assert tile["weights"] == {"ecs": 90.0, "lambda": 10.0}
    assert tile["alarms_in_alarm"] == []
    assert tile["execution"] == execution and tile["execution_running"] is True
    assert datetime.fromisoformat(tile["next_stage_at"]) > datetime.now(UTC)
    assert tile["reason"] is None or isinstance(tile["reason"], str)

    locked = ok(cli(world, "start", "--stack", STACK, "--route", "map-tile"), 1)
    assert "start refused" in locked.stderr
    assert execution in locked.stderr, "the message names the execution holding the lock"
    assert "hint:" in locked.stderr

    rollback = ok(
        cli(
            world,
            "rollback",
            "--stack",
            STACK,
            "--route",
            "map-tile",
            "--reason",
            "p99 2.4 s",
            "--json",
        )
    )
    payload = json.loads(rollback.stdout)
    assert {k: payload[k] for k in ROLLBACK_DONE} == ROLLBACK_DONE
    assert payload["weights"] == {"ecs": 100.0, "lambda": 0.0}
    assert payload["stopped_execution"] == execution
    assert world.stack.live_weights("map-tile") == ALL_ECS
    assert world.stack.stopped_status(execution) == "ABORTED"

    again = ok(cli(world, "rollback", "--stack", STACK, "--route", "map-tile"))
    assert "rollback -> unchanged" in again.stdout, "a repeated rollback changes nothing"

    history = json.loads(
        ok(cli(world, "history", "--stack", STACK, "--route", "map-tile", "--json")).stdout
    )
    assert [e["event"] for e in history] == ["rollback", "shift", "begin"]  # newest first
    newest = history[0]
    for key in ("at", "actor", "event", "from", "to", "reason", "stage", "weights"):
        assert key in newest, key
    assert (newest["actor"], newest["from"], newest["to"]) == (
        "operator:tester",
        "progressing",
        "rolled_back",
    )
    assert newest["reason"] == "p99 2.4 s"
    assert newest["weights"] == {"ecs": 100.0, "lambda": 0.0}
    assert history[2]["actor"] == "schedule"
    assert all(datetime.fromisoformat(e["at"]).tzinfo is not None for e in history)

    text = ok(cli(world, "history", "--stack", STACK, "--route", "map-tile", "--limit", "1"))
    lines = text.stdout.splitlines()
    assert len(lines) == 2, lines
    assert "operator:tester  rollback  progressing -> rolled_back" in lines[1]
    assert lines[1].endswith("p99 2.4 s")


def test_pause_resume_and_the_rolled_back_refusal(world: World):
    execution = in_progress(world, "map-poi")

    paused = ok(cli(world, "pause", "--stack", STACK, "--route", "map-poi", "--reason", "lunch"))
    assert "pause -> done" in paused.stdout
    assert "status paused" in paused.stdout
    assert world.stack.stopped_status(execution) == "ABORTED"
    assert world.stack.live_weights("map-poi") == Weights.from_percent(10.0), (
        "pause keeps the weights"
    )

    resumed = ok(cli(world, "resume", "--stack", STACK, "--route", "map-poi", "--json"))
    assert json.loads(resumed.stdout)["status"] == "idle"

    world.stack.service().rollback("map-poi", reason="composite in ALARM", actor="alarm:geo")
    refused = ok(cli(world, "start", "--stack", STACK, "--route", "map-poi"), 1)
    assert "route map-poi: start refused: route is rolled_back" in refused.stderr
    assert "hint: an operator runs: python -m controller resume --route map-poi" in refused.stderr

    ok(cli(world, "resume", "--stack", STACK, "--route", "map-poi", "--actor", "alice"))
    started = json.loads(
        ok(cli(world, "start", "--stack", STACK, "--route", "map-poi", "--json")).stdout
    )
    assert (started["action"], started["result"]) == ("start", "started")
    assert execution_status(world, started["execution"]) == "RUNNING"
    events = [(e.event.value, e.actor) for e in world.stack.service().history("map-poi", 10)]
    assert events[:2] == [("resume", "operator:alice"), ("rollback", "alarm:geo")]


# ------------------------------------------------------------------ drift, alarms, schedule


def test_drift_by_hand_is_flagged_then_accepted_on_resume(world: World):
    run = in_progress_run(world, "route-search")
    by_hand = Weights(ecs=499, lambda_=500)
    world.stack.set_weights_by_hand(by_hand, route="route-search")

    table = ok(cli(world, "status", "--stack", STACK))
    cells = row(table, "route-search")
    assert cells[3:11] == ["ecs", "49.9", "%", "/", "lambda", "50.1", "%", "DRIFT"], cells
    assert (
        "! route-search: DRIFT: the rule has ecs 49.9 % / lambda 50.1 % "
        "(ALB weights ecs 499 / lambda 500)"
    ) in table.stdout
    assert "the controller last wrote ecs 90 % / lambda 10 %" in table.stdout
    assert "DRIFT" not in " ".join(row(table, "map-tile")), "only the drifted route is flagged"

    style = json.loads(
        ok(cli(world, "status", "--stack", STACK, "--route", "route-search", "--json")).stdout
    )[0]
    assert style["drift"] is True
    assert style["weights"] == {"ecs": 49.9, "lambda": 50.1}
    assert style["last_written"] == {"ecs": 90.0, "lambda": 10.0}

    # The run's next Shift finds the drift and pauses the route, weights untouched.
    assert world.stack.service().shift(run).outcome == Outcome.DRIFT
    paused = row(
        ok(cli(world, "status", "--stack", STACK, "--route", "route-search")), "route-search"
    )
    assert paused[1:3] == ["paused", "0/3"], paused
    resumed = ok(cli(world, "resume", "--stack", STACK, "--route", "route-search", "--accept-live"))
    assert "status idle" in resumed.stdout
    after = json.loads(
        ok(cli(world, "status", "--stack", STACK, "--route", "route-search", "--json")).stdout
    )[0]
    assert after["drift"] is False, "the live weights are the new baseline"
    assert after["last_written"] == after["weights"] == {"ecs": 49.9, "lambda": 50.1}
    assert world.stack.live_weights("route-search") == by_hand, "the human's weights were kept"


def test_alarm_children_schedule_and_promote_refused_in_alarm(world: World):
    put_route_record(world, "map-poi", schedule="cron(0 9 ? * MON-FRI *)", timezone="Asia/Tokyo")
    world.stack.set_alarm("ALARM", route="map-poi", child="p99-latency")

    search = json.loads(
        ok(cli(world, "status", "--stack", STACK, "--route", "map-poi", "--json")).stdout
    )[0]
    assert search["alarm"] == "ALARM"
    assert search["alarms_in_alarm"] == [f"strangler-{STACK}-map-poi-p99-latency"]
    assert (search["schedule"], search["timezone"]) == ("cron(0 9 ? * MON-FRI *)", "Asia/Tokyo")
    next_run = datetime.fromisoformat(search["next_run_at"]).astimezone(TOKYO)
    assert (next_run.hour, next_run.minute) == (9, 0)
    assert next_run.isoweekday() <= 5, "weekdays only"
    assert next_run > datetime.now(UTC)

    table = ok(cli(world, "status", "--stack", STACK, "--route", "map-poi"))
    cells = row(table, "map-poi")
    assert cells[1:11] == ["idle", "0/3", "ecs", "100", "%", "/", "lambda", "0", "%", "ALARM"]
    assert cells[-3:-1] == ["run", "in"], cells
    assert f"! map-poi: in ALARM: strangler-{STACK}-map-poi-p99-latency" in table.stdout

    refused = ok(cli(world, "promote", "--stack", STACK, "--route", "map-poi", "--yes"), 1)
    assert "promote refused" in refused.stderr
    assert "ALARM" in refused.stderr
    assert "rollback --route map-poi" in refused.stderr
    assert world.stack.live_weights("map-poi") == ALL_ECS


# --------------------------------------------------------------------------- promote


def test_promote_needs_yes_without_a_terminal_then_skips_a_bake_then_goes_full(world: World):
    first = in_progress(world, "route-search")

    unconfirmed = ok(cli(world, "promote", "--stack", STACK, "--route", "route-search"), 2)
    assert "stdin is not a terminal" in unconfirmed.stderr
    assert "--yes" in unconfirmed.stderr
    assert execution_status(world, first) == "RUNNING", "nothing happened"

    skipped = json.loads(
        ok(
            cli(world, "promote", "--stack", STACK, "--route", "route-search", "--yes", "--json")
        ).stdout
    )
    assert (skipped["action"], skipped["result"], skipped["stage"]) == ("promote", "started", 1)
    assert skipped["stopped_execution"] == first
    assert world.stack.stopped_status(first) == "ABORTED"
    assert execution_status(world, skipped["execution"]) == "RUNNING", "a run from stage 2"

    full = ok(cli(world, "promote", "--stack", STACK, "--route", "route-search", "--full", "--yes"))
    assert "promote -> done" in full.stdout
    assert "status promoted" in full.stdout
    assert "ecs 0 % / lambda 100 %" in full.stdout
    assert world.stack.live_weights("route-search") == ALL_LAMBDA
    state = world.stack.service().ports.state.load("route-search")
    assert state.status is Status.PROMOTED


# --------------------------------------------------------------------------- watch


def test_watch_repeats_until_ctrl_c_and_exits_0(world: World):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "NO_COLOR"
    }
    env.update(fake_env())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller",
            "status",
            "--watch",
            "--interval",
            "0.2",
            "--stack",
            STACK,
            "--route",
            "map-tile",
            "--region",
            REGION,
            "--endpoint-url",
            world.url,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while sum(line.startswith("ROUTE") for line in seen) < 2:
        line = process.stdout.readline()
        assert line or process.poll() is None, f"exited early: {seen}"
        seen.append(line)
        assert time.monotonic() < deadline, seen
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "\x1b[" not in "".join(seen), "no ANSI codes when stdout is not a terminal"
    headers = [line for line in seen if line.startswith(f"stack {STACK} ({REGION})")]
    assert len(headers) >= 2 and "Ctrl-C to stop" in headers[0]
