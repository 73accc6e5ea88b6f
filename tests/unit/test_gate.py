"""Tests of controller/core/gate.py: the concurrency gate's arithmetic and its decision."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from controller.core.contract import GateRecord
from controller.core.gate import GateEstimate, estimate_after_bake, estimate_first_stage

tenths = st.integers(min_value=1, max_value=1000)  # a stage weight in 0.1 % steps


@settings(max_examples=150, deadline=None)
@given(
    peak=st.integers(min_value=0, max_value=5000),
    w_from=tenths,
    w_to=tenths,
    reserved=st.integers(min_value=1, max_value=3000),
    headroom=st.integers(min_value=1, max_value=100),
)
@example(peak=52, w_from=100, w_to=500, reserved=200, headroom=80)  # 260 > 160: pause
@example(peak=32, w_from=100, w_to=500, reserved=200, headroom=80)  # 160 = 160: shift
def test_pauses_exactly_when_the_estimate_exceeds_the_headroom(
    peak: int, w_from: int, w_to: int, reserved: int, headroom: int
) -> None:
    estimate = estimate_after_bake(
        stage=3,
        peak=float(peak),
        from_percent=w_from / 10,
        to_percent=w_to / 10,
        reserved=reserved,
        headroom_percent=float(headroom),
    )
    # Integer cross-multiplication: peak * w'/w > reserved * headroom / 100.
    expected = peak * w_to * 100 > reserved * headroom * w_from
    assert estimate.blocked is expected, estimate.describe()
    assert estimate.needed_exact == Fraction(peak * w_to, w_from)
    assert estimate.limit_exact == Fraction(reserved * headroom, 100)


@settings(max_examples=80, deadline=None)
@given(
    rps=st.integers(min_value=1, max_value=10_000),
    timeout=st.integers(min_value=1, max_value=900),
    w_to=tenths,
    reserved=st.integers(min_value=1, max_value=3000),
    headroom=st.integers(min_value=1, max_value=100),
)
def test_first_stage_from_expected_rps_and_timeout(
    rps: int, timeout: int, w_to: int, reserved: int, headroom: int
) -> None:
    estimate = estimate_first_stage(
        expected_peak_rps=float(rps),
        timeout_seconds=timeout,
        to_percent=w_to / 10,
        reserved=reserved,
        headroom_percent=float(headroom),
    )
    assert estimate is not None
    # rps * timeout * w'/100 > reserved * headroom / 100, in integers (w' in tenths).
    assert estimate.blocked is (rps * timeout * w_to > reserved * headroom * 10)
    assert estimate.stage == 1


def test_no_first_stage_estimate_without_expected_rps() -> None:
    estimate = estimate_first_stage(
        expected_peak_rps=None, timeout_seconds=10, to_percent=1.0, reserved=5, headroom_percent=80
    )
    assert estimate is None


def test_reason_states_the_numbers() -> None:
    estimate = estimate_after_bake(
        stage=3, peak=52, from_percent=10, to_percent=50, reserved=200, headroom_percent=80
    )
    text = estimate.describe()
    assert text.startswith("concurrency gate: stage 3 needs ~260 of 200 reserved")
    assert "(80 % headroom = 160)" in text
    assert text.endswith("pausing")


def test_a_raised_cap_lets_the_same_estimate_through() -> None:
    estimate = estimate_after_bake(
        stage=3, peak=52, from_percent=10, to_percent=50, reserved=200, headroom_percent=80
    )
    assert estimate.blocked
    assert not estimate.with_reserved(400, 80).blocked


def test_round_trip() -> None:
    estimate = estimate_after_bake(
        stage=2, peak=7.5, from_percent=1, to_percent=10, reserved=200, headroom_percent=80
    )
    assert GateEstimate.from_dict(estimate.to_dict()) == estimate


def test_refuses_a_bake_at_zero_weight() -> None:
    with pytest.raises(ValueError, match="above 0"):
        estimate_after_bake(
            stage=1, peak=1, from_percent=0, to_percent=1, reserved=1, headroom_percent=80
        )


def test_the_stored_keys_are_pinned() -> None:
    """The estimate (DynamoDB) and the gate record (SSM) keep their keys, whatever the fields."""
    estimate = estimate_after_bake(
        stage=2, peak=7.5, from_percent=1, to_percent=10, reserved=200, headroom_percent=80
    )
    assert list(estimate.to_dict()) == [
        "stage",
        "from_percent",
        "to_percent",
        "basis",
        "measured",
        "reserved",
        "headroom_percent",
        "needed",
        "limit",
        "blocked",
    ]
    record = GateRecord(
        headroom_percent=80, reserved_concurrency=200, timeout_seconds=10, expected_peak_rps=5
    )
    assert record.to_dict() == {
        "headroomPercent": 80,
        "reservedConcurrency": 200,
        "timeoutSeconds": 10,
        "expectedPeakRps": 5,
    }
    assert GateRecord.from_dict(record.to_dict()) == record
