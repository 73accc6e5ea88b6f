"""No run starts while an alarm of the route is in ALARM (controller/service.py, on the fakes).

An operator's ``start`` is refused naming the alarm, and nothing is started;
a scheduled run's Begin is a no-op recorded in the history, and nothing is
written to the rule.
"""

from __future__ import annotations

import pytest

from controller.core.contract import PlanRecord, StagePlanRecord
from controller.core.errors import TransitionRefused
from controller.core.lifecycle import Event, Status
from controller.core.ports import ALARM, OK
from controller.core.state_machine import Outcome
from controller.core.weights import ALL_ECS
from controller.service import CanaryService, RunContext
from tests.fakes import FakeWorld, fake_world, route_record

ROUTE = "map-tile"
PLAN = PlanRecord(stages=(StagePlanRecord(10.0, 1), StagePlanRecord(100.0, 1)))
P99 = "strangler-prod-map-tile-p99-latency"


@pytest.fixture(name="world")
def _world() -> FakeWorld:
    return fake_world([route_record(ROUTE, PLAN)])


def scheduled_run(world: FakeWorld, name: str) -> RunContext:
    """The Begin of a run the schedule has started as execution ``name``."""
    payload = {"route": ROUTE, "trigger": "schedule", "actor": "schedule"}
    arn = world.executions.started(name, {**payload, "plan": PLAN.to_input()})
    return RunContext(
        route=ROUTE, execution_arn=arn, trigger="schedule", actor="schedule", plan=PLAN
    )


def test_start_is_refused_while_a_child_alarm_is_in_alarm(
    world: FakeWorld, service: CanaryService
) -> None:
    world.alarms.set_alarm(ROUTE, OK, children=[P99])
    with pytest.raises(TransitionRefused) as caught:
        service.start_run(ROUTE, actor="operator:alice")
    assert caught.value.transition == "start"
    assert caught.value.reason.startswith(f"alarm {P99} is in ALARM")
    assert world.log.count("executions.start") == 0
    assert world.log.writes() == []


def test_start_names_the_composite_when_only_it_is_in_alarm(
    world: FakeWorld, service: CanaryService
) -> None:
    composite = world.registry.route(ROUTE).composite_alarm_name
    world.alarms.set_alarm(ROUTE, ALARM)
    with pytest.raises(TransitionRefused, match=f"alarm {composite} is in ALARM"):
        service.start_run(ROUTE, actor="operator:alice")


def test_start_goes_ahead_once_the_alarm_is_ok(world: FakeWorld, service: CanaryService) -> None:
    world.alarms.set_alarm(ROUTE, ALARM, children=[P99])
    with pytest.raises(TransitionRefused):
        service.start_run(ROUTE, actor="operator:alice")
    world.alarms.set_alarm(ROUTE, OK)
    assert service.start_run(ROUTE, actor="operator:alice").result == "started"


def test_scheduled_begin_during_an_alarm_is_a_recorded_noop(
    world: FakeWorld, service: CanaryService
) -> None:
    world.alarms.set_alarm(ROUTE, ALARM, children=[P99])
    result = service.begin(scheduled_run(world, "sched-1"))
    assert result.outcome == Outcome.NOOP
    composite = world.registry.route(ROUTE).composite_alarm_name
    assert result.reason == f"start skipped: alarms {composite}, {P99} are in ALARM"
    (entry,) = service.history(ROUTE)
    assert (entry.event, entry.actor, entry.reason) == (Event.NOOP, "schedule", result.reason)
    assert world.state.states[ROUTE].status is Status.IDLE
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.log.count("traffic.write_weights") == 0


def test_a_rolled_back_route_in_alarm_is_refused_for_its_state_first(
    world: FakeWorld, service: CanaryService
) -> None:
    service.rollback(ROUTE, reason="p99", actor="operator:alice")
    world.alarms.set_alarm(ROUTE, ALARM, children=[P99])
    with pytest.raises(TransitionRefused, match="rolled_back") as caught:
        service.start_run(ROUTE, actor="operator:alice")
    assert "resume" in caught.value.hint
    result = service.begin(scheduled_run(world, "sched-2"))
    assert result.outcome == Outcome.NOOP
    assert "ALARM" not in (result.reason or ""), result.reason
