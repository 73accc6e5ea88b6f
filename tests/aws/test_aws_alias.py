"""controller/aws/alias.py: the ReleasePort on real boto3 Lambda and CloudWatch clients (moto)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from controller.aws.alias import LambdaRelease
from controller.aws.clients import ClientFactory
from controller.core.release import AliasSplit, VersionCounts, stage_split
from tests.aws_fixtures import REGION
from tests.fakes import route_record

FUNCTION = "strangler-test-map-tile"
NOW = datetime.now(UTC).replace(microsecond=0)


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", text)
    return buffer.getvalue()


@pytest.fixture
def lam(factory: ClientFactory) -> Iterator[Any]:
    client = factory.client("lambda")
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    client.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip("v1")},
        Publish=True,
    )
    client.update_function_code(FunctionName=FUNCTION, ZipFile=_zip("v2"), Publish=True)
    client.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
    yield client


@pytest.fixture
def release(lam: Any, factory: ClientFactory) -> LambdaRelease:
    return LambdaRelease(lam, factory.client("cloudwatch"))


def record() -> Any:
    return replace(route_record("map-tile"), function_name=FUNCTION, alias_name="live")


def test_a_stage_is_written_in_one_call_and_reads_back(release: LambdaRelease) -> None:
    assert release.read_alias(record()) == AliasSplit("1")
    release.write_alias(record(), stage_split("1", "2", 10))
    assert release.read_alias(record()) == AliasSplit("1", (("2", 0.1),))


def test_failback_removes_the_routing_config(release: LambdaRelease, lam: Any) -> None:
    release.write_alias(record(), stage_split("1", "2", 50))
    release.write_alias(record(), AliasSplit("1"))
    assert release.read_alias(record()).single
    weights = (lam.get_alias(FunctionName=FUNCTION, Name="live").get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    )
    assert not weights


def test_counts_each_executed_version_under_the_alias(
    release: LambdaRelease, factory: ClientFactory
) -> None:
    cloudwatch = factory.client("cloudwatch")
    for version, metric, value in (
        ("1", "Invocations", 90),
        ("1", "Errors", 1),
        ("2", "Invocations", 10),
        ("2", "Errors", 3),
    ):
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "FunctionName", "Value": FUNCTION},
                        {"Name": "Resource", "Value": f"{FUNCTION}:live"},
                        {"Name": "ExecutedVersion", "Value": version},
                    ],
                    "Timestamp": NOW - timedelta(seconds=30),
                    "Value": value,
                }
            ],
        )
    counts = release.version_counts(record(), ("1", "2"), NOW - timedelta(minutes=5), NOW)
    assert counts == {"1": VersionCounts("1", 90, 1), "2": VersionCounts("2", 10, 3)}
