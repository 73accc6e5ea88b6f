"""Tests of rehearsal/world/bridge/ssm.py against moto through real boto3 clients."""

from __future__ import annotations

import pytest

from rehearsal.errors import BridgeError

# The region of the emulator the `bridge` fixture (tests/aws/conftest.py) starts.
REGION = "ap-northeast-1"
PARAMETER = "aws:ssm/parameter:Parameter"


def test_string_parameter(bridge):
    created = bridge.create(
        PARAMETER,
        "stack-record",
        {
            "name": "/strangler/prod/stack",
            "type": "String",
            "tier": "Standard",
            "description": "registry",
            "value": '{"stack": "prod"}',
        },
    )
    stored = bridge.context.client("ssm").get_parameter(Name="/strangler/prod/stack")["Parameter"]
    assert stored["Value"] == '{"stack": "prod"}'
    assert created.id == created.outputs["name"] == "/strangler/prod/stack"
    assert created.outputs["arn"] == stored["ARN"]
    assert created.outputs["version"] == 1


def test_insecure_value_is_accepted(bridge):
    bridge.create(PARAMETER, "p", {"name": "/p", "type": "String", "insecureValue": "v"})
    assert bridge.context.client("ssm").get_parameter(Name="/p")["Parameter"]["Value"] == "v"


def test_a_parameter_without_value_fails(bridge):
    with pytest.raises(BridgeError, match="neither value nor insecureValue"):
        bridge.create(PARAMETER, "p", {"name": "/p", "type": "String"})
