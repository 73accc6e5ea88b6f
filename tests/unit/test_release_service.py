"""controller/releases.py on the fakes: starting, staging, judging and failing back releases."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.core.lifecycle import Event, RouteState, Status
from controller.core.ports import ALARM
from controller.core.release import AliasSplit, ReleasePlanRecord, ReleaseStageRecord
from controller.core.release_run import release_key
from controller.core.state_machine import Outcome
from controller.core.weights import ALL_LAMBDA, Weights
from controller.service import CanaryService
from tests.fakes import FakeWorld, fake_world, route_record

ROUTE = "map-tile"
PLAN = ReleasePlanRecord(
    stages=(ReleaseStageRecord(10, 60), ReleaseStageRecord(50, 60), ReleaseStageRecord(100, 0)),
    min_requests=20,
    max_error_rate_delta_percent=1.0,
)


@pytest.fixture(name="world")
def _world() -> FakeWorld:
    record = replace(route_record(ROUTE), function_version="2", alias_name="live", release=PLAN)
    world = fake_world([record])
    world.traffic.rules[ROUTE] = ALL_LAMBDA
    world.state.put(RouteState(route=ROUTE, status=Status.PROMOTED, stage=3, stages_total=3))
    return world


def begin(world: FakeWorld, service: CanaryService) -> str:
    arn = world.executions.started("release-1", {"route": ROUTE, "trigger": "release"})
    result = service.releases.begin(ROUTE, arn, "registry")
    assert result.outcome == Outcome.RELEASE, result.reason
    return arn


def serve(world: FakeWorld, version: str, invocations: int, errors: int = 0) -> None:
    world.release.put_counts(ROUTE, version, invocations, errors, world.clock.now())


def test_a_new_version_on_a_promoted_route_starts_a_release_run(
    world: FakeWorld, service: CanaryService
) -> None:
    answer = service.releases.on_new_version(ROUTE, actor="registry")
    assert answer.startswith("release of v2 started")
    (execution,) = world.executions.executions.values()
    assert execution.payload["trigger"] == "release"
    assert world.release.writes == []  # the run moves the alias, not the event


def publish_while_migrating(
    world: FakeWorld, service: CanaryService, *, stage: int, lambda_percent: float
) -> None:
    """A new version published while a migration run is at ``stage``: its release waits."""
    world.state.put(RouteState(route=ROUTE, status=Status.PROGRESSING, stage=stage, stages_total=3))
    world.traffic.rules[ROUTE] = Weights.from_percent(lambda_percent)
    assert "waits" in service.releases.on_new_version(ROUTE, actor="registry")


def test_a_migrating_route_waits_and_lambda_at_zero_moves_directly(
    world: FakeWorld, service: CanaryService
) -> None:
    publish_while_migrating(world, service, stage=1, lambda_percent=10)
    assert world.release.writes == [] and world.executions.executions == {}
    world.traffic.rules[ROUTE] = Weights.from_percent(0)
    assert "directly" in service.releases.on_new_version(ROUTE, actor="registry")
    assert world.release.aliases[ROUTE] == AliasSplit("2")
    assert world.executions.executions == {}


def test_a_release_promotes_the_new_version_stage_by_stage(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begin(world, service)
    shares: list[float] = []
    for stage_weight in (10, 50):
        shifted = service.releases.shift(ROUTE, arn)
        assert shifted.outcome == Outcome.BAKING
        shares.append(world.release.aliases[ROUTE].share("2"))
        assert shares[-1] == pytest.approx(stage_weight / 100)
        world.clock.advance(30)
        serve(world, "1", 200)
        serve(world, "2", 25)
        world.clock.advance(31)
        assert service.releases.check(ROUTE, arn).outcome == Outcome.NEXT
    assert service.releases.shift(ROUTE, arn).outcome == Outcome.COMPLETE
    assert world.release.aliases[ROUTE] == AliasSplit("2")
    assert service.releases.finish(ROUTE, arn).outcome == Outcome.PROMOTED
    assert service.releases.state(ROUTE).status is Status.PROMOTED
    # The rule was never touched: the route stays at Lambda 100 %.
    assert world.traffic.rules[ROUTE] == ALL_LAMBDA
    assert all(route == ROUTE for route, _ in world.release.writes)
    events = [e.event for e in service.history(ROUTE, 50)]
    assert Event.RELEASE_FINISH in events and events.count(Event.RELEASE_CHECK) == 2


def test_too_few_requests_is_not_yet_and_then_a_failure(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begin(world, service)
    service.releases.shift(ROUTE, arn)
    serve(world, "1", 500)
    serve(world, "2", 3)
    for _ in range(2):
        world.clock.advance(61)
        result = service.releases.check(ROUTE, arn)
        assert result.outcome == Outcome.NOT_YET
        assert result.stage is not None and result.stage["bakeSeconds"] == 60
    world.clock.advance(61)
    failed = service.releases.check(ROUTE, arn)
    assert failed.outcome == Outcome.FAIL and "after 3 bakes" in str(failed.reason)
    entries = [e for e in service.history(ROUTE, 50) if e.event is Event.RELEASE_CHECK]
    assert entries and all('"invocations"' in str(e.reason) for e in entries)


def test_a_worse_error_rate_fails_and_failback_serves_the_old_version_only(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begin(world, service)
    service.releases.shift(ROUTE, arn)
    world.clock.advance(10)
    serve(world, "1", 500, errors=5)
    serve(world, "2", 50, errors=10)
    world.clock.advance(51)
    failed = service.releases.check(ROUTE, arn)
    assert failed.outcome == Outcome.FAIL
    assert '"errors":10' in str(failed.reason)
    result = service.releases.failback(
        ROUTE, reason=f"release failed: {failed.reason}", actor="state-machine", execution_arn=arn
    )
    assert result.split == AliasSplit("1")
    assert world.release.aliases[ROUTE] == AliasSplit("1")
    assert service.releases.state(ROUTE).status is Status.ROLLED_BACK
    assert world.state.load(ROUTE).status is Status.PROMOTED
    assert world.traffic.rules[ROUTE] == ALL_LAMBDA
    assert any("release rolled back" in sent["subject"] for sent in world.notify.sent)


def test_an_alarm_during_a_release_fails_back_without_touching_ecs(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begin(world, service)
    service.releases.shift(ROUTE, arn)
    world.alarms.set_alarm(ROUTE, ALARM)
    (result,) = service.handle_alarm(f"strangler-test-{ROUTE}-composite", None, "ALARM", "boom")
    assert result.action == "rollback" and result.status is Status.PROMOTED
    assert world.release.aliases[ROUTE] == AliasSplit("1")
    assert world.traffic.rules[ROUTE] == ALL_LAMBDA
    assert world.executions.status(arn) == "ABORTED"


def test_an_alarm_without_a_release_in_flight_sends_everything_to_ecs(
    world: FakeWorld, service: CanaryService
) -> None:
    service.handle_alarm(f"strangler-test-{ROUTE}-composite", None, "ALARM", "boom")
    assert world.traffic.rules[ROUTE].lambda_ == 0
    assert world.state.load(ROUTE).status is Status.ROLLED_BACK
    assert world.release.writes == []


def test_pause_resume_and_promote_work_on_a_release(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begin(world, service)
    service.releases.shift(ROUTE, arn)
    paused = service.pause(ROUTE, reason="look at logs", actor="operator:a")
    assert paused.result == "done" and paused.stopped_execution == arn
    assert world.release.aliases[ROUTE].share("2") == pytest.approx(0.1)
    resumed = service.resume(ROUTE, reason="fine", actor="operator:a")
    assert resumed.result == "started" and resumed.execution is not None
    promoted = service.promote(ROUTE, reason="ship it", actor="operator:a")
    assert promoted.result == "done"
    assert world.release.aliases[ROUTE] == AliasSplit("2")
    assert service.releases.state(ROUTE).status is Status.PROMOTED


def test_a_split_that_does_not_read_back_is_an_error(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begin(world, service)
    world.release.apply_writes = False
    with pytest.raises(Exception, match="reads back"):
        service.releases.shift(ROUTE, arn)
    assert world.state.load(release_key(ROUTE)).stage_started_at is None


def test_status_shows_the_version_split_during_a_release(
    world: FakeWorld, service: CanaryService
) -> None:
    assert service.status(ROUTE).versions == "v1"
    arn = begin(world, service)
    service.releases.shift(ROUTE, arn)
    status = service.status(ROUTE)
    assert (status.versions, status.release) == ("v1 90 % / v2 10 %", "progressing")
    assert status.live == ALL_LAMBDA


def test_a_version_published_while_migrating_is_released_once_promoted(
    world: FakeWorld, service: CanaryService
) -> None:
    publish_while_migrating(world, service, stage=2, lambda_percent=50)
    assert world.executions.executions == {}
    service.promote(ROUTE, reason="done migrating", actor="operator:a", full=True)
    (execution,) = world.executions.executions.values()
    assert execution.payload["trigger"] == "release"
    assert world.release.aliases[ROUTE] == AliasSplit("1")  # the run moves it, in stages
