"""Tests of controller/core/capacity.py: the guard's pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.core.capacity import (
    CapacityGuard,
    CapacityReading,
    failback_targets,
    hold_end,
    hold_over,
    pin_min,
    take_baseline,
)

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_baseline_records_desired_and_min() -> None:
    guard = take_baseline(CapacityReading(12, 12, min_capacity=2, max_capacity=40), NOW)
    assert (guard.baseline_desired, guard.baseline_min, guard.recorded_at) == (12, 2, NOW)
    assert guard.active and guard.hold_until is None


def test_pin_raises_min_to_the_baseline_desired_only() -> None:
    guard = take_baseline(CapacityReading(12, 12, 2, 40), NOW)
    assert pin_min(guard, CapacityReading(12, 12, 2, 40)) == 12
    assert pin_min(guard, CapacityReading(12, 12, 12, 40)) is None  # already pinned
    assert pin_min(guard, CapacityReading(12, 12, 15, 40)) is None  # never lowered
    assert pin_min(guard, CapacityReading(12, 12, 2, 8)) == 8  # never above MaxCapacity
    assert pin_min(guard, CapacityReading(12, 12)) is None  # no scalable target


def test_failback_raises_desired_and_min_after_a_scale_in() -> None:
    guard = take_baseline(CapacityReading(12, 12, None, None), NOW)
    change = failback_targets(guard, CapacityReading(3, 3))
    assert (change.desired_count, change.min_capacity) == (12, None)
    pinned = take_baseline(CapacityReading(12, 12, 2, 40), NOW)
    change = failback_targets(pinned, CapacityReading(4, 4, 2, 40))
    assert (change.desired_count, change.min_capacity) == (12, 12)
    assert failback_targets(pinned, CapacityReading(14, 14, 12, 40)).empty


def test_hold_is_over_exactly_at_its_end() -> None:
    guard = take_baseline(CapacityReading(12, 12, 2, 40), NOW).holding(hold_end(NOW, 72))
    end = NOW + timedelta(hours=72)
    assert guard.hold_until == end
    assert not hold_over(guard, end - timedelta(seconds=1))
    assert hold_over(guard, end)
    assert not hold_over(guard.released(end), end + timedelta(hours=1))
    # A hold never moves earlier.
    assert guard.holding(NOW + timedelta(hours=1)) == guard


def test_round_trip_and_description() -> None:
    guard = CapacityGuard(12, 2, NOW, pinned_min=12, hold_until=NOW + timedelta(hours=72))
    assert CapacityGuard.from_dict(guard.to_dict()) == guard
    assert guard.describe() == "ecs min pinned 12 (was 2)"
