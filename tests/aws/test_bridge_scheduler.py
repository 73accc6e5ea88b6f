"""Tests of rehearsal/world/bridge/scheduler.py against moto through real boto3 clients."""

from __future__ import annotations

import json

import pytest

from rehearsal.errors import BridgeError

REGION = "ap-northeast-1"
SCHEDULE = "aws:scheduler/schedule:Schedule"
MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:strangler-prod-canary"
ROLE = "arn:aws:iam::123456789012:role/scheduler"
DLQ = f"arn:aws:sqs:{REGION}:123456789012:dlq"


def test_schedule_with_timezone_and_target(bridge):
    payload = json.dumps({"route": "map-tile", "trigger": "schedule"})
    created = bridge.create(
        SCHEDULE,
        "controller-map-tile-schedule",
        {
            "name": "strangler-prod-map-tile-canary",
            "groupName": "default",
            "scheduleExpression": "cron(0 10 ? * MON-FRI *)",
            "scheduleExpressionTimezone": "Asia/Tokyo",
            "flexibleTimeWindow": {"mode": "OFF"},
            "target": {
                "arn": MACHINE,
                "roleArn": ROLE,
                "input": payload,
                "retryPolicy": {"maximumEventAgeInSeconds": 300.0, "maximumRetryAttempts": 2.0},
                "deadLetterConfig": {"arn": DLQ},
            },
        },
    )
    schedule = bridge.context.client("scheduler").get_schedule(
        Name="strangler-prod-map-tile-canary"
    )
    assert created.id == "default/strangler-prod-map-tile-canary"
    assert created.outputs["arn"] == schedule["Arn"]
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["Arn"] == MACHINE
    assert schedule["Target"]["Input"] == payload
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": DLQ}


def test_untranslated_target_parameters_fail(bridge):
    with pytest.raises(BridgeError, match=r"target\.sqsParameters"):
        bridge.create(
            SCHEDULE,
            "s",
            {
                "scheduleExpression": "rate(1 hour)",
                "flexibleTimeWindow": {"mode": "OFF"},
                "target": {"arn": DLQ, "roleArn": ROLE, "sqsParameters": {"messageGroupId": "g"}},
            },
        )
