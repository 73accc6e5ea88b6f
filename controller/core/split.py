"""How a split of traffic is shown, everywhere: ``ecs X % / lambda Y %``.

The CLI, the history, the notifications, ``--json`` and the rehearsal's
report all show a route's split with these functions: ECS first, then Lambda,
in percent of the pair's sum. The percentages come from the pair itself
(``lambda / (ecs + lambda)``), never from a stored percent, so a pair read
from a rule edited by hand shows its real share. The ALB's integer weights
appear only as an extra field (:func:`alb_text`, ``alb`` in JSON) where they
matter: drift, a rule read back.
"""

from __future__ import annotations

from typing import Any

from controller.core.weights import Weights

# Shares are shown to a tenth of a percent.
_TENTHS = 1000


def shares(weights: Weights) -> tuple[float, float] | None:
    """``(ecs %, lambda %)`` of the pair, to 0.1, adding up to 100; None when both are 0."""
    total = weights.ecs + weights.lambda_
    if total == 0:
        return None
    # Half up, in integers: 1/3 -> 333.33 tenths -> 333; 1/2 -> 500 exactly.
    lambda_tenths = (2 * weights.lambda_ * _TENTHS + total) // (2 * total)
    return (_TENTHS - lambda_tenths) / 10, lambda_tenths / 10


def percent(value: float) -> str:
    """``10 %``, ``50.1 %``: one decimal, none when it is 0."""
    text = f"{value:.1f}"
    return f"{text.removesuffix('.0')} %"


def split_text(weights: Weights | None) -> str:
    """``ecs 90 % / lambda 10 %``; ``-`` for no weights, ``undefined`` when both are 0."""
    if weights is None:
        return "-"
    pair = shares(weights)
    if pair is None:
        return "ecs 0 / lambda 0 (undefined)"
    return f"ecs {percent(pair[0])} / lambda {percent(pair[1])}"


def alb_text(weights: Weights) -> str:
    """``ALB weights ecs 899 / lambda 100``: the rule's integers, where they matter."""
    return f"ALB weights ecs {weights.ecs} / lambda {weights.lambda_}"


def split_json(weights: Weights | None) -> dict[str, float] | None:
    """``{"ecs": 90.0, "lambda": 10.0}`` in percent, or None (no weights, or both 0)."""
    pair = None if weights is None else shares(weights)
    return None if pair is None else {"ecs": pair[0], "lambda": pair[1]}


def split_json_with_alb(weights: Weights | None) -> dict[str, Any] | None:
    """:func:`split_json` plus the ALB's integers under ``alb`` (notifications, drift)."""
    if weights is None:
        return None
    return {
        "ecs": None,
        "lambda": None,
        **(split_json(weights) or {}),
        "alb": {"ecs": weights.ecs, "lambda": weights.lambda_},
    }
