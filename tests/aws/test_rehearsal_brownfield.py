"""Tests of rehearsal/world/brownfield.py: the ALB, listener and ECS target groups of the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from rehearsal.world.brownfield import LISTENER_KEY, ROUTES_KEY, VPC_KEY, create_brownfield
from rehearsal.world.emulator import in_process
from rehearsal.world.stack_files import load_stack_config

PROJECT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-1"
LISTENER = (
    f"arn:aws:elasticloadbalancing:{REGION}:123456789012:listener/app/common-api/"
    "50dc6c495c0c9188/f2f7dc8efc522ab2"
)
ECS = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/map-ecs/6d0ecf831eec9f09"


@pytest.fixture
def emulator():
    with in_process(REGION, managed_policies=False) as emulator:
        yield emulator


def test_prod_brownfield_matches_the_config(emulator):
    config = load_stack_config(PROJECT, "prod")
    brownfield = create_brownfield(config, emulator)
    elbv2 = emulator.client("elbv2")

    [balancer] = elbv2.describe_load_balancers(LoadBalancerArns=[brownfield.load_balancer_arn])[
        "LoadBalancers"
    ]
    assert balancer["LoadBalancerName"] == "common-api", "named after the config's listener"
    [listener] = elbv2.describe_listeners(ListenerArns=[brownfield.listener_arn])["Listeners"]
    assert (
        listener["DefaultActions"]
        == [{"Type": "forward", "TargetGroupArn": brownfield.monolith_target_group_arn}]
        or listener["DefaultActions"][0]["TargetGroupArn"] == brownfield.monolith_target_group_arn
    )
    ecs_arn = brownfield.ecs_target_group_arns["map-tile"]
    [group] = elbv2.describe_target_groups(TargetGroupArns=[ecs_arn])["TargetGroups"]
    assert group["TargetGroupName"] == "map-ecs"
    assert group["TargetType"] == "ip"
    assert group["VpcId"] == brownfield.vpc_id

    overrides = brownfield.config_overrides
    assert overrides[LISTENER_KEY] == brownfield.listener_arn
    assert overrides[ROUTES_KEY][0]["ecsTargetGroupArn"] == ecs_arn
    assert overrides[ROUTES_KEY][0]["function"] == config[ROUTES_KEY][0]["function"]
    assert overrides[VPC_KEY] == {
        "subnetIds": list(brownfield.subnet_ids),
        "securityGroupIds": list(brownfield.security_group_ids),
    }
    assert config[ROUTES_KEY][0]["ecsTargetGroupArn"] == ECS, "the input config is not changed"
    assert brownfield.replacements[LISTENER] == brownfield.listener_arn
    assert brownfield.replacements[ECS] == ecs_arn


def test_subnets_span_two_zones_for_the_load_balancer(emulator):
    brownfield = create_brownfield({LISTENER_KEY: LISTENER}, emulator)
    subnets = emulator.client("ec2").describe_subnets(SubnetIds=list(brownfield.subnet_ids))[
        "Subnets"
    ]
    assert len({s["AvailabilityZone"] for s in subnets}) >= 2
    assert VPC_KEY not in brownfield.config_overrides, "no vpc in the config, none added"


def test_routes_sharing_an_ecs_target_group_share_it(emulator):
    routes = [
        {"name": "a", "ecsTargetGroupArn": ECS},
        {"name": "b", "ecsTargetGroupArn": ECS},
        {"name": "c", "ecsTargetGroupArn": ECS.replace("map-ecs", "poi-ecs")},
    ]
    brownfield = create_brownfield({LISTENER_KEY: LISTENER, ROUTES_KEY: routes}, emulator)
    arns = brownfield.ecs_target_group_arns
    assert arns["a"] == arns["b"] != arns["c"]
    names = {
        g["TargetGroupName"]
        for g in emulator.client("elbv2").describe_target_groups()["TargetGroups"]
    }
    assert names == {"map-ecs", "poi-ecs", "common-api-monolith"}


def test_malformed_values_are_left_for_the_program_to_report(emulator):
    routes = [
        {"name": "a", "ecsTargetGroupArn": 42},
        {"name": "b", "ecsTargetGroupArn": "arn:aws:elasticloadbalancing:typo"},
        "not-a-route",
    ]
    config = {
        LISTENER_KEY: "not-an-arn",
        ROUTES_KEY: routes,
        VPC_KEY: {"subnetIds": ["subnet-0a1b", "subnet-XYZ", 7], "securityGroupIds": "sg-1"},
    }
    brownfield = create_brownfield(config, emulator)
    overrides = brownfield.config_overrides
    assert LISTENER_KEY not in overrides, "a malformed listener ARN is not hidden"
    assert overrides[ROUTES_KEY] == routes
    assert brownfield.ecs_target_group_arns == {}
    assert overrides[VPC_KEY] == {
        "subnetIds": [brownfield.subnet_ids[0], "subnet-XYZ", 7],
        "securityGroupIds": "sg-1",
    }


def test_missing_keys_add_nothing(emulator):
    brownfield = create_brownfield({}, emulator)
    assert brownfield.config_overrides == {}
    assert brownfield.listener_arn.startswith("arn:aws:elasticloadbalancing:")
