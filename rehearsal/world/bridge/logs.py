"""CloudWatch Logs: log groups with retention."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Created, Translation

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

# Log group names: at most 512 characters (CloudWatch Logs quotas).
LOG_GROUP_NAME_MAX = 512


def create_log_group(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateLogGroup`` then ``PutRetentionPolicy`` (pulumi-aws does the same two calls)."""
    resource = base.Registration(LOG_GROUP, name, inputs)
    logs = ctx.client("logs")
    group_name = resource.physical_name(LOG_GROUP_NAME_MAX)
    resource.call(
        "logs:CreateLogGroup",
        logs.create_log_group,
        logGroupName=group_name,
        kmsKeyId=inputs.get("kmsKeyId"),
        logGroupClass=inputs.get("logGroupClass"),
    )
    retention = inputs.get("retentionInDays")
    if retention:
        resource.call(
            "logs:PutRetentionPolicy",
            logs.put_retention_policy,
            logGroupName=group_name,
            retentionInDays=int(retention),
        )
    described = resource.call(
        "logs:DescribeLogGroups",
        logs.describe_log_groups,
        logGroupNamePrefix=group_name,
    )
    group = next(g for g in described["logGroups"] if g["logGroupName"] == group_name)
    # DescribeLogGroups answers "...:log-group:NAME:*"; pulumi-aws's arn
    # attribute has no ":*" (IAM statements add it themselves).
    arn = str(group["arn"]).removesuffix(":*")
    return resource.created(group_name, name=group_name, arn=arn)


TRANSLATIONS = (
    Translation(
        token=LOG_GROUP,
        create=create_log_group,
        handled=frozenset({"name", "namePrefix", "retentionInDays", "kmsKeyId", "logGroupClass"}),
        ignored={
            "skipDestroy": "only changes deletion; the twin never deletes",
            "deletionProtectionEnabled": "only changes deletion; the twin never deletes",
        },
        fabricate=base.fabricate_named("logs", "log-group:{name}", LOG_GROUP_NAME_MAX),
        key_inputs=("name", "retentionInDays"),
    ),
)
