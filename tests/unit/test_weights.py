"""Tests of controller.core.weights: percent <-> ALB weights; the ALB limits of a forward action."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.errors import WeightError
from controller.core.weights import (
    ALL_ECS,
    ALL_LAMBDA,
    MAX_TARGET_GROUPS,
    MAX_WEIGHT,
    Weights,
    percent_to_tenths,
    validate_forward,
)

tenths = st.integers(min_value=0, max_value=1000)
weight = st.integers(min_value=0, max_value=MAX_WEIGHT)
# Modest: the unit tier has a time budget.
few = settings(max_examples=60, deadline=None)


def test_all_ecs_and_all_lambda_are_the_smallest_pairs() -> None:
    assert ALL_ECS.same_pair(Weights(ecs=1, lambda_=0))
    assert ALL_LAMBDA.same_pair(Weights(ecs=0, lambda_=1))
    # A rule created or hand-written as 999 / 0 is the same split.
    assert Weights(ecs=999, lambda_=0) == ALL_ECS
    assert Weights(ecs=0, lambda_=999) == ALL_LAMBDA


@pytest.mark.parametrize(
    ("percent", "ecs", "lambda_"),
    [
        (0, 1, 0),
        (0.1, 999, 1),
        (1, 99, 1),
        (10, 9, 1),
        (25, 3, 1),
        (33.3, 667, 333),
        (50, 1, 1),
        (50.1, 499, 501),
        (99.9, 1, 999),
        (100, 0, 1),
    ],
)
def test_from_percent_is_the_smallest_exact_pair(percent: float, ecs: int, lambda_: int) -> None:
    weights = Weights.from_percent(percent)
    assert weights.same_pair(Weights(ecs=ecs, lambda_=lambda_)), weights
    assert weights.lambda_percent == percent


@few
@given(tenths)
def test_from_percent_is_exact_in_range_and_smallest(t: int) -> None:
    weights = Weights.from_percent(t / 10)
    assert 0 <= weights.ecs <= MAX_WEIGHT
    assert 0 <= weights.lambda_ <= MAX_WEIGHT
    # Exact: lambda / (ecs + lambda) == t / 1000, in integers.
    assert weights.lambda_ * 1000 == t * weights.total
    # Smallest: no common divisor left.
    assert math.gcd(weights.ecs, weights.lambda_) == 1
    assert weights.is_canonical


@few
@given(tenths, st.integers(min_value=1, max_value=MAX_WEIGHT))
def test_no_smaller_pair_has_the_same_share(t: int, total: int) -> None:
    # Any pair with the exact share sums to a multiple of the smallest pair's sum.
    smallest = Weights.from_percent(t / 10)
    if (t * total) % 1000 == 0:
        assert total % smallest.total == 0


@few
@given(tenths, tenths)
def test_from_percent_is_monotone_in_share(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert (
        Weights.from_percent(low / 10).lambda_tenths
        <= Weights.from_percent(high / 10).lambda_tenths
    )


@few
@given(tenths)
def test_percent_to_weights_to_percent_is_identity(t: int) -> None:
    assert Weights.from_percent(t / 10).lambda_tenths == t


@few
@given(tenths, st.integers(min_value=1, max_value=MAX_WEIGHT))
def test_a_multiple_of_the_exact_pair_is_the_same_split(t: int, factor: int) -> None:
    smallest = Weights.from_percent(t / 10)
    if max(smallest.ecs, smallest.lambda_) * factor > MAX_WEIGHT:
        return
    scaled = Weights(ecs=smallest.ecs * factor, lambda_=smallest.lambda_ * factor)
    assert scaled == smallest
    assert hash(scaled) == hash(smallest)
    assert scaled.same_pair(smallest) == (factor == 1)
    assert scaled.is_canonical == (factor == 1)


def test_equal_ratios_are_the_same_split_and_others_are_not() -> None:
    assert Weights(ecs=500, lambda_=500) == Weights(ecs=1, lambda_=1)
    assert Weights(ecs=499, lambda_=500) != Weights(ecs=1, lambda_=1)
    assert Weights(ecs=0, lambda_=0) != ALL_ECS


@given(tenths)
def test_ecs_and_lambda_percent_add_up_to_100(t: int) -> None:
    weights = Weights.from_percent(t / 10)
    assert round(weights.ecs_percent + weights.lambda_percent, 1) == 100.0


@given(weight, weight)
def test_any_live_pair_is_representable_and_divides_by_its_actual_sum(
    ecs: int, lambda_: int
) -> None:
    weights = Weights(ecs=ecs, lambda_=lambda_)
    if ecs + lambda_ == 0:
        with pytest.raises(WeightError, match="both weights are 0"):
            _ = weights.lambda_percent
        return
    exact = 100 * lambda_ / (ecs + lambda_)
    assert abs(weights.lambda_percent - exact) <= 0.05 + 1e-9
    assert 0.0 <= weights.lambda_percent <= 100.0


def test_lambda_percent_of_a_hand_edited_pair() -> None:
    # A human set 100/100: half the traffic, whatever the sum.
    assert Weights(ecs=100, lambda_=100).lambda_percent == 50.0
    assert Weights(ecs=1, lambda_=3).lambda_percent == 75.0
    assert Weights(ecs=2, lambda_=1).lambda_percent == 33.3
    assert Weights(ecs=0, lambda_=5).lambda_percent == 100.0


def test_lambda_percent_rounds_half_up() -> None:
    # 1/8 = 12.5 % exactly -> 12.5; 1/16 = 6.25 % -> 6.3 (half up, not to even)
    assert Weights(ecs=7, lambda_=1).lambda_percent == 12.5
    assert Weights(ecs=15, lambda_=1).lambda_percent == 6.3


@pytest.mark.parametrize("value", [-1, 1000, 5000])
def test_weights_outside_the_alb_range_are_refused(value: int) -> None:
    with pytest.raises(WeightError, match="0-999") as info:
        Weights(ecs=value, lambda_=0)
    assert info.value.limit == "weight 0-999"


@pytest.mark.parametrize("value", [1.5, "3", True, None])
def test_weights_must_be_integers(value: object) -> None:
    with pytest.raises(WeightError, match="integer"):
        Weights(ecs=0, lambda_=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("percent", "message"),
    [
        (-0.1, "outside 0..100"),
        (100.1, "outside 0..100"),
        (12.34, "multiple of 0.1"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        ("ten", "number"),
        (True, "number"),
    ],
)
def test_from_percent_refuses_bad_percents(percent: object, message: str) -> None:
    with pytest.raises(WeightError, match=message):
        Weights.from_percent(percent)  # type: ignore[arg-type]


def test_percent_float_noise_is_tolerated() -> None:
    assert percent_to_tenths(0.1 * 3) == 3
    assert percent_to_tenths(33.300000000000004) == 333


def test_round_trip_through_dict() -> None:
    weights = Weights(ecs=123, lambda_=4)
    assert weights.to_dict() == {"ecs": 123, "lambda": 4}
    assert Weights.from_dict(weights.to_dict()) == weights
    assert weights.as_list() == [123, 4]
    assert str(weights) == "ecs 96.9 % / lambda 3.1 % (ALB weights ecs 123 / lambda 4)"


@given(st.lists(weight, min_size=1, max_size=MAX_TARGET_GROUPS).filter(lambda ws: sum(ws) > 0))
def test_validate_forward_accepts_what_the_alb_accepts(weights: list[int]) -> None:
    validate_forward(weights)


def test_validate_forward_accepts_every_pair_the_controller_writes() -> None:
    for t in range(1001):
        validate_forward(Weights.from_percent(t / 10).as_list())


@pytest.mark.parametrize(
    ("weights", "limit"),
    [
        ([], "at least 1 target group"),
        ([1, 1, 1, 1, 1, 1], "at most 5 target groups per forward action"),
        ([1000, 0], "weight 0-999"),
        ([0, -1], "weight 0-999"),
        ([0, 0], "weights summing to more than 0"),
        ([1, 2.0], "weight 0-999"),
    ],
)
def test_validate_forward_names_the_broken_limit(weights: list[int], limit: str) -> None:
    with pytest.raises(WeightError) as info:
        validate_forward(weights)
    assert info.value.limit == limit


def test_validate_forward_message_names_the_target_group_and_value() -> None:
    with pytest.raises(WeightError, match=r"target group 1: weight 1000 is outside the ALB limit"):
        validate_forward([0, 1000])
    with pytest.raises(WeightError, match="at most 5 target groups, got 6"):
        validate_forward([1] * 6)
