"""Tests of rehearsal/scenario/stack_changes.py: the registry event and the reordered rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from components.registry_sync import registry_sync_event_pattern
from rehearsal.scenario.faults import FaultError, pattern_matches
from rehearsal.scenario.stack_changes import (
    ParameterChange,
    changed_route_parameters,
    deliver_parameter_change,
    parameter_change_event,
    reverse_forward_order,
)
from rehearsal.scenario.traffic import forward_weights
from rehearsal.world.changes import CREATE, SAME, UPDATE, ResourceChange
from tests.aws.test_bridge_elbv2 import lambda_target_group, listener
from tests.aws_fixtures import weighted_forward

# The region of the emulator the `bridge` fixture (tests/aws/conftest.py) starts.
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
PARAMETER = "aws:ssm/parameter:Parameter"


def parameter(name: str, operation: str = "Update") -> ParameterChange:
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"
    return ParameterChange(name, arn, "String", "Strangler registry", operation)


def event_of(change: ParameterChange) -> dict:
    return parameter_change_event(
        change,
        at=datetime(2026, 12, 2, 7, 0, tzinfo=UTC),
        region=REGION,
        account_id=ACCOUNT,
        event_id="e-1",
    )


def test_the_event_has_the_shape_parameter_store_sends():
    event = event_of(parameter("/strangler/prod/routes/map-tile"))
    assert event["source"] == "aws.ssm"
    assert event["detail-type"] == "Parameter Store Change"
    assert event["resources"] == [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/strangler/prod/routes/map-tile"
    ]
    assert event["detail"] == {
        "operation": "Update",
        "name": "/strangler/prod/routes/map-tile",
        "type": "String",
        "description": "Strangler registry",
    }
    assert event["time"] == "2026-12-02T07:00:00Z"


@pytest.mark.parametrize(
    ("name", "operation", "matches"),
    [
        ("/strangler/prod/routes/map-tile", "Update", True),
        ("/strangler/prod/routes/map-tile", "Create", True),
        ("/strangler/prod/routes/map-tile", "Delete", False),
        ("/strangler/prod/stack", "Update", False),
        ("/strangler/prod-eu/routes/map-tile", "Update", False),
    ],
)
def test_the_program_pattern_matches_exactly_the_route_records(
    name: str, operation: str, matches: bool
):
    pattern = json.dumps(registry_sync_event_pattern("prod"))
    assert pattern_matches(pattern, event_of(parameter(name, operation))) is matches


def _change(name: str, token: str, operation: str, parameter_name: str) -> ResourceChange:
    outputs = {"name": parameter_name, "arn": f"arn:x:{parameter_name}", "type": "String"}
    return ResourceChange(name, token, f"urn:{name}", operation, outputs=outputs)  # type: ignore[arg-type]


def test_only_route_records_the_apply_wrote_are_changes_to_announce():
    changes = [
        _change("route-a", PARAMETER, UPDATE, "/strangler/prod/routes/a"),
        _change("route-b", PARAMETER, CREATE, "/strangler/prod/routes/b"),
        _change("route-c", PARAMETER, SAME, "/strangler/prod/routes/c"),
        _change("stack", PARAMETER, UPDATE, "/strangler/prod/stack"),
        _change("other", PARAMETER, UPDATE, "/strangler/prod-eu/routes/a"),
        _change("dash", "aws:cloudwatch/dashboard:Dashboard", UPDATE, "/strangler/prod/routes/d"),
    ]
    found = changed_route_parameters(changes, "prod")
    assert [(p.name, p.operation) for p in found] == [
        ("/strangler/prod/routes/a", "Update"),
        ("/strangler/prod/routes/b", "Create"),
    ]
    assert found[0].arn == "arn:x:/strangler/prod/routes/a"


def test_an_event_no_rule_matches_is_refused(bridge):
    events = bridge.context.client("events")
    with pytest.raises(FaultError, match="registry sync path is not wired"):
        deliver_parameter_change(
            events,
            bridge.context.client("lambda"),
            event_of(parameter("/strangler/prod/routes/map-tile")),
        )


def test_reversing_the_forward_order_keeps_every_weight(bridge):
    listener_arn, ecs = listener(bridge)
    group = lambda_target_group(bridge)
    elbv2 = bridge.context.client("elbv2")
    rule_arn = elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=100,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/map/*"]}}],
        Actions=weighted_forward((ecs, 899), (group.id, 100)),
    )["Rules"][0]["RuleArn"]
    order = reverse_forward_order(elbv2, rule_arn)
    assert order == [group.id, ecs]
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    assert [g["TargetGroupArn"] for g in groups] == [group.id, ecs]
    assert forward_weights(rule) == {ecs: 899, group.id: 100}
    assert rule["Conditions"][0]["PathPatternConfig"]["Values"] == ["/map/*"]
