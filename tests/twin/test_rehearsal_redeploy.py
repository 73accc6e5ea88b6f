"""Tests of a second apply of the real program to a live twin, and of the runs that do it.

One apply of ``Pulumi.prod.yaml`` is shared by the class (its emulator is
process-wide, so nothing else may start one meanwhile; one class keeps it to
one apply per worker). Every test leaves
the twin consistent (the rule forwarding to the registry's target groups),
so the tests do not depend on their order.

- A second apply with nothing changed touches nothing; one with the route's
  ``ecsTargetGroupArn`` changed updates the route record and the dashboard
  and leaves the listener rule alone (its ``actions`` are ignored after
  create); a change the bridge cannot apply in place fails naming the
  resource and the input.
- ``run --redeploy-at-stage 2``: the program is re-applied mid-canary, the
  route record's "Parameter Store Change" event reaches the controller
  through the program's rule, the controller points the rule at the new ECS
  target group (history event ``sync``) and the weights never move because
  of it; the canary promotes.
- ``run --reorder-at-stage 2``: the forward target groups are reversed by
  hand; nothing moves, no drift, the canary promotes.

The run tests need the controller's reconciliation of the rule with the
registry (event ``sync``); the apply tests do not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controller.aws.registry import SsmRegistry
from controller.core.contract import RouteRecord, registry_path, route_parameter_name
from controller.core.weights import ALL_LAMBDA, Weights
from rehearsal.errors import UpdateNotTranslated
from rehearsal.report.timeline import RehearsalReport, RouteReport, render_text
from rehearsal.run import RunConfigError, RunOptions, rehearse
from rehearsal.scenario.traffic import forward_weights
from rehearsal.world.brownfield import ROUTES_KEY
from rehearsal.world.changes import SAME, UPDATE
from rehearsal.world.emulator import in_process
from rehearsal.world.twin import (
    Twin,
    build_twin,
    new_ecs_target_group,
    redeploy,
    redeploy_ecs_target_group,
)
from tests.example_stack import PROJECT, REGION, ROUTE, STACK
from tests.twin.test_rehearsal_run import fresh_routes

pytestmark = pytest.mark.own_stack

STAGE = 2
# Stage 2 of the example plan is 10 %.
STAGE_2 = Weights.from_percent(10)
BAKE_SECONDS = 2
REDEPLOY_BAKE_SECONDS = 6


@pytest.fixture(scope="class")
def twin() -> Iterator[Twin]:
    """The example stack applied to an in-process emulator."""
    with in_process(REGION) as emulator:
        yield build_twin(STACK, PROJECT, emulator)


def record_of(twin: Twin, route: str = ROUTE) -> RouteRecord:
    return SsmRegistry(twin.emulator.client("ssm"), STACK, registry_path(STACK)).route(route)


def rule_of(twin: Twin, record: RouteRecord) -> dict:
    elbv2 = twin.emulator.client("elbv2")
    return dict(elbv2.describe_rules(RuleArns=[record.rule_arn])["Rules"][0])


def parameter_version(twin: Twin, route: str = ROUTE) -> int:
    ssm = twin.emulator.client("ssm")
    return int(ssm.get_parameter(Name=route_parameter_name(STACK, route))["Parameter"]["Version"])


def rehearse_on(
    twin: Twin, *, bake_seconds: int = BAKE_SECONDS, **options: object
) -> RehearsalReport:
    fresh_routes(twin.emulator, STACK)
    return rehearse(
        twin.emulator,
        RunOptions(stack=STACK, bake_seconds=bake_seconds, **options),  # type: ignore[arg-type]
        resources=len(twin.applied.resources),
        twin=twin,
    )


def assert_weights_only_moved_by_the_controller(route: RouteReport) -> None:
    """Every read of the rule shows a split the controller set, never going back.

    The plan only moves towards Lambda, so a read below an earlier one, or
    a split that is no stage's, is a change the controller did not make.
    """
    allowed = {0.0} | {Weights.from_percent(weight).lambda_percent for weight, _ in route.plan}
    shares = [share for _, share in route.series.weights]
    assert shares, "the rule was read"
    assert set(shares) <= allowed, f"splits no stage has: {set(shares) - allowed}"
    assert shares == sorted(shares), "the Lambda share went back at some point"


class TestChangesToALiveStack:
    """A second apply of the real program to the twin, alone and in the middle of a run."""

    def test_an_unchanged_second_apply_touches_nothing(self, twin: Twin):
        version = parameter_version(twin)
        assert redeploy(twin, {}) == []
        assert {change.operation for change in twin.applied.changes} == {SAME}
        assert parameter_version(twin) == version

    def test_a_new_ecs_target_group_updates_the_record_and_leaves_the_rule(self, twin: Twin):
        before = record_of(twin)
        rule_before = rule_of(twin, before)
        new_arn = new_ecs_target_group(twin, ROUTE)
        version = parameter_version(twin)
        try:
            redeployment = redeploy_ecs_target_group(twin, ROUTE, new_arn)
            changed = {c.name: c for c in redeployment.changes}
            assert {name for name, c in changed.items() if c.operation == UPDATE} == {
                f"controller-registry-route-{ROUTE}",
                "controller-dashboard",
            }
            assert changed[f"controller-registry-route-{ROUTE}"].properties == ("insecureValue",)
            rule = changed[f"{ROUTE}-traffic-rule"]
            assert (rule.operation, rule.ignored) == (SAME, ("actions",))
            assert record_of(twin).ecs_target_group_arn == new_arn
            assert parameter_version(twin) == version + 1
            assert rule_of(twin, before)["Actions"] == rule_before["Actions"], "rule untouched"
            assert twin.brownfield.ecs_target_group_arns[ROUTE] == new_arn
            described = twin.emulator.client("elbv2").describe_target_groups(
                TargetGroupArns=[new_arn]
            )["TargetGroups"][0]
            assert described["VpcId"] == twin.brownfield.vpc_id
            assert described["TargetGroupName"].startswith("map-ecs-v")
        finally:
            # Back to the target group the rule forwards to: the twin stays consistent.
            redeploy_ecs_target_group(twin, ROUTE, before.ecs_target_group_arn)
        assert record_of(twin) == before

    def test_a_change_the_bridge_cannot_apply_fails_naming_resource_and_input(self, twin: Twin):
        routes = json.loads(json.dumps(twin.applied.config[ROUTES_KEY]))
        # New memory or code is a new version in place; a new architecture is not.
        routes[0]["function"]["architecture"] = "arm64"
        applied = twin.applied
        with pytest.raises(UpdateNotTranslated) as raised:
            redeploy(twin, {ROUTES_KEY: routes})
        message = str(raised.value)
        assert "aws:lambda/function:Function" in message
        # The route's function and its equivalence checker share the architecture;
        # the first of them the apply meets is named.
        named = [n for n in (f"'{ROUTE}-fn-function'", f"'{ROUTE}-check-function'") if n in message]
        assert len(named) == 1, message
        assert "architectures" in message
        assert twin.applied is applied, "a failed apply is not recorded"

    def test_options_are_validated_against_the_stack(self, twin: Twin):
        with pytest.raises(RunConfigError, match="--redeploy-at-stage 4: stage 4 of route"):
            rehearse_on(twin, redeploy_at_stage=4)
        with pytest.raises(RunConfigError, match="--reorder-at-stage 5: route map-tile has 4"):
            rehearse_on(twin, reorder_at_stage=5)
        with pytest.raises(RunConfigError, match="needs the program the rehearsal applied"):
            rehearse(
                twin.emulator,
                RunOptions(stack=STACK, redeploy_at_stage=STAGE),
                resources=len(twin.applied.resources),
            )

    def test_a_redeploy_mid_canary_moves_no_traffic_and_the_rule_follows(self, twin: Twin):
        before = record_of(twin)
        # The apply and the sync must both land within stage 2's bake: a
        # re-apply takes seconds of CPU when the suite's other workers are busy.
        report = rehearse_on(twin, redeploy_at_stage=STAGE, bake_seconds=REDEPLOY_BAKE_SECONDS)
        route = report.route(ROUTE)
        document = report.to_json()["routes"][0]
        events = [event["event"] for event in document["timeline"]]

        assert route.outcome == "promoted", route.reason
        assert route.final_weights == ALL_LAMBDA
        assert "redeploy" in events
        assert "sync" in events, "the controller reconciled the rule with the record"
        assert "sync_missing" not in events and "drift" not in events
        assert events.index("redeploy") < events.index("sync")
        redeployed = next(e for e in route.timeline if e.event == "redeploy")
        synced = next(e for e in route.timeline if e.event == "sync")
        assert redeployed.stage == synced.stage == STAGE
        assert redeployed.weights == STAGE_2, "the apply moved no traffic"
        if synced.weights is not None:
            assert synced.weights == STAGE_2, "the sync kept the split"
        assert_weights_only_moved_by_the_controller(route)

        after = record_of(twin)
        assert after.ecs_target_group_arn != before.ecs_target_group_arn
        rule = rule_of(twin, after)
        assert set(forward_weights(rule)) == {
            after.ecs_target_group_arn,
            after.lambda_target_group_arn,
        }, "the rule forwards to the new ECS target group"
        assert "redeploy: stage 2, synced by the controller" in render_text(report)

    def test_a_reordered_rule_moves_nothing_and_is_no_drift(self, twin: Twin):
        record = record_of(twin)
        order = [
            g["TargetGroupArn"]
            for g in rule_of(twin, record)["Actions"][0]["ForwardConfig"]["TargetGroups"]
        ]
        report = rehearse_on(twin, reorder_at_stage=STAGE)
        route = report.route(ROUTE)
        events = [event["event"] for event in report.to_json()["routes"][0]["timeline"]]

        assert route.outcome == "promoted", route.reason
        assert route.final_weights == ALL_LAMBDA
        assert "reorder" in events and "drift" not in events
        reordered = next(e for e in route.timeline if e.event == "reorder")
        assert (reordered.stage, reordered.weights) == (STAGE, STAGE_2)
        assert_weights_only_moved_by_the_controller(route)
        final = rule_of(twin, record)["Actions"][0]["ForwardConfig"]["TargetGroups"]
        assert [g["TargetGroupArn"] for g in final] == list(reversed(order))
        assert "reorder: stage 2" in render_text(report)
