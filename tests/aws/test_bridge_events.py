"""Tests of rehearsal/world/bridge/events.py against moto through real boto3 clients."""

from __future__ import annotations

import json

import pytest

from rehearsal.errors import BridgeError
from rehearsal.world.bridge import Bridge

REGION = "ap-northeast-1"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
COMPOSITE_ARN = f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:strangler-prod-map-tile-composite"
PATTERN = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "resources": [COMPOSITE_ARN],
    "detail": {"state": {"value": ["ALARM"]}},
}


def queue(bridge: Bridge, name: str) -> tuple[str, str]:
    sqs = bridge.context.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def test_rule_with_pattern(bridge):
    created = bridge.create(
        RULE,
        "failback-rule",
        {
            "name": "strangler-prod-map-tile-failback",
            "description": "fail back",
            "eventPattern": json.dumps(PATTERN),
        },
    )
    rule = bridge.context.client("events").describe_rule(Name="strangler-prod-map-tile-failback")
    assert created.id == created.outputs["name"] == rule["Name"]
    assert created.outputs["arn"] == rule["Arn"]
    assert json.loads(rule["EventPattern"]) == PATTERN
    assert rule["State"] == "ENABLED"


def test_rule_pattern_must_be_json(bridge):
    with pytest.raises(BridgeError, match="eventPattern is not valid JSON"):
        bridge.create(RULE, "r", {"eventPattern": "{"})


def test_target_with_retry_and_dead_letter_queue_routes_events(bridge):
    url, arn = queue(bridge, "inbox")
    _, dlq_arn = queue(bridge, "dlq")
    rule = bridge.create(RULE, "r", {"name": "r", "eventPattern": json.dumps(PATTERN)})
    created = bridge.create(
        TARGET,
        "failback-target",
        {
            "rule": rule.outputs["name"],
            "targetId": "controller",
            "arn": arn,
            "retryPolicy": {"maximumEventAgeInSeconds": 3600.0, "maximumRetryAttempts": 8.0},
            "deadLetterConfig": {"arn": dlq_arn},
        },
    )
    events = bridge.context.client("events")
    [target] = events.list_targets_by_rule(Rule="r")["Targets"]
    assert target["Id"] == "controller"
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {"Arn": dlq_arn}
    assert created.id == "r-controller"
    events.put_events(
        Entries=[
            {
                "Source": "aws.cloudwatch",
                "DetailType": "CloudWatch Alarm State Change",
                "Resources": [COMPOSITE_ARN],
                "Detail": json.dumps({"state": {"value": "ALARM"}}),
            }
        ]
    )
    messages = bridge.context.client("sqs").receive_message(QueueUrl=url)["Messages"]
    assert json.loads(messages[0]["Body"])["resources"] == [COMPOSITE_ARN]
