"""Tests of controller/service.py on the in-memory fakes of its ports (tests/fakes.py).

The service's decisions (what to write, in which order, what to record, when
to refuse) are checked here, with the clock under the test's control and
faults injected into our own ports. The same service over the real boto3
adapters is checked in tests/aws/test_service.py.

Executions are started by "someone else" (the schedule) with
:meth:`FakeExecutions.started`: they stay RUNNING until stopped, which is what
the lock checks need. The service's task operations are called directly, the
way the state machine's tasks call them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controller.core.contract import PlanRecord, StagePlanRecord
from controller.core.errors import (
    AwsCallFailed,
    ConcurrentUpdate,
    TransitionRefused,
    UnknownRoute,
    VerificationFailed,
)
from controller.core.lifecycle import Event, Status
from controller.core.ports import ALARM, OK, Ports
from controller.core.state_machine import Outcome
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from controller.service import (
    CanaryService,
    RollbackIncomplete,
    RunContext,
    execution_name,
    is_transient,
)
from tests.fakes import DEFAULT_PLAN, FakeWorld, fake_world, operator_run, route_record

ROUTE = "map-tile"
PLAN = DEFAULT_PLAN


@pytest.fixture(name="world")
def _world() -> FakeWorld:
    return fake_world([route_record(ROUTE, PLAN)])


def start(world: FakeWorld, name: str = "run-1") -> str:
    """A RUNNING execution (started by the schedule, not by the service) and its ARN."""
    payload = {"route": ROUTE, "trigger": "operator", "actor": "operator:test"}
    return world.executions.started(name, {**payload, "plan": PLAN.to_input()})


def run(arn: str, plan: PlanRecord = PLAN, stage_index: int | None = None) -> RunContext:
    return operator_run(ROUTE, arn, plan, stage_index)


def events(service: CanaryService) -> list[Event]:
    """The route's history, oldest first."""
    return [entry.event for entry in reversed(service.history(ROUTE, 100))]


def begun(world: FakeWorld, service: CanaryService, plan: PlanRecord = PLAN) -> str:
    arn = start(world)
    assert service.begin(run(arn, plan)).outcome == Outcome.RUN
    return arn


def shifted(world: FakeWorld, service: CanaryService) -> str:
    """The ARN of a run that has begun and shifted to its first stage."""
    arn = begun(world, service)
    service.shift(run(arn))
    return arn


# --------------------------------------------------------------------------- begin


def test_begin_takes_the_lock(world: FakeWorld, service: CanaryService) -> None:
    arn = start(world)
    result = service.begin(run(arn))
    assert (result.outcome, result.status) == (Outcome.RUN, Status.PROGRESSING)
    state = world.state.states[ROUTE]
    assert state.lock is not None and state.lock.execution_arn == arn
    assert state.lock.acquired_at == world.clock.now()
    assert state.stages_total == 3
    assert events(service) == [Event.BEGIN]


def test_retried_begin_of_the_holder_changes_nothing(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begun(world, service)
    world.log.clear()
    assert service.begin(run(arn)).outcome == Outcome.RUN
    assert world.log.writes() == []
    assert events(service) == [Event.BEGIN]


def test_begin_while_another_run_holds_the_lock_is_a_recorded_noop(
    world: FakeWorld, service: CanaryService
) -> None:
    begun(world, service)
    second = start(world, "run-2")
    result = service.begin(run(second))
    assert result.outcome == Outcome.NOOP
    assert "locked by running execution" in (result.reason or "")
    assert events(service) == [Event.BEGIN, Event.NOOP]
    assert world.state.states[ROUTE].status is Status.PROGRESSING


def test_stale_lock_is_taken_over_with_a_history_entry(
    world: FakeWorld, service: CanaryService
) -> None:
    first = begun(world, service)
    world.executions.end(first, "ABORTED")
    second = start(world, "run-2")
    assert service.begin(run(second)).outcome == Outcome.RUN
    assert events(service) == [Event.BEGIN, Event.LOCK_STOLEN]
    lock = world.state.states[ROUTE].lock
    assert lock is not None and lock.execution_arn == second


def test_begin_with_an_invalid_plan_is_a_recorded_noop(
    world: FakeWorld, service: CanaryService
) -> None:
    bad = PlanRecord(stages=(StagePlanRecord(50.0, 1), StagePlanRecord(10.0, 1)))
    result = service.begin(run(start(world), bad))
    assert result.outcome == Outcome.NOOP
    assert "plan.stages[1].weight" in (result.reason or "")
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.log.count("traffic.write_weights") == 0


def test_begin_of_an_unknown_route_is_an_error_not_a_noop(
    world: FakeWorld, service: CanaryService
) -> None:
    with pytest.raises(UnknownRoute, match="known routes: map-tile"):
        service.begin(replace(run(start(world)), route="map-tyle"))
    assert world.log.writes() == []


# --------------------------------------------------------------------------- shift


def test_shift_writes_verifies_and_records_the_stage(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begun(world, service)
    world.log.clear()
    result = service.shift(run(arn))
    assert result.outcome == Outcome.BAKING
    assert result.stage is not None and result.stage.index == 0
    assert result.to_payload()["stage"] == {"index": 0, "weight": 10.0, "bakeSeconds": 1}
    assert world.traffic.live(ROUTE) == Weights.from_percent(10)
    calls = world.log.names()
    assert world.log.count("traffic.write_weights") == 1
    # Read back after the write: a read of the rule follows the write.
    assert "traffic.read_weights" in calls[calls.index("traffic.write_weights") :]
    assert world.metrics.canary_weights == [(ROUTE, 10.0)]
    assert world.log.count("state.save") == 1
    state = world.state.states[ROUTE]
    assert state.last_written == Weights.from_percent(10)
    assert state.stage_started_at == world.clock.now()
    assert events(service) == [Event.BEGIN, Event.SHIFT]


def test_retried_shift_writes_nothing_twice(world: FakeWorld, service: CanaryService) -> None:
    arn = shifted(world, service)
    world.log.clear()
    assert service.shift(run(arn)).outcome == Outcome.BAKING
    assert world.log.count("traffic.write_weights") == 0
    assert world.log.count("state.save") == 0
    assert events(service) == [Event.BEGIN, Event.SHIFT]


def test_shift_of_a_stale_execution_changes_nothing(
    world: FakeWorld, service: CanaryService
) -> None:
    begun(world, service)
    intruder = start(world, "intruder")
    world.log.clear()
    result = service.shift(run(intruder))
    assert result.outcome == Outcome.SUPERSEDED
    assert world.log.writes() == []


def test_drift_before_a_shift_pauses_and_leaves_the_weights(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = shifted(world, service)
    assert service.check(run(arn, stage_index=0)).outcome == Outcome.NEXT
    by_hand = Weights(ecs=800, lambda_=199)
    world.traffic.set_by_hand(ROUTE, by_hand)
    world.notify.take()
    world.log.clear()
    result = service.shift(run(arn))
    assert result.outcome == Outcome.DRIFT
    assert world.log.count("traffic.write_weights") == 0
    assert world.traffic.live(ROUTE) == by_hand
    state = world.state.states[ROUTE]
    assert state.status is Status.PAUSED and state.lock is None
    assert (state.reason or "").startswith("drift")
    (note,) = world.notify.take()
    assert "weights changed by hand" in note["subject"]
    assert note["message"]["live"]["alb"] == {"ecs": 800, "lambda": 199}
    assert note["message"]["live"]["text"] == "ecs 80.1 % / lambda 19.9 %"
    assert note["message"]["expected"]["alb"]["lambda"] == Weights.from_percent(10).lambda_


def test_shift_fails_verification_when_the_rule_does_not_change(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begun(world, service)
    # ModifyRule "succeeds" but the rule keeps its old weights.
    world.traffic.apply_writes = False
    with pytest.raises(VerificationFailed) as info:
        service.shift(run(arn))
    assert is_transient(info.value)
    assert "expected ecs 90 % / lambda 10 % (ALB weights ecs 9 / lambda 1)" in str(info.value)
    assert events(service) == [Event.BEGIN], "an unverified shift must not be recorded"
    # Three reads back, with the configured pause between them (on the fake clock).
    assert world.clock.sleeps == [0.5, 0.5]


def test_shift_that_loses_the_route_to_a_rollback_restores_ecs(
    world: FakeWorld, service: CanaryService
) -> None:
    """An alarm's rollback lands while a shift is writing: the rule ends at ECS."""
    other = world.service()
    raced: list[Weights] = []

    def rollback_first(_: object, weights: Weights) -> None:
        if not raced and weights != ALL_ECS:
            raced.append(weights)
            other.rollback(ROUTE, reason="alarm", actor="alarm:test")

    arn = begun(world, service)
    world.traffic.before_write = rollback_first
    result = service.shift(run(arn))
    assert result.outcome == Outcome.SUPERSEDED
    assert raced == [Weights.from_percent(10)]
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.state.states[ROUTE].status is Status.ROLLED_BACK


# --------------------------------------------------------------------------- check


def test_check_passes_and_the_run_goes_on(world: FakeWorld, service: CanaryService) -> None:
    arn = shifted(world, service)
    result = service.check(run(arn, stage_index=0))
    assert result.outcome == Outcome.NEXT
    assert world.state.states[ROUTE].stage == 1
    # A retried Check of the same stage answers the same and records nothing more.
    world.log.clear()
    assert service.check(run(arn, stage_index=0)).outcome == Outcome.NEXT
    assert world.log.writes() == []
    assert events(service) == [Event.BEGIN, Event.SHIFT, Event.CHECK_PASSED]


def test_last_stage_finishes_and_promotes(world: FakeWorld, service: CanaryService) -> None:
    arn = begun(world, service)
    outcomes = []
    for index in range(3):
        service.shift(run(arn))
        outcomes.append(service.check(run(arn, stage_index=index)).outcome)
    assert outcomes == [Outcome.NEXT, Outcome.NEXT, Outcome.FINISH]
    assert service.shift(run(arn)).outcome == Outcome.COMPLETE
    world.notify.take()
    assert service.finish(run(arn)).outcome == Outcome.PROMOTED
    world.log.clear()
    assert service.finish(run(arn)).outcome == Outcome.PROMOTED  # retried: no-op
    assert world.log.writes() == []
    assert world.traffic.live(ROUTE) == ALL_LAMBDA
    state = world.state.states[ROUTE]
    assert (state.status, state.lock) == (Status.PROMOTED, None)
    assert [n["subject"] for n in world.notify.take()] == [
        "[strangler] map-tile: promoted: all traffic on Lambda"
    ]


def test_stages_per_run_pauses_and_the_next_run_resumes(
    world: FakeWorld, service: CanaryService
) -> None:
    plan = replace(PLAN, stages_per_run=1)
    arn = begun(world, service, plan)
    service.shift(run(arn, plan))
    assert service.check(run(arn, plan, stage_index=0)).outcome == Outcome.PAUSE
    state = world.state.states[ROUTE]
    assert (state.status, state.stage, state.lock) == (Status.PAUSED, 1, None)
    (note,) = world.notify.take()
    assert note["subject"] == "[strangler] map-tile: paused until the next run"
    second = start(world, "run-2")
    assert service.begin(run(second, plan)).outcome == Outcome.RUN
    result = service.shift(run(second, plan))
    assert result.stage is not None and result.stage.index == 1, "resumes, never from zero"
    assert world.traffic.live(ROUTE) == Weights.from_percent(50)


@pytest.mark.parametrize("child", [None, "app-errors"])
def test_check_fails_on_alarm_and_rolls_back_at_once(
    world: FakeWorld, service: CanaryService, child: str | None
) -> None:
    arn = shifted(world, service)
    if child is None:
        world.alarms.set_alarm(ROUTE, ALARM)
    else:
        # Only a child in ALARM (the composite not yet evaluated) still fails.
        record = world.registry.records[ROUTE]
        name = next(n for n in record.alarm_names if n.endswith(child))
        world.alarms.set_alarm(ROUTE, OK, children=[name])
    world.notify.take()
    result = service.check(run(arn, stage_index=0))
    assert result.outcome == Outcome.FAIL
    assert "check failed" in (result.reason or "")
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.state.states[ROUTE].status is Status.ROLLED_BACK
    assert events(service)[-1] is Event.CHECK_FAILED
    assert world.executions.status(arn) == "RUNNING", "the caller's own execution is not stopped"
    # The Rollback task that follows in the state machine changes nothing more.
    world.log.clear()
    again = service.rollback_task(run(arn), "CheckFailed: alarm")
    assert again.outcome == Outcome.ROLLED_BACK
    assert world.log.writes() == []
    assert events(service)[-1] is Event.CHECK_FAILED
    assert len(world.notify.take()) == 1


def test_check_fails_without_enough_requests(world: FakeWorld, service: CanaryService) -> None:
    plan = replace(PLAN, min_requests=5)
    arn = begun(world, service, plan)
    service.shift(run(arn, plan))
    world.metrics.put_requests(ROUTE, 3, at=world.clock.now() + timedelta(seconds=0.5))
    world.clock.advance(1)  # the bake
    result = service.check(run(arn, plan, stage_index=0))
    assert result.outcome == Outcome.FAIL
    assert "3 canary requests" in (result.reason or "")
    assert "minRequests 5" in (result.reason or "")
    assert world.traffic.live(ROUTE) == ALL_ECS


def test_check_passes_with_enough_requests(world: FakeWorld, service: CanaryService) -> None:
    plan = replace(PLAN, min_requests=5)
    arn = begun(world, service, plan)
    service.shift(run(arn, plan))
    shifted_at = world.clock.now()
    world.metrics.put_requests(ROUTE, 7, at=shifted_at + timedelta(seconds=0.5))
    world.clock.advance(1)  # the bake
    assert service.check(run(arn, plan, stage_index=0)).outcome == Outcome.NEXT
    history = service.history(ROUTE, 1)
    assert "7 requests" in (history[0].reason or "")
    # The window counted is the bake: from the shift to the check.
    ((route, start_at, end_at),) = world.log.args_of("metrics.request_count")
    assert (route, start_at, end_at) == (ROUTE, shifted_at, shifted_at + timedelta(seconds=1))


def test_requests_before_the_shift_do_not_count(world: FakeWorld, service: CanaryService) -> None:
    plan = replace(PLAN, min_requests=5)
    arn = begun(world, service, plan)
    world.metrics.put_requests(ROUTE, 50, at=world.clock.now() - timedelta(seconds=1))
    service.shift(run(arn, plan))
    world.clock.advance(1)
    result = service.check(run(arn, plan, stage_index=0))
    assert result.outcome == Outcome.FAIL
    assert "0 canary requests" in (result.reason or "")


def test_requests_after_a_long_bake_still_count(world: FakeWorld, service: CanaryService) -> None:
    """A Check that runs late counts up to its own time, not only the planned bake."""
    plan = replace(PLAN, min_requests=5)
    arn = begun(world, service, plan)
    service.shift(run(arn, plan))
    world.metrics.put_requests(ROUTE, 6, at=world.clock.now() + timedelta(seconds=30))
    world.clock.advance(60)
    assert service.check(run(arn, plan, stage_index=0)).outcome == Outcome.NEXT


def test_min_requests_does_not_apply_to_a_stage_without_bake(
    world: FakeWorld, service: CanaryService
) -> None:
    plan = PlanRecord(stages=(StagePlanRecord(10.0, 0), StagePlanRecord(100.0, 0)), min_requests=5)
    arn = begun(world, service, plan)
    service.shift(run(arn, plan))
    assert service.check(run(arn, plan, stage_index=0)).outcome == Outcome.NEXT
    assert world.log.count("metrics.request_count") == 0


# --------------------------------------------------------------------------- rollback


def test_rollback_order_weights_first_then_state_then_stop_then_notify(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = shifted(world, service)
    world.log.clear()
    result = service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert (result.result, result.status) == ("done", Status.ROLLED_BACK)
    writes = [w for w in world.log.writes() if w != "metrics.put_canary_weight"]
    assert writes == [
        "traffic.write_weights",
        "state.save",
        "executions.stop",
        "notify.notify",
    ]
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.executions.status(arn) == "ABORTED"
    assert result.stopped_execution == arn


def test_rollback_is_idempotent(world: FakeWorld, service: CanaryService) -> None:
    shifted(world, service)
    service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    world.log.clear()
    again = service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert again.result == "unchanged"
    assert world.log.writes() == []
    assert events(service).count(Event.ROLLBACK) == 1
    assert len(world.notify.take()) == 1


def test_rollback_still_sets_the_weights_when_dynamodb_fails(
    world: FakeWorld, service: CanaryService
) -> None:
    shifted(world, service)
    world.faults.fail(
        "state.load",
        lambda: AwsCallFailed(
            "ServiceUnavailable", route=ROUTE, api_call="dynamodb:GetItem", transient=True
        ),
        times=None,
    )
    with pytest.raises(RollbackIncomplete) as info:
        service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert is_transient(info.value)
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.log.count("state.save") == 2, "begin and shift only: the rollback saved nothing"
    (note,) = world.notify.take()
    assert "incomplete" in note["subject"]
    assert any("state: " in p and "ServiceUnavailable" in p for p in note["message"]["problems"])


def test_rollback_still_records_the_state_when_sns_fails(
    world: FakeWorld, service: CanaryService
) -> None:
    world.faults.fail(
        "notify.notify",
        lambda: AwsCallFailed("AuthorizationError", api_call="sns:Publish"),
        times=None,
    )
    arn = shifted(world, service)
    with pytest.raises(RollbackIncomplete, match="notify"):
        service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.state.states[ROUTE].status is Status.ROLLED_BACK
    assert world.executions.status(arn) == "ABORTED"


def test_rollback_raises_when_the_weights_cannot_be_written(
    world: FakeWorld, service: CanaryService
) -> None:
    shifted(world, service)
    world.faults.throttle("traffic.write_weights", times=None)
    world.log.clear()
    with pytest.raises(AwsCallFailed):
        service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    # Three attempts, with growing pauses between them (on the fake clock).
    assert world.log.count("traffic.write_weights") == 3
    assert world.clock.sleeps == [0.5, 1.0]
    (note,) = world.notify.take()
    assert "ROLLBACK FAILED" in note["subject"]
    assert world.state.states[ROUTE].status is Status.PROGRESSING, "state not faked"


def test_rollback_survives_a_throttled_first_write(
    world: FakeWorld, service: CanaryService
) -> None:
    shifted(world, service)
    world.faults.throttle("traffic.write_weights", nth=1, times=1)
    result = service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert (result.result, result.status) == ("done", Status.ROLLED_BACK)
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.clock.sleeps == [0.5]


def test_handle_alarm_rolls_back_the_route_of_the_alarm(
    world: FakeWorld, service: CanaryService
) -> None:
    shifted(world, service)
    record = world.registry.records[ROUTE]
    (result,) = service.handle_alarm(
        record.composite_alarm_name, record.composite_alarm_arn, "ALARM", "errors"
    )
    assert result.result == "done"
    entry = service.history(ROUTE, 1)[0]
    assert (entry.event, entry.actor) == (Event.ROLLBACK, f"alarm:{record.composite_alarm_name}")
    assert world.traffic.live(ROUTE) == ALL_ECS


def test_handle_alarm_ignores_ok_and_refuses_unknown_alarms(
    world: FakeWorld, service: CanaryService
) -> None:
    record = world.registry.records[ROUTE]
    assert service.handle_alarm(record.composite_alarm_name, None, "OK", "") == []
    with pytest.raises(Exception, match="belongs to no route"):
        service.handle_alarm("somebody-elses-alarm", None, "ALARM", "")
    assert service.history(ROUTE, 10) == []
    assert world.log.writes() == []


def test_handle_alarm_rolls_back_every_route_even_when_one_fails() -> None:
    world = fake_world([route_record("map-tile", PLAN), route_record("map-poi", PLAN)])
    service = world.service()
    for route in ("map-tile", "map-poi"):
        world.traffic.set_by_hand(route, Weights.from_percent(10))
    shared = "strangler-test-shared-errors"
    for route in ("map-tile", "map-poi"):
        record = world.registry.records[route]
        world.registry.records[route] = replace(record, alarm_names=(*record.alarm_names, shared))
    # Routes are handled in name order: the three attempts of map-poi fail.
    world.faults.throttle("traffic.write_weights", nth=1, times=3)
    with pytest.raises(AwsCallFailed):
        service.handle_alarm(shared, None, "ALARM", "errors")
    assert world.traffic.live("map-poi") == Weights.from_percent(10)
    assert world.traffic.live("map-tile") == ALL_ECS, "the other route still rolled back"


# --------------------------------------------------------------------------- operator


def test_start_run_starts_a_named_execution(world: FakeWorld, service: CanaryService) -> None:
    result = service.start_run(ROUTE, actor="operator:alice")
    assert result.result == "started" and result.execution is not None
    ((name, payload),) = world.log.args_of("executions.start")
    assert payload == {
        "route": ROUTE,
        "trigger": "operator",
        "actor": "operator:alice",
        "plan": PLAN.to_input(),
    }
    assert name.startswith("map-tile-operator-20260105T090000Z-")
    assert world.executions.status(result.execution) == "RUNNING"


def test_start_run_is_refused_on_a_rolled_back_route(
    world: FakeWorld, service: CanaryService
) -> None:
    service.rollback(ROUTE, reason="test", actor="operator:test")
    with pytest.raises(TransitionRefused, match="resume"):
        service.start_run(ROUTE, actor="operator:alice")
    assert world.log.count("executions.start") == 0
    service.resume(ROUTE, reason="fixed", actor="operator:alice")
    assert service.start_run(ROUTE, actor="operator:alice").result == "started"


def test_start_run_is_refused_while_a_run_holds_the_lock(
    world: FakeWorld, service: CanaryService
) -> None:
    begun(world, service)
    with pytest.raises(TransitionRefused, match="locked by running execution"):
        service.start_run(ROUTE, actor="operator:alice")
    assert world.log.count("executions.start") == 0


def test_pause_stops_the_run_and_keeps_the_weights(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = shifted(world, service)
    result = service.pause(ROUTE, reason="lunch", actor="operator:alice")
    assert (result.status, result.stopped_execution) == (Status.PAUSED, arn)
    assert world.executions.status(arn) == "ABORTED"
    assert world.traffic.live(ROUTE) == Weights.from_percent(10)
    # The stopped run's next task changes nothing.
    world.log.clear()
    assert service.check(run(arn, stage_index=0)).outcome == Outcome.SUPERSEDED
    assert world.log.writes() == []


def test_promote_skips_the_bake_and_starts_a_new_run(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = shifted(world, service)
    result = service.promote(ROUTE, reason="looks good", actor="operator:alice")
    assert result.result == "started" and result.execution not in (None, arn)
    assert world.executions.status(arn) == "ABORTED"
    state = world.state.states[ROUTE]
    assert (state.status, state.stage) == (Status.IDLE, 1)


def test_promote_is_refused_in_alarm(world: FakeWorld, service: CanaryService) -> None:
    world.alarms.set_alarm(ROUTE, ALARM)
    with pytest.raises(TransitionRefused, match="ALARM"):
        service.promote(ROUTE, reason="yolo", actor="operator:alice", full=True)
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.log.writes() == []


def test_full_promote_goes_to_100_verified(world: FakeWorld, service: CanaryService) -> None:
    arn = shifted(world, service)
    result = service.promote(ROUTE, reason="ship it", actor="operator:alice", full=True)
    assert (result.status, result.weights) == (Status.PROMOTED, ALL_LAMBDA)
    assert world.traffic.live(ROUTE) == ALL_LAMBDA
    assert world.executions.status(arn) == "ABORTED"


def test_status_reports_everything_the_cli_shows(world: FakeWorld, service: CanaryService) -> None:
    arn = shifted(world, service)
    world.alarms.set_alarm(ROUTE, ALARM, children=["strangler-test-map-tile-p99-latency"])
    status = service.status(ROUTE)
    assert status.status is Status.PROGRESSING
    assert status.live == Weights.from_percent(10) and not status.drift
    assert status.alarm == "ALARM"
    assert status.alarms_in_alarm == ("strangler-test-map-tile-p99-latency",)
    assert (status.execution, status.execution_running) == (arn, True)
    state = world.state.states[ROUTE]
    assert state.stage_started_at == world.clock.now()
    assert status.next_stage_at == state.stage_started_at + timedelta(seconds=1)
    world.traffic.set_by_hand(ROUTE, Weights(ecs=500, lambda_=499))
    assert service.status(ROUTE).drift


# --------------------------------------------------------------------------- conditional writes


def test_a_lost_conditional_write_reloads_and_decides_again(
    world: FakeWorld, service: CanaryService
) -> None:
    shifted(world, service)
    other = world.service()
    landed: list[int] = []

    def pause_first(previous_version: int, _: object) -> None:
        if not landed:
            landed.append(previous_version)
            world.state.before_save = None
            other.pause(ROUTE, reason="lunch", actor="operator:bob")

    world.state.before_save = pause_first
    result = service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert result.status is Status.ROLLED_BACK
    assert events(service)[-2:] == [Event.PAUSE, Event.ROLLBACK]
    assert world.state.states[ROUTE].version == landed[0] + 2


def test_a_write_that_keeps_losing_raises_concurrent_update(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begun(world, service)

    def another_writer(previous_version: int, _: object) -> None:
        state = world.state.states[ROUTE]
        world.state.put(replace(state, version=state.version + 1))

    world.state.before_save = another_writer
    with pytest.raises(ConcurrentUpdate) as info:
        service.pause(ROUTE, reason="lunch", actor="operator:alice")
    assert is_transient(info.value)
    assert world.log.count("state.save") == 1 + 4, "begin, then the configured four attempts"
    assert world.executions.status(arn) == "RUNNING", "nothing was stopped"


# --------------------------------------------------------------------------- pure helpers


def test_execution_names_are_valid_and_unique() -> None:
    now = datetime(2024, 5, 28, 9, 21, 11, tzinfo=UTC)
    first = execution_name("map/tile v2", "schedule", now)
    second = execution_name("map/tile v2", "schedule", now)
    assert first != second
    assert first.startswith("map-tile-v2-schedule-20240528T092111Z-")
    long = execution_name("r" * 200, "operator", now)
    assert len(long) == 80 and long.endswith(long[-8:])


def test_ports_are_reused_not_rebuilt(world: FakeWorld) -> None:
    ports = world.ports()
    assert isinstance(ports, Ports)
    assert world.service(ports).ports is ports
