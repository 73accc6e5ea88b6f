"""What the canary controller needs of one route, and where it reads it from.

:class:`ControllerRoute` is the controller's view of a route: resolved config
(name, plan, schedule) and the outputs of the route's components. It is built
from anything shaped like a :class:`~components.route.StranglerRoute`
(:class:`StackRouteLike`), so the controller does not depend on the route
component itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi

from controller.core.contract import PlanRecord
from controller.core.release import ReleasePlanRecord


class _CanaryLike(Protocol):
    @property
    def schedule(self) -> str | None: ...

    @property
    def timezone(self) -> str | None: ...

    def plan_record(self) -> PlanRecord: ...


class _RouteConfigLike(Protocol):
    @property
    def canary(self) -> _CanaryLike: ...

    @property
    def release(self) -> ReleasePlanRecord: ...


class StackRouteLike(Protocol):
    """What :class:`ControllerRoute.from_route` reads of a route component."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> _RouteConfigLike: ...

    @property
    def rule_arn(self) -> pulumi.Output[str]: ...

    @property
    def ecs_target_group_arn(self) -> pulumi.Output[str]: ...

    @property
    def lambda_target_group_arn(self) -> pulumi.Output[str]: ...

    @property
    def function_name(self) -> pulumi.Output[str]: ...

    @property
    def composite_alarm_name(self) -> pulumi.Output[str]: ...

    @property
    def composite_alarm_arn(self) -> pulumi.Output[str]: ...

    @property
    def alarm_names(self) -> pulumi.Output[list[str]]: ...

    @property
    def function_version(self) -> pulumi.Output[str]: ...

    @property
    def alias_name(self) -> str: ...


@dataclass(frozen=True)
class ControllerRoute:
    """What the controller needs of one route."""

    name: str
    listener_arn: str
    plan: PlanRecord
    rule_arn: pulumi.Input[str]
    ecs_target_group_arn: pulumi.Input[str]
    lambda_target_group_arn: pulumi.Input[str]
    function_name: pulumi.Input[str]
    composite_alarm_name: pulumi.Input[str]
    composite_alarm_arn: pulumi.Input[str]
    alarm_names: pulumi.Input[Sequence[str]]
    schedule: str | None = None
    timezone: str | None = None
    function_version: pulumi.Input[str] | None = None
    alias_name: str | None = None
    release: ReleasePlanRecord | None = None

    @staticmethod
    def from_route(route: StackRouteLike, listener_arn: str) -> ControllerRoute:
        """From a ``StranglerRoute`` component and the stack's listener ARN."""
        canary = route.config.canary
        return ControllerRoute(
            name=route.name,
            listener_arn=listener_arn,
            plan=canary.plan_record(),
            rule_arn=route.rule_arn,
            ecs_target_group_arn=route.ecs_target_group_arn,
            lambda_target_group_arn=route.lambda_target_group_arn,
            function_name=route.function_name,
            composite_alarm_name=route.composite_alarm_name,
            composite_alarm_arn=route.composite_alarm_arn,
            alarm_names=route.alarm_names,
            schedule=canary.schedule,
            timezone=canary.timezone,
            function_version=route.function_version,
            alias_name=route.alias_name,
            release=route.config.release,
        )
