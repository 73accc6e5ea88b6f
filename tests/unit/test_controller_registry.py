"""Registry record values the deploy writes to SSM."""

from __future__ import annotations

import pytest

from components.controller_registry import (
    MAX_STANDARD_PARAMETER_BYTES,
    RegistryError,
    parameter_value,
)
from controller.core.contract import PlanRecord, RouteRecord, StackRecord, StagePlanRecord

PLAN = PlanRecord(
    stages=(StagePlanRecord(weight=5.5, bake_seconds=300), StagePlanRecord(weight=100.0)),
    stages_per_run=1,
    min_requests=50,
)


def record(alarm_names=("a-errors", "a-throttles"), **overrides) -> RouteRecord:
    values = {
        "route": "map-tile",
        "listener_arn": "arn:aws:elasticloadbalancing:r:1:listener/app/l/1/2",
        "rule_arn": "arn:aws:elasticloadbalancing:r:1:listener-rule/app/l/1/2/3",
        "ecs_target_group_arn": "arn:aws:elasticloadbalancing:r:1:targetgroup/e/1",
        "lambda_target_group_arn": "arn:aws:elasticloadbalancing:r:1:targetgroup/l/1",
        "function_name": "strangler-prod-map-tile",
        "composite_alarm_name": "strangler-prod-map-tile-composite",
        "composite_alarm_arn": "arn:aws:cloudwatch:r:1:alarm:strangler-prod-map-tile-composite",
        "alarm_names": tuple(alarm_names),
        "plan": PLAN,
        "schedule_name": "strangler-prod-map-tile-canary",
        "schedule": "cron(0 10 ? * MON-FRI *)",
        "timezone": "Asia/Tokyo",
    }
    values.update(overrides)
    return RouteRecord(**values)


def test_route_record_round_trips_through_the_parameter_value():
    built = record()
    assert built.alarm_names == ("a-errors", "a-throttles")
    assert RouteRecord.from_json(parameter_value(built, "/strangler/prod/routes/map-tile")) == built


def test_unscheduled_route_has_no_schedule_fields():
    built = record(schedule_name=None, schedule=None, timezone=None)
    parsed = RouteRecord.from_json(parameter_value(built, "p"))
    assert (parsed.schedule_name, parsed.schedule, parsed.timezone) == (None, None, None)


def test_stack_record_round_trips_through_the_parameter_value():
    # The component sorts the routes: tests/unit/test_controller_component.py
    # test_registry_stack_record.
    built = StackRecord(
        stack="prod",
        table_name="strangler-prod-state",
        state_machine_arn="arn:aws:states:r:1:stateMachine:strangler-prod-canary",
        topic_arn="arn:aws:sns:r:1:strangler-prod-alerts",
        controller_function_name="strangler-prod-controller",
        dashboard_name="strangler-prod",
        routes=("map-style", "map-tile"),
    )
    assert StackRecord.from_json(parameter_value(built, "/strangler/prod/stack")) == built


def test_a_record_over_the_standard_tier_limit_names_the_parameter():
    huge = record(alarm_names=[f"strangler-prod-map-tile-alarm-{i:03d}" for i in range(150)])
    with pytest.raises(RegistryError) as error:
        parameter_value(huge, "/strangler/prod/routes/map-tile")
    assert str(error.value).startswith("/strangler/prod/routes/map-tile: record is ")
    assert f"at most {MAX_STANDARD_PARAMETER_BYTES}" in str(error.value)
