"""The route registry in SSM: one parameter per route and one for the stack.

The values come from :mod:`components.controller_registry`; the controller
Lambda and the operator CLI find every ARN and name of a stack from them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.controller_registry import parameter_value
from components.controller_route import ControllerRoute
from components.moved import FormerParent, MovedComponent
from components.outputs import register_attributes
from controller.core.contract import (
    RouteRecord,
    StackRecord,
    route_parameter_name,
    stack_parameter_name,
)

TYPE_TOKEN = "strangler:registry:ControllerRegistry"


@dataclass
class ControllerRegistryArgs:
    """Inputs of :class:`ControllerRegistry`."""

    stack: str
    routes: Sequence[ControllerRoute]
    table_name: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    controller_function_name: pulumi.Input[str]
    dashboard_name: pulumi.Input[str]
    former_parent: FormerParent | None = None


def _route_value(stack: str, route: ControllerRoute, values: list[Any]) -> str:
    """The registry value of one route, from its resolved outputs (in ``Output.all`` order)."""
    record = RouteRecord(
        route=route.name,
        listener_arn=route.listener_arn,
        rule_arn=values[0],
        ecs_target_group_arn=values[1],
        lambda_target_group_arn=values[2],
        function_name=values[3],
        composite_alarm_name=values[4],
        composite_alarm_arn=values[5],
        alarm_names=tuple(values[6]),
        plan=route.plan,
        schedule_name=naming.schedule_name(stack, route.name) if route.schedule else None,
        schedule=route.schedule,
        timezone=route.timezone,
        check_function_name=route.check_function_name,
        function_version=values[7],
        alias_name=route.alias_name,
        release=route.release,
        capacity=route.capacity,
        gate=route.gate,
    )
    return parameter_value(record, route_parameter_name(stack, route.name))


class ControllerRegistry(MovedComponent):
    """One String parameter per route and one for the stack (Standard tier)."""

    route_parameter_names: dict[str, pulumi.Output[str]]
    stack_parameter_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ControllerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, args.former_parent, opts)
        stack = args.stack

        def parameter(
            resource_name: str,
            former_suffix: str,
            parameter_name: str,
            description: str,
            value: pulumi.Output[str],
        ) -> aws.ssm.Parameter:
            return aws.ssm.Parameter(
                f"{name}-{resource_name}",
                name=parameter_name,
                type="String",
                tier="Standard",
                description=f"Strangler registry: {description}",
                # Not secret: `insecure_value` lets a preview show the registry's diff.
                insecure_value=value,
                opts=self.child(former_suffix, delete_before_replace=True),
            )

        self.route_parameter_names = {}
        for route in args.routes:
            values = pulumi.Output.all(
                route.rule_arn,
                route.ecs_target_group_arn,
                route.lambda_target_group_arn,
                route.function_name,
                route.composite_alarm_name,
                route.composite_alarm_arn,
                route.alarm_names,
                route.function_version,
            )
            # "route-": a route called "stack" must not collide with the stack record.
            self.route_parameter_names[route.name] = parameter(
                f"route-{route.name}",
                f"{route.name}-record",
                route_parameter_name(stack, route.name),
                f"route {route.name} of stack {stack}",
                values.apply(functools.partial(_route_value, stack, route)),
            ).name

        # Sorted, so that the stack record's value does not depend on the config's order.
        route_names = tuple(sorted(route.name for route in args.routes))
        stack_parameter = stack_parameter_name(stack)
        stack_values = pulumi.Output.all(
            args.table_name,
            args.state_machine_arn,
            args.topic_arn,
            args.controller_function_name,
            args.dashboard_name,
        )
        self.stack_parameter_name = parameter(
            "stack",
            "stack-record",
            stack_parameter,
            f"stack {stack}",
            stack_values.apply(
                lambda v: parameter_value(
                    StackRecord(
                        stack=stack,
                        table_name=v[0],
                        state_machine_arn=v[1],
                        topic_arn=v[2],
                        controller_function_name=v[3],
                        dashboard_name=v[4],
                        routes=route_names,
                    ),
                    stack_parameter,
                )
            ),
        ).name
        register_attributes(self, "route_parameter_names", "stack_parameter_name")
