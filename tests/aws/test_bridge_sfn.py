"""Tests of rehearsal/world/bridge/sfn.py against moto through real boto3 clients."""

from __future__ import annotations

import json

import pytest

from rehearsal.errors import BridgeError
from rehearsal.world.bridge import Bridge

REGION = "ap-northeast-1"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def role(bridge: Bridge, service: str) -> str:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    created = bridge.create(
        "aws:iam/role:Role", f"role-{service}", {"assumeRolePolicy": json.dumps(document)}
    )
    return str(created.outputs["arn"])


def test_state_machine_with_logging_and_tracing(bridge):
    log_group = f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/vendedlogs/states/x:*"
    created = bridge.create(
        STATE_MACHINE,
        "controller-state-machine",
        {
            "name": "strangler-prod-canary",
            "type": "STANDARD",
            "roleArn": role(bridge, "states.amazonaws.com"),
            "definition": json.dumps(DEFINITION),
            "loggingConfiguration": {
                "logDestination": log_group,
                "includeExecutionData": True,
                "level": "ALL",
            },
            "tracingConfiguration": {"enabled": True},
        },
    )
    described = bridge.context.client("stepfunctions").describe_state_machine(
        stateMachineArn=created.id
    )
    assert created.outputs["arn"] == described["stateMachineArn"]
    assert created.outputs["name"] == "strangler-prod-canary"
    assert json.loads(described["definition"]) == DEFINITION
    assert described["loggingConfiguration"]["level"] == "ALL"
    assert described["tracingConfiguration"] == {"enabled": True}


def test_regional_states_principal_is_accepted(bridge):
    bridge.create(
        STATE_MACHINE,
        "sm",
        {
            "roleArn": role(bridge, f"states.{REGION}.amazonaws.com"),
            "definition": json.dumps(DEFINITION),
        },
    )


def test_a_role_step_functions_cannot_assume_is_refused(bridge):
    with pytest.raises(BridgeError, match="states:CreateStateMachine"):
        bridge.create(
            STATE_MACHINE,
            "sm",
            {
                "roleArn": role(bridge, "lambda.amazonaws.com"),
                "definition": json.dumps(DEFINITION),
            },
        )
