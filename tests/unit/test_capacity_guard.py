"""The capacity guard and the concurrency gate in the service, on the fakes of their ports.

The ECS service is :class:`tests.fakes.FakeCapacity` (whose ``scale_in`` plays
the autoscaler, respecting MinCapacity), Lambda's ConcurrentExecutions is
:class:`tests.fakes.FakeConcurrency`, time is the world's fake clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from controller.core.contract import CapacityRecord, GateRecord, PlanRecord, StagePlanRecord
from controller.core.errors import AwsCallFailed
from controller.core.lifecycle import Event, Status
from controller.core.state_machine import Outcome
from controller.core.weights import ALL_ECS, Weights
from controller.events import parse_event
from controller.handler import dispatch
from controller.service import CanaryService, RollbackIncomplete, RunContext
from tests.events import load_event
from tests.fakes import FakeWorld, fake_world, route_record

ROUTE = "map-tile"
PLAN = PlanRecord(
    stages=(
        StagePlanRecord(1.0, 60),
        StagePlanRecord(10.0, 60),
        StagePlanRecord(50.0, 60),
        StagePlanRecord(100.0, 0),
    ),
)
SERVICE = CapacityRecord(cluster="common-api", service="common-api-svc", hold_hours=72)
GATE = GateRecord(headroom_percent=80, reserved_concurrency=200, timeout_seconds=10)


def world_with(*, capacity: CapacityRecord | None = SERVICE, gate: GateRecord | None = None):
    record = replace(route_record(ROUTE, PLAN), capacity=capacity, gate=gate)
    world = fake_world([record])
    world.capacity.add(SERVICE, desired_count=12, min_capacity=2, max_capacity=40)
    return world, world.service()


def run_of(world: FakeWorld, name: str = "run-1") -> RunContext:
    arn = world.executions.started(name, {"route": ROUTE})
    return RunContext(ROUTE, arn, "schedule", "schedule", PLAN)


def bake_and_check(world: FakeWorld, service: CanaryService, run: RunContext) -> str:
    shifted = service.shift(run)
    if shifted.outcome != Outcome.BAKING:
        return shifted.outcome
    assert shifted.stage is not None
    world.clock.advance(shifted.stage.bake_seconds)
    return service.check(replace(run, stage_index=shifted.stage.index)).outcome


def promote(world: FakeWorld, service: CanaryService) -> RunContext:
    run = run_of(world)
    assert service.begin(run).outcome == Outcome.RUN
    while bake_and_check(world, service, run) == Outcome.NEXT:
        pass
    assert service.finish(run).outcome == Outcome.PROMOTED
    return run


def capacity_reasons(service: CanaryService) -> list[str]:
    return [
        e.reason or "" for e in reversed(service.history(ROUTE, 100)) if e.event is Event.CAPACITY
    ]


def test_run_records_the_baseline_and_pins_min_against_scale_in() -> None:
    world, service = world_with()
    run = run_of(world)
    service.begin(run)
    ecs = world.capacity.service(SERVICE)
    assert (ecs.desired_count, ecs.min_capacity) == (12, 12)
    guard = world.state.states[ROUTE].capacity
    assert guard is not None and (guard.baseline_desired, guard.baseline_min) == (12, 2)
    assert capacity_reasons(service)[0].startswith("capacity baseline recorded: ecs desired 12")
    sent = world.notify.take()
    assert any(m["message"]["event"] == "capacity" for m in sent)
    # The autoscaler tries to scale in as traffic leaves: MinCapacity stops it.
    assert world.capacity.scale_in(SERVICE, to=3) == 12


def test_a_second_run_keeps_the_first_baseline() -> None:
    world, service = world_with()
    run = run_of(world)
    service.begin(run)
    service.pause(ROUTE, reason="lunch", actor="operator:a")
    service.resume(ROUTE, reason="back", actor="operator:a")
    world.capacity.service(SERVICE).desired_count = 20  # scaled out meanwhile
    assert service.begin(run_of(world, "run-2")).outcome == Outcome.RUN
    guard = world.state.states[ROUTE].capacity
    assert guard is not None and guard.baseline_desired == 12


def test_hold_after_promotion_ends_by_itself_on_the_tick() -> None:
    world, service = world_with()
    promote(world, service)
    guard = world.state.states[ROUTE].capacity
    assert guard is not None and guard.hold_until == world.clock.now() + timedelta(hours=72)
    status = service.status(ROUTE)
    assert status.capacity_enabled and status.capacity == guard
    world.clock.advance(71 * 3600)
    assert service.capacity_tick() == []
    assert world.capacity.service(SERVICE).min_capacity == 12
    world.clock.advance(3600)
    world.log.clear()
    ended = service.capacity_tick()
    assert len(ended) == 1 and ended[0].released_at == world.clock.now()
    assert world.log.args_of("capacity.set_min_capacity") == [("common-api-svc", 2)]
    assert world.capacity.service(SERVICE).min_capacity == 2
    assert capacity_reasons(service)[-1] == "capacity hold ended; ecs min restored to 2 (was 12)"
    assert world.state.states[ROUTE].status is Status.PROMOTED
    # The next tick finds nothing to end.
    world.log.clear()
    assert service.capacity_tick() == [] and world.log.writes() == []


def test_failback_after_scale_in_writes_weights_first_then_restores_the_baseline() -> None:
    world, service = world_with()
    promote(world, service)
    world.capacity.service(SERVICE).min_capacity = 2  # someone undid the pin
    world.capacity.scale_in(SERVICE, to=3)
    world.notify.take()
    world.log.clear()
    result = service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert result.weights == ALL_ECS and world.traffic.live(ROUTE) == ALL_ECS
    writes = world.log.writes()
    assert writes.index("traffic.write_weights") < writes.index("capacity.set_desired_count")
    assert world.log.args_of("capacity.set_desired_count") == [("common-api-svc", 12)]
    assert world.log.args_of("capacity.set_min_capacity") == [("common-api-svc", 12)]
    ecs = world.capacity.service(SERVICE)
    assert (ecs.desired_count, ecs.min_capacity) == (12, 12)
    [rollback] = [m for m in world.notify.take() if m["message"]["event"] == "rollback"]
    assert rollback["message"]["capacity"]["found"]["desiredCount"] == 3
    assert rollback["message"]["capacity"]["set"] == {"desiredCount": 12, "minCapacity": 12}
    assert (
        "failback capacity: found desired 3, min 2; set desired 12, min 12"
        in (capacity_reasons(service)[-1])
    )
    # A repeat writes nothing more.
    world.log.clear()
    service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert world.log.writes() == []


def test_capacity_failure_never_undoes_the_weights_and_is_a_second_event() -> None:
    world, service = world_with()
    promote(world, service)
    world.capacity.service(SERVICE).min_capacity = 2
    world.capacity.scale_in(SERVICE, to=3)
    world.notify.take()
    world.faults.fail(
        "capacity.set_desired_count",
        AwsCallFailed("AccessDenied", api_call="ecs:UpdateService", error_code="AccessDenied"),
    )
    with pytest.raises(RollbackIncomplete, match="capacity"):
        service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.state.states[ROUTE].status is Status.ROLLED_BACK
    subjects = [m["subject"] for m in world.notify.take()]
    assert "[strangler] map-tile: CAPACITY NOT RESTORED after rollback" in subjects
    assert "[strangler] map-tile: rolled back to ECS (incomplete)" in subjects
    # The retry (EventBridge's) restores the capacity, weights untouched.
    world.log.clear()
    service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert "traffic.write_weights" not in world.log.writes()
    assert world.capacity.service(SERVICE).desired_count == 12


def test_without_ecs_service_the_guard_is_off() -> None:
    world, service = world_with(capacity=None)
    promote(world, service)
    service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert [c for c in world.log.names() if c.startswith("capacity.")] == []
    status = service.status(ROUTE)
    assert not status.capacity_enabled and status.capacity is None


def test_gate_pauses_before_a_stage_that_would_exceed_the_headroom() -> None:
    world, service = world_with(capacity=None, gate=GATE)
    run = run_of(world)
    service.begin(run)
    assert bake_and_check(world, service, run) == Outcome.NEXT  # stage 1, no data: no estimate
    shifted = service.shift(run)
    assert shifted.outcome == Outcome.BAKING  # stage 2 at 10 %
    world.concurrency.publish(route_record(ROUTE).function_name, 52, world.clock.now())
    world.clock.advance(60)
    assert service.check(replace(run, stage_index=1)).outcome == Outcome.NEXT
    world.log.clear()
    result = service.shift(run)
    assert result.outcome == Outcome.GATED
    state = world.state.states[ROUTE]
    assert state.status is Status.PAUSED and state.lock is None
    assert state.reason is not None and state.reason.startswith(
        "concurrency gate: stage 3 needs ~260 of 200 reserved (80 % headroom = 160)"
    )
    assert world.log.count("traffic.write_weights") == 0
    assert world.traffic.live(ROUTE) == Weights.from_percent(10)
    [sent] = world.notify.take()[-1:]
    assert sent["message"]["event"] == "gate" and sent["message"]["gate"]["blocked"]
    assert service.status(ROUTE).gate == state.gate
    # The operator raises the cap with pulumi up (the registry), resumes; the next run shifts.
    world.registry.redeploy(ROUTE, gate=replace(GATE, reserved_concurrency=400))
    service.resume(ROUTE, reason="cap raised", actor="operator:a")
    second = run_of(world, "run-2")
    assert service.begin(second).outcome == Outcome.RUN
    assert service.shift(second).outcome == Outcome.BAKING
    assert world.traffic.live(ROUTE) == Weights.from_percent(50)


def test_gate_lets_a_stage_through_at_exactly_the_headroom() -> None:
    world, service = world_with(capacity=None, gate=GATE)
    run = run_of(world)
    service.begin(run)
    bake_and_check(world, service, run)
    service.shift(run)
    world.concurrency.publish(route_record(ROUTE).function_name, 32, world.clock.now())
    world.clock.advance(60)
    service.check(replace(run, stage_index=1))
    assert service.shift(run).outcome == Outcome.BAKING  # 160 of 160: not above


def test_first_stage_gated_on_expected_rps_and_timeout() -> None:
    # 2000 rps x 10 s x 1 % = 200 > 160.
    world, service = world_with(capacity=None, gate=replace(GATE, expected_peak_rps=2000))
    run = run_of(world)
    service.begin(run)
    result = service.shift(run)
    assert result.outcome == Outcome.GATED
    assert "stage 1 needs ~200 of 200 reserved" in (result.reason or "")
    assert world.traffic.live(ROUTE) == ALL_ECS


def test_the_scheduled_rule_event_ends_the_hold_through_the_handler() -> None:
    world, service = world_with()
    promote(world, service)
    tick = parse_event(load_event("eventbridge_scheduled_event"))
    assert dispatch(tick, service) == {"handled": "capacity-tick", "ended": []}
    world.clock.advance(72 * 3600)
    answer = dispatch(tick, service)
    assert [guard["pinned_min"] for guard in answer["ended"]] == [12]
    assert world.capacity.service(SERVICE).min_capacity == 2
    [entry] = [e for e in service.history(ROUTE, 1)]
    assert (entry.event, entry.actor) == (Event.CAPACITY, "schedule:capacity")
