"""One route carved off the monolith: function, traffic path and alarms."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import naming
from components.alarms import RouteAlarms, RouteAlarmsArgs
from components.alias import RouteAlias, RouteAliasArgs
from components.config import RouteConfig, StackConfig
from components.function import RouteFunction
from components.outputs import register_attributes
from components.preview import PreviewRule, PreviewRuleArgs
from components.route_scope import RouteScope
from components.traffic import RouteTraffic, RouteTrafficArgs
from components.traffic_check import TrafficCheck


@dataclass
class StranglerRouteArgs:
    """Inputs of :class:`StranglerRoute`.

    ``stack_name`` is the Pulumi stack (``pulumi.get_stack()``); it goes into
    every physical name so that two stacks in one account never collide.
    """

    route: RouteConfig
    stack: StackConfig
    stack_name: str
    topic_arn: pulumi.Input[str]


class StranglerRoute(pulumi.ComponentResource):
    """Everything one route needs, with the names the controller relies on."""

    name: str
    config: RouteConfig
    rule_arn: pulumi.Output[str]
    lambda_target_group_arn: pulumi.Output[str]
    ecs_target_group_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    function_version: pulumi.Output[str]
    alias_name: str
    alias_arn: pulumi.Output[str]
    composite_alarm_name: pulumi.Output[str]
    composite_alarm_arn: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]
    preview_rule_arn: pulumi.Output[str] | None
    check_function_name: str | None
    """The equivalence checker's name (fixed by naming.py), None without ``verify``."""

    def __init__(
        self, name: str, args: StranglerRouteArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        route = args.route
        if name != route.name:
            raise ValueError(f"component name {name!r} must be the route name {route.name!r}")
        if args.stack_name == "":
            raise ValueError("stack_name must not be empty")
        super().__init__("strangler:route:StranglerRoute", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        scope = RouteScope(route=route, stack=args.stack, stack_name=args.stack_name)

        function = RouteFunction(f"{name}-fn", scope, opts=child)
        alias = RouteAlias(
            f"{name}-alias",
            RouteAliasArgs(
                route_name=route.name,
                function_name=function.function_name,
                first_version=function.version,
            ),
            opts=child,
        )
        traffic = RouteTraffic(
            f"{name}-traffic",
            RouteTrafficArgs(
                scope=scope,
                function_name=function.function_name,
                function_arn=alias.alias_arn,
                qualifier=alias.qualifier,
            ),
            opts=child,
        )
        alarms = RouteAlarms(
            f"{name}-alarms",
            RouteAlarmsArgs(
                scope=scope,
                function_name=function.function_name,
                target_group_arn_suffix=traffic.lambda_target_group_arn_suffix,
                topic_arn=args.topic_arn,
            ),
            opts=child,
        )

        preview = (
            PreviewRule(
                f"{name}-preview",
                PreviewRuleArgs(
                    scope=scope, lambda_target_group_arn=traffic.lambda_target_group_arn
                ),
                opts=child,
            )
            if route.preview is not None
            else None
        )
        check = (
            TrafficCheck(f"{name}-check", scope, opts=child)
            if route.verify is not None and route.preview is not None
            else None
        )

        self.name = route.name
        self.config = route
        self.preview_rule_arn = preview.rule_arn if preview else None
        self.check_function_name = (
            naming.check_function_name(args.stack_name, route.name) if check else None
        )
        self.rule_arn = traffic.rule_arn
        self.lambda_target_group_arn = traffic.lambda_target_group_arn
        self.ecs_target_group_arn = pulumi.Output.from_input(route.ecs_target_group_arn)
        self.function_name = function.function_name
        self.function_arn = function.function_arn
        self.function_version = function.version
        self.alias_name = alias.alias_name
        self.alias_arn = alias.alias_arn
        self.composite_alarm_name = alarms.composite_alarm_name
        self.composite_alarm_arn = alarms.composite_alarm_arn
        self.alarm_names = alarms.alarm_names
        register_attributes(
            self,
            "rule_arn",
            "lambda_target_group_arn",
            "ecs_target_group_arn",
            "function_name",
            "function_arn",
            "function_version",
            "alias_arn",
            "composite_alarm_name",
            "composite_alarm_arn",
            "alarm_names",
            "preview_rule_arn",
            "check_function_name",
        )
