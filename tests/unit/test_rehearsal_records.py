"""Tests of rehearsal/world/records.py: what a plan shows of each resource."""

from __future__ import annotations

import json

import pulumi

from rehearsal.world.records import ResourceRecord, key_inputs, plain

RULE = "aws:lb/listenerRule:ListenerRule"


def test_listener_rule_shows_its_weights():
    inputs = {
        "listenerArn": "arn:listener",
        "priority": 100.0,
        "conditions": [{"pathPattern": {"values": ["/map/*"]}}],
        "actions": [
            {
                "type": "forward",
                "forward": {
                    "targetGroups": [{"arn": "ecs", "weight": 999.0}, {"arn": "fn", "weight": 0.0}]
                },
            }
        ],
        "tags": {"a": "b"},
    }
    shown = key_inputs(RULE, inputs)
    assert shown["priority"] == 100
    assert shown["weights"] == [
        {"targetGroupArn": "ecs", "weight": 999},
        {"targetGroupArn": "fn", "weight": 0},
    ]
    assert "tags" not in shown


def test_role_policy_shows_its_actions():
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:CreateLogStream"]},
            {"Effect": "Allow", "Action": "xray:PutTraceSegments"},
        ]
    }
    shown = key_inputs("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": json.dumps(policy)})
    assert shown == {
        "role": "r",
        "actions": ["logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments"],
    }


def test_metric_math_alarm_shows_its_expression():
    inputs = {
        "name": "a",
        "metricQueries": [
            {"id": "e", "metric": {"namespace": "AWS/Lambda", "metricName": "Errors"}},
            {"id": "rate", "expression": "100 * e", "returnData": True},
        ],
    }
    shown = key_inputs("aws:cloudwatch/metricAlarm:MetricAlarm", inputs)
    assert shown["expression"] == "100 * e"
    assert shown["metrics"] == ["AWS/Lambda/Errors"]


def test_unknown_type_shows_every_input():
    assert key_inputs("aws:s3/bucket:Bucket", {"b": 1, "a": 2.5}) == {"a": 2.5, "b": 1}


def test_plain_values():
    assert plain(pulumi.FileArchive("functions/x")) == "FileArchive(functions/x)"
    assert plain({"n": 3.0, "f": 0.5, "l": (1, None)}) == {"n": 3, "f": 0.5, "l": [1, None]}
    archive = pulumi.AssetArchive({"a.py": pulumi.StringAsset("x")})
    assert plain(archive) == {"AssetArchive": {"a.py": "StringAsset(...)"}}


def test_summary_of_a_component():
    record = ResourceRecord(
        order=0,
        type="strangler:route:StranglerRoute",
        name="map-tile",
        urn="urn:pulumi:prod::strangler::strangler:route:StranglerRoute::map-tile",
        custom=False,
        parent=None,
        parent_type=None,
        inputs={},
    )
    assert record.is_component
    assert record.summary()["component"] is True
    assert record.summary()["keyInputs"] == {}
