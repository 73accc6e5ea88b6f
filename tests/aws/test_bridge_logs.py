"""Tests of rehearsal/world/bridge/logs.py against moto through real boto3 clients."""

from __future__ import annotations

REGION = "ap-northeast-1"


def test_log_group_with_retention(bridge):
    created = bridge.create(
        "aws:cloudwatch/logGroup:LogGroup",
        "map-tile-logs",
        {"name": "/aws/lambda/map-tile", "retentionInDays": 14},
    )
    groups = bridge.context.client("logs").describe_log_groups(
        logGroupNamePrefix="/aws/lambda/map-tile"
    )["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [
        ("/aws/lambda/map-tile", 14)
    ]
    assert created.id == "/aws/lambda/map-tile"
    assert created.outputs["arn"] == (
        f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/lambda/map-tile"
    ), "pulumi-aws's arn has no ':*' suffix"


def test_log_group_without_retention_never_expires(bridge):
    created = bridge.create("aws:cloudwatch/logGroup:LogGroup", "lg", {})
    group = bridge.context.client("logs").describe_log_groups(logGroupNamePrefix=created.id)
    assert "retentionInDays" not in group["logGroups"][0]
