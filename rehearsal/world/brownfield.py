"""The brownfield the stack config points at, created in the emulator.

Strangler attaches to things that already exist: an ALB listener whose
default action forwards to the monolith, one ECS target group per route, and
(for a route with ``ecsService``) the monolith's ECS service with its
Application Auto Scaling scalable target.
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

from rehearsal.world.emulator import Emulator

LISTENER_KEY = "strangler:listenerArn"
ROUTES_KEY = "strangler:routes"
VPC_KEY = "strangler:vpc"

# Only well-formed values are replaced: a malformed one stays in the config
# so that the program's validation reports it with its key path.
_ELB_ARN = r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:"
_LISTENER_ARN = re.compile(
    _ELB_ARN + r"listener/app/(?P<name>[A-Za-z0-9-]{1,32})/[0-9a-f]+/[0-9a-f]+$"
)
_TARGET_GROUP_ARN = re.compile(_ELB_ARN + r"targetgroup/(?P<name>[A-Za-z0-9-]{1,32})/[0-9a-f]+$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]+$")
_SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]+$")

DEFAULT_LOAD_BALANCER = "monolith"
VPC_CIDR = "10.0.0.0/16"
# An ALB needs subnets in at least two Availability Zones (CreateLoadBalancer).
MIN_ALB_SUBNETS = 2
# The monolith and its ECS services answer plain HTTP on port 80 behind the ALB.
HTTP_PORT = 80
# The monolith's ECS service before the canary: 12 tasks, and a scalable target
# that may scale it in to 2 and out to 40 (the numbers of the capacity guard's
# example in the README).
ECS_DESIRED_COUNT = 12
ECS_MIN_CAPACITY = 2
ECS_MAX_CAPACITY = 40
ECS_SCALABLE_DIMENSION = "ecs:service:DesiredCount"
_ECS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


@dataclass(frozen=True)
class Brownfield:
    """What the brownfield created, and how the config maps onto it.

    ``ecs_target_group_arns`` maps each route name (with a well-formed ECS
    target group ARN in the config) to its ECS target group;
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
    ecs_services: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Route name -> (cluster, service) of its ``ecsService``, created with a scalable target."""
    replacements: dict[str, str] = field(default_factory=dict)
    config_overrides: dict[str, Any] = field(default_factory=dict)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _matching(pattern: re.Pattern[str], value: Any) -> re.Match[str] | None:
    return pattern.match(value) if isinstance(value, str) else None


def _replace_ids(
    configured: list[Any], created: list[str], pattern: re.Pattern[str]
) -> tuple[list[Any], dict[str, str]]:
    """Positional replacement of the well-formed ids; malformed ones stay."""
    replaced: list[Any] = []
    mapping: dict[str, str] = {}
    for original, new in zip(configured, created, strict=False):
        if _matching(pattern, original):
            replaced.append(new)
            mapping[original] = new
        else:
            replaced.append(original)
    return replaced, mapping


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
    config_subnets = _list(vpc.get("subnetIds")) if vpc else []
    config_groups = _list(vpc.get("securityGroupIds")) if vpc else []
    vpc_id, subnet_ids, group_ids = _network(emulator, len(config_subnets), len(config_groups))

    configured_listener = _matching(_LISTENER_ARN, config.get(LISTENER_KEY))
    balancer_name = (
        configured_listener.group("name") if configured_listener else DEFAULT_LOAD_BALANCER
    )
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
    if configured_listener:
        replacements[configured_listener.string] = listener_arn
    new_subnets, subnet_mapping = _replace_ids(config_subnets, subnet_ids, _SUBNET_ID)
    new_groups, group_mapping = _replace_ids(config_groups, group_ids, _SECURITY_GROUP_ID)
    replacements.update(subnet_mapping)
    replacements.update(group_mapping)

    ecs_arns: dict[str, str] = {}
    routes = config.get(ROUTES_KEY)
    new_routes: list[Any] | None = None
    if isinstance(routes, list):
        new_routes = copy.deepcopy(routes)
        for index, route in enumerate(new_routes):
            if not isinstance(route, dict):
                continue
            route_name = str(route.get("name") or f"route-{index}")
            original = _matching(_TARGET_GROUP_ARN, route.get("ecsTargetGroupArn"))
            if original is None:
                continue
            if original.string in replacements:
                # Two routes on one ECS target group share it, as in AWS.
                arn = replacements[original.string]
            else:
                arn = elbv2.create_target_group(
                    Name=original.group("name"),
                    Protocol="HTTP",
                    Port=HTTP_PORT,
                    VpcId=vpc_id,
                    TargetType="ip",
                )["TargetGroups"][0]["TargetGroupArn"]
                replacements[original.string] = arn
            ecs_arns[route_name] = arn
            route["ecsTargetGroupArn"] = arn
    services = _ecs_services(emulator, routes if isinstance(routes, list) else [])

    overrides: dict[str, Any] = {}
    if configured_listener:
        overrides[LISTENER_KEY] = listener_arn
    if new_routes is not None:
        overrides[ROUTES_KEY] = new_routes
    if vpc is not None:
        new_vpc = dict(vpc)
        if config_subnets:
            new_vpc["subnetIds"] = new_subnets
        if config_groups:
            new_vpc["securityGroupIds"] = new_groups
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
        ecs_services=services,
        replacements=replacements,
        config_overrides=overrides,
    )


def _ecs_services(emulator: Emulator, routes: list[Any]) -> dict[str, tuple[str, str]]:
    """Each well-formed ``ecsService`` of the routes: cluster, service and scalable target.

    The names are the config's own (ECS names are not ARNs the emulator
    invents), so nothing is replaced. Two routes on one service share it.
    """
    ecs = emulator.client("ecs")
    autoscaling = emulator.client("application-autoscaling")
    created: dict[tuple[str, str], None] = {}
    services: dict[str, tuple[str, str]] = {}
    for index, route in enumerate(routes):
        if not isinstance(route, Mapping) or not isinstance(route.get("ecsService"), Mapping):
            continue
        cluster = route["ecsService"].get("cluster")
        service = route["ecsService"].get("service")
        if not (_matching(_ECS_NAME, cluster) and _matching(_ECS_NAME, service)):
            continue
        route_name = str(route.get("name") or f"route-{index}")
        services[route_name] = (cluster, service)
        if (cluster, service) in created:
            continue
        created[(cluster, service)] = None
        ecs.create_cluster(clusterName=cluster)
        ecs.register_task_definition(
            family=service,
            containerDefinitions=[{"name": "monolith", "image": "monolith", "memory": 512}],
        )
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=service,
            desiredCount=ECS_DESIRED_COUNT,
        )
        autoscaling.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{cluster}/{service}",
            ScalableDimension=ECS_SCALABLE_DIMENSION,
            MinCapacity=ECS_MIN_CAPACITY,
            MaxCapacity=ECS_MAX_CAPACITY,
        )
    return services


# A second ECS target group gets the first one's name plus this suffix and a
# number (the first free one), within ELB's 32 characters.
REPLACEMENT_SUFFIX = "-v"
TARGET_GROUP_NAME_MAX = 32


def create_replacement_ecs_target_group(
    emulator: Emulator, brownfield: Brownfield, current_arn: str
) -> str:
    """A second ECS target group like ``current_arn``, in the brownfield's VPC; its ARN.

    What a team does when the monolith's service moves to a new target group
    (a blue/green switch, a new port): the route's ``ecsTargetGroupArn`` in
    the config then changes to it. It is an ``ip`` target group on HTTP 80
    like the first; the rehearsal sends its traffic to an ECS stand-in.
    """
    elbv2 = emulator.client("elbv2")
    current = elbv2.describe_target_groups(TargetGroupArns=[current_arn])["TargetGroups"][0]
    taken = {
        group["TargetGroupName"]
        for page in elbv2.get_paginator("describe_target_groups").paginate()
        for group in page["TargetGroups"]
    }
    # A replacement of a replacement is numbered on from the original's name.
    base_name = re.sub(rf"{REPLACEMENT_SUFFIX}\d+$", "", str(current["TargetGroupName"]))
    number = 2
    while True:
        suffix = f"{REPLACEMENT_SUFFIX}{number}"
        name = f"{base_name[: TARGET_GROUP_NAME_MAX - len(suffix)]}{suffix}"
        if name not in taken:
            break
        number += 1
    created = elbv2.create_target_group(
        Name=name,
        Protocol=str(current.get("Protocol") or "HTTP"),
        Port=int(current.get("Port") or HTTP_PORT),
        VpcId=brownfield.vpc_id,
        TargetType=str(current.get("TargetType") or "ip"),
    )
    return str(created["TargetGroups"][0]["TargetGroupArn"])
