"""Tests of rehearsal/scenario/faults.py: alarms, their event through the program's rule, drift.

The delivery tests run on the twin (the ``twin`` fixture): the failback rules
and their targets are the ones the program deployed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from components.controller import failback_event_pattern
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from controller.events import AlarmStateChange, parse_event
from rehearsal.scenario import faults
from tests.aws_fixtures import ACCOUNT_ID, REGION, TwinWorld
from tests.events import load_event

COMPOSITE = {
    "AlarmName": "strangler-test-map-tile-composite",
    "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:strangler-test-map-tile-composite",
    "AlarmRule": "ALARM(strangler-test-map-tile-app-errors)",
    "StateValue": "OK",
}


def event_of(alarm: dict[str, Any] = COMPOSITE, state: str = "ALARM") -> dict[str, Any]:
    return faults.alarm_state_change_event(
        alarm,
        state=state,
        previous_state="OK",
        reason="rehearsal",
        at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        region=REGION,
        account_id=ACCOUNT_ID,
        event_id="e-1",
    )


# --- the event -------------------------------------------------------------------------


def test_the_event_has_the_shape_cloudwatch_sends():
    event = event_of()
    real = load_event("cloudwatch_alarm_state_change")
    assert set(event) == set(real)
    assert set(event["detail"]) == set(real["detail"])
    assert event["resources"] == [COMPOSITE["AlarmArn"]]
    assert event["detail"]["state"] == {
        "value": "ALARM",
        "reason": "rehearsal",
        "timestamp": "2026-01-02T03:04:05.678+0000",
    }
    assert event["detail"]["configuration"]["alarmRule"] == COMPOSITE["AlarmRule"]
    assert event["time"] == "2026-01-02T03:04:05Z"


def test_the_controller_parses_the_event():
    parsed = parse_event(event_of())
    assert isinstance(parsed, AlarmStateChange)
    assert (parsed.alarm_name, parsed.state) == (COMPOSITE["AlarmName"], "ALARM")


def test_the_programs_pattern_matches_its_alarm_going_to_alarm_only():
    pattern = json.dumps(failback_event_pattern(COMPOSITE["AlarmArn"]))
    assert faults.pattern_matches(pattern, event_of())
    assert not faults.pattern_matches(pattern, event_of(state="OK")), "OK never fails back"
    other = {**COMPOSITE, "AlarmArn": COMPOSITE["AlarmArn"].replace("map-tile", "map-poi")}
    assert not faults.pattern_matches(pattern, event_of(other)), "another route's alarm"


# --- delivery through moto's EventBridge -----------------------------------------------


def _failback_rule(twin: TwinWorld) -> str:
    """The failback rule the program deployed for the route (components/controller.py)."""
    return f"strangler-{twin.stack.stack}-map-tile-failback"


def _composite_event(twin: TwinWorld) -> dict[str, Any]:
    composite = faults.describe_composite(twin.client("cloudwatch"), twin.route())
    return event_of(composite)


def test_the_event_reaches_the_rules_target_once(twin: TwinWorld):
    received: list[Any] = []
    twin.controller = lambda event, context: received.append(event)
    deliveries = faults.deliver(
        twin.client("events"), twin.client("lambda"), _composite_event(twin)
    )
    assert [(d.rule, d.target_id, d.status_code) for d in deliveries] == [
        (_failback_rule(twin), "controller", 202)
    ], "EventBridge invokes Lambda asynchronously"
    assert len(received) == 1
    assert received[0]["detail"]["alarmName"] == twin.route().composite_alarm_name


def test_an_event_no_rule_matches_is_an_error(twin: TwinWorld):
    # An alarm of another stack: none of this stack's failback rules matches it.
    with pytest.raises(faults.FaultError, match="failback path is not wired"):
        faults.deliver(twin.client("events"), twin.client("lambda"), event_of())


def test_a_target_that_is_not_a_function_is_refused(twin: TwinWorld):
    sqs = twin.client("sqs")
    queue = sqs.create_queue(QueueName="not-a-function")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    twin.client("events").put_targets(
        Rule=_failback_rule(twin), Targets=[{"Id": "controller", "Arn": arn}]
    )
    with pytest.raises(faults.FaultError, match="Lambda functions only"):
        faults.deliver(twin.client("events"), twin.client("lambda"), _composite_event(twin))
    sqs.delete_queue(QueueUrl=queue)


def test_a_transformed_input_is_refused(twin: TwinWorld):
    function = twin.client("lambda").get_function(FunctionName=twin.stack.controller_function_name)[
        "Configuration"
    ]["FunctionArn"]
    twin.client("events").put_targets(
        Rule=_failback_rule(twin),
        Targets=[{"Id": "controller", "Arn": function, "InputPath": "$.detail"}],
    )
    received: list[Any] = []
    twin.controller = lambda event, context: received.append(event)
    with pytest.raises(faults.FaultError, match="transforms its input"):
        faults.deliver(twin.client("events"), twin.client("lambda"), _composite_event(twin))
    assert received == [], "nothing was delivered"


def test_set_route_alarms_moves_a_child_and_the_composite(twin: TwinWorld):
    cloudwatch = twin.client("cloudwatch")
    record = twin.route()
    before = faults.set_route_alarms(cloudwatch, record, state="ALARM", reason="rehearsal")
    assert before["StateValue"] == "OK" and before["AlarmArn"] == record.composite_alarm_arn
    states = {
        alarm["AlarmName"]: alarm["StateValue"]
        for kind in ("MetricAlarms", "CompositeAlarms")
        for alarm in cloudwatch.describe_alarms(
            AlarmNames=[record.composite_alarm_name, *record.alarm_names],
            AlarmTypes=["CompositeAlarm", "MetricAlarm"],
        )[kind]
    }
    prefix = f"strangler-{twin.stack.stack}-map-tile"
    assert states[record.composite_alarm_name] == "ALARM"
    assert states[f"{prefix}-app-errors"] == "ALARM", "the AppErrors child trips"
    assert states[f"{prefix}-p99-latency"] == "OK"
    assert sorted(name for name, state in states.items() if state == "ALARM") == sorted(
        [record.composite_alarm_name, f"{prefix}-app-errors"]
    ), "one child only"


# --- drift -----------------------------------------------------------------------------


@pytest.mark.parametrize("current", [ALL_ECS, ALL_LAMBDA, Weights.from_percent(33.3)])
def test_drift_weights_differ_from_the_current_ones(current: Weights):
    drifted = faults.drift_weights(current)
    assert drifted != current
    assert drifted.is_canonical


def test_a_change_by_hand_keeps_the_rest_of_the_rule(twin: TwinWorld):
    record = twin.route()
    elbv2 = twin.client("elbv2")
    before = elbv2.describe_rules(RuleArns=[record.rule_arn])["Rules"][0]
    faults.change_weights_by_hand(elbv2, record, Weights.from_percent(33.3))
    after = elbv2.describe_rules(RuleArns=[record.rule_arn])["Rules"][0]
    assert twin.live_weights() == Weights.from_percent(33.3)
    assert after["Conditions"] == before["Conditions"]
    assert after["Priority"] == before["Priority"]
