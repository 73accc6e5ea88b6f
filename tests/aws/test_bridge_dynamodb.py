"""Tests of rehearsal/world/bridge/dynamodb.py against moto through real boto3 clients."""

from __future__ import annotations

from tests.example_stack import STATE_TABLE_INPUTS

# The region of the emulator the `bridge` fixture (tests/aws/conftest.py) starts.
REGION = "ap-northeast-1"
TABLE = "aws:dynamodb/table:Table"


def test_state_table_on_demand_with_pitr(bridge):
    created = bridge.create(TABLE, "controller-table", STATE_TABLE_INPUTS)
    dynamodb = bridge.context.client("dynamodb")
    table = dynamodb.describe_table(TableName="strangler-prod-state")["Table"]
    assert created.id == created.outputs["name"] == "strangler-prod-state"
    assert created.outputs["arn"] == table["TableArn"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    backups = dynamodb.describe_continuous_backups(TableName="strangler-prod-state")
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"


def test_provisioned_table_with_ttl(bridge):
    bridge.create(
        TABLE,
        "t",
        {
            "name": "t",
            "hashKey": "id",
            "attributes": [{"name": "id", "type": "S"}],
            "readCapacity": 1.0,
            "writeCapacity": 1.0,
            "ttl": {"attributeName": "expires", "enabled": True},
        },
    )
    dynamodb = bridge.context.client("dynamodb")
    table = dynamodb.describe_table(TableName="t")["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 1
    ttl = dynamodb.describe_time_to_live(TableName="t")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    backups = dynamodb.describe_continuous_backups(TableName="t")
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "DISABLED"
