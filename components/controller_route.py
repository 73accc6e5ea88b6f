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

from controller.core.contract import CapacityRecord, GateRecord, PlanRecord
from controller.core.release import ReleasePlanRecord


class _CanaryLike(Protocol):
    @property
    def schedule(self) -> str | None: ...

    @property
    def timezone(self) -> str | None: ...

    def plan_record(self) -> PlanRecord: ...

    @property
    def concurrency_headroom_percent(self) -> float | None: ...

    @property
    def expected_peak_rps(self) -> float | None: ...


class _EcsServiceLike(Protocol):
    @property
    def cluster(self) -> str: ...

    @property
    def service(self) -> str: ...

    @property
    def hold_hours(self) -> float: ...


class _FunctionLike(Protocol):
    @property
    def reserved_concurrency(self) -> int: ...

    @property
    def timeout_seconds(self) -> int: ...


class _RouteConfigLike(Protocol):
    @property
    def canary(self) -> _CanaryLike: ...

    @property
    def release(self) -> ReleasePlanRecord: ...

    @property
    def function(self) -> _FunctionLike: ...

    @property
    def ecs_service(self) -> _EcsServiceLike | None: ...


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
    def check_function_name(self) -> str | None: ...

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
    check_function_name: str | None = None
    function_version: pulumi.Input[str] | None = None
    alias_name: str | None = None
    release: ReleasePlanRecord | None = None
    capacity: CapacityRecord | None = None
    gate: GateRecord | None = None

    @staticmethod
    def from_route(route: StackRouteLike, listener_arn: str) -> ControllerRoute:
        """From a ``StranglerRoute`` component and the stack's listener ARN."""
        canary = route.config.canary
        ecs = route.config.ecs_service
        capacity = (
            CapacityRecord(cluster=ecs.cluster, service=ecs.service, hold_hours=ecs.hold_hours)
            if ecs is not None
            else None
        )
        gate = None
        if canary.concurrency_headroom_percent is not None:
            gate = GateRecord(
                headroom_percent=canary.concurrency_headroom_percent,
                reserved_concurrency=route.config.function.reserved_concurrency,
                timeout_seconds=route.config.function.timeout_seconds,
                expected_peak_rps=canary.expected_peak_rps,
            )
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
            check_function_name=route.check_function_name,
            function_version=route.function_version,
            alias_name=route.alias_name,
            release=route.config.release,
            capacity=capacity,
            gate=gate,
        )
