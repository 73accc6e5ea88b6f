"""Tests of rehearsal/run.py: the whole twin, end to end, on the example stacks.

The example stack (``Pulumi.prod.yaml``) is applied once for the module; each
scenario then starts from freshly deployed routes (:func:`fresh_routes`) and
rehearses on it, with bakes of 1-2 s (every Wait of the state machine
really sleeps). The failing scenario at stage 2 goes through the real command
(:func:`main_run`: its own twin, ``--json`` and ``--chart``), and the 3-route
stack runs on a moto server, so both emulator modes are covered.
"""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.aws.registry import SsmRegistry
from controller.aws.state import partition_key, state_to_item
from controller.core.contract import PlanRecord, StagePlanRecord, registry_path
from controller.core.lifecycle import RouteState, Status
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from rehearsal.errors import RehearsalError
from rehearsal.report.timeline import RehearsalReport
from rehearsal.run import (
    EVIDENCE_MARGIN,
    EXIT_CONFIG,
    EXIT_OK,
    REHEARSAL_MIN_REQUESTS,
    WINDOW_SLACK_SECONDS,
    RunConfigError,
    RunOptions,
    add_run_arguments,
    main_run,
    rehearsal_plan,
    rehearse,
    run_rehearsal,
)
from rehearsal.scenario import faults
from rehearsal.world.emulator import Emulator, in_process
from rehearsal.world.twin import build_twin
from tests.example_stack import PROJECT, REGION, ROUTE, STACK

pytestmark = pytest.mark.own_stack

THREE = PROJECT / "tests" / "stacks" / "Pulumi.three.yaml"
# Issue 5: the failback must be below a second in the failing runs.
FAILBACK_LIMIT_MS = 1000


@pytest.fixture(scope="class")
def prod() -> Iterator[tuple[Emulator, int]]:
    """The example stack applied to an in-process emulator, and its resource count.

    Class scope: moto's backends are process-wide, so no other emulator may
    start (the real command's, below) while this one is up.
    """
    with in_process(REGION) as emulator:
        twin = build_twin(STACK, PROJECT, emulator)
        yield emulator, len(twin.applied.resources)


def fresh_routes(emulator: Emulator, stack: str) -> None:
    """Put every route back as the deploy left it: no state, ECS 100 %, alarms OK."""
    registry = SsmRegistry(emulator.client("ssm"), stack, registry_path(stack))
    table = registry.stack().table_name
    dynamodb = emulator.client("dynamodb")
    cloudwatch = emulator.client("cloudwatch")
    for record in registry.routes():
        items = dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": partition_key(record.route)}},
        )["Items"]
        for item in items:
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
        faults.change_weights_by_hand(emulator.client("elbv2"), record, ALL_ECS)
        for name in (record.composite_alarm_name, *record.alarm_names):
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="fresh")


def rehearse_prod(prod: tuple[Emulator, int], **options: Any) -> RehearsalReport:
    emulator, resources = prod
    fresh_routes(emulator, STACK)
    return rehearse(emulator, RunOptions(stack=STACK, **options), resources=resources)


def live_weights(emulator: Emulator, route: str = ROUTE) -> Weights:
    record = SsmRegistry(emulator.client("ssm"), STACK, registry_path(STACK)).route(route)
    rule = emulator.client("elbv2").describe_rules(RuleArns=[record.rule_arn])["Rules"][0]
    groups = {
        g["TargetGroupArn"]: g["Weight"]
        for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    }
    return Weights(
        ecs=groups[record.ecs_target_group_arn], lambda_=groups[record.lambda_target_group_arn]
    )


def events_of(report: RehearsalReport, route: str = ROUTE) -> list[str]:
    return [event.event for event in report.route(route).timeline]


# --- the compressed plan ---------------------------------------------------------------


@given(
    weights=st.lists(
        st.integers(min_value=1, max_value=1000).map(lambda tenths: tenths / 10),
        min_size=1,
        max_size=5,
    ),
    min_requests=st.integers(min_value=0, max_value=500),
    bake=st.integers(min_value=1, max_value=5),
    rate=st.floats(min_value=10, max_value=200),
)
def test_every_baked_stage_expects_enough_canary_requests(
    weights: list[float], min_requests: int, bake: int, rate: float
):
    plan = PlanRecord(
        stages=(
            *(StagePlanRecord(weight=w, bake_seconds=600) for w in weights),
            StagePlanRecord(weight=100.0, bake_seconds=0),
        ),
        min_requests=min_requests,
    )
    compressed = rehearsal_plan(plan, bake_seconds=bake, rate_per_second=rate)
    assert compressed.min_requests == min(min_requests, REHEARSAL_MIN_REQUESTS)
    assert [s.weight for s in compressed.stages] == [s.weight for s in plan.stages]
    assert compressed.stages[-1].bake_seconds == 0, "an unbaked stage stays unbaked"
    for stage in compressed.stages[:-1]:
        assert stage.bake_seconds >= bake
        window = stage.bake_seconds - WINDOW_SLACK_SECONDS
        expected = rate * stage.weight / 100 * window
        if compressed.min_requests:
            assert expected >= compressed.min_requests + EVIDENCE_MARGIN - 1e-9, (
                f"stage {stage.weight}% baking {stage.bake_seconds}s expects {expected:.2f}"
            )


# --- options ---------------------------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser.parse_args(list(argv))


def test_arguments_become_options():
    args = _args(
        "--stack",
        "three",
        "--route",
        "map-tile",
        "--route",
        "map-poi",
        "--fail-at-stage",
        "2",
        "--fail-route",
        "map-poi",
        "--json",
        "--chart",
        "out.png",
        "--bake-seconds",
        "3",
        "--redeploy-at-stage",
        "1",
        "--redeploy-route",
        "map-tile",
        "--reorder-at-stage",
        "1",
        "--reorder-route",
        "route-search",
        "--diverge",
    )
    from rehearsal.run import options_from_args

    options = options_from_args(args)
    assert options.stack == "three"
    assert options.routes == ("map-tile", "map-poi")
    assert (options.fail_at_stage, options.fail_routes) == (2, ("map-poi",))
    assert options.json and options.chart == Path("out.png") and options.bake_seconds == 3
    assert (options.redeploy_at_stage, options.redeploy_routes) == (1, ("map-tile",))
    assert (options.reorder_at_stage, options.reorder_routes) == (1, ("route-search",))
    assert options.diverge


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bake-seconds", "0"], "--bake-seconds: 0"),
        (["--fail-at-stage", "0"], "--fail-at-stage: 0 must be 1 or more"),
        (["--fail-route", "map-tile"], "--fail-route needs --fail-at-stage"),
        (["--rate", "-1"], "--rate"),
        (["--redeploy-at-stage", "0"], "--redeploy-at-stage: 0 must be 1 or more"),
        (["--reorder-route", "map-tile"], "--reorder-route needs --reorder-at-stage"),
        (["--redeploy-route", "map-tile"], "--redeploy-route needs --redeploy-at-stage"),
    ],
)
def test_bad_options_exit_2_before_anything_starts(argv: list[str], message: str):
    err = io.StringIO()
    assert main_run(_args(*argv), out=io.StringIO(), err=err) == EXIT_CONFIG
    assert message in err.getvalue()


def test_an_unknown_stack_exits_2():
    err = io.StringIO()
    assert main_run(_args("--stack", "nowhere"), out=io.StringIO(), err=err) == EXIT_CONFIG
    assert "Pulumi.nowhere.yaml" in err.getvalue()


class TestExampleStack:
    """Scenarios on one shared apply of ``Pulumi.prod.yaml``."""

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"routes": ("map-poi",)}, "--route map-poi: no such route; routes: map-tile"),
            ({"fail_at_stage": 5}, "--fail-at-stage 5: route map-tile has 4 stages"),
            ({"fail_at_stage": 4}, "stage 4 of route map-tile has no bake"),
            ({"fail_at_stage": 4}, "once it is promoted .*, use --fail-after-promotion"),
            ({"drift_at_stage": 1, "fail_at_stage": 2}, "both apply"),
            ({"redeploy_at_stage": 5}, "--redeploy-at-stage 5: route map-tile has 4 stages"),
            ({"reorder_at_stage": 4}, "--reorder-at-stage 4: stage 4 of route map-tile has no"),
            (
                {"redeploy_at_stage": 2, "fail_at_stage": 2},
                "--redeploy-at-stage 2 does not come before --fail-at-stage 2",
            ),
            (
                {"reorder_at_stage": 3, "drift_at_stage": 1},
                "--reorder-at-stage 3 does not come before --drift-at-stage 1",
            ),
            ({"redeploy_at_stage": 2, "reorder_at_stage": 2}, "are both at stage 2"),
            ({"reorder_routes": ("map-poi",), "reorder_at_stage": 1}, "--reorder-route map-poi"),
        ],
    )
    def test_options_that_do_not_fit_the_stack_are_refused(
        self, prod: tuple[Emulator, int], options: dict[str, Any], message: str
    ):
        with pytest.raises(RunConfigError, match=message):
            rehearse_prod(prod, **options)

    def test_a_healthy_canary_promotes_the_route(self, prod: tuple[Emulator, int]):
        report = rehearse_prod(prod, bake_seconds=1)
        route = report.route(ROUTE)
        assert route.outcome == "promoted", route.reason
        assert route.final_weights == ALL_LAMBDA
        assert live_weights(prod[0]) == ALL_LAMBDA
        assert route.failback_ms is None
        assert route.requests["ecs"] > 0 and route.requests["lambda"] > 0
        assert route.errors["lambda"] == 0
        assert events_of(report).count("shift") == 4
        assert events_of(report).count("check") == 4, "every stage checked, with evidence"
        (verify,) = [e for e in route.timeline if e.event == "verify"]
        assert events_of(report).index("verify") < events_of(report).index("shift")
        assert (verify.reason or "").startswith("verify passed: 2 sample(s) answer the same")
        assert "finish" in events_of(report)
        document = report.to_json()
        assert document["resources"] == prod[1] > 0
        assert document["routes"][0]["final_weights"] == {"ecs": 0.0, "lambda": 100.0}

    @pytest.mark.parametrize("stage", [1, 3])
    def test_an_alarm_during_a_stage_fails_back_to_ecs(
        self, prod: tuple[Emulator, int], stage: int
    ):
        report = rehearse_prod(prod, fail_at_stage=stage, bake_seconds=3)
        route = report.route(ROUTE)
        assert route.outcome == "rolled_back", route.reason
        assert route.final_weights == ALL_ECS
        assert live_weights(prod[0]) == ALL_ECS
        assert route.failback_ms is not None and 0 < route.failback_ms < FAILBACK_LIMIT_MS
        assert route.errors["lambda"] > 0 or stage == 1, "the failing upstream shows as 5xx"
        events = events_of(report)
        assert events.index("alarm") < events.index("rollback") < events.index("end")
        rollback = next(e for e in route.timeline if e.event == "rollback")
        assert rollback.stage == stage
        assert "alarm" in (rollback.reason or ""), "the alarm's fast path, not the Check"
        assert events.count("shift") == stage, "no stage after the failing one"

    def test_drift_by_hand_pauses_the_route_and_leaves_the_weights(
        self, prod: tuple[Emulator, int]
    ):
        report = rehearse_prod(prod, drift_at_stage=2, bake_seconds=3)
        route = report.route(ROUTE)
        manual = next(e for e in route.timeline if e.event == "manual_change")
        assert route.outcome == "paused", route.reason
        assert (route.reason or "").startswith("drift:")
        assert route.final_weights == manual.weights != Weights.from_percent(10)
        assert live_weights(prod[0]) == manual.weights, "the controller left the human's weights"
        assert route.failback_ms is None
        assert events_of(report).count("shift") == 2

    def test_a_function_that_answers_differently_is_paused_before_any_user_traffic(
        self, prod: tuple[Emulator, int]
    ):
        """``--diverge``: the check before stage 1 finds the changed Cache-Control."""
        report = rehearse_prod(prod, diverge=True, bake_seconds=1)
        document = report.to_json()  # what --json prints
        (route,) = document["routes"]
        assert route["outcome"] == "paused", route
        assert route["requests"]["lambda"] == 0, "no user request reached the function"
        assert route["final_weights"] == {"ecs": 100.0, "lambda": 0.0}
        assert live_weights(prod[0]) == ALL_ECS
        events = [e["event"] for e in route["timeline"]]
        assert "shift" not in events and events.index("verify") < events.index("end")
        (verify,) = [e for e in route["timeline"] if e["event"] == "verify"]
        assert verify["reason"].startswith("verify: 1 difference(s)")
        assert (
            "#1 GET /map/v1/tile/10/905/403.png: cache-control lambda 'no-store'"
            in (verify["reason"])
        )

    def test_a_route_that_is_not_fresh_is_refused(self, prod: tuple[Emulator, int]):
        emulator, resources = prod
        fresh_routes(emulator, STACK)
        registry = SsmRegistry(emulator.client("ssm"), STACK, registry_path(STACK))
        table = registry.stack().table_name
        promoted = RouteState(
            route=ROUTE, status=Status.PROMOTED, stage=4, stages_total=4, version=9
        )
        emulator.client("dynamodb").put_item(TableName=table, Item=state_to_item(promoted))
        try:
            with pytest.raises(RunConfigError, match="map-tile is promoted after 4 stage"):
                rehearse(emulator, RunOptions(stack=STACK), resources=resources)
        finally:
            fresh_routes(emulator, STACK)

    def test_a_lambda_target_group_without_its_function_is_a_harness_error(
        self, prod: tuple[Emulator, int]
    ):
        emulator, resources = prod
        fresh_routes(emulator, STACK)
        record = SsmRegistry(emulator.client("ssm"), STACK, registry_path(STACK)).route(ROUTE)
        elbv2 = emulator.client("elbv2")
        targets = [
            d["Target"]
            for d in elbv2.describe_target_health(TargetGroupArn=record.lambda_target_group_arn)[
                "TargetHealthDescriptions"
            ]
        ]
        elbv2.deregister_targets(TargetGroupArn=record.lambda_target_group_arn, Targets=targets)
        try:
            with pytest.raises(RehearsalError, match="has 0 registered targets"):
                rehearse(emulator, RunOptions(stack=STACK), resources=resources)
        finally:
            elbv2.register_targets(TargetGroupArn=record.lambda_target_group_arn, Targets=targets)

    def test_an_alarm_no_rule_delivers_is_a_harness_error(self, prod: tuple[Emulator, int]):
        emulator, resources = prod
        fresh_routes(emulator, STACK)
        events = emulator.client("events")
        (rule,) = [
            r for r in events.list_rules()["Rules"] if r["Name"].endswith(f"{ROUTE}-failback")
        ]
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        events.remove_targets(Rule=rule["Name"], Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=rule["Name"])
        try:
            with pytest.raises(RehearsalError, match="failback path is not wired"):
                rehearse(
                    emulator,
                    RunOptions(stack=STACK, fail_at_stage=1, bake_seconds=1),
                    resources=resources,
                )
        finally:
            events.put_rule(Name=rule["Name"], EventPattern=rule["EventPattern"])
            events.put_targets(Rule=rule["Name"], Targets=targets)
            fresh_routes(emulator, STACK)


# --- the real command ------------------------------------------------------------------


def test_the_command_fails_stage_2_back_and_prints_one_json_document(tmp_path: Path):
    chart = tmp_path / "chart.png"
    # A 4 s bake leaves the fault room on a busy 2-core machine: the run refuses
    # to report a failback whose fault came after the stage had passed.
    argv = ["--fail-at-stage", "2", "--json", "--chart", str(chart), "--bake-seconds", "4"]
    out, err = io.StringIO(), io.StringIO()
    code = main_run(_args(*argv), out=out, err=err)
    assert code == EXIT_OK, err.getvalue()
    document = json.loads(out.getvalue())  # exactly one JSON document on stdout
    assert document["stack"] == STACK
    assert document["resources"] > 30
    (route,) = document["routes"]
    assert route["route"] == ROUTE
    assert route["outcome"] == "rolled_back"
    assert route["final_weights"] == {"ecs": 100.0, "lambda": 0.0}
    assert route["requests"]["ecs"] > 0 and route["requests"]["lambda"] > 0
    assert 0 < route["failback_ms"] < FAILBACK_LIMIT_MS
    events = [event["event"] for event in route["timeline"]]
    assert {"start", "begin", "shift", "check", "alarm", "rollback", "failback", "end"} <= set(
        events
    )
    for event in route["timeline"]:
        assert {"at_ms", "event", "stage", "weights"} <= set(event)
    assert "stage 2/4" in err.getvalue(), "the progress lines go to stderr with --json"
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert document["duration_ms"] > document["apply_ms"] > 0, "the run time includes the apply"
    _assert_progress_reads_as_the_rest(err.getvalue())


# The example plan's stages, as the progress lines show them.
STAGE_SPLITS = {
    1: "ecs 99 % / lambda 1 %",
    2: "ecs 90 % / lambda 10 %",
    3: "ecs 50 % / lambda 50 %",
}


def _assert_progress_reads_as_the_rest(progress: str) -> None:
    """One notation, counts as in the summary, a stage beside its own weights, the alarm named."""
    lines = [line for line in progress.splitlines() if line.startswith(ROUTE)]
    assert lines, progress
    for line in lines:
        assert " 5xx)" in line and "(5xx" not in line, line
        assert re.search(r"  ecs \d+(\.\d)? % / lambda \d+(\.\d)? %  ", line), line
        stage = re.search(r"stage (\d)/4", line)
        if stage:
            assert STAGE_SPLITS[int(stage.group(1))] in line, f"stage and weights disagree: {line}"
    assert lines[-1].endswith("alarm strangler-prod-map-tile-composite in ALARM  rolled_back"), (
        lines[-1]
    )


# --- three routes at once ------------------------------------------------------------


def test_three_routes_roll_at_once_with_independent_outcomes():
    report = run_rehearsal(
        RunOptions(
            stack="three",
            stack_file=THREE,
            fail_at_stage=1,
            fail_routes=("map-poi",),
            bake_seconds=1,
            moto_server=True,
        )
    )
    outcomes = {route.route: route.outcome for route in report.routes}
    assert outcomes == {
        "map-tile": "promoted",
        "map-poi": "rolled_back",
        "route-search": "promoted",
    }
    assert report.route("map-poi").final_weights == ALL_ECS
    assert 0 < (report.route("map-poi").failback_ms or 0) < FAILBACK_LIMIT_MS
    for name in ("map-tile", "route-search"):
        route = report.route(name)
        assert route.final_weights == ALL_LAMBDA, name
        assert route.failback_ms is None, name
        assert "alarm" not in events_of(report, name), f"{name} never saw the other's alarm"
    starts = [report.route(name).timeline[0].at_ms for name in outcomes]
    assert max(starts) < 1000, "the canaries start together"
