"""SSM Parameter Store: the stack's registry parameters (contract.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.errors import BridgeError
from rehearsal.world.bridge.base import (
    BridgeContext,
    Created,
    Translation,
    call,
    physical_name,
    with_outputs,
)

PARAMETER = "aws:ssm/parameter:Parameter"

# Parameter names: at most 2048 characters including the path (SSM quotas).
PARAMETER_NAME_MAX = 2048


def create_parameter(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutParameter``, then ``GetParameter`` for the version."""
    ssm = ctx.client("ssm")
    parameter_name = physical_name(inputs, name, PARAMETER_NAME_MAX)
    value = inputs.get("value")
    if value is None:
        value = inputs.get("insecureValue")
    if value is None:
        raise BridgeError("neither value nor insecureValue is set", token=PARAMETER, name=name)
    call(
        PARAMETER,
        name,
        "ssm:PutParameter",
        ssm.put_parameter,
        Name=parameter_name,
        Value=str(value),
        Type=inputs.get("type") or "String",
        Description=inputs.get("description"),
        Tier=inputs.get("tier"),
        AllowedPattern=inputs.get("allowedPattern"),
        DataType=inputs.get("dataType"),
        KeyId=inputs.get("keyId"),
        Overwrite=inputs.get("overwrite"),
    )
    stored = call(PARAMETER, name, "ssm:GetParameter", ssm.get_parameter, Name=parameter_name)[
        "Parameter"
    ]
    return Created(
        id=parameter_name,
        outputs=with_outputs(
            inputs,
            name=parameter_name,
            arn=stored["ARN"],
            version=int(stored["Version"]),
            type=stored["Type"],
        ),
    )


TRANSLATIONS = (
    Translation(
        token=PARAMETER,
        create=create_parameter,
        handled=frozenset(
            {
                "name",
                "value",
                "insecureValue",
                "type",
                "description",
                "tier",
                "allowedPattern",
                "dataType",
                "keyId",
                "overwrite",
            }
        ),
    ),
)
