"""Tests of the bridge's update path (Bridge.update and the ``update`` of each translation).

A second apply updates an existing resource in place for the inputs its
translation lists as ``updatable``; a change of any other handled input
fails before anything in moto changes, naming the resource (logical name and
type) and the input; a change of an input the bridge knowingly ignores
(``tags``) changes only the recorded state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from rehearsal.errors import UpdateNotTranslated
from rehearsal.world.bridge import Bridge, Created, Translation, all_translations
from rehearsal.world.bridge.base import Change, Existing, updated
from tests.aws.test_bridge_elbv2 import lambda_target_group, listener
from tests.aws_fixtures import weighted_forward

# The region of the emulator the `bridge` fixture (tests/aws/conftest.py) starts.
REGION = "ap-northeast-1"
PARAMETER = "aws:ssm/parameter:Parameter"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
RULE = "aws:lb/listenerRule:ListenerRule"


def existing(created: Created, inputs: Mapping[str, Any]) -> Existing:
    return Existing(id=created.id, inputs=dict(inputs), outputs=created.outputs)


def change(bridge: Bridge, token: str, name: str, before: dict, after: dict) -> Created:
    """Create ``name`` with ``before``, then update it to ``after`` (changed keys computed)."""
    created = bridge.create(token, name, before)
    keys = frozenset(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return bridge.update(Change(token, name, existing(created, before), after, keys))


def test_a_parameter_update_writes_a_new_version(bridge):
    before = {"name": "/strangler/prod/routes/r", "type": "String", "insecureValue": "one"}
    after = {**before, "insecureValue": "two", "description": "now described"}
    updated_parameter = change(bridge, PARAMETER, "route-r", before, after)
    stored = bridge.context.client("ssm").get_parameter(Name="/strangler/prod/routes/r")
    assert stored["Parameter"]["Value"] == "two"
    assert stored["Parameter"]["Version"] == 2
    assert updated_parameter.id == "/strangler/prod/routes/r"
    assert updated_parameter.outputs["version"] == 2
    assert updated_parameter.outputs["arn"] == stored["Parameter"]["ARN"]
    assert updated_parameter.outputs["description"] == "now described"


def test_a_renamed_parameter_is_refused_naming_the_resource_and_the_input(bridge):
    before = {"name": "/a", "type": "String", "insecureValue": "v"}
    with pytest.raises(UpdateNotTranslated) as raised:
        change(bridge, PARAMETER, "route-r", before, {**before, "name": "/b"})
    message = str(raised.value)
    assert PARAMETER in message and "'route-r'" in message and "name" in message
    assert raised.value.keys == ["name"]
    ssm = bridge.context.client("ssm")
    assert ssm.get_parameter(Name="/a")["Parameter"]["Version"] == 1, "nothing was written"
    assert not ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["/b"]}])[
        "Parameters"
    ]


def test_a_tags_only_change_touches_nothing_in_moto(bridge):
    before = {"name": "/a", "type": "String", "insecureValue": "v", "tags": {"a": "1"}}
    after = {**before, "tags": {"a": "2"}}
    result = change(bridge, PARAMETER, "p", before, after)
    stored = bridge.context.client("ssm").get_parameter(Name="/a")["Parameter"]
    assert stored["Version"] == 1
    assert result.outputs["tags"] == {"a": "2"}


def test_a_dashboard_update_replaces_its_body(bridge):
    before = {"dashboardName": "strangler-prod", "dashboardBody": '{"widgets": []}'}
    body = '{"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2}]}'
    change(bridge, DASHBOARD, "dashboard", before, {**before, "dashboardBody": body})
    stored = bridge.context.client("cloudwatch").get_dashboard(DashboardName="strangler-prod")
    assert stored["DashboardBody"] == body


def _rule_inputs(listener_arn: str, ecs: str, lambda_group: str, **changes: Any) -> dict:
    inputs = {
        "listenerArn": listener_arn,
        "priority": 100,
        "conditions": [{"pathPattern": {"values": ["/map/v1/tile/*"]}}],
        "actions": [
            {
                "type": "forward",
                "forward": {
                    "targetGroups": [
                        {"arn": ecs, "weight": 999},
                        {"arn": lambda_group, "weight": 0},
                    ]
                },
            }
        ],
    }
    inputs.update(changes)
    return inputs


def test_a_rule_update_modifies_the_rule_and_its_priority(bridge):
    listener_arn, ecs = listener(bridge)
    group = lambda_target_group(bridge)
    before = _rule_inputs(listener_arn, ecs, group.id)
    after = _rule_inputs(
        listener_arn,
        ecs,
        group.id,
        priority=120,
        conditions=[{"pathPattern": {"values": ["/map/v2/tile/*"]}}],
    )
    result = change(bridge, RULE, "map-tile-rule", before, after)
    rule = bridge.context.client("elbv2").describe_rules(RuleArns=[result.id])["Rules"][0]
    assert rule["Priority"] == "120"
    assert rule["Conditions"][0]["PathPatternConfig"]["Values"] == ["/map/v2/tile/*"]


def test_a_rule_whose_actions_change_gets_the_whole_action_list(bridge):
    """What the provider sends when the actions are not ignored: the declared weights too."""
    listener_arn, ecs = listener(bridge)
    group = lambda_target_group(bridge)
    elbv2 = bridge.context.client("elbv2")
    before = _rule_inputs(listener_arn, ecs, group.id)
    created = bridge.create(RULE, "map-tile-rule", before)
    # The controller's weights, written after the create.
    elbv2.modify_rule(
        RuleArn=created.id,
        Actions=weighted_forward((ecs, 899), (group.id, 100)),
    )
    vpc = elbv2.describe_target_groups(TargetGroupArns=[ecs])["TargetGroups"][0]["VpcId"]
    ecs_2 = elbv2.create_target_group(
        Name="map-ecs-v2", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    after = _rule_inputs(listener_arn, ecs_2, group.id)
    bridge.update(
        Change(RULE, "map-tile-rule", existing(created, before), after, frozenset({"actions"}))
    )
    rule = elbv2.describe_rules(RuleArns=[created.id])["Rules"][0]
    groups = {
        g["TargetGroupArn"]: g["Weight"]
        for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    }
    assert groups == {ecs_2: 999, group.id: 0}, "the controller's 10 % is gone"


def test_a_rule_on_another_listener_is_refused(bridge):
    listener_arn, ecs = listener(bridge)
    group = lambda_target_group(bridge)
    before = _rule_inputs(listener_arn, ecs, group.id)
    after = _rule_inputs(listener_arn + "-other", ecs, group.id, priority=101)
    with pytest.raises(UpdateNotTranslated, match=r"'map-tile-rule'.*listenerArn"):
        change(bridge, RULE, "map-tile-rule", before, after)


def test_a_type_without_update_refuses_any_handled_change(bridge):
    token = "aws:sqs/queue:Queue"
    before = {"name": "dlq", "messageRetentionSeconds": 1209600}
    with pytest.raises(UpdateNotTranslated, match=r"aws:sqs/queue:Queue 'dlq'.*messageRetention"):
        change(bridge, token, "dlq", before, {**before, "messageRetentionSeconds": 60})


def test_every_updatable_input_is_handled_and_comes_with_an_update():
    for translation in all_translations():
        assert translation.updatable <= translation.handled, translation.token
        assert (translation.update is None) == (not translation.updatable), translation.token


def test_a_half_written_entry_is_refused_when_the_table_is_built():
    def create(ctx, name, inputs):
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="update and updatable go together"):
        Translation(
            token="t:a:B", create=create, handled=frozenset({"x"}), updatable=frozenset({"x"})
        )
    with pytest.raises(ValueError, match="not handled"):
        Translation(
            token="t:a:B",
            create=create,
            handled=frozenset({"x"}),
            update=lambda ctx, name, existing, inputs, changed: updated(existing, inputs),
            updatable=frozenset({"y"}),
        )


def test_updated_keeps_computed_outputs_and_drops_removed_inputs():
    before = Existing(
        id="i", inputs={"a": 1, "gone": 2}, outputs={"a": 1, "gone": 2, "arn": "arn:x"}
    )
    result = updated(before, {"a": 3}, version=2)
    assert result == Created(id="i", outputs={"a": 3, "arn": "arn:x", "version": 2})
