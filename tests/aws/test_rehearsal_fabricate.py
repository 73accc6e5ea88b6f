"""Tests of rehearsal/world/fabricate.py: plausible outputs for plan, without moto."""

from __future__ import annotations

import pytest

from rehearsal.errors import UnknownInvoke
from rehearsal.world.bridge.elbv2 import arn_suffix
from rehearsal.world.fabricate import FabricatedAnswerer

REGION = "ap-northeast-1"


@pytest.fixture
def answerer():
    return FabricatedAnswerer(REGION)


def test_target_group_has_arn_and_suffix(answerer):
    created = answerer.create("aws:lb/targetGroup:TargetGroup", "tg", {"name": "sl-prod-x"})
    assert created.id == created.outputs["arn"]
    assert created.outputs["arnSuffix"] == arn_suffix(created.outputs["arn"])
    assert "_id" not in created.outputs


def test_function_outputs(answerer):
    created = answerer.create("aws:lambda/function:Function", "fn", {"name": "f"})
    assert created.id == "f"
    assert created.outputs["arn"] == f"arn:aws:lambda:{REGION}:123456789012:function:f"
    assert created.outputs["invokeArn"].endswith(f"{created.outputs['arn']}/invocations")


def test_auto_names_match_the_bridge(answerer):
    from rehearsal.world.bridge.base import auto_name

    created = answerer.create("aws:iam/role:Role", "map-tile-fn-role", {})
    assert created.id == auto_name("map-tile-fn-role", 64)


def test_listener_rule_arn_derives_from_the_listener(answerer):
    listener = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:listener/app/a/1/2"
    created = answerer.create("aws:lb/listenerRule:ListenerRule", "r", {"listenerArn": listener})
    assert created.id.startswith(listener.replace(":listener/", ":listener-rule/") + "/")


def test_any_type_gets_an_arn(answerer):
    created = answerer.create("aws:s3/bucket:Bucket", "logs", {})
    assert created.outputs["arn"] == f"arn:aws:s3:{REGION}:123456789012:logs"


def test_invokes(answerer):
    assert answerer.invoke("aws:index/getRegion:getRegion", {})["name"] == REGION
    identity = answerer.invoke("aws:index/getCallerIdentity:getCallerIdentity", {})
    assert identity["accountId"] == "123456789012"
    with pytest.raises(UnknownInvoke, match="getVpc"):
        answerer.invoke("aws:ec2/getVpc:getVpc", {})
