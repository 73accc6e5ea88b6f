"""Provider functions (invokes) the program may call, answered from moto."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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


INVOKES: dict[str, InvokeFn] = {
    "aws:index/getCallerIdentity:getCallerIdentity": get_caller_identity,
    "aws:index/getRegion:getRegion": get_region,
    "aws:index/getPartition:getPartition": get_partition,
}
