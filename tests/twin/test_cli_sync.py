"""``python -m controller sync`` through its real entry point, against the twin on a moto server.

The twin (the real program applied to moto, the shared ``twin`` fixture) is
served by a moto server on 127.0.0.1; the CLI runs as a subprocess with fake
credentials and ``--endpoint-url``, as an operator would run it. A deploy
that changes a target group ARN is played by rewriting the route's registry
record (Pulumi ignores the rule's actions, so the rule keeps the old ARN).

Exit codes: 0 when every route is in sync or synced, 1 when a route was
refused, 2 for usage errors (unknown route), 3 when AWS cannot be reached.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.core.contract import PlanRecord, StagePlanRecord
from controller.core.lifecycle import Status
from controller.core.state_machine import Outcome
from controller.core.weights import Weights
from controller.service import RunContext
from tests.aws_fixtures import REGION, TWIN_ROUTES, SharedTwin, TwinWorld

REPO = Path(__file__).resolve().parents[2]
STACK = "three"
# Long bakes: a run set up by a test stays in its first bake for the whole test.
SLOW_PLAN = PlanRecord(
    stages=(
        StagePlanRecord(weight=10.0, bake_seconds=600),
        StagePlanRecord(weight=100.0, bake_seconds=0),
    )
)
TEN = Weights.from_percent(10.0)


@pytest.fixture(name="stack")
def _stack(twin: TwinWorld) -> Iterator[TwinWorld]:
    """The twin with slow plans; every rule's actions are put back afterwards.

    The twin's own reset puts the registry and the weights back, not the
    target group ARNs a sync writes into the rules.
    """
    for route in TWIN_ROUTES:
        twin.set_plan(SLOW_PLAN, route=route)
    elbv2 = twin.client("elbv2")
    saved = {
        record.rule_arn: elbv2.describe_rules(RuleArns=[record.rule_arn])["Rules"][0]["Actions"]
        for record in twin.registry().routes()
    }
    yield twin
    for rule_arn, actions in saved.items():
        elbv2.modify_rule(RuleArn=rule_arn, Actions=actions)


@pytest.fixture(name="url")
def _url(stack: TwinWorld, shared_twin: SharedTwin) -> str:
    return shared_twin.endpoint(stack)


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m controller ARGS --endpoint-url URL --region R`` with fake credentials only."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("NO_COLOR", "STRANGLER_ACTOR")
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "STRANGLER_ACTOR": "tester",
        }
    )
    command = [sys.executable, "-m", "controller", *args, "--endpoint-url", url]
    command += ["--region", REGION, "--stack", STACK]
    return subprocess.run(
        command, cwd=REPO, env=env, input="", capture_output=True, text=True, timeout=120
    )


def ok(result: subprocess.CompletedProcess[str], code: int) -> subprocess.CompletedProcess[str]:
    """Assert the exit code, showing both streams when it is wrong."""
    assert result.returncode == code, (
        f"exit {result.returncode}, expected {code}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def lines_by_route(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return {line.split(":", 1)[0]: line for line in result.stdout.splitlines()}


def in_stage_one(stack: TwinWorld, route: str) -> RunContext:
    """A running execution whose Begin and first Shift ran: the route is at 10 %."""
    arn = stack.start_execution(f"{route}-run", stack.execution_input(route))
    stack.park(arn)
    run = RunContext(route, arn, "operator", "operator:test", stack.route(route).plan)
    service = stack.service()
    assert service.begin(run).outcome == Outcome.RUN
    assert service.shift(run).outcome == Outcome.BAKING
    assert stack.live_weights(route) == TEN
    return run


def forward_arns(stack: TwinWorld, route: str) -> list[str]:
    record = stack.route(route)
    rule = stack.client("elbv2").describe_rules(RuleArns=[record.rule_arn])["Rules"][0]
    forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
    return [tg["TargetGroupArn"] for tg in forward["ForwardConfig"]["TargetGroups"]]


def test_every_route_in_sync_exits_0_and_writes_nothing(stack: TwinWorld, url: str) -> None:
    before = {route: forward_arns(stack, route) for route in TWIN_ROUTES}
    result = ok(cli(url, "sync"), 0)
    lines = lines_by_route(result)
    assert sorted(lines) == sorted(TWIN_ROUTES), result.stdout
    assert all("sync -> unchanged: in sync with the registry" in line for line in lines.values())
    assert {route: forward_arns(stack, route) for route in TWIN_ROUTES} == before
    assert stack.notifications() == []


def test_a_new_ecs_target_group_is_synced_mid_run_keeping_the_weights(
    stack: TwinWorld, url: str
) -> None:
    run = in_stage_one(stack, "map-tile")
    old = stack.route("map-tile")
    new_ecs = stack.brownfield.monolith_target_group_arn
    assert new_ecs != old.ecs_target_group_arn
    stack.put_route_record("map-tile", ecs_target_group_arn=new_ecs)  # the deploy
    stack.notifications()

    result = ok(cli(url, "sync"), 0)

    lines = lines_by_route(result)
    assert "sync -> done" in lines["map-tile"] and new_ecs in lines["map-tile"]
    assert "sync -> unchanged" in lines["map-poi"]
    assert sorted(forward_arns(stack, "map-tile")) == sorted([new_ecs, old.lambda_target_group_arn])
    assert stack.live_weights("map-tile") == TEN, "the live split stays on its side"
    state = stack.service().ports.state.load("map-tile")
    assert state.status is Status.PROGRESSING
    assert state.lock is not None and state.lock.execution_arn == run.execution_arn
    history = json.loads(ok(cli(url, "history", "--route", "map-tile", "--json"), 0).stdout)
    assert history[0]["event"] == "sync"
    assert history[0]["actor"] == "operator:tester"
    assert old.ecs_target_group_arn in history[0]["reason"]
    assert [n["message"]["event"] for n in stack.notifications()] == ["sync"]
    # The run goes on, reading the weights by the new ARN.
    assert ok(cli(url, "status", "--route", "map-tile", "--json"), 0)
    again = ok(cli(url, "sync", "--route", "map-tile", "--json"), 0)
    assert [p["result"] for p in json.loads(again.stdout)] == ["unchanged"]


def test_a_route_that_cannot_be_synced_is_refused_exit_1_and_the_others_still_run(
    stack: TwinWorld, url: str
) -> None:
    poi = stack.route("map-poi")
    tile = stack.route("map-tile")
    # Both of map-poi's ARNs change at once: the sides cannot be told apart.
    stack.put_route_record(
        "map-poi",
        ecs_target_group_arn=stack.brownfield.monolith_target_group_arn,
        lambda_target_group_arn=tile.lambda_target_group_arn,
    )
    before = forward_arns(stack, "map-poi")

    result = ok(cli(url, "sync", "--json"), 1)

    payloads = {p["route"]: p for p in json.loads(result.stdout)}
    assert payloads["map-poi"]["error"] == "refused"
    assert payloads["map-poi"]["exit_code"] == 1
    for arn in (poi.ecs_target_group_arn, poi.lambda_target_group_arn):
        assert arn in payloads["map-poi"]["message"]
    assert payloads["map-tile"]["result"] == "unchanged"
    assert payloads["route-search"]["result"] == "unchanged"
    assert "error: route map-poi" in result.stderr
    assert forward_arns(stack, "map-poi") == before, "nothing was written"
    text = ok(cli(url, "sync"), 1)
    assert "map-poi: sync -> refused" in text.stdout


def test_an_unknown_route_exits_2(stack: TwinWorld, url: str) -> None:
    result = ok(cli(url, "sync", "--route", "tyle"), 2)
    assert "map-poi, map-tile, route-search" in result.stderr


def test_an_unreachable_endpoint_exits_3() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = ok(cli(closed, "sync"), 3)
    assert "ssm:GetParameter" in result.stderr
