"""Tests of rehearsal/world/bridge/iam.py against moto through real boto3 clients."""

from __future__ import annotations

import functools
import json

import pytest

from rehearsal.errors import BridgeError
from rehearsal.world.bridge import Bridge
from rehearsal.world.bridge.iam import check_trust
from rehearsal.world.emulator import in_process

REGION = "ap-northeast-1"


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
}


def test_role_is_created_with_its_trust_policy(bridge):
    created = bridge.create(
        "aws:iam/role:Role",
        "map-tile-role",
        {"assumeRolePolicy": trust("lambda.amazonaws.com"), "description": "route fn"},
    )
    role = bridge.context.client("iam").get_role(RoleName=created.id)["Role"]
    assert created.outputs["arn"] == role["Arn"]
    assert created.outputs["name"] == created.id
    assert created.id.startswith("map-tile-role-"), "auto-named like Pulumi"
    assert role["Description"] == "route fn"
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_role_with_explicit_name_and_inline_policies(bridge):
    created = bridge.create(
        "aws:iam/role:Role",
        "r",
        {
            "name": "explicit-role",
            "assumeRolePolicy": trust("states.amazonaws.com"),
            "inlinePolicies": [{"name": "inline", "policy": json.dumps(POLICY)}],
        },
    )
    assert created.id == "explicit-role"
    names = bridge.context.client("iam").list_role_policies(RoleName="explicit-role")
    assert names["PolicyNames"] == ["inline"]


def test_role_policy_puts_the_document(bridge):
    role = bridge.create("aws:iam/role:Role", "r", {"assumeRolePolicy": trust("x")})
    created = bridge.create(
        "aws:iam/rolePolicy:RolePolicy",
        "r-policy",
        {"role": role.id, "policy": json.dumps(POLICY)},
    )
    assert created.id == f"{role.id}:{created.outputs['name']}"
    stored = bridge.context.client("iam").get_role_policy(
        RoleName=role.id, PolicyName=created.outputs["name"]
    )
    assert stored["PolicyDocument"] == POLICY


def test_role_policy_on_a_missing_role_fails_naming_the_call(bridge):
    with pytest.raises(BridgeError, match=r"'p' \(iam:PutRolePolicy\)"):
        bridge.create("aws:iam/rolePolicy:RolePolicy", "p", {"role": "nope", "policy": POLICY})


def test_attachment_of_an_aws_managed_policy(tmp_path):
    # Needs moto's copy of the AWS-managed policies, as the twin loads them.
    with in_process(REGION) as emulator:
        bridge = Bridge(emulator, tmp_path)
        role = bridge.create("aws:iam/role:Role", "r", {"assumeRolePolicy": trust("x")})
        arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        bridge.create(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "r-logs",
            {"role": role.id, "policyArn": arn},
        )
        attached = emulator.client("iam").list_attached_role_policies(RoleName=role.id)
        assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [arn]
        with pytest.raises(BridgeError, match="AttachRolePolicy"):
            bridge.create(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "r-typo",
                {"role": role.id, "policyArn": arn + "Typo"},
            )


def test_check_trust_accepts_the_service_and_refuses_others(bridge):
    role = bridge.create(
        "aws:iam/role:Role", "r", {"assumeRolePolicy": trust("lambda.amazonaws.com")}
    )
    arn = role.outputs["arn"]
    check = functools.partial(check_trust, bridge.context, token="t", name="n")
    check(role_arn=arn, principals=("lambda.amazonaws.com",), api_call="lambda:CreateFunction")
    with pytest.raises(BridgeError, match=r"cannot be assumed by states\.amazonaws\.com"):
        check(
            role_arn=arn,
            principals=("states.amazonaws.com",),
            api_call="states:CreateStateMachine",
        )
    with pytest.raises(BridgeError, match="does not exist"):
        check(
            role_arn=arn + "-missing",
            principals=("lambda.amazonaws.com",),
            api_call="lambda:CreateFunction",
        )
