"""Tests of rehearsal/world/moto_patches.py: PutCompositeAlarm and Lambda GetAccountSettings."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from moto import mock_aws
from moto.awslambda.responses import LambdaResponse
from moto.cloudwatch.responses import CloudWatchResponse

from rehearsal.errors import RehearsalError
from rehearsal.world import moto_patches
from rehearsal.world.emulator import in_process, server
from tests.aws_fixtures import lambda_role

REGION = "ap-northeast-1"


def test_composite_alarm_round_trips_through_boto3():
    moto_patches.install()
    moto_patches.install()  # idempotent
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="ap-northeast-1")
        cloudwatch.put_metric_alarm(
            AlarmName="child",
            Namespace="N",
            MetricName="M",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.put_composite_alarm(AlarmName="parent", AlarmRule='ALARM("child")')
        described = cloudwatch.describe_alarms(AlarmNames=["parent"], AlarmTypes=["CompositeAlarm"])
        assert [a["AlarmRule"] for a in described["CompositeAlarms"]] == ['ALARM("child")']
        cloudwatch.set_alarm_state(AlarmName="parent", StateValue="ALARM", StateReason="test")
        described = cloudwatch.describe_alarms(AlarmNames=["parent"], AlarmTypes=["CompositeAlarm"])
        assert described["CompositeAlarms"][0]["StateValue"] == "ALARM"


def test_another_moto_version_is_refused(monkeypatch):
    monkeypatch.delattr(CloudWatchResponse, "put_composite_alarm", raising=False)
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(RehearsalError, match=r"checked against moto 5\.2\.5, found 9\.9\.9"):
        moto_patches.install()


# --- Lambda GetAccountSettings ------------------------------------------------------------


@pytest.fixture
def lambda_client() -> Iterator[Any]:
    """An in-process emulator's Lambda client, with the limit put back afterwards."""
    moto_patches.install()
    previous = moto_patches.account_concurrency()
    try:
        with in_process(REGION, managed_policies=False) as emulator:
            yield emulator.client("lambda")
    finally:
        moto_patches.set_account_concurrency(previous)


def _function(client: Any, iam: Any, name: str, reserved: int | None) -> None:
    role = lambda_role(iam, name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return {}\n")
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    if reserved is not None:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


def test_account_settings_report_the_limit_minus_every_reservation(lambda_client):
    empty = lambda_client.get_account_settings()
    assert empty["AccountLimit"]["ConcurrentExecutions"] == 1000, "the default quota"
    assert empty["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    assert empty["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}

    iam = boto3.client("iam", region_name=REGION)
    _function(lambda_client, iam, "route-a", 200)
    _function(lambda_client, iam, "controller", 5)
    _function(lambda_client, iam, "unreserved", None)
    moto_patches.set_account_concurrency(400)
    settings = lambda_client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 400
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 400 - 200 - 5
    assert settings["AccountUsage"]["FunctionCount"] == 3
    assert settings["AccountUsage"]["TotalCodeSize"] > 0
    assert settings["AccountLimit"]["CodeSizeZipped"] == 52_428_800


def test_account_settings_answer_on_a_moto_server_too():
    previous = moto_patches.set_account_concurrency(321)
    try:
        with server(REGION) as emulator:
            limit = emulator.client("lambda").get_account_settings()["AccountLimit"]
        assert limit["ConcurrentExecutions"] == limit["UnreservedConcurrentExecutions"] == 321
    finally:
        moto_patches.set_account_concurrency(previous)


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        moto_patches.set_account_concurrency(0)


def test_another_moto_version_is_refused_for_the_lambda_patch(monkeypatch):
    moto_patches.install()
    monkeypatch.delattr(LambdaResponse, "get_account_settings")
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(RehearsalError, match="GetAccountSettings"):
        moto_patches.install()


# --- Powertools layer parameters ------------------------------------------------------------

POWERTOOLS = "/aws/service/powertools/python/arm64/python3.12/3.37.0"


def test_the_powertools_layer_parameter_of_a_release_resolves_and_nothing_else_is_made_up():
    with in_process(REGION, managed_policies=False) as emulator:
        ssm = emulator.client("ssm")
        found = ssm.get_parameter(Name=POWERTOOLS)["Parameter"]
        assert found["Value"] == (
            f"arn:aws:lambda:{REGION}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:1"
        )
        assert found["Type"] == "String"
        assert ssm.get_parameter(Name=POWERTOOLS)["Parameter"]["Version"] == 1, "made once"
        for name in (
            "/aws/service/powertools/python/arm64/python3.12/latest",
            "/aws/service/powertools/python/sparc/python3.12/3.37.0",
            "/aws/service/powertools/python/arm64/python2.7/3.37.0",
            "/aws/service/powertools/python/arm64/python3.12",
        ):
            with pytest.raises(ssm.exceptions.ParameterNotFound):
                ssm.get_parameter(Name=name)


def test_bridge_and_plan_answer_the_get_parameter_invoke_alike(bridge):
    from rehearsal.errors import BridgeError
    from rehearsal.world.fabricate import FabricatedAnswerer

    token = "aws:ssm/getParameter:getParameter"
    answered = bridge.invoke(token, {"name": POWERTOOLS})
    planned = FabricatedAnswerer(bridge.context.region).invoke(token, {"name": POWERTOOLS})
    assert answered["insecureValue"] == answered["value"] == planned["value"]
    assert planned["insecureValue"] == planned["value"]
    with pytest.raises(BridgeError, match="ssm:GetParameter"):
        bridge.invoke(token, {"name": "/strangler/none"})
