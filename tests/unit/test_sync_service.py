"""CanaryService.sync on the in-memory fakes: on a registry change, at Begin, in a rollback.

The fake rule has an ECS slot and a Lambda slot whose ARNs come from the
registry record the deploy created it from; a test then "redeploys" (the
registry record changes, the rule does not, as Pulumi ignores the rule's
actions) and checks what the sync writes, records and notifies.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.core.contract import RouteRecord, StackRecord
from controller.core.errors import DriftDetected, SyncRefused, VerificationFailed
from controller.core.lifecycle import Event, Status
from controller.core.state_machine import Outcome
from controller.core.sync import TargetGroupWeight
from controller.core.weights import ALL_ECS, Weights
from controller.service import CanaryService, RunContext
from tests.fakes import DEFAULT_PLAN, FakeRegistry, FakeWorld, fake_world, route_record

ROUTE = "map-tile"
PLAN = DEFAULT_PLAN
ELB = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012"
NEW_ECS = f"{ELB}:targetgroup/monolith-ecs-v2/9999999999999999"
NEW_LAMBDA = f"{ELB}:targetgroup/map-tile-lambda/8888888888888888"
TEN = Weights.from_percent(10)


@pytest.fixture(name="world")
def _world() -> FakeWorld:
    world = fake_world([route_record(ROUTE, PLAN)])
    record = world.registry.records[ROUTE]
    # The deploy created the rule from the record it wrote.
    world.traffic.set_target_groups(
        ROUTE, record.ecs_target_group_arn, record.lambda_target_group_arn
    )
    return world


def run(arn: str) -> RunContext:
    return RunContext(
        route=ROUTE, execution_arn=arn, trigger="operator", actor="operator:test", plan=PLAN
    )


def in_stage_one(world: FakeWorld, service: CanaryService) -> str:
    """A run that holds the route and has shifted to 10 %; returns its execution ARN."""
    arn = world.executions.started("run-1", {"route": ROUTE})
    assert service.begin(run(arn)).outcome == Outcome.RUN
    assert service.shift(run(arn)).outcome == Outcome.BAKING
    assert world.traffic.live(ROUTE) == TEN
    return arn


def events(service: CanaryService) -> list[Event]:
    return [entry.event for entry in reversed(service.history(ROUTE, 100))]


# --------------------------------------------------------------------------- the sync


def test_a_new_ecs_target_group_is_synced_mid_run_keeping_the_split_and_the_lock(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = in_stage_one(world, service)
    old = world.registry.records[ROUTE]
    world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS)
    before = world.state.states[ROUTE]
    world.log.clear()
    world.notify.take()

    result = service.sync(ROUTE, actor="registry", reason="Parameter Store Update")

    assert world.traffic.forward(ROUTE) == (
        TargetGroupWeight(NEW_ECS, TEN.ecs),
        TargetGroupWeight(old.lambda_target_group_arn, TEN.lambda_),
    )
    assert world.log.writes() == ["traffic.write_forward", "state.save", "notify.notify"]
    names = world.log.names()
    assert names.index("registry.reload") < names.index("registry.route"), "a fresh record"
    assert (result.action, result.result, result.weights) == ("sync", "done", TEN)
    after = world.state.states[ROUTE]
    assert after == replace(before, version=before.version + 1, updated_at=world.clock.now())
    assert after.lock is not None and after.lock.execution_arn == arn, "the run keeps the route"
    entry = service.history(ROUTE, 1)[0]
    assert (entry.event, entry.actor, entry.weights) == (Event.SYNC, "registry", TEN)
    assert entry.reason is not None
    assert old.ecs_target_group_arn in entry.reason and NEW_ECS in entry.reason
    assert "Parameter Store Update" in entry.reason
    (sent,) = world.notify.take()
    assert sent["message"]["event"] == "sync"
    assert sent["message"]["replaced"] == [
        {"side": "ECS", "from": old.ecs_target_group_arn, "to": NEW_ECS, "weight": TEN.ecs}
    ]
    # The run goes on: its next shift reads the weights by the new ARN, no drift.
    world.clock.advance(1)
    assert service.check(run(arn)).outcome == Outcome.NEXT
    assert service.shift(run(arn)).outcome == Outcome.BAKING
    assert world.traffic.live(ROUTE) == Weights.from_percent(50)


def test_a_replaced_lambda_target_group_is_synced_in_the_other_order(
    world: FakeWorld, service: CanaryService
) -> None:
    in_stage_one(world, service)
    world.traffic.reverse_order(ROUTE)
    old = world.registry.redeploy(ROUTE, lambda_target_group_arn=NEW_LAMBDA)

    service.sync(ROUTE, actor="registry")

    assert world.traffic.forward(ROUTE) == (
        TargetGroupWeight(NEW_LAMBDA, TEN.lambda_),
        TargetGroupWeight(old.ecs_target_group_arn, TEN.ecs),
    )
    assert service.status(ROUTE).live == TEN
    assert not service.status(ROUTE).drift


def test_a_rule_in_sync_writes_nothing(world: FakeWorld, service: CanaryService) -> None:
    in_stage_one(world, service)
    world.log.clear()
    world.notify.take()
    result = service.sync(ROUTE, actor="operator:alice")
    assert world.log.writes() == []
    assert world.log.count("traffic.read_forward") == 1
    assert (result.result, result.weights) == ("unchanged", TEN)
    assert world.notify.take() == []
    assert Event.SYNC not in events(service)


def test_both_sides_changed_is_refused_notified_and_writes_nothing_else(
    world: FakeWorld, service: CanaryService
) -> None:
    in_stage_one(world, service)
    old = world.registry.records[ROUTE]
    world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS, lambda_target_group_arn=NEW_LAMBDA)
    before = world.traffic.forward(ROUTE)
    world.log.clear()
    world.notify.take()

    with pytest.raises(SyncRefused) as caught:
        service.sync(ROUTE, actor="registry")

    for arn in (NEW_ECS, NEW_LAMBDA, old.ecs_target_group_arn, old.lambda_target_group_arn):
        assert arn in str(caught.value)
    assert world.log.writes() == ["notify.notify"]
    assert world.traffic.forward(ROUTE) == before
    (sent,) = world.notify.take()
    assert sent["message"]["event"] == "sync_refused"
    assert "SYNC REFUSED" in sent["subject"]


def test_a_record_without_ecs_is_refused(world: FakeWorld, service: CanaryService) -> None:
    record = world.registry.records[ROUTE]
    world.registry.redeploy(ROUTE, ecs_target_group_arn=record.lambda_target_group_arn)
    with pytest.raises(SyncRefused, match="without the ECS target group"):
        service.sync(ROUTE, actor="operator:alice")
    assert world.log.count("traffic.write_forward") == 0


def test_an_unverified_sync_is_not_recorded(world: FakeWorld, service: CanaryService) -> None:
    world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS)
    world.traffic.apply_writes = False
    with pytest.raises(VerificationFailed, match=NEW_ECS):
        service.sync(ROUTE, actor="registry")
    assert world.clock.sleeps == [0.5, 0.5]
    assert events(service) == []


# --------------------------------------------------------------------------- races


def test_a_rollback_between_read_and_write_is_kept(
    world: FakeWorld, service: CanaryService
) -> None:
    in_stage_one(world, service)
    world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS)
    raced: list[str] = []

    def rollback_lands_first(route: object) -> None:
        if not raced:
            raced.append("rollback")
            world.traffic.set_by_hand(ROUTE, ALL_ECS)  # the rollback's write, on the old ARNs

    world.traffic.before_forward_write = rollback_lands_first

    service.sync(ROUTE, actor="registry")

    assert world.log.count("traffic.write_forward") == 2, "decided again on the fresh read"
    assert world.log.count("traffic.read_forward") >= 2
    assert world.traffic.forward(ROUTE)[0] == TargetGroupWeight(NEW_ECS, ALL_ECS.ecs)
    assert world.traffic.live(ROUTE) == ALL_ECS, "the rollback's weights were not overwritten"


def test_a_rollback_recorded_while_syncing_wins(world: FakeWorld, service: CanaryService) -> None:
    in_stage_one(world, service)
    world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS)

    def rollback_state_lands(route: object) -> None:
        # The rollback wrote ECS 100 % and re-checked the rule before this
        # sync's write lands with the older split: only the state tells.
        state = world.state.states[ROUTE]
        world.state.put(replace(state, status=Status.ROLLED_BACK, lock=None, last_written=ALL_ECS))
        world.traffic.before_forward_write = None

    world.traffic.before_forward_write = rollback_state_lands

    service.sync(ROUTE, actor="registry")

    assert world.traffic.live(ROUTE) == ALL_ECS
    assert world.traffic.forward(ROUTE)[0].arn == NEW_ECS


def test_a_rollback_of_a_rule_not_synced_yet_syncs_then_goes_to_ecs(
    world: FakeWorld, service: CanaryService
) -> None:
    in_stage_one(world, service)
    world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS)

    result = service.rollback(ROUTE, reason="alarm", actor="alarm:x")

    assert result.status is Status.ROLLED_BACK
    assert world.traffic.forward(ROUTE)[0] == TargetGroupWeight(NEW_ECS, ALL_ECS.ecs)
    assert world.traffic.live(ROUTE) == ALL_ECS
    assert events(service)[-2:] == [Event.SYNC, Event.ROLLBACK]
    assert world.clock.sleeps == [], "a rule missing a group is not written blindly again"


# --------------------------------------------------------------------------- at Begin


def test_begin_syncs_before_taking_the_lock(world: FakeWorld, service: CanaryService) -> None:
    world.registry.redeploy(ROUTE, lambda_target_group_arn=NEW_LAMBDA)
    arn = world.executions.started("run-1", {"route": ROUTE})

    assert service.begin(run(arn)).outcome == Outcome.RUN

    assert events(service) == [Event.SYNC, Event.BEGIN]
    assert world.traffic.forward(ROUTE)[1] == TargetGroupWeight(NEW_LAMBDA, 0)
    assert service.shift(run(arn)).outcome == Outcome.BAKING
    assert world.traffic.live(ROUTE) == TEN


def test_begin_of_a_rule_in_sync_syncs_nothing(world: FakeWorld, service: CanaryService) -> None:
    arn = world.executions.started("run-1", {"route": ROUTE})
    service.begin(run(arn))
    assert events(service) == [Event.BEGIN]
    assert world.log.count("traffic.write_forward") == 0


def test_begin_on_a_rule_that_cannot_be_synced_is_a_recorded_noop(
    world: FakeWorld, service: CanaryService
) -> None:
    world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS, lambda_target_group_arn=NEW_LAMBDA)
    arn = world.executions.started("run-1", {"route": ROUTE})
    result = service.begin(run(arn))
    assert result.outcome == Outcome.NOOP
    assert "start skipped: cannot sync" in (result.reason or "")
    assert events(service) == [Event.NOOP]
    assert world.state.states[ROUTE].lock is None


def test_begin_on_a_rule_without_a_forward_action_is_a_recorded_noop(
    world: FakeWorld, service: CanaryService
) -> None:
    world.faults.fail(
        "traffic.read_forward",
        DriftDetected("the rule must have exactly one forward action, found 0", route=ROUTE),
    )
    arn = world.executions.started("run-1", {"route": ROUTE})
    result = service.begin(run(arn))
    assert result.outcome == Outcome.NOOP
    assert "exactly one forward action" in (result.reason or "")
    assert events(service) == [Event.NOOP]


# --------------------------------------------------------------------------- reading by ARN


def test_weights_and_drift_read_the_same_in_either_order(
    world: FakeWorld, service: CanaryService
) -> None:
    in_stage_one(world, service)
    record = world.registry.records[ROUTE]
    first = (world.traffic.read_weights(record), service.status(ROUTE).drift)
    world.traffic.reverse_order(ROUTE)
    assert world.traffic.forward(ROUTE)[0].arn == record.lambda_target_group_arn
    assert (world.traffic.read_weights(record), service.status(ROUTE).drift) == first
    assert first == (TEN, False)


def test_reading_weights_of_a_rule_not_synced_is_drift_naming_the_arn(
    world: FakeWorld,
) -> None:
    record = world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS)
    with pytest.raises(DriftDetected, match=NEW_ECS):
        world.traffic.read_weights(record)


class CachingRegistry:
    """A registry that caches records until reload(), as one warm Lambda's SsmRegistry does."""

    def __init__(self, registry: FakeRegistry) -> None:
        self._registry = registry
        self._cache: dict[str, RouteRecord] = {}

    def stack(self) -> StackRecord:
        return self._registry.stack()

    def route(self, name: str) -> RouteRecord:
        if name not in self._cache:
            self._cache[name] = self._registry.route(name)
        return self._cache[name]

    def routes(self) -> list[RouteRecord]:
        return [self.route(record.route) for record in self._registry.routes()]

    def reload(self) -> None:
        self._registry.reload()
        self._cache.clear()


def test_a_run_on_a_warm_environment_with_a_stale_record_reads_the_fresh_one(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = in_stage_one(world, service)
    stale = world.service(replace(world.ports(), registry=CachingRegistry(world.registry)))
    stale.status(ROUTE)  # this environment has read the record before the deploy
    world.registry.redeploy(ROUTE, ecs_target_group_arn=NEW_ECS)
    service.sync(ROUTE, actor="registry")  # the event landed in another environment

    world.clock.advance(1)
    assert stale.check(run(arn)).outcome == Outcome.NEXT
    assert stale.shift(run(arn)).outcome == Outcome.BAKING
    assert world.traffic.forward(ROUTE)[0] == TargetGroupWeight(
        NEW_ECS, Weights.from_percent(50).ecs
    )


def test_a_rule_that_lost_a_group_is_still_drift_after_a_fresh_read(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = in_stage_one(world, service)
    record = world.registry.records[ROUTE]
    world.traffic.set_target_groups(ROUTE, NEW_ECS, record.lambda_target_group_arn)  # by hand
    with pytest.raises(DriftDetected, match=record.ecs_target_group_arn):
        service.shift(run(arn))
    assert world.log.count("registry.reload") >= 1
