"""The capacity guard: the ECS service keeps enough tasks to take the route back.

While traffic moves to Lambda, ECS autoscaling scales the monolith in because
its traffic fell. An alarm then sends 100 % back to ECS in milliseconds, onto
a fraction of the tasks it needs: the failback becomes the outage. The guard:

1. When a run begins (and no guard is active yet), the service's
   ``desiredCount`` and its scalable target's ``MinCapacity`` are recorded as
   the route's **baseline** (:func:`take_baseline`).
2. From then on, through the canary and for ``holdHours`` after the
   promotion (or the rollback), the scalable target's ``MinCapacity`` is
   pinned at least at the baseline desired count (:func:`pin_min`).
3. A rollback writes the weights first, then raises ``desiredCount`` to at
   least the baseline and ``MinCapacity`` back to the pin
   (:func:`failback_targets`).
4. When the hold ends, the controller's periodic tick restores the recorded
   ``MinCapacity`` (:func:`hold_over`, :meth:`CapacityGuard.released`).

Pure module: no AWS calls; time comes in as ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "CapacityChange",
    "CapacityGuard",
    "CapacityReading",
    "failback_targets",
    "hold_end",
    "hold_over",
    "pin_min",
    "take_baseline",
]


@dataclass(frozen=True)
class CapacityReading:
    """The ECS service and its scalable target, as read now.

    ``min_capacity``/``max_capacity`` are None when the service has no
    Application Auto Scaling scalable target.
    """

    desired_count: int
    running_count: int
    min_capacity: int | None = None
    max_capacity: int | None = None

    @property
    def scalable(self) -> bool:
        """True when the service has a scalable target."""
        return self.min_capacity is not None


@dataclass(frozen=True)
class CapacityChange:
    """What to write: a new ``desiredCount`` and/or ``MinCapacity`` (None: leave it)."""

    desired_count: int | None = None
    min_capacity: int | None = None

    @property
    def empty(self) -> bool:
        """True when nothing needs writing."""
        return self.desired_count is None and self.min_capacity is None


@dataclass(frozen=True)
class CapacityGuard:
    """The route's guard as stored with its state.

    ``baseline_desired``/``baseline_min`` were read when the guard began.
    ``pinned_min`` is the ``MinCapacity`` the guard set (None: no scalable
    target, or nothing to raise). ``hold_until`` is set at the promotion or
    the rollback; ``released_at`` when the hold ended and ``MinCapacity`` was
    restored.
    """

    baseline_desired: int
    baseline_min: int | None
    recorded_at: datetime
    pinned_min: int | None = None
    hold_until: datetime | None = None
    released_at: datetime | None = None

    @property
    def active(self) -> bool:
        """True until the hold has ended."""
        return self.released_at is None

    def holding(self, until: datetime) -> CapacityGuard:
        """The guard with its hold ending at ``until`` (kept if already set later)."""
        if self.hold_until is not None and self.hold_until >= until:
            return self
        return replace(self, hold_until=until)

    def released(self, now: datetime) -> CapacityGuard:
        """The guard after the hold ended."""
        return replace(self, released_at=now)

    def describe(self) -> str:
        """``ecs min pinned 12 (was 2)`` or ``ecs desired baseline 12 (no scalable target)``."""
        if self.pinned_min is not None:
            return f"ecs min pinned {self.pinned_min} (was {self.baseline_min})"
        if self.baseline_min is None:
            return f"ecs desired baseline {self.baseline_desired} (no scalable target)"
        return f"ecs min {self.baseline_min} already covers baseline {self.baseline_desired}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (timestamps ISO 8601)."""
        return {
            "baseline_desired": self.baseline_desired,
            "baseline_min": self.baseline_min,
            "recorded_at": self.recorded_at.isoformat(),
            "pinned_min": self.pinned_min,
            "hold_until": _iso(self.hold_until),
            "released_at": _iso(self.released_at),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CapacityGuard:
        """Inverse of :meth:`to_dict` (numbers may be ``Decimal`` from DynamoDB)."""
        return CapacityGuard(
            baseline_desired=int(data["baseline_desired"]),
            baseline_min=_int_or_none(data.get("baseline_min")),
            recorded_at=datetime.fromisoformat(str(data["recorded_at"])),
            pinned_min=_int_or_none(data.get("pinned_min")),
            hold_until=_dt_or_none(data.get("hold_until")),
            released_at=_dt_or_none(data.get("released_at")),
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _dt_or_none(value: Any) -> datetime | None:
    return None if value in (None, "") else datetime.fromisoformat(str(value))


def take_baseline(reading: CapacityReading, now: datetime) -> CapacityGuard:
    """A new guard from what the service has now (call it when a run begins)."""
    return CapacityGuard(
        baseline_desired=reading.desired_count,
        baseline_min=reading.min_capacity,
        recorded_at=now,
    )


def pin_min(guard: CapacityGuard, reading: CapacityReading) -> int | None:
    """The ``MinCapacity`` to write so ECS cannot scale in below the baseline; None: none needed.

    Never lowers a minimum someone set higher, and never asks for more than
    the target's ``MaxCapacity`` (Application Auto Scaling refuses a minimum
    above the maximum).
    """
    if reading.min_capacity is None:
        return None
    wanted = guard.baseline_desired
    if reading.max_capacity is not None:
        wanted = min(wanted, reading.max_capacity)
    return wanted if reading.min_capacity < wanted else None


def failback_targets(guard: CapacityGuard, reading: CapacityReading) -> CapacityChange:
    """What a rollback writes after the weights: desired and minimum up to the baseline."""
    desired = guard.baseline_desired if reading.desired_count < guard.baseline_desired else None
    return CapacityChange(desired_count=desired, min_capacity=pin_min(guard, reading))


def hold_over(guard: CapacityGuard, now: datetime) -> bool:
    """True when the guard's hold has ended and its ``MinCapacity`` must be restored."""
    return guard.active and guard.hold_until is not None and now >= guard.hold_until


def hold_end(at: datetime, hold_hours: float) -> datetime:
    """When a hold that starts at ``at`` ends."""
    return at + timedelta(hours=hold_hours)
