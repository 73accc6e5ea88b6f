"""The life cycle of a route, as explicit pure transitions in one place.

```
idle ──begin──> progressing ──last check passed, finish──> promoted
 ^  ^               │  │  │
 │  │         pause │  │  │ check passed, stagesPerRun reached
 │  │   (operator)  v  │  v
 │  └──resume─── paused  paused(stagesPerRun) ──begin (next run)──> progressing
 │                  ^  │
 │            drift └──┘ (weights left as the human set them)
 └──resume (stage 0)── rolled_back <──rollback / failed check── any
```

Decisions the architecture leaves open:
- Resume of a paused route goes to ``idle`` (stage kept), not straight to
  ``progressing``: ``progressing`` means "a run holds the lock", so the next
  run (scheduled, or started by the operator) takes it from there.
- A pause by ``stagesPerRun`` needs no operator: the next run begins from the
  stored stage. A pause by drift or by an operator waits for ``resume``.
- Promote (skip the bake) leaves the route ``idle`` at the next stage; the
  caller stops the running execution, because a Wait cannot be cut short.

Every transition is a function ``f(state, *, ..., actor, now) -> Transition``.
It never mutates its input. It either returns a :class:`Transition` (the new
state, the history entry to append, and whether anything changed) or raises
:class:`~controller.core.errors.TransitionRefused` with a reason and a hint.

Conventions:
- ``changed`` is True exactly when ``entry`` is not None. The caller saves
  both in one conditional write (:meth:`controller.core.ports.StatePort.save`),
  conditional on the input state's ``version``; every change bumps the
  version by one.
- A repeated call that would change nothing (rollback of a rolled-back route,
  a retried Step Functions task) returns ``changed=False`` and no entry: the
  caller writes nothing. EventBridge and Step Functions both deliver at least
  once, so this is the normal case, not an error.
- A *recorded* no-op (:func:`noop`, e.g. a scheduled start on a promoted,
  rolled-back or locked route) changes nothing but the version and
  ``updated_at``, and appends an entry with event ``noop``: the issue wants
  those visible in the history, and a history entry is only ever written
  together with a conditional state write.
- The lock is held exactly while the status is ``progressing``.
- ``stage`` counts the stages passed so far (0..stages_total); the stage being
  run is the 0-based index ``stage``. It never decreases, except when an
  operator resumes a rolled-back route (back to 0).

Pure module: no AWS calls, and time comes in as ``now`` (timezone-aware UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NoReturn

from controller.core.capacity import CapacityGuard
from controller.core.errors import TransitionRefused
from controller.core.gate import GateEstimate
from controller.core.split import alb_text, split_text
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights

__all__ = [
    "REASON_ALL_STAGES_PASSED",
    "REASON_DRIFT",
    "REASON_STAGES_PER_RUN",
    "Event",
    "HistoryEntry",
    "Lock",
    "RouteState",
    "Status",
    "Transition",
    "TransitionRefused",
    "begin",
    "begin_or_noop",
    "drift",
    "expected_weights",
    "fail_check",
    "finish",
    "gate_pause",
    "initial_state",
    "is_drift",
    "is_run_pause",
    "needs_operator",
    "noop",
    "pass_check",
    "pause",
    "promote",
    "record_capacity",
    "record_shift",
    "resume",
    "rollback",
    "sync",
    "transition_to",
    "verify",
    "with_gate",
]


class Status(StrEnum):
    """Where a route is in its life cycle."""

    IDLE = "idle"
    PROGRESSING = "progressing"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"


class Event(StrEnum):
    """What a history entry records."""

    BEGIN = "begin"
    LOCK_STOLEN = "lock_stolen"
    SHIFT = "shift"
    CHECK_PASSED = "check_passed"
    CHECK_FAILED = "check_failed"
    PAUSE = "pause"
    RESUME = "resume"
    FINISH = "finish"
    ROLLBACK = "rollback"
    DRIFT = "drift"
    PROMOTE = "promote"
    NOOP = "noop"
    SYNC = "sync"
    VERIFY = "verify"
    # Release runs (controller/core/release_run.py): a new function version
    # goes live behind the alias `live`.
    RELEASE_BEGIN = "release_begin"
    RELEASE_SHIFT = "release_shift"
    RELEASE_CHECK = "release_check"
    RELEASE_FINISH = "release_finish"
    RELEASE_FAILBACK = "release_failback"
    RELEASE_PAUSE = "release_pause"
    RELEASE_DIRECT = "release_direct"
    CAPACITY = "capacity"
    GATE = "gate"


# The reason of a pause the next run may continue from without an operator.
# Every other pause (drift, operator) waits for an operator resume.
REASON_STAGES_PER_RUN = "stagesPerRun reached"
REASON_ALL_STAGES_PASSED = "all stages passed"
# The prefix of the reason of a drift pause.
REASON_DRIFT = "drift:"
# The prefix of the reason of a pause by the equivalence check (controller/core/verify.py).
REASON_VERIFY = "verify:"
# The prefix of the reason of a concurrency gate pause (an operator resumes it).
REASON_GATE = "concurrency gate:"


@dataclass(frozen=True)
class Lock:
    """The run that owns the route: its Step Functions execution ARN and since when."""

    execution_arn: str
    acquired_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"execution_arn": self.execution_arn, "acquired_at": _iso(self.acquired_at)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Lock:
        """Inverse of :meth:`to_dict`."""
        return Lock(
            execution_arn=str(data["execution_arn"]),
            acquired_at=_parse_dt(data["acquired_at"]),
        )


@dataclass(frozen=True)
class RouteState:
    """The stored state of one route (one item in the state table).

    ``last_written`` is what the controller last wrote *and verified* on the
    rule (None before its first write). ``reason`` says why the route has its
    current status. ``version`` makes every write conditional. ``run_stages``
    counts the stages passed in the current run (for ``stagesPerRun``).
    """

    route: str
    status: Status = Status.IDLE
    stage: int = 0
    stages_total: int = 0
    last_written: Weights | None = None
    lock: Lock | None = None
    reason: str | None = None
    version: int = 0
    stage_started_at: datetime | None = None
    run_stages: int = 0
    updated_at: datetime | None = None
    capacity: CapacityGuard | None = None
    gate: GateEstimate | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (timestamps ISO 8601 UTC, weights as ``{"ecs", "lambda"}``)."""
        return {
            "route": self.route,
            "status": self.status.value,
            "stage": self.stage,
            "stages_total": self.stages_total,
            "last_written": self.last_written.to_dict() if self.last_written else None,
            "lock": self.lock.to_dict() if self.lock else None,
            "reason": self.reason,
            "version": self.version,
            "stage_started_at": _iso_or_none(self.stage_started_at),
            "run_stages": self.run_stages,
            "updated_at": _iso_or_none(self.updated_at),
            "capacity": self.capacity.to_dict() if self.capacity else None,
            "gate": self.gate.to_dict() if self.gate else None,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> RouteState:
        """Inverse of :meth:`to_dict` (numbers may come back as ``Decimal`` from DynamoDB)."""
        return RouteState(
            route=str(data["route"]),
            status=Status(data.get("status", Status.IDLE)),
            stage=int(data.get("stage", 0)),
            stages_total=int(data.get("stages_total", 0)),
            last_written=Weights.from_dict(data["last_written"])
            if data.get("last_written")
            else None,
            lock=Lock.from_dict(data["lock"]) if data.get("lock") else None,
            reason=data.get("reason"),
            version=int(data.get("version", 0)),
            stage_started_at=_parse_dt_or_none(data.get("stage_started_at")),
            run_stages=int(data.get("run_stages", 0)),
            updated_at=_parse_dt_or_none(data.get("updated_at")),
            capacity=CapacityGuard.from_dict(data["capacity"]) if data.get("capacity") else None,
            gate=GateEstimate.from_dict(data["gate"]) if data.get("gate") else None,
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One appended line of a route's history: when, who, what, from where to where, why.

    ``actor`` is e.g. ``schedule``, ``state-machine``, ``alarm:<name>`` or
    ``operator:<name>``. ``weights`` are the weights the event is about (written,
    or found by a drift check), None when it is about none.
    """

    at: datetime
    actor: str
    event: Event
    from_status: Status
    to_status: Status
    stage: int
    weights: Weights | None
    reason: str | None
    execution_arn: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "at": _iso(self.at),
            "actor": self.actor,
            "event": self.event.value,
            "from_status": self.from_status.value,
            "to_status": self.to_status.value,
            "stage": self.stage,
            "weights": self.weights.to_dict() if self.weights else None,
            "reason": self.reason,
            "execution_arn": self.execution_arn,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> HistoryEntry:
        """Inverse of :meth:`to_dict`."""
        return HistoryEntry(
            at=_parse_dt(data["at"]),
            actor=str(data["actor"]),
            event=Event(data["event"]),
            from_status=Status(data["from_status"]),
            to_status=Status(data["to_status"]),
            stage=int(data["stage"]),
            weights=Weights.from_dict(data["weights"]) if data.get("weights") else None,
            reason=data.get("reason"),
            execution_arn=data.get("execution_arn"),
        )


@dataclass(frozen=True)
class Transition:
    """The result of a transition: the new state, the entry to append, and ``changed``.

    ``changed`` is True exactly when ``entry`` is not None; when it is False,
    ``state`` is the input state and the caller writes nothing.
    """

    state: RouteState
    entry: HistoryEntry | None
    changed: bool


# --- time helpers ---------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.isoformat()


def _iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_dt(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    # Stored timestamps are always UTC; an old naive one is read as UTC too.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_dt_or_none(value: Any) -> datetime | None:
    return None if value in (None, "") else _parse_dt(value)


def _utc(now: datetime) -> datetime:
    """``now`` in UTC; a naive datetime is a bug in the caller (local time would corrupt order)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware (UTC), got naive {now.isoformat()}")
    return now.astimezone(UTC)


# --- queries --------------------------------------------------------------------


def initial_state(route: str, stages_total: int = 0) -> RouteState:
    """The state of a route the table has never seen: idle, stage 0, version 0."""
    return RouteState(route=route, stages_total=stages_total)


def is_run_pause(state: RouteState) -> bool:
    """True when the route is paused only because a run reached ``stagesPerRun``."""
    return (
        state.status is Status.PAUSED
        and state.reason is not None
        and state.reason.startswith(REASON_STAGES_PER_RUN)
    )


def needs_operator(state: RouteState) -> bool:
    """True when only an operator can move the route on (rolled back, paused by drift/operator)."""
    if state.status is Status.ROLLED_BACK:
        return True
    return state.status is Status.PAUSED and not is_run_pause(state)


def expected_weights(state: RouteState) -> Weights | None:
    """The weights the rule should hold now: ``last_written`` (None before the first write)."""
    return state.last_written


def is_drift(state: RouteState, live: Weights) -> bool:
    """True when ``live`` differs from what the controller last wrote (a human changed it).

    The comparison is exact: a human who moved the ECS weight alone changed
    the rule too, and the controller never overwrites a human's change
    silently. Before the controller's first write, the deploy's rule sends
    everything to ECS, so any Lambda weight above 0 is a human's change.
    """
    expected = expected_weights(state)
    if expected is None:
        return live.lambda_ != 0
    return live != expected


def _describe_expected(state: RouteState) -> str:
    expected = expected_weights(state)
    if expected is None:
        return "lambda 0 % (nothing written yet)"
    return f"{split_text(expected)} ({alb_text(expected)})"


# --- building blocks ------------------------------------------------------------


def _unchanged(state: RouteState) -> Transition:
    return Transition(state=state, entry=None, changed=False)


def transition_to(
    state: RouteState,
    new_state: RouteState,
    event: Event,
    *,
    actor: str,
    now: datetime,
    weights: Weights | None,
    reason: str | None,
    execution_arn: str | None,
) -> Transition:
    """The change from ``state`` to ``new_state``: version + 1, ``updated_at``, and the entry.

    The one place that builds a changed state. The entry records the move
    from ``state``'s status to ``new_state``'s, at ``new_state``'s stage.
    """
    if not actor:
        raise ValueError("actor must name who or what caused the transition")
    new_state = replace(new_state, version=state.version + 1, updated_at=now)
    entry = HistoryEntry(
        at=now,
        actor=actor,
        event=event,
        from_status=state.status,
        to_status=new_state.status,
        stage=new_state.stage,
        weights=weights,
        reason=reason,
        execution_arn=execution_arn,
    )
    return Transition(state=new_state, entry=entry, changed=True)


def _apply(
    state: RouteState,
    *,
    event: Event,
    actor: str,
    now: datetime,
    entry_reason: str | None,
    entry_weights: Weights | None,
    execution_arn: str | None,
    **changes: Any,
) -> Transition:
    """``state`` with ``changes``, through :func:`transition_to`."""
    return transition_to(
        state,
        replace(state, **changes),
        event,
        actor=actor,
        now=now,
        weights=entry_weights,
        reason=entry_reason,
        execution_arn=execution_arn,
    )


def _end_run(
    state: RouteState,
    *,
    event: Event,
    actor: str,
    now: datetime,
    entry_reason: str | None,
    entry_weights: Weights | None,
    execution_arn: str | None,
    **changes: Any,
) -> Transition:
    """:func:`_apply` for a transition that ends the run: lock released, run counters reset."""
    return _apply(
        state,
        event=event,
        actor=actor,
        now=now,
        entry_reason=entry_reason,
        entry_weights=entry_weights,
        execution_arn=execution_arn,
        lock=None,
        stage_started_at=None,
        run_stages=0,
        **changes,
    )


def _pause_run(
    state: RouteState,
    *,
    event: Event,
    reason: str,
    actor: str,
    now: datetime,
    entry_weights: Weights | None,
    execution_arn: str | None,
    **changes: Any,
) -> Transition:
    """The run stops and the route waits for an operator; ``reason`` goes to the entry and state."""
    return _end_run(
        state,
        event=event,
        actor=actor,
        now=now,
        entry_reason=reason,
        entry_weights=entry_weights,
        execution_arn=execution_arn,
        status=Status.PAUSED,
        reason=reason,
        **changes,
    )


def _refuse(state: RouteState, transition: str, reason: str, hint: str) -> NoReturn:
    raise TransitionRefused(
        reason, hint, route=state.route, transition=transition, status=state.status.value
    )


def _hint_resume(state: RouteState) -> str:
    return f"an operator runs: python -m controller resume --route {state.route}"


def held_execution(state: RouteState) -> str | None:
    """The execution that holds the route's lock, or None when it is free."""
    return state.lock.execution_arn if state.lock else None


def _require_holder(state: RouteState, execution_arn: str, transition: str) -> None:
    """Refuse unless ``execution_arn`` holds the lock of a progressing run.

    This fences stale executions: after a rollback, a pause or a lock takeover,
    the old execution's remaining tasks change nothing.
    """
    if state.status is not Status.PROGRESSING or state.lock is None:
        _refuse(
            state,
            transition,
            f"route is {state.status.value}, not progressing"
            + (f" ({state.reason})" if state.reason else ""),
            "only the execution holding the lock may do this; start a new run",
        )
    if state.lock.execution_arn != execution_arn:
        _refuse(
            state,
            transition,
            f"execution {execution_arn} does not hold the lock; {state.lock.execution_arn} does",
            "a stale execution must stop; the lock holder continues the run",
        )


def _rolled_back(
    state: RouteState,
    *,
    event: Event,
    reason: str,
    actor: str,
    now: datetime,
    execution_arn: str | None,
) -> Transition:
    if state.status is Status.ROLLED_BACK and state.last_written == ALL_ECS:
        # EventBridge delivers at least once: a second rollback changes nothing.
        return _unchanged(state)
    return _end_run(
        state,
        event=event,
        actor=actor,
        now=now,
        entry_reason=reason,
        entry_weights=ALL_ECS,
        execution_arn=execution_arn,
        status=Status.ROLLED_BACK,
        last_written=ALL_ECS,
        reason=reason,
    )


# --- transitions ----------------------------------------------------------------


def begin(
    state: RouteState,
    *,
    execution_arn: str,
    stages_total: int,
    holder_running: bool,
    actor: str,
    now: datetime,
) -> Transition:
    """Acquire the lock for a run of ``execution_arn``: idle / paused(stagesPerRun) -> progressing.

    Resumes from the stored stage, never from zero. Refused on promoted,
    rolled_back, paused by drift/operator, or locked by another execution that
    is still running (``holder_running``; the caller asks Step Functions). A
    lock held by a finished execution is taken over (event ``lock_stolen``).
    Begin again by the lock holder itself (a retried task) is a no-op.
    """
    now = _utc(now)
    if stages_total < 1:
        _refuse(
            state,
            "begin",
            f"the stage plan has {stages_total} stages",
            "deploy a plan with at least one stage",
        )
    if state.status is Status.PROMOTED:
        _refuse(
            state,
            "begin",
            "route is promoted: all traffic already goes to Lambda",
            "nothing to do; to canary again, roll back and resume first",
        )
    if state.status is Status.ROLLED_BACK:
        _refuse(
            state,
            "begin",
            f"route is rolled_back and waits for an operator ({state.reason})",
            _hint_resume(state),
        )
    if state.status is Status.PAUSED and needs_operator(state):
        _refuse(
            state,
            "begin",
            f"route is paused and waits for an operator ({state.reason})",
            _hint_resume(state),
        )
    if state.status is Status.PROGRESSING:
        holder = state.lock
        if holder is None:  # pragma: no cover - the invariant says it is never so
            raise AssertionError(f"route {state.route}: progressing without a lock")
        if holder.execution_arn == execution_arn:
            return _unchanged(state)  # a retried Begin of the same run
        if holder_running:
            _refuse(
                state,
                "begin",
                f"route is locked by running execution {holder.execution_arn} "
                f"since {holder.acquired_at.isoformat()}",
                "wait for that run to end, or stop it first",
            )
        return _apply(
            state,
            event=Event.LOCK_STOLEN,
            actor=actor,
            now=now,
            entry_reason=f"lock taken over from {holder.execution_arn}, which is no longer running",
            entry_weights=state.last_written,
            execution_arn=execution_arn,
            lock=Lock(execution_arn=execution_arn, acquired_at=now),
            stages_total=stages_total,
            stage_started_at=None,
            run_stages=0,
            reason=f"run taken over by {actor}",
        )
    if state.stage > stages_total:
        _refuse(
            state,
            "begin",
            f"{state.stage} stages already passed but the plan has only {stages_total}",
            "the plan shrank: promote, or roll back and resume to start over",
        )
    where = "started" if state.stage == 0 else f"resumed after {state.stage}"
    return _apply(
        state,
        event=Event.BEGIN,
        actor=actor,
        now=now,
        entry_reason=f"run {where} of {stages_total} stages",
        entry_weights=state.last_written,
        execution_arn=execution_arn,
        status=Status.PROGRESSING,
        lock=Lock(execution_arn=execution_arn, acquired_at=now),
        stages_total=stages_total,
        stage_started_at=None,
        run_stages=0,
        reason=f"run {where} by {actor}",
    )


def begin_or_noop(
    state: RouteState,
    *,
    execution_arn: str,
    stages_total: int,
    holder_running: bool,
    actor: str,
    now: datetime,
) -> Transition:
    """:func:`begin`, but a refusal becomes a recorded :func:`noop` (for scheduled starts).

    A scheduled start on a promoted, rolled-back or locked route is a no-op
    that the history shows; the entry's reason is the refusal's reason.
    """
    try:
        return begin(
            state,
            execution_arn=execution_arn,
            stages_total=stages_total,
            holder_running=holder_running,
            actor=actor,
            now=now,
        )
    except TransitionRefused as refused:
        return noop(
            state,
            reason=f"start skipped: {refused.reason}",
            actor=actor,
            now=now,
            execution_arn=execution_arn,
        )


def record_shift(
    state: RouteState,
    *,
    execution_arn: str,
    weights: Weights,
    actor: str,
    now: datetime,
) -> Transition:
    """Record that the run wrote and verified ``weights`` for the current stage; the bake starts.

    Call it only after the read-back matched (a shift is done only once its
    weight is verified). A retried call with the same weights is a no-op, so
    the bake keeps its original start.
    """
    now = _utc(now)
    _require_holder(state, execution_arn, "shift")
    if state.stages_total == 0:
        _refuse(
            state,
            "promote",
            "no run has begun, so there is no bake to skip",
            "start a run (python -m controller start), or go to 100 % with promote --full",
        )
    if state.stage >= state.stages_total:
        _refuse(
            state,
            "shift",
            f"all {state.stages_total} stages already passed",
            "finish the run",
        )
    if not weights.is_canonical:
        _refuse(
            state,
            "shift",
            f"weights {alb_text(weights)} are not the exact ratio of a 0.1 % share in lowest terms",
            "write weights built with Weights.from_percent",
        )
    if state.last_written == weights and state.stage_started_at is not None:
        return _unchanged(state)
    number = state.stage + 1
    return _apply(
        state,
        event=Event.SHIFT,
        actor=actor,
        now=now,
        entry_reason=f"stage {number} of {state.stages_total}: {split_text(weights)}",
        entry_weights=weights,
        execution_arn=execution_arn,
        last_written=weights,
        stage_started_at=now,
        reason=f"baking stage {number} of {state.stages_total}",
    )


def pass_check(
    state: RouteState,
    *,
    execution_arn: str,
    stages_per_run: int,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> Transition:
    """The current stage's check passed: stage += 1; pause when stagesPerRun is reached.

    After the last stage the route stays progressing, ready for :func:`finish`
    (finishing wins over the stagesPerRun pause). When this run has passed
    ``stages_per_run`` stages (0 = no limit), the route is paused with reason
    ``stagesPerRun reached`` and the lock is released: the next run resumes
    from the stored stage without an operator.
    """
    now = _utc(now)
    if stages_per_run < 0:
        raise ValueError(f"stages_per_run must be >= 0, got {stages_per_run}")
    _require_holder(state, execution_arn, "check")
    if state.stages_total == 0:
        _refuse(
            state,
            "promote",
            "no run has begun, so there is no bake to skip",
            "start a run (python -m controller start), or go to 100 % with promote --full",
        )
    if state.stage >= state.stages_total:
        _refuse(
            state,
            "check",
            f"all {state.stages_total} stages already passed",
            "finish the run",
        )
    if state.stage_started_at is None:
        _refuse(
            state,
            "check",
            f"stage {state.stage + 1} has no verified shift yet",
            "shift (and verify) before checking",
        )
    passed = state.stage + 1
    run_stages = state.run_stages + 1
    default = f"stage {passed} of {state.stages_total} passed"
    if passed == state.stages_total:
        status, lock, status_reason = Status.PROGRESSING, state.lock, REASON_ALL_STAGES_PASSED
    elif stages_per_run and run_stages >= stages_per_run:
        status, lock = Status.PAUSED, None
        status_reason = f"{REASON_STAGES_PER_RUN} ({run_stages} of {stages_per_run} this run)"
    else:
        status, lock, status_reason = Status.PROGRESSING, state.lock, default
    return _apply(
        state,
        event=Event.CHECK_PASSED,
        actor=actor,
        now=now,
        entry_reason=reason or default,
        entry_weights=state.last_written,
        execution_arn=execution_arn,
        status=status,
        lock=lock,
        stage=passed,
        run_stages=0 if lock is None else run_stages,
        stage_started_at=None,
        reason=status_reason,
    )


def fail_check(
    state: RouteState,
    *,
    execution_arn: str,
    reason: str,
    actor: str,
    now: datetime,
) -> Transition:
    """The current stage's check failed: a rollback (event ``check_failed``).

    Only the lock holder's check counts; once the route is rolled back, a
    retried call is a no-op.
    """
    now = _utc(now)
    if state.status is Status.ROLLED_BACK and state.last_written == ALL_ECS:
        return _unchanged(state)
    _require_holder(state, execution_arn, "check")
    return _rolled_back(
        state,
        event=Event.CHECK_FAILED,
        reason=reason,
        actor=actor,
        now=now,
        execution_arn=execution_arn,
    )


def finish(state: RouteState, *, execution_arn: str, actor: str, now: datetime) -> Transition:
    """All stages passed and 100 % is written: progressing -> promoted, lock released.

    On a promoted route it is a no-op (a retried Finish).
    """
    now = _utc(now)
    if state.status is Status.PROMOTED:
        return _unchanged(state)
    _require_holder(state, execution_arn, "finish")
    if state.stage < state.stages_total:
        _refuse(
            state,
            "finish",
            f"only {state.stage} of {state.stages_total} stages passed",
            "run the remaining stages, or promote",
        )
    if state.last_written != ALL_LAMBDA:
        _refuse(
            state,
            "finish",
            f"the last verified weights are {state.last_written}, not {ALL_LAMBDA}",
            "the last stage must shift to 100 % before the run finishes",
        )
    return _end_run(
        state,
        event=Event.FINISH,
        actor=actor,
        now=now,
        entry_reason=f"all {state.stages_total} stages passed",
        entry_weights=ALL_LAMBDA,
        execution_arn=execution_arn,
        status=Status.PROMOTED,
        reason=f"all {state.stages_total} stages passed",
    )


def pause(state: RouteState, *, reason: str, actor: str, now: datetime) -> Transition:
    """Operator pause: keeps the weights, releases the lock; only an operator resumes.

    From progressing (the caller then stops the execution), idle, or a
    stagesPerRun pause (to hold off the next scheduled run). Pausing a route
    that already waits for an operator is a no-op.
    """
    now = _utc(now)
    if state.status in (Status.PROMOTED, Status.ROLLED_BACK):
        _refuse(
            state,
            "pause",
            f"route is {state.status.value}: there is no run to pause",
            "nothing to do"
            if state.status is Status.PROMOTED
            else "it already waits for an operator resume",
        )
    if needs_operator(state):
        return _unchanged(state)
    return _end_run(
        state,
        event=Event.PAUSE,
        actor=actor,
        now=now,
        entry_reason=reason,
        entry_weights=state.last_written,
        execution_arn=held_execution(state),
        status=Status.PAUSED,
        reason=f"{actor}: {reason}",
    )


def resume(
    state: RouteState,
    *,
    reason: str,
    actor: str,
    now: datetime,
    accept_live: Weights | None = None,
) -> Transition:
    """Operator resume: paused -> idle (stage kept); rolled_back -> idle at stage 0.

    Idle is the resumable state: the next run (scheduled or started by the
    operator) begins from the stored stage. A rolled-back route starts over
    from stage 0 with all traffic on ECS.

    After a drift the next run would find the drift again; the operator either
    restores the weights by hand, or passes them as ``accept_live`` to adopt
    the live weights as the baseline (recorded in the history).
    """
    now = _utc(now)
    if state.status is Status.IDLE:
        if accept_live is None or not is_drift(state, accept_live):
            return _unchanged(state)
        # A drift on an idle route (a change by hand between runs): the live
        # weights become the baseline, as on a paused route.
        return _apply(
            state,
            event=Event.RESUME,
            actor=actor,
            now=now,
            entry_reason=f"{reason}; live weights {split_text(accept_live)} accepted as written",
            entry_weights=accept_live,
            execution_arn=None,
            last_written=accept_live,
            reason=f"{actor}: {reason}",
        )
    if state.status is Status.PROGRESSING:
        _refuse(
            state,
            "resume",
            "route is progressing: a run holds the lock",
            "nothing to resume; pause or roll back first",
        )
    if state.status is Status.PROMOTED:
        _refuse(
            state,
            "resume",
            "route is promoted: all traffic already goes to Lambda",
            "to canary again, roll back first",
        )
    if state.status is Status.ROLLED_BACK:
        if accept_live is not None and accept_live != ALL_ECS:
            _refuse(
                state,
                "resume",
                f"a rolled-back route starts over from {split_text(ALL_ECS)}, "
                f"not {split_text(accept_live)}",
                "resume without accept_live",
            )
        return _end_run(
            state,
            event=Event.RESUME,
            actor=actor,
            now=now,
            entry_reason=reason,
            entry_weights=ALL_ECS,
            execution_arn=None,
            status=Status.IDLE,
            stage=0,
            last_written=ALL_ECS,
            reason=f"{actor}: {reason}",
        )
    baseline = state.last_written if accept_live is None else accept_live
    return _end_run(
        state,
        event=Event.RESUME,
        actor=actor,
        now=now,
        entry_reason=reason
        if accept_live is None
        else f"{reason}; live weights {split_text(accept_live)} accepted as written",
        entry_weights=baseline,
        execution_arn=None,
        status=Status.IDLE,
        last_written=baseline,
        reason=f"{actor}: {reason}",
    )


def rollback(state: RouteState, *, reason: str, actor: str, now: datetime) -> Transition:
    """Allowed from any state: rolled_back with ALL_ECS, lock released.

    Idempotent: on a route already rolled back to ALL_ECS it changes nothing
    and appends nothing (EventBridge delivers at least once). The stage is
    kept, so the history shows how far the canary got.
    """
    now = _utc(now)
    return _rolled_back(
        state,
        event=Event.ROLLBACK,
        reason=reason,
        actor=actor,
        now=now,
        execution_arn=held_execution(state),
    )


def drift(state: RouteState, *, live: Weights, actor: str, now: datetime) -> Transition:
    """The live weights differ from ``last_written``: progressing -> paused, weights untouched.

    The run stops and the route waits for an operator; ``last_written`` keeps
    what the controller wrote, the entry records what it found. A repeated
    call on a route already paused by drift is a no-op.
    """
    now = _utc(now)
    if state.status is Status.PAUSED and (state.reason or "").startswith(REASON_DRIFT):
        return _unchanged(state)
    if state.status is not Status.PROGRESSING:
        _refuse(
            state,
            "drift",
            f"route is {state.status.value}: drift stops runs, and none is in progress",
            "check drift before each shift of a run",
        )
    if not is_drift(state, live):
        _refuse(
            state,
            "drift",
            f"live weights {split_text(live)} match the expected {_describe_expected(state)}",
            "call drift only when is_drift() is true",
        )
    found = (
        f"{REASON_DRIFT} live {split_text(live)} ({alb_text(live)}), "
        f"expected {_describe_expected(state)}"
    )
    return _pause_run(
        state,
        event=Event.DRIFT,
        reason=found,
        actor=actor,
        now=now,
        entry_weights=live,
        execution_arn=held_execution(state),
    )


def promote(
    state: RouteState,
    *,
    full: bool,
    reason: str,
    actor: str,
    now: datetime,
    plan_stages: int = 0,
) -> Transition:
    """Operator promote: skip the current bake (``full=False``) or go to 100 % (``full=True``).

    ``plan_stages`` is the number of stages of the route's plan: a route that
    never began has no ``stages_total`` yet, and a promoted route reads
    ``stage N/N`` with N the plan's stages.

    ``full=False`` marks the current stage passed and leaves the route idle, so
    the next run starts at the next stage (the caller stops a running
    execution: a Wait cannot be cut short). ``full=True`` records ALL_LAMBDA
    (the caller writes and verifies it first) and the route is promoted. Both
    are an operator's decision and also clear a pause. A rolled-back route
    must be resumed first.
    """
    now = _utc(now)
    if state.status is Status.ROLLED_BACK:
        _refuse(
            state,
            "promote",
            f"route is rolled_back ({state.reason})",
            _hint_resume(state),
        )
    if state.status is Status.PROMOTED:
        if full:
            return _unchanged(state)
        _refuse(state, "promote", "route is already promoted", "nothing to do")
    interrupted = held_execution(state)
    total = state.stages_total or plan_stages
    if full:
        return _end_run(
            state,
            event=Event.PROMOTE,
            actor=actor,
            now=now,
            entry_reason=f"promoted to 100 %: {reason}",
            entry_weights=ALL_LAMBDA,
            execution_arn=interrupted,
            status=Status.PROMOTED,
            stage=max(state.stage, total),
            stages_total=total,
            last_written=ALL_LAMBDA,
            reason=f"{actor}: {reason}",
        )
    if state.stages_total == 0:
        _refuse(
            state,
            "promote",
            "no run has begun, so there is no bake to skip",
            "start a run (python -m controller start), or go to 100 % with promote --full",
        )
    if state.stage >= state.stages_total:
        _refuse(
            state,
            "promote",
            f"{state.stage} of {state.stages_total} stages passed: there is no stage to skip",
            "finish the run, or promote to 100 %",
        )
    passed = state.stage + 1
    return _end_run(
        state,
        event=Event.PROMOTE,
        actor=actor,
        now=now,
        entry_reason=f"stage {passed} of {state.stages_total} marked passed: {reason}",
        entry_weights=state.last_written,
        execution_arn=interrupted,
        status=Status.IDLE,
        stage=passed,
        reason=f"{actor}: {reason}",
    )


def noop(
    state: RouteState,
    *,
    reason: str,
    actor: str,
    now: datetime,
    execution_arn: str | None = None,
) -> Transition:
    """A recorded no-op: only version/updated_at change, and an entry ``noop`` is appended.

    The version bump keeps "an entry is only written with a conditional state
    write" true; a run that races with it gets ConcurrentUpdate, reloads and
    continues.
    """
    now = _utc(now)
    return _apply(
        state,
        event=Event.NOOP,
        actor=actor,
        now=now,
        entry_reason=reason,
        entry_weights=None,
        execution_arn=execution_arn,
    )


def sync(
    state: RouteState,
    *,
    reason: str,
    weights: Weights | None,
    actor: str,
    now: datetime,
) -> Transition:
    """Record that the rule's target group ARNs were rewritten to the registry's.

    Allowed in every status, a locked one included: a sync changes which
    target groups the rule forwards to, never the weights or who owns the
    route, so the status, stage, lock and ``last_written`` are kept. Like
    :func:`noop` only the version and ``updated_at`` move, so the entry
    (event ``sync``, ``reason`` naming the old and new ARNs, ``weights`` the
    split that was kept) is written with a conditional state write. The caller
    records it only after a write that changed the rule.
    """
    now = _utc(now)
    return _apply(
        state,
        event=Event.SYNC,
        actor=actor,
        now=now,
        entry_reason=reason,
        entry_weights=weights,
        execution_arn=held_execution(state),
    )


def record_capacity(
    state: RouteState,
    *,
    guard: CapacityGuard,
    reason: str,
    actor: str,
    now: datetime,
) -> Transition:
    """Record a change of the capacity guard (baseline, pin, hold, failback, release).

    Allowed in every status: like :func:`sync`, the status, stage, lock and
    weights are kept; the guard, the version and ``updated_at`` change, and
    an entry ``capacity`` says what was found and set. The caller records it
    after the ECS and Application Auto Scaling writes it describes.
    """
    now = _utc(now)
    return _apply(
        state,
        event=Event.CAPACITY,
        actor=actor,
        now=now,
        entry_reason=reason,
        entry_weights=None,
        execution_arn=held_execution(state),
        capacity=guard,
    )


def gate_pause(
    state: RouteState,
    *,
    estimate: GateEstimate,
    execution_arn: str,
    actor: str,
    now: datetime,
) -> Transition:
    """The next stage would not fit under the cap: progressing -> paused, weights untouched.

    The reason states the numbers (:meth:`GateEstimate.describe`); the route
    waits for an operator (who raises ``reservedConcurrency`` with
    ``pulumi up`` and resumes). A repeated call is a no-op.
    """
    now = _utc(now)
    if state.status is Status.PAUSED and (state.reason or "").startswith(REASON_GATE):
        return _unchanged(state)
    _require_holder(state, execution_arn, "gate")
    reason = estimate.describe()
    return _pause_run(
        state,
        event=Event.GATE,
        reason=reason,
        actor=actor,
        now=now,
        entry_weights=state.last_written,
        execution_arn=execution_arn,
        gate=estimate,
    )


def with_gate(transition: Transition, estimate: GateEstimate | None) -> Transition:
    """``transition`` with the gate's latest estimate stored in its new state.

    Only a changed transition carries it (an unchanged one writes nothing).
    """
    if estimate is None or not transition.changed:
        return transition
    return replace(transition, state=replace(transition.state, gate=estimate))


def verify(
    state: RouteState,
    *,
    execution_arn: str,
    passed: bool,
    reason: str,
    actor: str,
    now: datetime,
) -> Transition:
    """The run's equivalence check, before its first shift; an entry ``verify`` either way.

    Passed: the route stays progressing and the run goes on. Failed (any
    difference, or a check that could not run): progressing -> paused for an
    operator, the lock released and the weights untouched, so no user
    request reaches the function before someone has looked. ``reason`` of a
    failure starts with ``verify:``.
    """
    now = _utc(now)
    _require_holder(state, execution_arn, "verify")
    if passed:
        return _apply(
            state,
            event=Event.VERIFY,
            actor=actor,
            now=now,
            entry_reason=reason,
            entry_weights=state.last_written,
            execution_arn=execution_arn,
        )
    if not reason.startswith(REASON_VERIFY):
        reason = f"{REASON_VERIFY} {reason}"
    return _pause_run(
        state,
        event=Event.VERIFY,
        reason=reason,
        actor=actor,
        now=now,
        entry_weights=state.last_written,
        execution_arn=execution_arn,
    )
