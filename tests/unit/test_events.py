"""Tests of controller/events.py: every accepted shape, and clear rejections."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.contract import PlanRecord, StagePlanRecord
from controller.events import (
    AlarmStateChange,
    CapacityTick,
    InvalidEvent,
    OperatorEvent,
    RegistryChange,
    TaskEvent,
    parse_event,
)
from tests.events import load_event

COMPOSITE = "strangler-test-map-tile-composite"
COMPOSITE_ARN = f"arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:{COMPOSITE}"


def test_step_functions_check_task() -> None:
    event = parse_event(load_event("sfn_check_task"))
    assert isinstance(event, TaskEvent)
    assert event.action == "check"
    assert event.route == "map-tile"
    assert event.execution_arn.startswith("arn:aws:states:")
    assert event.stage is not None and event.stage.index == 0 and event.stage.bakeSeconds == 1
    assert event.plan.to_record() == PlanRecord(
        stages=(
            StagePlanRecord(10.0, 1),
            StagePlanRecord(50.0, 1),
            StagePlanRecord(100.0, 1),
        ),
        stages_per_run=0,
        min_requests=0,
    )


def test_step_functions_rollback_task_carries_the_failure() -> None:
    event = parse_event(load_event("sfn_rollback_task"))
    assert isinstance(event, TaskEvent) and event.failure is not None
    assert event.failure.describe().startswith("States.TaskFailed: {")
    assert "AccessDenied" in event.failure.describe()


def test_failure_cause_is_cut_to_a_readable_length() -> None:
    raw = load_event("sfn_rollback_task")
    raw["failure"]["Cause"] = "x" * 5000
    event = parse_event(raw)
    assert isinstance(event, TaskEvent) and event.failure is not None
    assert len(event.failure.describe(limit=100)) <= len("States.TaskFailed: ") + 100


def test_eventbridge_alarm_state_change() -> None:
    event = parse_event(load_event("cloudwatch_alarm_state_change"))
    assert event == AlarmStateChange(
        alarm_name=COMPOSITE,
        alarm_arn=COMPOSITE_ARN,
        state="ALARM",
        previous_state="OK",
        reason=event.reason,  # type: ignore[union-attr]
        time=event.time,  # type: ignore[union-attr]
        event_id="c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    )
    assert isinstance(event, AlarmStateChange) and event.is_alarm
    assert "app-errors transitioned to ALARM" in event.reason


def test_alarm_invoking_lambda_directly() -> None:
    event = parse_event(load_event("cloudwatch_alarm_action"))
    assert isinstance(event, AlarmStateChange)
    assert (event.alarm_name, event.alarm_arn, event.state, event.previous_state) == (
        COMPOSITE,
        COMPOSITE_ARN,
        "ALARM",
        "OK",
    )


def test_operator_action() -> None:
    event = parse_event(load_event("operator_rollback"))
    assert event == OperatorEvent(
        action="operator",
        command="rollback",
        route="map-tile",
        actor="operator:alice",
        reason="upstream maintenance",
        full=False,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda e: e.update(action="explode"), "action: 'explode' is not one of begin"),
        (lambda e: e.pop("route"), "route: Field required"),
        (lambda e: e.update(route=""), "route: String should have at least 1 character"),
        (lambda e: e.update(executionArn="arn:aws:lambda:x"), "executionArn: String should match"),
        (lambda e: e["plan"].update(stages=[]), "plan.stages: List should have at least 1 item"),
        (lambda e: e["plan"]["stages"][0].update(weight=120), "plan.stages.0.weight"),
        (lambda e: e["plan"].update(stagesPerRun=-1), "plan.stagesPerRun"),
        (lambda e: e.update(colour="blue"), "colour: Extra inputs are not permitted"),
        (lambda e: e["stage"].update(bakeSeconds="soon"), "stage.bakeSeconds"),
    ],
)
def test_malformed_task_events_name_the_field(change: Any, expected: str) -> None:
    raw = load_event("sfn_check_task")
    change(raw)
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda e: e.update(command="nuke"),
            "command: Input should be 'start', 'pause', 'resume', 'rollback', 'promote' or 'sync'",
        ),
        (lambda e: e.update(command=7), "command: Input should be 'start', 'pause'"),
        (lambda e: e.update(actor=""), "actor: String should have at least 1 character"),
        (lambda e: e.update(full="maybe"), "full: Input should be a valid boolean"),
    ],
)
def test_malformed_operator_actions_name_the_field(change: Any, expected: str) -> None:
    raw = load_event("operator_rollback")
    change(raw)
    with pytest.raises(InvalidEvent, match="invalid operator action") as info:
        parse_event(raw)
    assert expected in str(info.value)


def test_alarm_event_with_an_unknown_state_is_rejected() -> None:
    raw = load_event("cloudwatch_alarm_state_change")
    raw["detail"]["state"]["value"] = "ON_FIRE"
    with pytest.raises(InvalidEvent, match=r"detail\.state\.value"):
        parse_event(raw)


def test_alarm_event_without_alarm_name_is_rejected() -> None:
    raw = load_event("cloudwatch_alarm_state_change")
    del raw["detail"]["alarmName"]
    with pytest.raises(InvalidEvent, match=r"detail\.alarmName: Field required"):
        parse_event(raw)


def test_alarm_action_without_state_is_rejected() -> None:
    raw = load_event("cloudwatch_alarm_action")
    del raw["alarmData"]["state"]
    with pytest.raises(InvalidEvent, match="alarmData"):
        parse_event(raw)


def test_parameter_store_change() -> None:
    event = parse_event(load_event("ssm_parameter_store_change"))
    assert isinstance(event, RegistryChange)
    assert event == RegistryChange(
        parameter_name="/strangler/three/routes/map-tile",
        operation="Update",
        time=event.time,
        event_id="9547ef2d-3b7e-4057-b6cb-5fdf09ee7c8f",
    )
    assert event.time is not None and event.time.isoformat() == "2026-01-05T09:12:48+00:00"
    assert event.is_write


@pytest.mark.parametrize(
    ("operation", "is_write"),
    [("Create", True), ("Update", True), ("Delete", False), ("LabelParameterVersion", False)],
)
def test_parameter_store_change_operations(operation: str, is_write: bool) -> None:
    raw = load_event("ssm_parameter_store_change")
    raw["detail"]["operation"] = operation
    event = parse_event(raw)
    assert isinstance(event, RegistryChange) and event.is_write is is_write


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda e: e["detail"].pop("name"), r"detail\.name: Field required"),
        (lambda e: e["detail"].update(name=""), r"detail\.name: String should have"),
        (lambda e: e.update(source="aws.cloudwatch"), r"source: Input should be 'aws\.ssm'"),
    ],
)
def test_malformed_parameter_store_change_names_the_field(change: Any, expected: str) -> None:
    raw = load_event("ssm_parameter_store_change")
    change(raw)
    with pytest.raises(InvalidEvent, match=expected):
        parse_event(raw)


def test_unknown_event_lists_what_is_accepted() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event({"Records": [{"eventSource": "aws:sqs"}]})
    message = str(info.value)
    assert "unrecognised event" in message
    assert "CloudWatch Alarm State Change" in message
    assert "Parameter Store Change" in message
    assert "got keys: Records" in message


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.lists(st.integers()),
        st.dictionaries(st.text(max_size=8), st.integers(), max_size=4),
    )
)
def test_anything_else_is_rejected_with_invalid_event(event: Any) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(event)


def test_scheduled_event_is_the_capacity_tick() -> None:
    event = parse_event(load_event("eventbridge_scheduled_event"))
    assert isinstance(event, CapacityTick)
    assert event.rule_arns == (
        "arn:aws:events:ap-northeast-1:123456789012:rule/strangler-prod-capacity-tick",
    )
    assert event.time is not None and event.time.isoformat().startswith("2026-12-05T01:00")


def test_scheduled_event_from_another_source_is_invalid() -> None:
    raw = {**load_event("eventbridge_scheduled_event"), "source": "aws.ssm"}
    with pytest.raises(InvalidEvent, match="source"):
        parse_event(raw)
