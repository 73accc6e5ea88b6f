"""Weight arithmetic: the Lambda share in percent (0.1 steps) <-> ALB target group weights.

The route's listener rule forwards to two target groups, ECS and Lambda. The
controller never removes either of them: both are always in the forward
action. The ALB splits traffic by the ratio of the weights, so a stage of
``p`` percent is written as the **exact ratio**: the smallest integer pair
whose Lambda share is exactly ``p`` %. With ``t = p * 10`` tenths of a
percent and ``g = gcd(t, 1000)``, that is ``lambda = t / g`` and
``ecs = (1000 - t) / g``: 1 % -> ECS 99 / Lambda 1, 50 % -> 1 / 1,
33.3 % -> 667 / 333, 0 % -> 1 / 0, 100 % -> 0 / 1.

Every such pair fits the ALB's limit of 0..999 per target group (Elastic
Load Balancing API Reference, TargetGroupTuple: "Weight - The weight. The
range is 0 to 999.",
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupTuple.html):
when ``g = 1``, ``t`` is at most 999 and ``1000 - t`` is at most 999 for
``t >= 1``; otherwise both halves are at most 500. So every 0.1 % step of
the config has its own exact pair, and no share is rounded.

Two pairs with the same ratio are the same split: ``Weights(500, 500) ==
Weights(1, 1)``. Equality (and hashing) compares ratios, so weights read
from a rule that a person or an older deploy wrote as 999 / 0 are not
"drift" from the controller's 1 / 0.

All arithmetic is on integers (tenths of a percent), so nothing depends on
binary floating point.

Pure module: no AWS calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controller.core.errors import WeightError

__all__ = [
    "ALL_ECS",
    "ALL_LAMBDA",
    "MAX_TARGET_GROUPS",
    "MAX_WEIGHT",
    "MIN_WEIGHT",
    "Weights",
    "percent_to_tenths",
    "tenths_to_percent",
    "validate_forward",
]

# ALB limits of a forward action. moto validates neither, so this module must.
# - Weight: "The range is 0 to 999." (API Reference, TargetGroupTuple, URL above).
# - "Target Groups per Action per Application Load Balancer: 5", not adjustable
#   (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
MIN_WEIGHT = 0
MAX_WEIGHT = 999
MAX_TARGET_GROUPS = 5


_TENTHS_PER_HUNDRED = 1000  # 100 % in tenths of a percent


def percent_to_tenths(percent: float) -> int:
    """``percent`` as an integer number of tenths, refusing anything off the 0.1 grid.

    A float such as ``0.1 * 3`` (0.30000000000000004) is accepted as 0.3: the
    tolerance is far below 0.1 % and far above float noise.
    """
    if isinstance(percent, bool):
        raise WeightError(f"percent must be a number, got {percent!r}", limit="percent 0..100")
    try:
        scaled = float(percent) * 10
    except (TypeError, ValueError) as exc:
        raise WeightError(
            f"percent must be a number, got {percent!r}", limit="percent 0..100"
        ) from exc
    if scaled != scaled or scaled in (float("inf"), float("-inf")):
        raise WeightError(f"percent must be finite, got {percent!r}", limit="percent 0..100")
    tenths = round(scaled)
    if abs(scaled - tenths) > 1e-6:
        raise WeightError(
            f"percent {percent!r} is not a multiple of 0.1", limit="percent steps of 0.1"
        )
    if not 0 <= tenths <= _TENTHS_PER_HUNDRED:
        raise WeightError(f"percent {percent!r} is outside 0..100", limit="percent 0..100")
    return tenths


def tenths_to_percent(tenths: int) -> float:
    """Tenths of a percent as a float percent (exactly representable to 0.1)."""
    return tenths / 10


def _round_half_up_div(numerator: int, denominator: int) -> int:
    """``round_half_up(numerator / denominator)`` for non-negative integers, exactly."""
    return (2 * numerator + denominator) // (2 * denominator)


def _check_weight(name: str, value: object) -> None:
    """Refuse a weight that is not an integer in the ALB's range; ``name`` opens the message."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WeightError(
            f"{name} weight must be an integer, got {value!r}",
            limit=f"weight {MIN_WEIGHT}-{MAX_WEIGHT}",
        )
    if not MIN_WEIGHT <= value <= MAX_WEIGHT:
        raise WeightError(
            f"{name} weight {value} is outside the ALB limit {MIN_WEIGHT}-{MAX_WEIGHT}",
            limit=f"weight {MIN_WEIGHT}-{MAX_WEIGHT}",
        )


@dataclass(frozen=True, eq=False)
class Weights:
    """The weights of the ECS and the Lambda target group in the route's rule.

    Any pair 0..999 each is representable, because weights read from a live
    rule may have been edited by hand. The controller itself only writes
    pairs built by :meth:`from_percent` (or the constants): exact ratios in
    lowest terms. Two pairs are equal when they split traffic the same way
    (same ratio); :meth:`same_pair` compares the integers themselves.
    """

    ecs: int
    lambda_: int

    def __post_init__(self) -> None:
        _check_weight("ecs", self.ecs)
        _check_weight("lambda", self.lambda_)

    @classmethod
    def from_percent(cls, percent: float) -> Weights:
        """The exact pair for a Lambda share of ``percent`` (0..100, 0.1 steps)."""
        return cls.from_tenths(percent_to_tenths(percent))

    @classmethod
    def from_tenths(cls, tenths: int) -> Weights:
        """The smallest pair whose Lambda share is exactly ``tenths`` tenths of a percent.

        ``tenths`` is 0..1000; see the module docstring for why the pair
        always fits 0..999.
        """
        if not 0 <= tenths <= _TENTHS_PER_HUNDRED:
            raise WeightError(f"percent {tenths / 10} is outside 0..100", limit="percent 0..100")
        divisor = math.gcd(tenths, _TENTHS_PER_HUNDRED)
        return cls(ecs=(_TENTHS_PER_HUNDRED - tenths) // divisor, lambda_=tenths // divisor)

    @property
    def total(self) -> int:
        """The sum of both weights."""
        return self.ecs + self.lambda_

    @property
    def ratio(self) -> tuple[int, int]:
        """``(ecs, lambda)`` in lowest terms: the split itself (``(0, 0)`` stays as is)."""
        divisor = math.gcd(self.ecs, self.lambda_) or 1
        return (self.ecs // divisor, self.lambda_ // divisor)

    @property
    def is_canonical(self) -> bool:
        """True for a pair the controller writes: an exact 0.1 % share, in lowest terms."""
        if self.total == 0 or self.ratio != (self.ecs, self.lambda_):
            return False
        return self.same_pair(Weights.from_tenths(self.lambda_tenths))

    def same_pair(self, other: Weights) -> bool:
        """The same integers, not just the same split (``500/500`` is not ``1/1`` here)."""
        return (self.ecs, self.lambda_) == (other.ecs, other.lambda_)

    def __eq__(self, other: object) -> bool:
        """The same split: equal ratios (``Weights(500, 500) == Weights(1, 1)``)."""
        if not isinstance(other, Weights):
            return NotImplemented
        return self.ratio == other.ratio

    def __hash__(self) -> int:
        return hash(self.ratio)

    @property
    def lambda_tenths(self) -> int:
        """The Lambda share in tenths of a percent, rounded half up; divides by the actual sum."""
        if self.total == 0:
            raise WeightError(
                "both weights are 0: the ALB share is undefined",
                limit="weights summing to more than 0",
            )
        return _round_half_up_div(self.lambda_ * _TENTHS_PER_HUNDRED, self.total)

    @property
    def lambda_percent(self) -> float:
        """The Lambda share in percent, rounded half up to 0.1."""
        return tenths_to_percent(self.lambda_tenths)

    @property
    def ecs_percent(self) -> float:
        """The ECS share in percent: ``100 - lambda_percent``, so both add up to 100."""
        return tenths_to_percent(_TENTHS_PER_HUNDRED - self.lambda_tenths)

    def as_list(self) -> list[int]:
        """``[ecs, lambda]``: the order of the target groups in the forward action."""
        return [self.ecs, self.lambda_]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the state table and the history."""
        return {"ecs": self.ecs, "lambda": self.lambda_}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Weights:
        """Inverse of :meth:`to_dict`."""
        return Weights(ecs=int(data["ecs"]), lambda_=int(data["lambda"]))

    def __str__(self) -> str:
        """The one notation (``ecs 90 % / lambda 10 % (ALB weights ecs 899 / lambda 100)``).

        Log lines and error texts that format a pair read the same as the
        CLI and the history. The notation lives in :mod:`controller.core.split`,
        which imports this module, hence the import here.
        """
        from controller.core.split import alb_text, split_text

        return f"{split_text(self)} ({alb_text(self)})"


ALL_ECS = Weights.from_tenths(0)
ALL_LAMBDA = Weights.from_tenths(_TENTHS_PER_HUNDRED)


def validate_forward(target_group_weights: Sequence[int]) -> None:
    """Check the weights of one forward action against the ALB limits.

    Raises :class:`WeightError` naming the limit that is broken: at least one
    and at most :data:`MAX_TARGET_GROUPS` target groups, each weight an integer
    in 0..999 (ALB limits that moto does not enforce), and not all zero (our
    own rule: such a rule would have nowhere to send requests).
    """
    count = len(target_group_weights)
    if count == 0:
        raise WeightError(
            "a forward action needs at least 1 target group, got 0",
            limit="at least 1 target group",
        )
    if count > MAX_TARGET_GROUPS:
        raise WeightError(
            f"a forward action holds at most {MAX_TARGET_GROUPS} target groups, got {count}",
            limit=f"at most {MAX_TARGET_GROUPS} target groups per forward action",
        )
    for index, weight in enumerate(target_group_weights):
        _check_weight(f"target group {index}:", weight)
    if sum(target_group_weights) == 0:
        # Our own rule, not an ALB quota: every target group at 0 leaves the
        # rule nowhere to send its requests, and the controller never means that.
        raise WeightError(
            "all target group weights are 0: the rule would have nowhere to send requests",
            limit="weights summing to more than 0",
        )
