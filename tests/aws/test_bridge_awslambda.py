"""Tests of rehearsal/world/bridge/awslambda.py against moto through real boto3 clients."""

from __future__ import annotations

import base64
import hashlib
import json

import pulumi
import pytest

from rehearsal.errors import BridgeError
from rehearsal.world.bridge import Bridge
from rehearsal.world.bridge.archive import archive_to_zip
from rehearsal.world.bridge.base import Change, Existing

REGION = "ap-northeast-1"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
POWERTOOLS_LAYER = (
    "arn:aws:lambda:ap-northeast-1:017000801446:layer:"
    "AWSLambdaPowertoolsPythonV3-python312-x86_64:7"
)
GROUP_ARN = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/tg/0123456789abcdef"


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@pytest.fixture(autouse=True)
def function_code(tmp_path):
    """The code at ``functions/fn``, in the bridge's project directory (tmp_path)."""
    folder = tmp_path / "functions" / "fn"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text("def handler(event, context):\n    return event\n")


def role_arn(bridge: Bridge, service: str = "lambda.amazonaws.com") -> str:
    role = bridge.create(
        "aws:iam/role:Role", f"role-{service}", {"assumeRolePolicy": trust(service)}
    )
    return str(role.outputs["arn"])


def function_inputs(role: str, **extra):
    inputs = {
        "code": pulumi.FileArchive("functions/fn"),
        "role": role,
        "handler": "app.handler",
        "runtime": "python3.12",
        # Numbers arrive as floats from Pulumi's wire format.
        "memorySize": 512.0,
        "timeout": 10.0,
        "reservedConcurrentExecutions": 200.0,
        "environment": {"variables": {"ROUTE_NAME": "map-tile"}},
        "tracingConfig": {"mode": "Active"},
        "layers": [POWERTOOLS_LAYER],
    }
    inputs.update(extra)
    return inputs


def test_function_is_created_with_code_config_and_concurrency(bridge):
    created = bridge.create(FUNCTION, "map-tile-fn", function_inputs(role_arn(bridge)))
    lam = bridge.context.client("lambda")
    described = lam.get_function(FunctionName=created.id)
    config = described["Configuration"]
    assert config["FunctionArn"] == created.outputs["arn"]
    assert config["Handler"] == "app.handler"
    assert config["Runtime"] == "python3.12"
    assert config["MemorySize"] == 512
    assert config["Timeout"] == 10
    assert config["Environment"]["Variables"] == {"ROUTE_NAME": "map-tile"}
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert described["Concurrency"]["ReservedConcurrentExecutions"] == 200
    assert created.outputs["name"] == created.id
    assert created.outputs["qualifiedArn"] == created.outputs["arn"] + ":$LATEST"
    assert created.outputs["invokeArn"] == (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
        f"{created.outputs['arn']}/invocations"
    )
    assert created.outputs["layers"], "the ignored layers stay in the output state"


def test_function_code_is_the_zipped_folder(bridge):
    created = bridge.create(FUNCTION, "fn", function_inputs(role_arn(bridge)))
    expected = archive_to_zip(pulumi.FileArchive("functions/fn"), bridge.context.project_dir)
    config = bridge.context.client("lambda").get_function_configuration(FunctionName=created.id)
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(expected).digest()).decode()
    assert config["CodeSize"] == len(expected) == created.outputs["sourceCodeSize"]
    assert created.outputs["codeSha256"] == config["CodeSha256"]


def test_function_in_a_vpc(bridge):
    ec2 = bridge.context.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc)["GroupId"]
    created = bridge.create(
        FUNCTION,
        "fn",
        function_inputs(
            role_arn(bridge), vpcConfig={"subnetIds": [subnet], "securityGroupIds": [group]}
        ),
    )
    config = bridge.context.client("lambda").get_function_configuration(FunctionName=created.id)
    assert config["VpcConfig"]["SubnetIds"] == [subnet]
    assert config["VpcConfig"]["SecurityGroupIds"] == [group]


def test_function_refuses_a_role_lambda_cannot_assume(bridge):
    with pytest.raises(BridgeError, match=r"cannot be assumed by lambda\.amazonaws\.com"):
        bridge.create(FUNCTION, "fn", function_inputs(role_arn(bridge, "states.amazonaws.com")))


def test_function_refuses_a_role_that_does_not_exist_yet(bridge):
    missing = "arn:aws:iam::123456789012:role/not-created-yet"
    with pytest.raises(BridgeError, match="does not exist"):
        bridge.create(FUNCTION, "fn", function_inputs(missing))


def test_unreserved_concurrency_makes_no_call(bridge):
    created = bridge.create(
        FUNCTION, "fn", function_inputs(role_arn(bridge), reservedConcurrentExecutions=-1)
    )
    described = bridge.context.client("lambda").get_function(FunctionName=created.id)
    assert "ReservedConcurrentExecutions" not in described.get("Concurrency", {})


def test_permission_for_the_load_balancer(bridge):
    function = bridge.create(FUNCTION, "fn", function_inputs(role_arn(bridge)))
    group_arn = GROUP_ARN
    created = bridge.create(
        PERMISSION,
        "fn-allow-alb",
        {
            "function": function.outputs["name"],
            "action": "lambda:InvokeFunction",
            "principal": "elasticloadbalancing.amazonaws.com",
            "sourceArn": group_arn,
        },
    )
    policy = json.loads(
        bridge.context.client("lambda").get_policy(FunctionName=function.id)["Policy"]
    )
    statement = policy["Statement"][0]
    assert statement["Sid"] == created.id
    assert statement["Principal"] == {"Service": "elasticloadbalancing.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == group_arn


def test_event_invoke_config_with_a_failure_destination(bridge):
    function = bridge.create(FUNCTION, "fn", function_inputs(role_arn(bridge)))
    queue_arn = f"arn:aws:sqs:{REGION}:123456789012:dlq"
    created = bridge.create(
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "fn-async",
        {
            "functionName": function.id,
            "maximumRetryAttempts": 2,
            "maximumEventAgeInSeconds": 3600,
            "destinationConfig": {"onFailure": {"destination": queue_arn}},
        },
    )
    assert created.id == function.id
    config = bridge.context.client("lambda").get_function_event_invoke_config(
        FunctionName=function.id
    )
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn


def test_new_code_publishes_a_new_version_and_the_alias_stays(bridge, tmp_path):
    inputs = function_inputs(role_arn(bridge), publish=True)
    created = bridge.create(FUNCTION, "fn", inputs)
    assert created.outputs["version"] == "1"
    alias = bridge.create(
        "aws:lambda/alias:Alias",
        "fn-live",
        {"name": "live", "functionName": created.id, "functionVersion": "1"},
    )
    assert alias.id == alias.outputs["arn"] == created.outputs["arn"] + ":live"
    changed = tmp_path / "functions" / "fn2"
    changed.mkdir()
    (changed / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
    after = {**inputs, "code": pulumi.FileArchive("functions/fn2")}
    existing = Existing(id=created.id, inputs=inputs, outputs=created.outputs)
    updated = bridge.update(Change(FUNCTION, "fn", existing, after, frozenset({"code"})))
    assert updated.outputs["version"] == "2"
    assert updated.outputs["qualifiedArn"] == created.outputs["arn"] + ":2"
    lam = bridge.context.client("lambda")
    versions = [
        v["Version"] for v in lam.list_versions_by_function(FunctionName=created.id)["Versions"]
    ]
    assert "2" in versions
    # The alias is the controller's: a new version does not move it.
    assert lam.get_alias(FunctionName=created.id, Name="live")["FunctionVersion"] == "1"


def test_permission_on_the_alias(bridge):
    created = bridge.create(FUNCTION, "fn", function_inputs(role_arn(bridge), publish=True))
    bridge.create(
        "aws:lambda/alias:Alias",
        "fn-live",
        {"name": "live", "functionName": created.id, "functionVersion": "1"},
    )
    permission = bridge.create(
        "aws:lambda/permission:Permission",
        "fn-invoke",
        {
            "function": created.id,
            "qualifier": "live",
            "action": "lambda:InvokeFunction",
            "principal": "elasticloadbalancing.amazonaws.com",
        },
    )
    policy = bridge.context.client("lambda").get_policy(FunctionName=created.id, Qualifier="live")
    assert permission.id in policy["Policy"]
