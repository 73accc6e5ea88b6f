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
