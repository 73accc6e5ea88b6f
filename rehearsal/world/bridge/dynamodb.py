"""DynamoDB: the controller's state table (key pk/sk, on demand, PITR on)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Created, Translation

TABLE = "aws:dynamodb/table:Table"

# Table names: at most 255 characters (DynamoDB quotas).
TABLE_NAME_MAX = 255


def create_table(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateTable``, then ``UpdateContinuousBackups`` / ``UpdateTimeToLive`` when set.

    Like pulumi-aws, point-in-time recovery and TTL are separate calls after
    the table exists: CreateTable has no parameter for either.
    """
    resource = base.Registration(TABLE, name, inputs)
    dynamodb = ctx.client("dynamodb")
    table_name = resource.physical_name(TABLE_NAME_MAX)
    key_schema = [{"AttributeName": resource.required("hashKey"), "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        key_schema.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
    billing_mode = str(inputs.get("billingMode") or "PROVISIONED")
    throughput = (
        {
            "ReadCapacityUnits": int(inputs.get("readCapacity") or 0),
            "WriteCapacityUnits": int(inputs.get("writeCapacity") or 0),
        }
        if billing_mode == "PROVISIONED"
        else None
    )
    encryption = inputs.get("serverSideEncryption") or {}
    response = resource.call(
        "dynamodb:CreateTable",
        dynamodb.create_table,
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": a["name"], "AttributeType": a["type"]}
            for a in resource.required("attributes")
        ],
        KeySchema=key_schema,
        BillingMode=billing_mode,
        ProvisionedThroughput=throughput,
        StreamSpecification={
            "StreamEnabled": True,
            "StreamViewType": inputs.get("streamViewType") or "NEW_AND_OLD_IMAGES",
        }
        if inputs.get("streamEnabled")
        else None,
        SSESpecification={
            "Enabled": bool(encryption.get("enabled")),
            **({"KMSMasterKeyId": encryption["kmsKeyArn"]} if encryption.get("kmsKeyArn") else {}),
            **({"SSEType": "KMS"} if encryption.get("enabled") else {}),
        }
        if encryption
        else None,
        TableClass=inputs.get("tableClass"),
        DeletionProtectionEnabled=inputs.get("deletionProtectionEnabled"),
    )
    description = response["TableDescription"]
    recovery = inputs.get("pointInTimeRecovery") or {}
    if recovery.get("enabled"):
        specification: dict[str, Any] = {"PointInTimeRecoveryEnabled": True}
        if recovery.get("recoveryPeriodInDays"):
            specification["RecoveryPeriodInDays"] = int(recovery["recoveryPeriodInDays"])
        resource.call(
            "dynamodb:UpdateContinuousBackups",
            dynamodb.update_continuous_backups,
            TableName=table_name,
            PointInTimeRecoverySpecification=specification,
        )
    ttl = inputs.get("ttl") or {}
    if ttl.get("enabled"):
        resource.call(
            "dynamodb:UpdateTimeToLive",
            dynamodb.update_time_to_live,
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
        )
    return resource.created(
        table_name,
        name=table_name,
        arn=description["TableArn"],
        streamArn=description.get("LatestStreamArn"),
        streamLabel=description.get("LatestStreamLabel"),
    )


TRANSLATIONS = (
    Translation(
        token=TABLE,
        create=create_table,
        handled=frozenset(
            {
                "name",
                "attributes",
                "hashKey",
                "rangeKey",
                "billingMode",
                "readCapacity",
                "writeCapacity",
                "streamEnabled",
                "streamViewType",
                "serverSideEncryption",
                "tableClass",
                "deletionProtectionEnabled",
                "pointInTimeRecovery",
                "ttl",
            }
        ),
        fabricate=base.fabricate_named("dynamodb", "table/{name}", TABLE_NAME_MAX),
        key_inputs=("name", "hashKey", "rangeKey", "billingMode", "pointInTimeRecovery.enabled"),
    ),
)
