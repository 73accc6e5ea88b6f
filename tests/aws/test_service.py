"""Tests of controller/service.py on moto, through the real boto3 adapters.

Executions are started in moto without running them (no
``execute_state_machine``): they stay RUNNING until stopped, which is what the
lock checks need. The service's task operations are called directly, the way
the state machine's tasks call them. Faults are injected with thin wrappers of
our own ports, never with fakes of boto3.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from controller.core.contract import PlanRecord, StagePlanRecord
from controller.core.errors import AwsCallFailed, TransitionRefused, VerificationFailed
from controller.core.lifecycle import Event, Status
from controller.core.state_machine import Outcome
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from controller.service import (
    CanaryService,
    Ports,
    RollbackIncomplete,
    RunContext,
    execution_name,
    is_transient,
)
from tests.aws_fixtures import fake_aws_env
from tests.moto_stack import MotoStack, RouteSpec, build_moto_stack

ROUTE = "map-tile"
PLAN = PlanRecord(
    stages=(StagePlanRecord(10.0, 1), StagePlanRecord(50.0, 1), StagePlanRecord(100.0, 1)),
)


@pytest.fixture(name="stack")
def _stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    fake_aws_env(monkeypatch)
    with mock_aws():
        yield build_moto_stack(routes=(RouteSpec(ROUTE, 100, "/map/v1/tile/*", PLAN),))


@pytest.fixture(name="service")
def _service(stack: MotoStack) -> CanaryService:
    return stack.service()


class ApiLog:
    """Every AWS call the adapters make, in order (botocore ``before-call`` hooks)."""

    def __init__(self, stack: MotoStack) -> None:
        self.calls: list[str] = []
        for service in ("elbv2", "dynamodb", "stepfunctions", "sns", "cloudwatch"):
            stack.client(service).meta.events.register("before-call", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def count(self, name: str) -> int:
        return self.calls.count(name)

    def writes(self) -> list[str]:
        reads = ("Describe", "Get", "List", "Query")
        return [c for c in self.calls if not c.startswith(reads)]


def start(stack: MotoStack, name: str = "run-1") -> str:
    """A RUNNING execution in moto (not interpreted) and its ARN."""
    return str(
        stack.client("stepfunctions").start_execution(
            stateMachineArn=stack.stack.state_machine_arn,
            name=name,
            input=json.dumps(stack.execution_input(ROUTE)),
        )["executionArn"]
    )


def run(arn: str, plan: PlanRecord = PLAN, stage_index: int | None = None) -> RunContext:
    return RunContext(
        route=ROUTE,
        execution_arn=arn,
        trigger="operator",
        actor="operator:test",
        plan=plan,
        stage_index=stage_index,
    )


def events(service: CanaryService) -> list[Event]:
    """The route's history, oldest first."""
    return [entry.event for entry in reversed(service.history(ROUTE, 100))]


def execution_status(stack: MotoStack, arn: str) -> str:
    return str(stack.client("stepfunctions").describe_execution(executionArn=arn)["status"])


def begun(stack: MotoStack, service: CanaryService, plan: PlanRecord = PLAN) -> str:
    arn = start(stack)
    assert service.begin(run(arn, plan)).outcome == Outcome.RUN
    return arn


# --------------------------------------------------------------------------- begin


def test_begin_takes_the_lock(stack: MotoStack, service: CanaryService) -> None:
    arn = start(stack)
    result = service.begin(run(arn))
    assert (result.outcome, result.status) == (Outcome.RUN, Status.PROGRESSING)
    state = service.ports.state.load(ROUTE)
    assert state.lock is not None and state.lock.execution_arn == arn
    assert state.stages_total == 3
    assert events(service) == [Event.BEGIN]


def test_retried_begin_of_the_holder_changes_nothing(
    stack: MotoStack, service: CanaryService
) -> None:
    arn = begun(stack, service)
    assert service.begin(run(arn)).outcome == Outcome.RUN
    assert events(service) == [Event.BEGIN]


def test_begin_while_another_run_holds_the_lock_is_a_recorded_noop(
    stack: MotoStack, service: CanaryService
) -> None:
    begun(stack, service)
    second = start(stack, "run-2")
    result = service.begin(run(second))
    assert result.outcome == Outcome.NOOP
    assert "locked by running execution" in (result.reason or "")
    assert events(service) == [Event.BEGIN, Event.NOOP]
    assert service.ports.state.load(ROUTE).status is Status.PROGRESSING


def test_stale_lock_is_taken_over_with_a_history_entry(
    stack: MotoStack, service: CanaryService
) -> None:
    first = begun(stack, service)
    stack.client("stepfunctions").stop_execution(executionArn=first)
    second = start(stack, "run-2")
    assert service.begin(run(second)).outcome == Outcome.RUN
    assert events(service) == [Event.BEGIN, Event.LOCK_STOLEN]
    lock = service.ports.state.load(ROUTE).lock
    assert lock is not None and lock.execution_arn == second


def test_begin_with_an_invalid_plan_is_a_recorded_noop(
    stack: MotoStack, service: CanaryService
) -> None:
    bad = PlanRecord(stages=(StagePlanRecord(50.0, 1), StagePlanRecord(10.0, 1)))
    result = service.begin(run(start(stack), bad))
    assert result.outcome == Outcome.NOOP
    assert "plan.stages[1].weight" in (result.reason or "")
    assert stack.live_weights() == ALL_ECS


# --------------------------------------------------------------------------- shift


def test_shift_writes_verifies_and_records_the_stage(
    stack: MotoStack, service: CanaryService
) -> None:
    arn = begun(stack, service)
    log = ApiLog(stack)
    result = service.shift(run(arn))
    assert result.outcome == Outcome.BAKING
    assert result.stage is not None and result.stage.index == 0
    assert result.to_payload()["stage"] == {"index": 0, "weight": 10.0, "bakeSeconds": 1}
    assert stack.live_weights() == Weights.from_percent(10)
    assert log.count("ModifyRule") == 1
    # Read back after the write: a DescribeRules follows the ModifyRule.
    assert "DescribeRules" in log.calls[log.calls.index("ModifyRule") :]
    assert log.count("PutMetricData") == 1
    state = service.ports.state.load(ROUTE)
    assert state.last_written == Weights.from_percent(10)
    assert state.stage_started_at is not None
    assert events(service) == [Event.BEGIN, Event.SHIFT]


def test_retried_shift_writes_nothing_twice(stack: MotoStack, service: CanaryService) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    log = ApiLog(stack)
    assert service.shift(run(arn)).outcome == Outcome.BAKING
    assert log.count("ModifyRule") == 0
    assert log.count("TransactWriteItems") == 0
    assert events(service) == [Event.BEGIN, Event.SHIFT]


def test_shift_of_a_stale_execution_changes_nothing(
    stack: MotoStack, service: CanaryService
) -> None:
    begun(stack, service)
    intruder = start(stack, "intruder")
    log = ApiLog(stack)
    result = service.shift(run(intruder))
    assert result.outcome == Outcome.SUPERSEDED
    assert log.writes() == []


def test_drift_before_a_shift_pauses_and_leaves_the_weights(
    stack: MotoStack, service: CanaryService
) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    assert service.check(run(arn, stage_index=0)).outcome == Outcome.NEXT
    by_hand = Weights(ecs=800, lambda_=199)
    stack.set_weights_by_hand(by_hand)
    stack.notifications()
    log = ApiLog(stack)
    result = service.shift(run(arn))
    assert result.outcome == Outcome.DRIFT
    assert log.count("ModifyRule") == 0
    assert stack.live_weights() == by_hand
    state = service.ports.state.load(ROUTE)
    assert state.status is Status.PAUSED and state.lock is None
    assert (state.reason or "").startswith("drift")
    (note,) = stack.notifications()
    assert "weights changed by hand" in note["subject"]
    assert note["message"]["live"]["lambda"] == 199
    assert note["message"]["expected"]["lambda"] == Weights.from_percent(10).lambda_


def test_shift_fails_verification_when_the_rule_does_not_change(stack: MotoStack) -> None:
    class DeafTraffic:
        """ModifyRule "succeeds" but the rule keeps its old weights."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def read_weights(self, route: Any) -> Weights:
            return self.inner.read_weights(route)

        def write_weights(self, route: Any, weights: Weights) -> None:
            return None

    ports = stack.ports()
    service = stack.service(replace(ports, traffic=DeafTraffic(ports.traffic)))
    arn = begun(stack, service)
    with pytest.raises(VerificationFailed) as info:
        service.shift(run(arn))
    assert is_transient(info.value)
    assert "expected ecs=899 lambda=100" in str(info.value)
    assert events(service) == [Event.BEGIN], "an unverified shift must not be recorded"


def test_shift_that_loses_the_route_to_a_rollback_restores_ecs(stack: MotoStack) -> None:
    """An alarm's rollback lands while a shift is writing: the rule ends at ECS."""
    ports = stack.ports()
    other = stack.service()

    class RacingTraffic:
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.raced = False

        def read_weights(self, route: Any) -> Weights:
            return self.inner.read_weights(route)

        def write_weights(self, route: Any, weights: Weights) -> None:
            if not self.raced and weights != ALL_ECS:
                self.raced = True
                other.rollback(ROUTE, reason="alarm", actor="alarm:test")
            self.inner.write_weights(route, weights)

    service = stack.service(replace(ports, traffic=RacingTraffic(ports.traffic)))
    arn = begun(stack, service)
    result = service.shift(run(arn))
    assert result.outcome == Outcome.SUPERSEDED
    assert stack.live_weights() == ALL_ECS
    assert service.ports.state.load(ROUTE).status is Status.ROLLED_BACK


# --------------------------------------------------------------------------- check


def test_check_passes_and_the_run_goes_on(stack: MotoStack, service: CanaryService) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    result = service.check(run(arn, stage_index=0))
    assert result.outcome == Outcome.NEXT
    assert service.ports.state.load(ROUTE).stage == 1
    # A retried Check of the same stage answers the same and records nothing more.
    assert service.check(run(arn, stage_index=0)).outcome == Outcome.NEXT
    assert events(service) == [Event.BEGIN, Event.SHIFT, Event.CHECK_PASSED]


def test_last_stage_finishes_and_promotes(stack: MotoStack, service: CanaryService) -> None:
    arn = begun(stack, service)
    outcomes = []
    for index in range(3):
        service.shift(run(arn))
        outcomes.append(service.check(run(arn, stage_index=index)).outcome)
    assert outcomes == [Outcome.NEXT, Outcome.NEXT, Outcome.FINISH]
    assert service.shift(run(arn)).outcome == Outcome.COMPLETE
    stack.notifications()
    assert service.finish(run(arn)).outcome == Outcome.PROMOTED
    assert service.finish(run(arn)).outcome == Outcome.PROMOTED  # retried: no-op
    assert stack.live_weights() == ALL_LAMBDA
    state = service.ports.state.load(ROUTE)
    assert (state.status, state.lock) == (Status.PROMOTED, None)
    assert [n["subject"] for n in stack.notifications()] == [
        "[strangler] map-tile: promoted: all traffic on Lambda"
    ]


def test_stages_per_run_pauses_and_the_next_run_resumes(
    stack: MotoStack, service: CanaryService
) -> None:
    plan = replace(PLAN, stages_per_run=1)
    arn = begun(stack, service, plan)
    service.shift(run(arn, plan))
    assert service.check(run(arn, plan, stage_index=0)).outcome == Outcome.PAUSE
    state = service.ports.state.load(ROUTE)
    assert (state.status, state.stage, state.lock) == (Status.PAUSED, 1, None)
    second = start(stack, "run-2")
    assert service.begin(run(second, plan)).outcome == Outcome.RUN
    result = service.shift(run(second, plan))
    assert result.stage is not None and result.stage.index == 1, "resumes, never from zero"
    assert stack.live_weights() == Weights.from_percent(50)


@pytest.mark.parametrize("child", [None, "app-errors"])
def test_check_fails_on_alarm_and_rolls_back_at_once(
    stack: MotoStack, service: CanaryService, child: str | None
) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    if child is None:
        stack.set_alarm("ALARM")
    else:
        # Only a child in ALARM (the composite not yet evaluated) still fails.
        record = stack.route()
        name = next(n for n in record.alarm_names if n.endswith(child))
        stack.client("cloudwatch").set_alarm_state(
            AlarmName=name, StateValue="ALARM", StateReason="test"
        )
    stack.notifications()
    result = service.check(run(arn, stage_index=0))
    assert result.outcome == Outcome.FAIL
    assert "check failed" in (result.reason or "")
    assert stack.live_weights() == ALL_ECS
    assert service.ports.state.load(ROUTE).status is Status.ROLLED_BACK
    assert events(service)[-1] is Event.CHECK_FAILED
    assert execution_status(stack, arn) == "RUNNING", "the caller's own execution is not stopped"
    # The Rollback task that follows in the state machine changes nothing more.
    again = service.rollback_task(run(arn), "CheckFailed: alarm")
    assert again.outcome == Outcome.ROLLED_BACK
    assert events(service)[-1] is Event.CHECK_FAILED
    assert len(stack.notifications()) == 1


def test_check_fails_without_enough_requests(stack: MotoStack, service: CanaryService) -> None:
    plan = replace(PLAN, min_requests=5)
    arn = begun(stack, service, plan)
    service.shift(run(arn, plan))
    stack.put_requests(3)
    result = service.check(run(arn, plan, stage_index=0))
    assert result.outcome == Outcome.FAIL
    assert "3 canary requests" in (result.reason or "")
    assert "minRequests 5" in (result.reason or "")
    assert stack.live_weights() == ALL_ECS


def test_check_passes_with_enough_requests(stack: MotoStack, service: CanaryService) -> None:
    plan = replace(PLAN, min_requests=5)
    arn = begun(stack, service, plan)
    service.shift(run(arn, plan))
    stack.put_requests(7)
    assert service.check(run(arn, plan, stage_index=0)).outcome == Outcome.NEXT
    history = service.history(ROUTE, 1)
    assert "7 requests" in (history[0].reason or "")


def test_min_requests_does_not_apply_to_a_stage_without_bake(
    stack: MotoStack, service: CanaryService
) -> None:
    plan = PlanRecord(stages=(StagePlanRecord(10.0, 0), StagePlanRecord(100.0, 0)), min_requests=5)
    arn = begun(stack, service, plan)
    service.shift(run(arn, plan))
    assert service.check(run(arn, plan, stage_index=0)).outcome == Outcome.NEXT


# --------------------------------------------------------------------------- rollback


def test_rollback_order_weights_first_then_state_then_stop_then_notify(
    stack: MotoStack, service: CanaryService
) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    log = ApiLog(stack)
    result = service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert (result.result, result.status) == ("done", Status.ROLLED_BACK)
    writes = [w for w in log.writes() if w != "PutMetricData"]
    assert writes == ["ModifyRule", "TransactWriteItems", "StopExecution", "Publish"]
    assert stack.live_weights() == ALL_ECS
    assert execution_status(stack, arn) == "ABORTED"
    assert result.stopped_execution == arn


def test_rollback_is_idempotent(stack: MotoStack, service: CanaryService) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    log = ApiLog(stack)
    again = service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert again.result == "unchanged"
    assert log.writes() == []
    assert events(service).count(Event.ROLLBACK) == 1
    assert len(stack.notifications()) == 1


def test_rollback_still_sets_the_weights_when_dynamodb_fails(stack: MotoStack) -> None:
    class BrokenState:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def load(self, route: str) -> Any:
            raise AwsCallFailed(
                "ServiceUnavailable", route=route, api_call="dynamodb:GetItem", transient=True
            )

        def save(self, previous_version: int, transition: Any) -> None:
            raise AssertionError("never reached")

        def history(self, route: str, limit: int) -> Any:
            return self.inner.history(route, limit)

    ports = stack.ports()
    healthy = stack.service(ports)
    arn = begun(stack, healthy)
    healthy.shift(run(arn))
    service = stack.service(replace(ports, state=BrokenState(ports.state)))
    with pytest.raises(RollbackIncomplete) as info:
        service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert is_transient(info.value)
    assert stack.live_weights() == ALL_ECS
    (note,) = stack.notifications()
    assert "incomplete" in note["subject"]
    assert any("state: " in p and "ServiceUnavailable" in p for p in note["message"]["problems"])


def test_rollback_still_records_the_state_when_sns_fails(stack: MotoStack) -> None:
    class BrokenNotify:
        def notify(self, subject: str, message: dict[str, Any]) -> None:
            raise AwsCallFailed("AuthorizationError", api_call="sns:Publish")

    ports = stack.ports()
    service = stack.service(replace(ports, notify=BrokenNotify()))
    arn = begun(stack, service)
    service.shift(run(arn))
    with pytest.raises(RollbackIncomplete, match="notify"):
        service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert stack.live_weights() == ALL_ECS
    assert service.ports.state.load(ROUTE).status is Status.ROLLED_BACK
    assert execution_status(stack, arn) == "ABORTED"


def test_rollback_raises_when_the_weights_cannot_be_written(stack: MotoStack) -> None:
    class StuckTraffic:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def read_weights(self, route: Any) -> Weights:
            return self.inner.read_weights(route)

        def write_weights(self, route: Any, weights: Weights) -> None:
            raise AwsCallFailed(
                "Throttling", api_call="elasticloadbalancing:ModifyRule", transient=True
            )

    ports = stack.ports()
    healthy = stack.service(ports)
    arn = begun(stack, healthy)
    healthy.shift(run(arn))
    service = stack.service(replace(ports, traffic=StuckTraffic(ports.traffic)))
    with pytest.raises(AwsCallFailed):
        service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    (note,) = stack.notifications()
    assert "ROLLBACK FAILED" in note["subject"]
    assert service.ports.state.load(ROUTE).status is Status.PROGRESSING, "state not faked"


def test_handle_alarm_rolls_back_the_route_of_the_alarm(
    stack: MotoStack, service: CanaryService
) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    record = stack.route()
    (result,) = service.handle_alarm(
        record.composite_alarm_name, record.composite_alarm_arn, "ALARM", "errors"
    )
    assert result.result == "done"
    entry = service.history(ROUTE, 1)[0]
    assert (entry.event, entry.actor) == (Event.ROLLBACK, f"alarm:{record.composite_alarm_name}")
    assert stack.live_weights() == ALL_ECS


def test_handle_alarm_ignores_ok_and_refuses_unknown_alarms(
    stack: MotoStack, service: CanaryService
) -> None:
    record = stack.route()
    assert service.handle_alarm(record.composite_alarm_name, None, "OK", "") == []
    with pytest.raises(Exception, match="belongs to no route"):
        service.handle_alarm("somebody-elses-alarm", None, "ALARM", "")
    assert service.history(ROUTE, 10) == []


# --------------------------------------------------------------------------- operator


def test_start_run_starts_a_named_execution(stack: MotoStack, service: CanaryService) -> None:
    result = service.start_run(ROUTE, actor="operator:alice")
    assert result.result == "started" and result.execution is not None
    described = stack.client("stepfunctions").describe_execution(executionArn=result.execution)
    payload = json.loads(described["input"])
    assert payload == stack.execution_input(ROUTE, actor="operator:alice")
    assert described["name"].startswith("map-tile-operator-")


def test_start_run_is_refused_on_a_rolled_back_route(
    stack: MotoStack, service: CanaryService
) -> None:
    service.rollback(ROUTE, reason="test", actor="operator:test")
    with pytest.raises(TransitionRefused, match="resume"):
        service.start_run(ROUTE, actor="operator:alice")
    service.resume(ROUTE, reason="fixed", actor="operator:alice")
    assert service.start_run(ROUTE, actor="operator:alice").result == "started"


def test_start_run_is_refused_while_a_run_holds_the_lock(
    stack: MotoStack, service: CanaryService
) -> None:
    begun(stack, service)
    with pytest.raises(TransitionRefused, match="locked by running execution"):
        service.start_run(ROUTE, actor="operator:alice")


def test_pause_stops_the_run_and_keeps_the_weights(
    stack: MotoStack, service: CanaryService
) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    result = service.pause(ROUTE, reason="lunch", actor="operator:alice")
    assert (result.status, result.stopped_execution) == (Status.PAUSED, arn)
    assert execution_status(stack, arn) == "ABORTED"
    assert stack.live_weights() == Weights.from_percent(10)
    # The stopped run's next task changes nothing.
    assert service.check(run(arn, stage_index=0)).outcome == Outcome.SUPERSEDED


def test_promote_skips_the_bake_and_starts_a_new_run(
    stack: MotoStack, service: CanaryService
) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    result = service.promote(ROUTE, reason="looks good", actor="operator:alice")
    assert result.result == "started" and result.execution not in (None, arn)
    assert execution_status(stack, arn) == "ABORTED"
    state = service.ports.state.load(ROUTE)
    assert (state.status, state.stage) == (Status.IDLE, 1)


def test_promote_is_refused_in_alarm(stack: MotoStack, service: CanaryService) -> None:
    stack.set_alarm("ALARM")
    with pytest.raises(TransitionRefused, match="ALARM"):
        service.promote(ROUTE, reason="yolo", actor="operator:alice", full=True)
    assert stack.live_weights() == ALL_ECS


def test_full_promote_goes_to_100_verified(stack: MotoStack, service: CanaryService) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    result = service.promote(ROUTE, reason="ship it", actor="operator:alice", full=True)
    assert (result.status, result.weights) == (Status.PROMOTED, ALL_LAMBDA)
    assert stack.live_weights() == ALL_LAMBDA
    assert execution_status(stack, arn) == "ABORTED"


def test_status_reports_everything_the_cli_shows(stack: MotoStack, service: CanaryService) -> None:
    arn = begun(stack, service)
    service.shift(run(arn))
    stack.set_alarm("ALARM", child="p99-latency")
    status = service.status(ROUTE)
    assert status.status is Status.PROGRESSING
    assert status.live == Weights.from_percent(10) and not status.drift
    assert status.alarm == "ALARM"
    assert status.alarms_in_alarm == ("strangler-test-map-tile-p99-latency",)
    assert (status.execution, status.execution_running) == (arn, True)
    state = service.ports.state.load(ROUTE)
    assert state.stage_started_at is not None
    assert status.next_stage_at == state.stage_started_at + timedelta(seconds=1)
    stack.set_weights_by_hand(Weights(ecs=500, lambda_=499))
    assert service.status(ROUTE).drift


def test_execution_names_are_valid_and_unique() -> None:
    now = datetime(2024, 5, 28, 9, 21, 11, tzinfo=UTC)
    first = execution_name("map/tile v2", "schedule", now)
    second = execution_name("map/tile v2", "schedule", now)
    assert first != second
    assert first.startswith("map-tile-v2-schedule-20240528T092111Z-")
    long = execution_name("r" * 200, "operator", now)
    assert len(long) == 80 and long.endswith(long[-8:])


def test_ports_are_reused_not_rebuilt(stack: MotoStack) -> None:
    ports = stack.ports()
    assert isinstance(ports, Ports)
    assert stack.service(ports).ports is ports
