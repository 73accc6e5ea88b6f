"""The life cycle of a route, as explicit pure transitions in one place.

```
idle ──begin──> progressing ──all stages passed, finish──> promoted
                  │   ^  │
             pause│   │  │ stagesPerRun reached
                  v   │  v
                 paused ─┘ (resume, or the next scheduled run)
any ──alarm / operator / failed check──> rolled_back ──operator resume──> idle
progressing ──drift──> paused (weights left as the human set them)
```

Every transition is a function ``f(state, *, ..., actor, now) -> Transition``.
It never mutates its input. It either returns a :class:`Transition` (the new
state, the history entry to append, and whether anything changed) or raises
:class:`~controller.errors.TransitionRefused` with a reason and a hint.

Conventions:
- ``changed`` is True exactly when ``entry`` is not None. The caller saves
  both in one conditional write (:meth:`controller.ports.StatePort.save`),
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

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from controller.errors import TransitionRefused
from controller.weights import Weights

__all__ = [
    "REASON_ALL_STAGES_PASSED",
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
    "initial_state",
    "is_drift",
    "needs_operator",
    "noop",
    "pass_check",
    "pause",
    "promote",
    "record_shift",
    "resume",
    "rollback",
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


# The reason of a pause the next run may continue from without an operator.
# Every other pause (drift, operator) waits for an operator resume.
REASON_STAGES_PER_RUN = "stagesPerRun reached"
REASON_ALL_STAGES_PASSED = "all stages passed"


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
    return datetime.fromisoformat(str(value))


def _parse_dt_or_none(value: Any) -> datetime | None:
    return None if value in (None, "") else _parse_dt(value)


# --- queries --------------------------------------------------------------------


def initial_state(route: str, stages_total: int = 0) -> RouteState:
    """The state of a route the table has never seen: idle, stage 0, version 0."""
    return RouteState(route=route, stages_total=stages_total)


def needs_operator(state: RouteState) -> bool:
    """True when only an operator can move the route on (rolled back, paused by drift/operator)."""
    raise NotImplementedError


def expected_weights(state: RouteState) -> Weights | None:
    """The weights the rule should hold now: ``last_written`` (None before the first write)."""
    raise NotImplementedError


def is_drift(state: RouteState, live: Weights) -> bool:
    """True when ``live`` differs from what the controller last wrote (a human changed it)."""
    raise NotImplementedError


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
    raise NotImplementedError


def begin_or_noop(
    state: RouteState,
    *,
    execution_arn: str,
    stages_total: int,
    holder_running: bool,
    actor: str,
    now: datetime,
) -> Transition:
    """:func:`begin`, but a refusal becomes a recorded :func:`noop` (for scheduled starts)."""
    raise NotImplementedError


def record_shift(
    state: RouteState,
    *,
    execution_arn: str,
    weights: Weights,
    actor: str,
    now: datetime,
) -> Transition:
    """Record that the run wrote and verified ``weights`` for the current stage; the bake starts."""
    raise NotImplementedError


def pass_check(
    state: RouteState,
    *,
    execution_arn: str,
    stages_per_run: int,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> Transition:
    """The current stage's check passed: stage += 1; pause when stagesPerRun is reached."""
    raise NotImplementedError


def fail_check(
    state: RouteState,
    *,
    execution_arn: str,
    reason: str,
    actor: str,
    now: datetime,
) -> Transition:
    """The current stage's check failed: a rollback (event ``check_failed``)."""
    raise NotImplementedError


def finish(state: RouteState, *, execution_arn: str, actor: str, now: datetime) -> Transition:
    """All stages passed: progressing -> promoted, lock released."""
    raise NotImplementedError


def pause(state: RouteState, *, reason: str, actor: str, now: datetime) -> Transition:
    """Operator pause: keeps the weights, releases the lock; only an operator resumes."""
    raise NotImplementedError


def resume(state: RouteState, *, reason: str, actor: str, now: datetime) -> Transition:
    """Operator resume: paused -> idle (stage kept); rolled_back -> idle at stage 0."""
    raise NotImplementedError


def rollback(state: RouteState, *, reason: str, actor: str, now: datetime) -> Transition:
    """Allowed from any state: rolled_back with ALL_ECS, lock released. Idempotent."""
    raise NotImplementedError


def drift(state: RouteState, *, live: Weights, actor: str, now: datetime) -> Transition:
    """The live weights differ from ``last_written``: progressing -> paused, weights untouched."""
    raise NotImplementedError


def promote(
    state: RouteState,
    *,
    full: bool,
    reason: str,
    actor: str,
    now: datetime,
) -> Transition:
    """Operator promote: skip the current bake (``full=False``) or go to 100 % (``full=True``)."""
    raise NotImplementedError


def noop(state: RouteState, *, reason: str, actor: str, now: datetime) -> Transition:
    """A recorded no-op: only version/updated_at change, and an entry ``noop`` is appended."""
    raise NotImplementedError
