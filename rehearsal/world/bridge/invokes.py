"""Provider functions (invokes) the program may call, answered from moto."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components import packaging
from rehearsal.errors import BridgeError
from rehearsal.world.bridge.base import BridgeContext

InvokeFn = Callable[[BridgeContext, Mapping[str, Any]], dict[str, Any]]


def get_caller_identity(ctx: BridgeContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """``sts:GetCallerIdentity`` on the emulator."""
    identity = ctx.client("sts").get_caller_identity()
    return {
        "accountId": identity["Account"],
        "arn": identity["Arn"],
        "userId": identity["UserId"],
        "id": identity["Account"],
    }


def get_region(ctx: BridgeContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """The emulator's region (pulumi-aws answers from the provider's config)."""
    region = ctx.region
    return {
        "name": region,
        "region": region,
        "id": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
        "description": region,
    }


def get_partition(ctx: BridgeContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """The ``aws`` partition: the emulator only emulates the commercial one."""
    return {
        "partition": "aws",
        "id": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


# The layer number of every Powertools layer ARN the twin's parameters hold
# (AWS's numbers are not knowable offline).
TWIN_POWERTOOLS_LAYER_VERSION = 1


def powertools_parameter_value(name: str, region: str) -> str | None:
    """The twin's value of a Powertools layer parameter, None for any other name."""
    target = packaging.powertools_parameter_target(name)
    if target is None:
        return None
    architecture, runtime, version = target
    try:
        packaging.powertools_layer_parameter(architecture, runtime, version)
    except packaging.PackagingError:
        return None
    return packaging.official_layer_arn(
        "aws", region, architecture, runtime, TWIN_POWERTOOLS_LAYER_VERSION
    )


def get_parameter(ctx: BridgeContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """``ssm:GetParameter`` on the emulator (the Powertools layer's public parameter)."""
    name = str(args["name"])
    try:
        found = ctx.client("ssm").get_parameter(
            Name=name, WithDecryption=bool(args.get("withDecryption", True))
        )["Parameter"]
    except (ClientError, BotoCoreError) as error:
        raise BridgeError(
            str(error), token=GET_PARAMETER, name=name, api_call="ssm:GetParameter"
        ) from error
    value = str(found["Value"])
    return {
        "arn": found["ARN"],
        "id": name,
        "name": name,
        "type": found["Type"],
        "value": value,
        "insecureValue": "" if found["Type"] == "SecureString" else value,
        "version": int(found["Version"]),
    }


GET_PARAMETER = "aws:ssm/getParameter:getParameter"

INVOKES: dict[str, InvokeFn] = {
    "aws:index/getCallerIdentity:getCallerIdentity": get_caller_identity,
    "aws:index/getRegion:getRegion": get_region,
    "aws:index/getPartition:getPartition": get_partition,
    GET_PARAMETER: get_parameter,
}
