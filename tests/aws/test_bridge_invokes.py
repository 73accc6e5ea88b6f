"""Tests of rehearsal/world/bridge/invokes.py: provider functions answered from moto."""

from __future__ import annotations

import pytest

from rehearsal.errors import UnknownInvoke

REGION = "ap-northeast-1"


def test_caller_identity_comes_from_sts(bridge):
    answer = bridge.invoke("aws:index/getCallerIdentity:getCallerIdentity", {})
    assert answer["accountId"] == "123456789012"
    assert answer["arn"].startswith("arn:aws:")


def test_region_and_partition(bridge):
    assert bridge.invoke("aws:index/getRegion:getRegion", {})["name"] == REGION
    assert bridge.invoke("aws:index/getPartition:getPartition", {})["partition"] == "aws"


def test_unknown_invoke_names_the_token(bridge):
    with pytest.raises(UnknownInvoke, match="aws:ec2/getVpc:getVpc"):
        bridge.invoke("aws:ec2/getVpc:getVpc", {})


def test_listener_and_load_balancer_come_from_elbv2(bridge):
    """What the traffic checker's ALB address is built from (components/traffic_check.py)."""
    from rehearsal.world.brownfield import create_brownfield

    brownfield = create_brownfield({}, bridge.context.emulator)
    listener = bridge.invoke("aws:lb/getListener:getListener", {"arn": brownfield.listener_arn})
    assert listener["loadBalancerArn"] == brownfield.load_balancer_arn
    assert (listener["protocol"], listener["port"]) == ("HTTP", 80)
    balancer = bridge.invoke(
        "aws:lb/getLoadBalancer:getLoadBalancer", {"arn": listener["loadBalancerArn"]}
    )
    assert balancer["dnsName"] == brownfield.load_balancer_dns_name
