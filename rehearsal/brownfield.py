"""The brownfield the stack config points at, created in the emulator.

Strangler attaches to things that already exist: an ALB listener whose
default action forwards to the monolith, and one ECS target group per route.
The twin creates them in moto, named after the config's ARNs, and returns
config overrides that replace the config's ARNs and ids with the emulator's,
so the real program then runs against real (emulated) resources.

The config is read defensively: a missing or malformed value is left as it
is, for the program's own validation to report with its key path.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rehearsal.emulator import Emulator

LISTENER_KEY = "strangler:listenerArn"
ROUTES_KEY = "strangler:routes"
VPC_KEY = "strangler:vpc"

_LISTENER_ARN = re.compile(r":listener/app/(?P<name>[A-Za-z0-9-]{1,32})/[0-9a-f]+/[0-9a-f]+$")
_TARGET_GROUP_ARN = re.compile(r":targetgroup/(?P<name>[A-Za-z0-9-]{1,32})/[0-9a-f]+$")

DEFAULT_LOAD_BALANCER = "monolith"
VPC_CIDR = "10.0.0.0/16"
# An ALB needs subnets in at least two Availability Zones (CreateLoadBalancer).
MIN_ALB_SUBNETS = 2
# The monolith and its ECS services answer plain HTTP on port 80 behind the ALB.
HTTP_PORT = 80


@dataclass(frozen=True)
class Brownfield:
    """What the brownfield created, and how the config maps onto it.

    ``ecs_target_group_arns`` maps each route name to its ECS target group;
    ``replacements`` maps each config value (ARN or id) to the emulator's;
    ``config_overrides`` holds the full config keys to pass to
    ``apply_program``.
    """

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    load_balancer_arn: str
    load_balancer_dns_name: str
    listener_arn: str
    monolith_target_group_arn: str
    ecs_target_group_arns: dict[str, str] = field(default_factory=dict)
    replacements: dict[str, str] = field(default_factory=dict)
    config_overrides: dict[str, Any] = field(default_factory=dict)


def _string_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(item) for item in value if isinstance(item, str)]
    return []


def _load_balancer_name(listener_arn: Any) -> str:
    if isinstance(listener_arn, str):
        found = _LISTENER_ARN.search(listener_arn)
        if found:
            return found.group("name")
    return DEFAULT_LOAD_BALANCER


def _target_group_name(arn: Any, route: str) -> str:
    if isinstance(arn, str):
        found = _TARGET_GROUP_ARN.search(arn)
        if found:
            return found.group("name")
    # Target group names: at most 32 characters.
    return f"{route}-ecs"[:32]


def _network(
    emulator: Emulator, subnet_count: int, group_count: int
) -> tuple[str, list[str], list[str]]:
    ec2 = emulator.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
    zones = [
        zone["ZoneName"]
        for zone in ec2.describe_availability_zones()["AvailabilityZones"]
        if zone.get("State", "available") == "available"
    ]
    subnet_ids = [
        ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.0.{index}.0/24",
            AvailabilityZone=zones[index % len(zones)],
        )["Subnet"]["SubnetId"]
        for index in range(max(subnet_count, MIN_ALB_SUBNETS))
    ]
    group_ids = [
        ec2.create_security_group(
            GroupName=f"brownfield-{index}",
            Description="Brownfield security group of the rehearsal",
            VpcId=vpc_id,
        )["GroupId"]
        for index in range(max(group_count, 1))
    ]
    return vpc_id, subnet_ids, group_ids


def create_brownfield(config: Mapping[str, Any], emulator: Emulator) -> Brownfield:
    """Create the VPC, ALB, listener (default: the monolith) and ECS target groups.

    ``config`` is the stack config (full keys, as in ``Pulumi.<stack>.yaml``).
    """
    elbv2 = emulator.client("elbv2")
    vpc = config.get(VPC_KEY) if isinstance(config.get(VPC_KEY), Mapping) else None
    config_subnets = _string_list(vpc.get("subnetIds")) if vpc else []
    config_groups = _string_list(vpc.get("securityGroupIds")) if vpc else []
    vpc_id, subnet_ids, group_ids = _network(emulator, len(config_subnets), len(config_groups))

    listener_arn_in_config = config.get(LISTENER_KEY)
    balancer_name = _load_balancer_name(listener_arn_in_config)
    balancer = elbv2.create_load_balancer(
        Name=balancer_name,
        Subnets=subnet_ids[:MIN_ALB_SUBNETS],
        SecurityGroups=group_ids[:1],
        Scheme="internet-facing",
        Type="application",
    )["LoadBalancers"][0]
    monolith = elbv2.create_target_group(
        Name=f"{balancer_name}-monolith"[:32],
        Protocol="HTTP",
        Port=HTTP_PORT,
        VpcId=vpc_id,
        TargetType="ip",
    )["TargetGroups"][0]["TargetGroupArn"]
    listener_arn = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=HTTP_PORT,
        # The monolith takes everything no rule claims: deleting a route's
        # rule sends its traffic back here (the original failover).
        DefaultActions=[{"Type": "forward", "TargetGroupArn": monolith}],
    )["Listeners"][0]["ListenerArn"]

    replacements: dict[str, str] = {}
    if isinstance(listener_arn_in_config, str):
        replacements[listener_arn_in_config] = listener_arn
    replacements.update(zip(config_subnets, subnet_ids, strict=False))
    replacements.update(zip(config_groups, group_ids, strict=False))

    ecs_arns: dict[str, str] = {}
    routes = config.get(ROUTES_KEY)
    new_routes: list[Any] | None = None
    if isinstance(routes, list):
        new_routes = copy.deepcopy(routes)
        for index, route in enumerate(new_routes):
            if not isinstance(route, dict):
                continue
            route_name = str(route.get("name") or f"route-{index}")
            original = route.get("ecsTargetGroupArn")
            if isinstance(original, str) and original in replacements:
                # Two routes on one ECS target group share it, as in AWS.
                arn = replacements[original]
            else:
                arn = elbv2.create_target_group(
                    Name=_target_group_name(original, route_name),
                    Protocol="HTTP",
                    Port=HTTP_PORT,
                    VpcId=vpc_id,
                    TargetType="ip",
                )["TargetGroups"][0]["TargetGroupArn"]
                if isinstance(original, str):
                    replacements[original] = arn
            ecs_arns[route_name] = arn
            if isinstance(original, str):
                route["ecsTargetGroupArn"] = arn

    overrides: dict[str, Any] = {}
    if isinstance(listener_arn_in_config, str):
        overrides[LISTENER_KEY] = listener_arn
    if new_routes is not None:
        overrides[ROUTES_KEY] = new_routes
    if vpc is not None:
        new_vpc = dict(vpc)
        if config_subnets:
            new_vpc["subnetIds"] = subnet_ids[: len(config_subnets)]
        if config_groups:
            new_vpc["securityGroupIds"] = group_ids[: len(config_groups)]
        overrides[VPC_KEY] = new_vpc

    return Brownfield(
        vpc_id=vpc_id,
        subnet_ids=tuple(subnet_ids),
        security_group_ids=tuple(group_ids),
        load_balancer_arn=balancer["LoadBalancerArn"],
        load_balancer_dns_name=balancer["DNSName"],
        listener_arn=listener_arn,
        monolith_target_group_arn=monolith,
        ecs_target_group_arns=ecs_arns,
        replacements=replacements,
        config_overrides=overrides,
    )
