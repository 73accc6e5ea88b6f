"""Tests of rehearsal/world/bridge/elbv2.py against moto through real boto3 clients."""

from __future__ import annotations

import json

import pulumi
import pytest

from rehearsal.errors import BridgeError
from rehearsal.world.bridge import Bridge
from rehearsal.world.bridge.elbv2 import arn_suffix
from tests.aws_fixtures import alb_listener

REGION = "ap-northeast-1"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
RULE = "aws:lb/listenerRule:ListenerRule"


@pytest.fixture(autouse=True)
def function_code(tmp_path):
    """The code at ``fn``, in the bridge's project directory (tmp_path)."""
    folder = tmp_path / "fn"
    folder.mkdir()
    (folder / "app.py").write_text("def handler(event, context):\n    return {}\n")


def lambda_target_group(bridge: Bridge, name: str = "map-tile-tg"):
    return bridge.create(
        TARGET_GROUP,
        name,
        {
            "targetType": "lambda",
            "lambdaMultiValueHeadersEnabled": True,
            "healthCheck": {
                "enabled": True,
                "path": "/map/v1/tile/health",
                "interval": 35,
                "timeout": 30,
                "healthyThreshold": 2,
                "unhealthyThreshold": 2,
                "matcher": "200",
            },
        },
    )


def function_arn(bridge: Bridge) -> str:
    role = bridge.create(
        "aws:iam/role:Role",
        "fn-role",
        {
            "assumeRolePolicy": json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            )
        },
    )
    return bridge.create(
        "aws:lambda/function:Function",
        "fn",
        {
            "code": pulumi.FileArchive("fn"),
            "role": role.outputs["arn"],
            "handler": "app.handler",
            "runtime": "python3.12",
        },
    ).outputs["arn"]


def listener(bridge: Bridge) -> tuple[str, str]:
    """A listener on an ALB and the ARN of an ECS (ip) target group."""
    ec2, elbv2 = bridge.context.client("ec2"), bridge.context.client("elbv2")
    return alb_listener(ec2, elbv2, REGION)


def test_arn_suffix_is_the_cloudwatch_dimension():
    arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg/0123456789abcdef"
    assert arn_suffix(arn) == "targetgroup/tg/0123456789abcdef"


def test_lambda_target_group_with_health_check_and_attribute(bridge):
    created = lambda_target_group(bridge)
    elbv2 = bridge.context.client("elbv2")
    group = elbv2.describe_target_groups(TargetGroupArns=[created.id])["TargetGroups"][0]
    assert group["TargetType"] == "lambda"
    assert group["HealthCheckEnabled"] is True
    assert group["HealthCheckPath"] == "/map/v1/tile/health"
    assert group["HealthCheckIntervalSeconds"] == 35
    assert group["Matcher"] == {"HttpCode": "200"}
    attributes = {
        a["Key"]: a["Value"]
        for a in elbv2.describe_target_group_attributes(TargetGroupArn=created.id)["Attributes"]
    }
    assert attributes["lambda.multi_value_headers.enabled"] == "true"
    assert created.outputs["arn"] == created.id == group["TargetGroupArn"]
    assert created.outputs["arnSuffix"] == arn_suffix(created.id)
    assert len(created.outputs["name"]) <= 32


def test_attachment_registers_the_function_once_permitted(bridge):
    group = lambda_target_group(bridge)
    target = function_arn(bridge)
    bridge.create(
        "aws:lambda/permission:Permission",
        "allow-alb",
        {
            "function": target,
            "action": "lambda:InvokeFunction",
            "principal": "elasticloadbalancing.amazonaws.com",
            "sourceArn": group.id,
        },
    )
    bridge.create(ATTACHMENT, "attach", {"targetGroupArn": group.id, "targetId": target})
    health = bridge.context.client("elbv2").describe_target_health(TargetGroupArn=group.id)
    assert [d["Target"]["Id"] for d in health["TargetHealthDescriptions"]] == [target]


def test_attachment_before_the_permission_fails_as_in_aws(bridge):
    group = lambda_target_group(bridge)
    target = function_arn(bridge)
    with pytest.raises(BridgeError, match=r"RegisterTargets.*depends_on"):
        bridge.create(ATTACHMENT, "attach", {"targetGroupArn": group.id, "targetId": target})


def test_attachment_with_a_permission_for_another_group_fails(bridge):
    group = lambda_target_group(bridge)
    other = lambda_target_group(bridge, "other-tg")
    target = function_arn(bridge)
    bridge.create(
        "aws:lambda/permission:Permission",
        "allow-other",
        {
            "function": target,
            "action": "lambda:InvokeFunction",
            "principal": "elasticloadbalancing.amazonaws.com",
            "sourceArn": other.id,
        },
    )
    with pytest.raises(BridgeError, match="does not let"):
        bridge.create(ATTACHMENT, "attach", {"targetGroupArn": group.id, "targetId": target})


def test_listener_rule_with_weighted_forward_and_conditions(bridge):
    listener_arn, ecs = listener(bridge)
    group = lambda_target_group(bridge)
    created = bridge.create(
        RULE,
        "map-tile-rule",
        {
            "listenerArn": listener_arn,
            "priority": 100,
            "conditions": [
                {"pathPattern": {"values": ["/map/v1/tile/*"]}},
                {"httpRequestMethod": {"values": ["GET", "HEAD"]}},
                {"hostHeader": {"values": ["maps.example.com"]}},
            ],
            "actions": [
                {
                    "type": "forward",
                    "forward": {
                        "targetGroups": [
                            {"arn": ecs, "weight": 999},
                            {"arn": group.id, "weight": 0},
                        ]
                    },
                }
            ],
        },
    )
    rule = bridge.context.client("elbv2").describe_rules(RuleArns=[created.id])["Rules"][0]
    assert created.outputs["arn"] == rule["RuleArn"]
    assert rule["Priority"] == "100"
    forward = rule["Actions"][0]["ForwardConfig"]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in forward["TargetGroups"]}
    assert weights == {ecs: 999, group.id: 0}
    fields = {c["Field"]: c for c in rule["Conditions"]}
    assert fields["path-pattern"]["PathPatternConfig"]["Values"] == ["/map/v1/tile/*"]
    assert fields["http-request-method"]["HttpRequestMethodConfig"]["Values"] == ["GET", "HEAD"]
    assert fields["host-header"]["HostHeaderConfig"]["Values"] == ["maps.example.com"]


def test_listener_rule_carries_its_tags(bridge):
    listener_arn, ecs = listener(bridge)
    created = bridge.create(
        RULE,
        "map-tile-preview",
        {
            "listenerArn": listener_arn,
            "priority": 99,
            "conditions": [
                {"pathPattern": {"values": ["/map/v1/tile/*"]}},
                {"httpHeader": {"httpHeaderName": "X-Strangler-Preview", "values": ["map-tile"]}},
            ],
            "actions": [{"type": "forward", "forward": {"targetGroups": [{"arn": ecs}]}}],
            "tags": {"strangler:route": "map-tile", "strangler:rule": "preview"},
        },
    )
    (described,) = bridge.context.client("elbv2").describe_tags(ResourceArns=[created.id])[
        "TagDescriptions"
    ]
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {
        "strangler:route": "map-tile",
        "strangler:rule": "preview",
    }


def test_listener_rule_refuses_an_untranslated_action(bridge):
    listener_arn, _ = listener(bridge)
    with pytest.raises(BridgeError, match=r"listenerRule:ListenerRule 'r'.*'redirect'"):
        bridge.create(
            RULE,
            "r",
            {
                "listenerArn": listener_arn,
                "priority": 5,
                "conditions": [{"pathPattern": {"values": ["/x"]}}],
                "actions": [{"type": "redirect", "redirect": {"statusCode": "HTTP_301"}}],
            },
        )
