"""Tests of controller.core.lifecycle: every transition of a route's life cycle; invariants."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from controller.core import lifecycle as lc
from controller.core.errors import TransitionRefused
from controller.core.lifecycle import (
    REASON_STAGES_PER_RUN,
    Event,
    HistoryEntry,
    Lock,
    RouteState,
    Status,
    Transition,
)
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights

ROUTE = "map-tile"
RUN_A = "arn:aws:states:eu-west-1:123456789012:execution:strangler-dev:run-a"
RUN_B = "arn:aws:states:eu-west-1:123456789012:execution:strangler-dev:run-b"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
PLAN = [Weights.from_percent(p) for p in (1, 10, 50, 100)]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def begin_run(
    state: RouteState | None = None,
    run: str = RUN_A,
    *,
    minute: int = 0,
    running: bool = False,
    stages_total: int = len(PLAN),
    actor: str = "schedule",
    transition: Callable[..., Transition] = lc.begin,
) -> Transition:
    """``transition`` (Begin, or the schedule's begin_or_noop) of ``run`` at ``at(minute)``.

    ``state`` defaults to a new route's; ``running`` says whether the lock's
    holder is still running.
    """
    return transition(
        lc.initial_state(ROUTE) if state is None else state,
        execution_arn=run,
        stages_total=stages_total,
        holder_running=running,
        actor=actor,
        now=at(minute),
    )


def started(stages_total: int = len(PLAN), execution_arn: str = RUN_A) -> RouteState:
    """A route with a run that just began."""
    return begin_run(None, execution_arn, stages_total=stages_total).state


def run_stage(state: RouteState, *, stages_per_run: int = 0, minute: int = 1) -> RouteState:
    """Shift to the current stage's weights and pass its check."""
    state = lc.record_shift(
        state,
        execution_arn=state.lock.execution_arn if state.lock else RUN_A,
        weights=PLAN[state.stage],
        actor="state-machine",
        now=at(minute),
    ).state
    assert state.lock is not None
    return lc.pass_check(
        state,
        execution_arn=state.lock.execution_arn,
        stages_per_run=stages_per_run,
        actor="state-machine",
        now=at(minute + 1),
    ).state


# --- begin ----------------------------------------------------------------------


def test_begin_takes_the_lock_and_records_the_entry() -> None:
    initial = lc.initial_state(ROUTE)
    t = begin_run(initial)
    assert t.changed
    assert t.state.status is Status.PROGRESSING
    assert t.state.lock == Lock(execution_arn=RUN_A, acquired_at=at(0))
    assert (t.state.stage, t.state.stages_total, t.state.run_stages, t.state.version) == (
        0,
        4,
        0,
        1,
    )
    assert t.entry == HistoryEntry(
        at=at(0),
        actor="schedule",
        event=Event.BEGIN,
        from_status=Status.IDLE,
        to_status=Status.PROGRESSING,
        stage=0,
        weights=None,
        reason="run started of 4 stages",
        execution_arn=RUN_A,
    )


def test_begin_retried_by_the_lock_holder_is_a_silent_noop() -> None:
    state = started()
    t = begin_run(state, minute=1, running=True, actor="sm")
    assert t == Transition(state=state, entry=None, changed=False)


def test_begin_is_refused_while_another_run_holds_the_lock() -> None:
    state = started()
    with pytest.raises(TransitionRefused) as info:
        begin_run(state, RUN_B, minute=1, running=True, actor="op")
    assert RUN_A in info.value.reason
    assert info.value.hint
    assert info.value.route == ROUTE
    assert "begin refused" in str(info.value)


def test_begin_takes_over_the_lock_of_a_finished_execution() -> None:
    state = run_stage(started())
    t = begin_run(state, RUN_B, minute=9, actor="op")
    assert t.entry is not None and t.entry.event is Event.LOCK_STOLEN
    assert RUN_A in (t.entry.reason or "")
    assert t.state.lock == Lock(RUN_B, at(9))
    assert t.state.stage == 1, "a takeover keeps the stored stage"
    assert t.state.stage_started_at is None, "the new run shifts again before it bakes"


@pytest.mark.parametrize("status", [Status.PROMOTED, Status.ROLLED_BACK])
def test_begin_is_refused_on_promoted_and_rolled_back(status: Status) -> None:
    state = replace(lc.initial_state(ROUTE), status=status, last_written=ALL_ECS)
    with pytest.raises(TransitionRefused) as info:
        begin_run(state, actor="s")
    assert status.value in info.value.reason
    if status is Status.ROLLED_BACK:
        assert "python -m controller resume --route map-tile" in info.value.hint


def test_begin_is_refused_without_stages() -> None:
    with pytest.raises(TransitionRefused, match="0 stages"):
        begin_run(stages_total=0, actor="s")


def test_begin_is_refused_when_the_plan_shrank_below_the_stored_stage() -> None:
    state = replace(lc.initial_state(ROUTE), stage=3, stages_total=4)
    with pytest.raises(TransitionRefused, match="only 2"):
        begin_run(state, stages_total=2, actor="s")


def test_naive_time_is_a_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        lc.rollback(lc.initial_state(ROUTE), reason="x", actor="op", now=datetime(2025, 1, 1))


def test_begin_or_noop_records_a_refused_scheduled_start() -> None:
    state = lc.finish(
        run_stage(run_stage(run_stage(run_stage(started())))),
        execution_arn=RUN_A,
        actor="sm",
        now=at(20),
    ).state
    assert state.status is Status.PROMOTED
    t = begin_run(state, RUN_B, minute=30, transition=lc.begin_or_noop)
    assert t.changed
    assert t.entry is not None
    assert t.entry.event is Event.NOOP
    assert t.entry.actor == "schedule"
    assert "promoted" in (t.entry.reason or "")
    # Only the version and the timestamp move.
    assert t.state == replace(state, version=state.version + 1, updated_at=at(30))


def test_begin_or_noop_on_a_locked_route_is_recorded() -> None:
    state = started()
    t = begin_run(state, RUN_B, minute=5, running=True, transition=lc.begin_or_noop)
    assert t.entry is not None and t.entry.event is Event.NOOP
    assert "locked" in (t.entry.reason or "")
    assert t.state.lock == state.lock


def test_begin_or_noop_begins_when_allowed() -> None:
    t = begin_run(transition=lc.begin_or_noop)
    assert t.entry is not None and t.entry.event is Event.BEGIN


# --- shift and check --------------------------------------------------------------


def test_healthy_run_goes_all_the_way_to_promoted() -> None:
    state = started()
    for number in range(1, len(PLAN) + 1):
        state = run_stage(state, minute=number * 10)
        assert state.stage == number
    assert state.status is Status.PROGRESSING
    assert state.reason == lc.REASON_ALL_STAGES_PASSED
    t = lc.finish(state, execution_arn=RUN_A, actor="state-machine", now=at(99))
    assert t.state.status is Status.PROMOTED
    assert t.state.lock is None
    assert t.state.last_written == ALL_LAMBDA
    assert t.entry is not None and t.entry.event is Event.FINISH
    # A retried Finish changes nothing.
    assert not lc.finish(t.state, execution_arn=RUN_A, actor="state-machine", now=at(100)).changed


def test_shift_records_weights_and_the_bake_start() -> None:
    state = started()
    t = lc.record_shift(state, execution_arn=RUN_A, weights=PLAN[0], actor="sm", now=at(3))
    assert t.state.last_written == PLAN[0]
    assert t.state.stage_started_at == at(3)
    assert t.entry is not None
    assert (t.entry.event, t.entry.weights) == (Event.SHIFT, PLAN[0])
    # A retried shift keeps the original bake start.
    again = lc.record_shift(t.state, execution_arn=RUN_A, weights=PLAN[0], actor="sm", now=at(4))
    assert not again.changed and again.entry is None and again.state is t.state


def test_shift_refuses_a_stale_execution_and_non_canonical_weights() -> None:
    state = started()
    with pytest.raises(TransitionRefused, match="does not hold the lock"):
        lc.record_shift(state, execution_arn=RUN_B, weights=PLAN[0], actor="sm", now=at(1))
    with pytest.raises(TransitionRefused, match="not the exact ratio"):
        lc.record_shift(
            state, execution_arn=RUN_A, weights=Weights(100, 100), actor="sm", now=at(1)
        )


def test_check_needs_a_verified_shift_first() -> None:
    with pytest.raises(TransitionRefused, match="no verified shift"):
        lc.pass_check(started(), execution_arn=RUN_A, stages_per_run=0, actor="sm", now=at(1))


def test_stages_per_run_pauses_and_the_next_run_resumes_from_the_stored_stage() -> None:
    state = run_stage(started(), stages_per_run=1)
    assert state.status is Status.PAUSED
    assert state.reason is not None and state.reason.startswith(REASON_STAGES_PER_RUN)
    assert state.lock is None
    assert state.stage == 1
    assert lc.is_run_pause(state)
    assert not lc.needs_operator(state)
    t = begin_run(state, RUN_B, minute=60)
    assert t.state.status is Status.PROGRESSING
    assert t.state.stage == 1, "never from zero"
    assert t.entry is not None and "resumed after 1 of" in (t.entry.reason or "")


def test_the_last_stage_finishes_even_when_stages_per_run_is_reached() -> None:
    state = started(stages_total=1)
    state = lc.record_shift(
        state, execution_arn=RUN_A, weights=ALL_LAMBDA, actor="sm", now=at(1)
    ).state
    t = lc.pass_check(state, execution_arn=RUN_A, stages_per_run=1, actor="sm", now=at(2))
    assert t.state.status is Status.PROGRESSING
    assert lc.finish(t.state, execution_arn=RUN_A, actor="sm", now=at(3)).state.status is (
        Status.PROMOTED
    )


def test_finish_refuses_before_all_stages_passed() -> None:
    with pytest.raises(TransitionRefused, match="only 1 of 4 stages passed"):
        lc.finish(run_stage(started()), execution_arn=RUN_A, actor="sm", now=at(9))


def test_failed_check_rolls_back() -> None:
    state = lc.record_shift(
        started(), execution_arn=RUN_A, weights=PLAN[0], actor="sm", now=at(1)
    ).state
    t = lc.fail_check(
        state, execution_arn=RUN_A, reason="12 requests < minRequests 50", actor="sm", now=at(2)
    )
    assert t.state.status is Status.ROLLED_BACK
    assert t.state.last_written == ALL_ECS
    assert t.state.lock is None
    assert t.entry is not None
    assert (t.entry.event, t.entry.weights, t.entry.execution_arn) == (
        Event.CHECK_FAILED,
        ALL_ECS,
        RUN_A,
    )
    again = lc.fail_check(t.state, execution_arn=RUN_A, reason="retry", actor="sm", now=at(3))
    assert not again.changed


def test_failed_check_of_a_stale_execution_is_refused() -> None:
    with pytest.raises(TransitionRefused):
        lc.fail_check(started(), execution_arn=RUN_B, reason="alarm", actor="sm", now=at(1))


# --- rollback -----------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
def test_rollback_is_allowed_from_any_state(status: Status) -> None:
    lock = Lock(RUN_A, at(0)) if status is Status.PROGRESSING else None
    state = replace(
        lc.initial_state(ROUTE), status=status, lock=lock, stage=2, stages_total=4, version=7
    )
    t = lc.rollback(
        state, reason="alarm strangler-dev-map-tile-composite", actor="alarm:x", now=at(5)
    )
    if status is Status.ROLLED_BACK:
        # Rolled back but last_written unknown: written again, to be sure.
        assert t.changed
    assert t.state.status is Status.ROLLED_BACK
    assert t.state.last_written == ALL_ECS
    assert t.state.lock is None
    assert t.state.stage == 2, "the stage shows how far the canary got"
    assert t.state.reason == "alarm strangler-dev-map-tile-composite"


def test_rollback_twice_is_one_rollback_one_entry() -> None:
    first = lc.rollback(started(), reason="alarm", actor="alarm:c", now=at(1))
    second = lc.rollback(first.state, reason="alarm", actor="alarm:c", now=at(2))
    assert first.changed and first.entry is not None
    assert second == Transition(state=first.state, entry=None, changed=False)


# --- drift --------------------------------------------------------------------------


def test_drift_pauses_and_leaves_the_weights() -> None:
    state = run_stage(started())
    live = Weights(ecs=500, lambda_=500)
    assert lc.is_drift(state, live)
    t = lc.drift(state, live=live, actor="state-machine", now=at(9))
    assert t.state.status is Status.PAUSED
    assert t.state.lock is None
    assert t.state.last_written == PLAN[0], "what the controller wrote stays recorded"
    assert t.state.reason == (
        "drift: live ecs 50 % / lambda 50 % (ALB weights ecs 500 / lambda 500), "
        "expected ecs 99 % / lambda 1 % (ALB weights ecs 99 / lambda 1)"
    )
    assert t.entry is not None and (t.entry.event, t.entry.weights) == (Event.DRIFT, live)
    assert lc.needs_operator(t.state)
    # Repeated: nothing new.
    assert not lc.drift(t.state, live=live, actor="state-machine", now=at(10)).changed
    # The next scheduled run does not overwrite the human's change.
    with pytest.raises(TransitionRefused, match="waits for an operator"):
        begin_run(t.state, RUN_B, minute=11, actor="s")


def test_drift_before_the_first_write_is_any_lambda_weight() -> None:
    state = started()
    assert not lc.is_drift(state, Weights(ecs=100, lambda_=0))
    assert lc.is_drift(state, Weights(ecs=100, lambda_=1))
    t = lc.drift(state, live=Weights(ecs=100, lambda_=1), actor="sm", now=at(1))
    assert "expected lambda 0 % (nothing written yet)" in (t.state.reason or "")


def test_drift_without_a_difference_is_refused() -> None:
    state = run_stage(started())
    with pytest.raises(TransitionRefused, match="match the expected"):
        lc.drift(state, live=PLAN[0], actor="sm", now=at(9))


def test_resume_after_drift_can_accept_the_live_weights() -> None:
    live = Weights(ecs=500, lambda_=500)
    paused = lc.drift(run_stage(started()), live=live, actor="sm", now=at(9)).state
    t = lc.resume(paused, reason="checked", actor="operator:ana", now=at(10), accept_live=live)
    assert t.state.status is Status.IDLE
    assert t.state.last_written == live
    assert not lc.is_drift(t.state, live)
    assert t.state.stage == 1


# --- operator actions -----------------------------------------------------------------


def test_pause_then_resume_keeps_stage_and_weights() -> None:
    state = run_stage(run_stage(started()))
    paused = lc.pause(state, reason="peak hours", actor="operator:ana", now=at(10))
    assert paused.state.status is Status.PAUSED
    assert paused.state.lock is None
    assert paused.state.last_written == state.last_written
    assert paused.state.reason == "operator:ana: peak hours"
    assert paused.entry is not None and paused.entry.execution_arn == RUN_A
    assert lc.needs_operator(paused.state)
    assert not lc.pause(paused.state, reason="again", actor="operator:ana", now=at(11)).changed
    resumed = lc.resume(paused.state, reason="peak over", actor="operator:ana", now=at(12))
    assert resumed.state.status is Status.IDLE
    assert resumed.state.stage == 2
    assert resumed.state.last_written == state.last_written
    assert not lc.resume(resumed.state, reason="again", actor="operator:ana", now=at(13)).changed


def test_resume_of_a_rolled_back_route_starts_over_at_zero() -> None:
    state = lc.rollback(run_stage(run_stage(started())), reason="alarm", actor="alarm:c", now=at(9))
    t = lc.resume(state.state, reason="fixed in v42", actor="operator:ana", now=at(10))
    assert t.state.status is Status.IDLE
    assert t.state.stage == 0
    assert t.state.last_written == ALL_ECS
    assert t.entry is not None and t.entry.event is Event.RESUME


@pytest.mark.parametrize("status", [Status.PROGRESSING, Status.PROMOTED])
def test_resume_is_refused_when_there_is_nothing_to_resume(status: Status) -> None:
    state = (
        started()
        if status is Status.PROGRESSING
        else replace(lc.initial_state(ROUTE), status=status, last_written=ALL_LAMBDA)
    )
    with pytest.raises(TransitionRefused) as info:
        lc.resume(state, reason="x", actor="operator:ana", now=at(1))
    assert info.value.reason and info.value.hint


def test_promote_skip_marks_the_current_stage_passed_and_frees_the_route() -> None:
    state = lc.record_shift(
        started(), execution_arn=RUN_A, weights=PLAN[0], actor="sm", now=at(1)
    ).state
    t = lc.promote(state, full=False, reason="looks good", actor="operator:ana", now=at(2))
    assert t.state.stage == 1
    assert t.state.status is Status.IDLE
    assert t.state.lock is None
    assert t.entry is not None and t.entry.execution_arn == RUN_A, "the run to stop"
    nxt = begin_run(t.state, RUN_B, minute=3, actor="op")
    assert nxt.state.stage == 1


def test_promote_full_goes_to_all_lambda() -> None:
    t = lc.promote(started(), full=True, reason="urgent", actor="operator:ana", now=at(2))
    assert t.state.status is Status.PROMOTED
    assert t.state.last_written == ALL_LAMBDA
    assert t.state.stage == 4
    assert not lc.promote(t.state, full=True, reason="x", actor="operator:ana", now=at(3)).changed


def test_promote_is_refused_on_a_rolled_back_route() -> None:
    state = lc.rollback(started(), reason="alarm", actor="alarm:c", now=at(1)).state
    with pytest.raises(TransitionRefused, match="rolled_back"):
        lc.promote(state, full=True, reason="x", actor="operator:ana", now=at(2))


# --- serialisation ----------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
def test_sync_is_recorded_in_every_status_and_changes_nothing_else(status: Status) -> None:
    state = (
        replace(started(), status=status)
        if status is Status.PROGRESSING
        else replace(
            lc.initial_state(ROUTE), status=status, version=3, last_written=Weights.from_percent(10)
        )
    )
    t = lc.sync(
        state,
        reason="ECS arn:old -> arn:new (weight 899 kept)",
        weights=Weights.from_percent(10),
        actor="registry",
        now=at(5),
    )
    assert t.changed and t.entry is not None
    assert t.state == replace(state, version=state.version + 1, updated_at=at(5))
    assert (t.entry.event, t.entry.actor, t.entry.weights) == (
        Event.SYNC,
        "registry",
        Weights.from_percent(10),
    )
    assert t.entry.from_status is t.entry.to_status is status
    assert t.entry.reason == "ECS arn:old -> arn:new (weight 899 kept)"
    assert t.entry.execution_arn == (RUN_A if status is Status.PROGRESSING else None)
    assert HistoryEntry.from_dict(json.loads(json.dumps(t.entry.to_dict()))) == t.entry


def test_state_and_entry_round_trip_through_json() -> None:
    t = lc.drift(run_stage(started()), live=Weights(1, 2), actor="sm", now=at(9))
    state_data = json.loads(json.dumps(t.state.to_dict()))
    assert RouteState.from_dict(state_data) == t.state
    assert t.entry is not None
    assert HistoryEntry.from_dict(json.loads(json.dumps(t.entry.to_dict()))) == t.entry


def test_state_from_dynamodb_numbers() -> None:
    data = started().to_dict()
    data["version"] = Decimal(1)
    data["stage"] = Decimal(0)
    assert RouteState.from_dict(data) == started()


# --- random sequences: the invariants ------------------------------------------------------

RUNS = [RUN_A, RUN_B, "arn:aws:states:eu-west-1:123456789012:execution:strangler-dev:run-c"]
ACTORS = ["schedule", "state-machine", "alarm:composite", "operator:ana"]


class LifeCycle(RuleBasedStateMachine):
    """Random operations on one route; every invariant checked after each of them."""

    def __init__(self) -> None:
        super().__init__()
        self.state = lc.initial_state(ROUTE)
        self.clock = T0
        self.stages_total = 4
        self.stages_per_run = 0
        self.history: list[HistoryEntry] = []

    @initialize(stages_total=st.integers(1, 6), stages_per_run=st.integers(0, 3))
    def setup(self, stages_total: int, stages_per_run: int) -> None:
        self.stages_total = stages_total
        self.stages_per_run = stages_per_run

    def now(self) -> datetime:
        self.clock += timedelta(seconds=7)
        return self.clock

    def apply(self, name: str, call: object) -> None:
        before = self.state
        snapshot = copy.deepcopy(before)
        try:
            assert callable(call)
            t = call()
        except TransitionRefused as exc:
            assert exc.reason.strip(), f"{name}: refusal without a reason"
            assert exc.hint.strip(), f"{name}: refusal without a hint"
            assert exc.route == ROUTE
            assert self.state == snapshot, f"{name}: a refusal changed the state"
            return
        assert isinstance(t, Transition)
        assert before == snapshot, f"{name}: the input state was mutated"
        assert t.changed == (t.entry is not None), f"{name}: changed and entry disagree"
        if not t.changed:
            assert t.state == before, f"{name}: unchanged but a different state"
            return
        new, entry = t.state, t.entry
        assert entry is not None
        assert new.version == before.version + 1, f"{name}: version must grow by one"
        assert entry.from_status is before.status and entry.to_status is new.status
        assert entry.stage == new.stage
        assert entry.at == new.updated_at == self.clock
        assert entry.actor
        reset = entry.event is Event.RESUME and before.status is Status.ROLLED_BACK
        if reset:
            assert new.stage == 0
        else:
            assert new.stage >= before.stage, f"{name}: stage went down"
        self.state = new
        self.history.append(entry)

    def begin_as(
        self, name: str, transition: Callable[..., Transition], run: str, running: bool, actor: str
    ) -> None:
        """``transition`` (a Begin) by ``run``, the lock's holder running or not."""
        self.apply(
            name,
            lambda: transition(
                self.state,
                execution_arn=run,
                stages_total=self.stages_total,
                holder_running=running,
                actor=actor,
                now=self.now(),
            ),
        )

    @rule(run=st.sampled_from(RUNS), running=st.booleans(), actor=st.sampled_from(ACTORS))
    def begin(self, run: str, running: bool, actor: str) -> None:
        self.begin_as("begin", lc.begin, run, running, actor)

    @rule(run=st.sampled_from(RUNS), running=st.booleans())
    def scheduled_start(self, run: str, running: bool) -> None:
        self.begin_as("begin_or_noop", lc.begin_or_noop, run, running, "schedule")

    def holder(self, use_holder: bool, other: str) -> str:
        if use_holder and self.state.lock is not None:
            return self.state.lock.execution_arn
        return other

    def by_state_machine(
        self,
        name: str,
        transition: Callable[..., Transition],
        use_holder: bool,
        other: str,
        **arguments: object,
    ) -> None:
        """``transition`` as the state machine's task calls it, for the holder or another run."""
        self.apply(
            name,
            lambda: transition(
                self.state,
                execution_arn=self.holder(use_holder, other),
                **arguments,
                actor="state-machine",
                now=self.now(),
            ),
        )

    @rule(use_holder=st.booleans(), other=st.sampled_from(RUNS), tenths=st.integers(0, 1000))
    def shift(self, use_holder: bool, other: str, tenths: int) -> None:
        weights = Weights.from_tenths(tenths)
        self.by_state_machine("shift", lc.record_shift, use_holder, other, weights=weights)

    @rule(use_holder=st.booleans(), other=st.sampled_from(RUNS))
    def check_passed(self, use_holder: bool, other: str) -> None:
        self.by_state_machine(
            "pass_check", lc.pass_check, use_holder, other, stages_per_run=self.stages_per_run
        )

    @rule(use_holder=st.booleans(), other=st.sampled_from(RUNS))
    def check_failed(self, use_holder: bool, other: str) -> None:
        self.by_state_machine(
            "fail_check", lc.fail_check, use_holder, other, reason="composite alarm ALARM"
        )

    @rule(use_holder=st.booleans(), other=st.sampled_from(RUNS))
    def finish(self, use_holder: bool, other: str) -> None:
        self.by_state_machine("finish", lc.finish, use_holder, other)

    @rule(actor=st.sampled_from(ACTORS))
    def rollback(self, actor: str) -> None:
        before = self.state
        self.apply(
            "rollback",
            lambda: lc.rollback(self.state, reason="alarm", actor=actor, now=self.now()),
        )
        assert self.state.status is Status.ROLLED_BACK, "rollback always wins"
        if before.status is Status.ROLLED_BACK and before.last_written == ALL_ECS:
            assert self.state is before, "a repeated rollback must change nothing"

    @rule(ecs=st.integers(0, 999), lambda_=st.integers(0, 999))
    def drift(self, ecs: int, lambda_: int) -> None:
        self.apply(
            "drift",
            lambda: lc.drift(
                self.state, live=Weights(ecs, lambda_), actor="state-machine", now=self.now()
            ),
        )

    @rule()
    def sync(self) -> None:
        before = self.state
        self.apply(
            "sync",
            lambda: lc.sync(
                self.state, reason="ECS a -> b", weights=None, actor="registry", now=self.now()
            ),
        )
        keep = ("status", "stage", "stages_total", "last_written", "lock", "reason", "run_stages")
        assert [getattr(self.state, k) for k in keep] == [getattr(before, k) for k in keep]
        assert self.history[-1].event is Event.SYNC

    @rule()
    def pause(self) -> None:
        self.apply(
            "pause",
            lambda: lc.pause(self.state, reason="hold", actor="operator:ana", now=self.now()),
        )

    @rule(accept=st.booleans())
    def resume(self, accept: bool) -> None:
        live = ALL_ECS if accept else None
        self.apply(
            "resume",
            lambda: lc.resume(
                self.state, reason="go", actor="operator:ana", now=self.now(), accept_live=live
            ),
        )

    @rule(full=st.booleans())
    def promote(self, full: bool) -> None:
        self.apply(
            "promote",
            lambda: lc.promote(
                self.state, full=full, reason="ok", actor="operator:ana", now=self.now()
            ),
        )

    @precondition(lambda self: self.state.status is Status.PROGRESSING)
    @rule(steps=st.integers(1, 8))
    def healthy_run(self, steps: int) -> None:
        """Drive the run the way the state machine does, so that deep states are reached."""
        for _ in range(steps):
            if self.state.status is not Status.PROGRESSING or self.state.lock is None:
                return
            run = self.state.lock.execution_arn
            if self.state.stage >= self.state.stages_total:
                self.finish(True, run)
                return
            last = self.state.stage == self.state.stages_total - 1
            self.shift(True, run, 1000 if last else 10 * (self.state.stage + 1))
            self.check_passed(True, run)

    # The two rules below only weight the random walk towards long runs: most
    # random operations are refused or end a run, so deep stages are rare otherwise.
    @precondition(lambda self: self.state.status in (Status.IDLE, Status.PAUSED))
    @rule(run=st.sampled_from(RUNS))
    def start_run(self, run: str) -> None:
        self.begin(run, False, "schedule")

    @precondition(lambda self: self.state.status is Status.PROGRESSING)
    @rule(steps=st.integers(1, 8))
    def keep_running(self, steps: int) -> None:
        self.healthy_run(steps)

    @invariant()
    def lock_held_iff_progressing(self) -> None:
        assert (self.state.lock is not None) == (self.state.status is Status.PROGRESSING)

    @invariant()
    def rolled_back_means_all_ecs(self) -> None:
        if self.state.status is Status.ROLLED_BACK:
            assert self.state.last_written == ALL_ECS

    @invariant()
    def promoted_means_all_lambda(self) -> None:
        if self.state.status is Status.PROMOTED:
            assert self.state.last_written == ALL_LAMBDA

    @invariant()
    def stage_within_the_plan(self) -> None:
        assert 0 <= self.state.stage <= max(self.state.stages_total, 0)

    @invariant()
    def run_stages_within_stages_per_run(self) -> None:
        if self.stages_per_run:
            assert self.state.run_stages <= self.stages_per_run
        if self.state.status is not Status.PROGRESSING:
            assert self.state.run_stages == 0

    @invariant()
    def versions_count_the_history(self) -> None:
        assert self.state.version == len(self.history)

    @invariant()
    def serialisation_round_trips(self) -> None:
        assert RouteState.from_dict(json.loads(json.dumps(self.state.to_dict()))) == self.state
        if self.history:
            last = self.history[-1]
            assert HistoryEntry.from_dict(json.loads(json.dumps(last.to_dict()))) == last


LifeCycle.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifeCycle = LifeCycle.TestCase
