"""The route registry the deploy writes: record values for the SSM parameters.

``/strangler/{stack}/stack`` holds a :class:`~controller.core.contract.StackRecord`
and ``/strangler/{stack}/routes/{route}`` one
:class:`~controller.core.contract.RouteRecord` per route (names from
``controller/core/contract.py``). The controller Lambda and the operator CLI find
every ARN and name from these, given only the stack name. Pure: the component
calls these inside ``Output.all(...).apply``.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.core.contract import (
    CapacityRecord,
    GateRecord,
    PlanRecord,
    RouteRecord,
    StackRecord,
)
from controller.core.release import ReleasePlanRecord

# SSM quotas: a Standard-tier parameter value is at most 4 KB. One parameter per
# route keeps each record far below it; a record that still grows past it (a
# route with very many alarms) fails the deploy with this message instead of
# an opaque ValidationException.
MAX_STANDARD_PARAMETER_BYTES = 4096


class RegistryError(ValueError):
    """A registry record cannot be stored as a Standard SSM parameter."""


def parameter_value(record: RouteRecord | StackRecord, parameter_name: str) -> str:
    """The record's JSON, checked against the Standard-tier size limit."""
    text = record.to_json()
    size = len(text.encode())
    if size > MAX_STANDARD_PARAMETER_BYTES:
        raise RegistryError(
            f"{parameter_name}: record is {size} bytes; a Standard SSM parameter holds at "
            f"most {MAX_STANDARD_PARAMETER_BYTES}"
        )
    return text


def route_record(
    *,
    route: str,
    listener_arn: str,
    rule_arn: str,
    ecs_target_group_arn: str,
    lambda_target_group_arn: str,
    function_name: str,
    composite_alarm_name: str,
    composite_alarm_arn: str,
    alarm_names: Sequence[str],
    plan: PlanRecord,
    schedule_name: str | None,
    schedule: str | None,
    timezone: str | None,
    check_function_name: str | None = None,
    function_version: str | None = None,
    alias_name: str | None = None,
    release: ReleasePlanRecord | None = None,
    capacity: CapacityRecord | None = None,
    gate: GateRecord | None = None,
) -> RouteRecord:
    """One route's record, from resolved outputs of the route and the controller."""
    return RouteRecord(
        route=route,
        listener_arn=listener_arn,
        rule_arn=rule_arn,
        ecs_target_group_arn=ecs_target_group_arn,
        lambda_target_group_arn=lambda_target_group_arn,
        function_name=function_name,
        composite_alarm_name=composite_alarm_name,
        composite_alarm_arn=composite_alarm_arn,
        alarm_names=tuple(alarm_names),
        plan=plan,
        schedule_name=schedule_name,
        schedule=schedule,
        timezone=timezone,
        check_function_name=check_function_name,
        function_version=function_version,
        alias_name=alias_name,
        release=release,
        capacity=capacity,
        gate=gate,
    )


def stack_record(
    *,
    stack: str,
    table_name: str,
    state_machine_arn: str,
    topic_arn: str,
    controller_function_name: str,
    dashboard_name: str,
    routes: Sequence[str],
) -> StackRecord:
    """The stack-wide record; ``routes`` is sorted so the value is stable."""
    return StackRecord(
        stack=stack,
        table_name=table_name,
        state_machine_arn=state_machine_arn,
        topic_arn=topic_arn,
        controller_function_name=controller_function_name,
        dashboard_name=dashboard_name,
        routes=tuple(sorted(routes)),
    )
