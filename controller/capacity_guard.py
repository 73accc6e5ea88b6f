"""The capacity guard's operations: baseline, pin, hold, failback capacity, end of the hold.

The decisions are pure (:mod:`controller.core.capacity`); this module reads
the ECS service through :class:`~controller.core.ports.CapacityPort`, writes
what the decision asks for, records every change in the route's history
(event ``capacity``, through the service's conditional commit) and notifies.

A route without ``ecsService`` (no :class:`~controller.core.contract.CapacityRecord`
in its registry record) has no guard: every operation here is a no-op for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from controller.core import capacity as core
from controller.core import lifecycle
from controller.core.capacity import CapacityChange, CapacityGuard, CapacityReading
from controller.core.contract import CapacityRecord, RouteRecord
from controller.core.errors import StranglerError
from controller.core.json_form import fields_dict
from controller.core.lifecycle import RouteState, Transition
from controller.core.ports import CapacityPort, NotifyPort, Ports

__all__ = ["CapacityGuardOps", "FailbackCapacity"]

# SNS limits a subject to 100 printable ASCII characters (SNS Publish API).
_MAX_SUBJECT = 100

Commit = Callable[[str, Callable[[RouteState], Transition]], tuple[RouteState, Transition]]


class _Log(Protocol):
    def info(self, msg: str, *args: Any) -> None: ...

    def warning(self, msg: str, *args: Any) -> None: ...

    def error(self, msg: str, *args: Any) -> None: ...


@dataclass(frozen=True)
class FailbackCapacity:
    """What a rollback found on the ECS service and what it set (for history and notification)."""

    found: CapacityReading
    change: CapacityChange
    guard: CapacityGuard

    def to_dict(self) -> dict[str, Any]:
        """The ``capacity`` object of the rollback's notification."""
        return {
            "found": {
                "desiredCount": self.found.desired_count,
                "runningCount": self.found.running_count,
                "minCapacity": self.found.min_capacity,
            },
            "set": {
                "desiredCount": self.change.desired_count,
                "minCapacity": self.change.min_capacity,
            },
            "baselineDesired": self.guard.baseline_desired,
            "baselineMin": self.guard.baseline_min,
            "holdUntil": self.guard.hold_until.isoformat() if self.guard.hold_until else None,
        }

    def describe(self) -> str:
        """One line for the history."""
        found = f"found desired {self.found.desired_count}"
        if self.found.min_capacity is not None:
            found += f", min {self.found.min_capacity}"
        hold = (
            f"; pinned until {self.guard.hold_until.isoformat()}" if self.guard.hold_until else ""
        )
        if self.change.empty:
            return (
                f"failback capacity: {found}; already at baseline "
                f"{self.guard.baseline_desired}{hold}"
            )
        wrote = []
        if self.change.desired_count is not None:
            wrote.append(f"desired {self.change.desired_count}")
        if self.change.min_capacity is not None:
            wrote.append(f"min {self.change.min_capacity}")
        return (
            f"failback capacity: {found}; set {', '.join(wrote)} "
            f"(baseline desired {self.guard.baseline_desired}){hold}"
        )


class CapacityGuardOps:
    """The guard's steps, called by :class:`controller.service.CanaryService`."""

    def __init__(
        self,
        ports: Ports,
        *,
        commit: Commit,
        clock: Callable[[], datetime],
        log: _Log,
    ) -> None:
        self._ports = ports
        self._commit = commit
        self._clock = clock
        self._log = log

    def _port(self, record: RouteRecord) -> CapacityPort:
        if self._ports.capacity is None:
            raise StranglerError(
                "the route has ecsService but the controller was built without a capacity port",
                route=record.route,
            )
        return self._ports.capacity

    # ------------------------------------------------------------------ run

    def on_begin(self, record: RouteRecord, *, actor: str) -> CapacityGuard | None:
        """A run began: take the baseline (unless a guard is active) and pin MinCapacity.

        An active guard keeps its baseline: the service may have scaled in
        since, and that smaller count is exactly what must not become the
        baseline. Its hold is cleared, as a new run is a canary again.
        """
        ref = record.capacity
        if ref is None:
            return None
        port = self._port(record)
        reading = port.read_capacity(ref)
        now = self._clock()
        state = self._ports.state.load(record.route)
        guard = state.capacity
        fresh = guard is None or not guard.active
        if guard is None or not guard.active:
            guard = core.take_baseline(reading, now)
        pin = core.pin_min(guard, reading)
        if pin is not None:
            port.set_min_capacity(ref, pin)
            guard = _pinned(guard, pin)
        if guard.hold_until is not None:
            guard = _without_hold(guard)
        if not fresh and pin is None and guard == state.capacity:
            return guard
        what = "baseline recorded" if fresh else "guard kept"
        reason = (
            f"capacity {what}: {_describe_reading(reading)}; {guard.describe()}, "
            "held through the canary"
        )
        self._record(
            record, guard, reason, actor, extra={"found": fields_dict(reading, camel=True)}
        )
        return guard

    def on_promoted(self, record: RouteRecord, *, actor: str) -> CapacityGuard | None:
        """The route is promoted: the pin holds for ``holdHours`` from now."""
        return self._start_hold(record, actor=actor, after="promotion")

    def _start_hold(self, record: RouteRecord, *, actor: str, after: str) -> CapacityGuard | None:
        ref = record.capacity
        if ref is None:
            return None
        state = self._ports.state.load(record.route)
        guard = state.capacity
        if guard is None or not guard.active:
            return guard
        now = self._clock()
        held = guard.holding(core.hold_end(now, ref.hold_hours))
        if held == guard:
            return guard
        reason = (
            f"capacity hold after {after}: {held.describe()} until "
            f"{held.hold_until.isoformat() if held.hold_until else '?'} ({ref.hold_hours:g} h)"
        )
        self._record(record, held, reason, actor)
        return held

    # ------------------------------------------------------------------ failback

    def on_rollback(
        self, record: RouteRecord, *, actor: str, rolled_back_now: bool
    ) -> FailbackCapacity | None:
        """After the weights are at ECS: desired and MinCapacity back to at least the baseline.

        ``rolled_back_now`` is False for a repeated rollback: the hold then
        keeps its end instead of moving it on with every repeat. Raises what
        the capacity calls raise; the caller reports it as a second,
        alarm-worthy event (the weights are already safe).
        """
        ref = record.capacity
        if ref is None:
            return None
        port = self._port(record)
        state = self._ports.state.load(record.route)
        reading = port.read_capacity(ref)
        now = self._clock()
        guard = state.capacity
        if guard is None or not guard.active:
            # No run recorded a baseline (or its hold is over): what the service
            # has now is the best baseline there is, and nothing needs raising.
            guard = core.take_baseline(reading, now)
        change = core.failback_targets(guard, reading)
        if change.desired_count is not None:
            port.set_desired_count(ref, change.desired_count)
        if change.min_capacity is not None:
            port.set_min_capacity(ref, change.min_capacity)
            guard = _pinned(guard, change.min_capacity)
        if rolled_back_now or guard.hold_until is None:
            guard = guard.holding(core.hold_end(now, ref.hold_hours))
        result = FailbackCapacity(found=reading, change=change, guard=guard)
        if guard != state.capacity or not change.empty:
            self._commit(
                record.route,
                lambda s: lifecycle.record_capacity(
                    s, guard=guard, reason=result.describe(), actor=actor, now=now
                ),
            )
        return result

    def notify_failure(self, record: RouteRecord, *, actor: str, error: BaseException) -> None:
        """The second, alarm-worthy event: the weights are at ECS, the capacity is not restored."""
        _notify(
            self._ports.notify,
            record.route,
            "CAPACITY NOT RESTORED after rollback",
            {
                "route": record.route,
                "event": "capacity_failed",
                "actor": actor,
                "service": _service_dict(record.capacity),
                "error": str(error),
                "action": "the weights are at ECS; raise the service's desired count by hand "
                "(or run the rollback again: python -m controller rollback --route "
                f"{record.route})",
            },
        )

    # ------------------------------------------------------------------ the hold's end

    def tick(self, record: RouteRecord, *, actor: str) -> CapacityGuard | None:
        """The periodic invocation: restore the recorded MinCapacity once the hold is over.

        Returns the released guard when this call ended the hold, None otherwise.
        """
        ref = record.capacity
        if ref is None:
            return None
        state = self._ports.state.load(record.route)
        guard = state.capacity
        now = self._clock()
        if guard is None or not core.hold_over(guard, now):
            return None
        port = self._port(record)
        restored = ""
        if guard.pinned_min is not None and guard.baseline_min is not None:
            reading = port.read_capacity(ref)
            # Only our own pin is undone: a minimum someone changed since is theirs.
            if reading.min_capacity == guard.pinned_min:
                port.set_min_capacity(ref, guard.baseline_min)
                restored = f"; ecs min restored to {guard.baseline_min} (was {guard.pinned_min})"
            else:
                restored = (
                    f"; ecs min is {reading.min_capacity}, not the pinned {guard.pinned_min}: "
                    "left as it is"
                )
        released = guard.released(now)
        reason = f"capacity hold ended{restored or '; nothing was pinned'}"
        self._record(record, released, reason, actor)
        return released

    # ------------------------------------------------------------------ internals

    def _record(
        self,
        record: RouteRecord,
        guard: CapacityGuard,
        reason: str,
        actor: str,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        now = self._clock()
        _, transition = self._commit(
            record.route,
            lambda s: lifecycle.record_capacity(
                s, guard=guard, reason=reason, actor=actor, now=now
            ),
        )
        self._log.info("route %s: %s", record.route, reason)
        message: dict[str, Any] = {
            "route": record.route,
            "event": "capacity",
            "status": transition.state.status.value,
            "reason": reason,
            "actor": actor,
            "service": _service_dict(record.capacity),
            "guard": guard.to_dict(),
        }
        if extra:
            message.update(extra)
        try:
            _notify(self._ports.notify, record.route, "capacity guard changed", message)
        except Exception as error:  # the change is recorded; a lost notification is logged
            self._log.error("route %s: capacity notification failed: %s", record.route, error)


def _pinned(guard: CapacityGuard, pin: int) -> CapacityGuard:
    return replace(guard, pinned_min=pin)


def _without_hold(guard: CapacityGuard) -> CapacityGuard:
    return replace(guard, hold_until=None)


def _describe_reading(reading: CapacityReading) -> str:
    text = f"ecs desired {reading.desired_count}"
    if reading.min_capacity is not None:
        text += f", min {reading.min_capacity}, max {reading.max_capacity}"
    else:
        text += " (no scalable target)"
    return text


def _service_dict(ref: CapacityRecord | None) -> dict[str, Any] | None:
    return None if ref is None else {"cluster": ref.cluster, "service": ref.service}


def _notify(port: NotifyPort, route: str, what: str, message: dict[str, Any]) -> None:
    subject = f"[strangler] {route}: {what}"
    subject = subject.encode("ascii", "replace").decode("ascii").replace("\n", " ")
    port.notify(subject[:_MAX_SUBJECT], message)
