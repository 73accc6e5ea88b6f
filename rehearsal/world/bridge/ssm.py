"""SSM Parameter Store: the stack's registry parameters (contract.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Change, Created, PlanContext, Translation

PARAMETER = "aws:ssm/parameter:Parameter"

# Parameter names: at most 2048 characters including the path (SSM quotas).
PARAMETER_NAME_MAX = 2048


def _put(
    ctx: BridgeContext, resource: base.Registration, parameter_name: str, *, overwrite: bool | None
) -> dict[str, Any]:
    """``PutParameter`` with the inputs, then the stored parameter (``GetParameter``)."""
    inputs = resource.inputs
    ssm = ctx.client("ssm")
    value = inputs.get("value")
    if value is None:
        value = inputs.get("insecureValue")
    if value is None:
        raise resource.error("neither value nor insecureValue is set")
    resource.call(
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
        Overwrite=overwrite,
    )
    stored = resource.call("ssm:GetParameter", ssm.get_parameter, Name=parameter_name)
    return dict(stored["Parameter"])


def create_parameter(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutParameter``, then ``GetParameter`` for the version."""
    resource = base.Registration(PARAMETER, name, inputs)
    parameter_name = resource.physical_name(PARAMETER_NAME_MAX)
    stored = _put(ctx, resource, parameter_name, overwrite=inputs.get("overwrite"))
    return resource.created(
        parameter_name,
        name=parameter_name,
        arn=stored["ARN"],
        version=int(stored["Version"]),
        type=stored["Type"],
    )


def update_parameter(ctx: BridgeContext, change: Change) -> Created:
    """``PutParameter`` with ``Overwrite``: a new version of the same parameter.

    This is what the provider does for a changed value, description, tier,
    pattern, data type or key, and it is the write after which EventBridge
    sends a "Parameter Store Change" event with operation ``Update`` (moto
    sends none; the rehearsal delivers it). A new name is a new parameter
    (not updatable).
    """
    resource = change.registration()
    stored = _put(ctx, resource, change.existing.id, overwrite=True)
    return change.updated(
        name=change.existing.id,
        arn=stored["ARN"],
        version=int(stored["Version"]),
        type=stored["Type"],
    )


def fabricate_parameter(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's parameter: the name ``create_parameter`` would give it, and its ARN."""
    parameter_name = base.physical_name(inputs, name, PARAMETER_NAME_MAX)
    arn = ctx.arn("ssm", f"parameter/{parameter_name.lstrip('/')}")
    return base.created(parameter_name, inputs, name=parameter_name, arn=arn)


# The inputs of a parameter the twin applies (create), all but the name also in place.
PARAMETER_INPUTS = frozenset(
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
)

TRANSLATIONS = (
    Translation(
        token=PARAMETER,
        create=create_parameter,
        handled=PARAMETER_INPUTS,
        fabricate=fabricate_parameter,
        key_inputs=("name", "type", "tier"),
        update=update_parameter,
        # Everything but the name (a new name is a new parameter).
        updatable=PARAMETER_INPUTS - {"name"},
    ),
)
