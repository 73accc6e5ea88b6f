"""Reconcile a rule's forward target groups with the route registry: the pure decision.

Pulumi creates the route's listener rule (all on ECS) and then ignores
its whole action list, so a deploy that changes a target group ARN (a new
``ecsTargetGroupArn`` in the config, a replaced Lambda target group) only
rewrites the route's registry record. The record is the desired state of the
two ARNs; the controller rewrites the rule to match it (``sync``).

The decision here never guesses. Each side (ECS, Lambda) is identified by
ARN, never by position in the action: the rule's order is not stable (the
provider models the target groups as a set, and a console edit may reorder
them). When exactly one registry ARN is in the rule, that side is known, and
the one other target group in the rule is the old group of the other side:
its ARN is replaced and its weight kept, so the live split stays on its side.
Everything else that would need a guess is refused with
:class:`~controller.core.errors.SyncRefused`, naming the ARNs.

Pure module: no AWS calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from controller.core.errors import SyncRefused, WeightError
from controller.core.weights import Weights, validate_forward

__all__ = [
    "ECS_SIDE",
    "LAMBDA_SIDE",
    "Replacement",
    "SyncPlan",
    "TargetGroupWeight",
    "plan_sync",
    "same_groups",
    "weights_by_side",
]

ECS_SIDE = "ECS"
LAMBDA_SIDE = "Lambda"


@dataclass(frozen=True)
class TargetGroupWeight:
    """One target group of a forward action and its weight."""

    arn: str
    weight: int

    def __str__(self) -> str:
        return f"{self.arn}={self.weight}"


@dataclass(frozen=True)
class Replacement:
    """One side's target group ARN replaced by the registry's, its weight kept."""

    side: str
    old_arn: str
    new_arn: str
    weight: int

    def describe(self) -> str:
        """``ECS arn:old -> arn:new (weight 899 kept)``."""
        return f"{self.side} {self.old_arn} -> {self.new_arn} (weight {self.weight} kept)"


@dataclass(frozen=True)
class SyncPlan:
    """What the rule holds (``current``) and what it must hold (``synced``).

    ``synced`` keeps the order and every weight of ``current``; only the ARNs
    in ``replaced`` differ. No replacement means the rule is already in sync.
    """

    current: tuple[TargetGroupWeight, ...]
    synced: tuple[TargetGroupWeight, ...]
    replaced: tuple[Replacement, ...]
    ecs_arn: str
    lambda_arn: str

    @property
    def changed(self) -> bool:
        """True when the rule must be rewritten."""
        return bool(self.replaced)

    @property
    def weights(self) -> Weights | None:
        """The (ECS, Lambda) weights of ``synced``: the live split, kept by side.

        None when the rule holds weights :class:`Weights` refuses (a damaged
        rule): the sync still keeps them as they are.
        """
        try:
            return weights_by_side(self.synced, self.ecs_arn, self.lambda_arn)
        except WeightError:
            return None

    def describe(self) -> str:
        """One line for the history, the notification and the CLI."""
        if not self.replaced:
            return (
                f"the rule forwards to the registry's target groups: ECS {self.ecs_arn}, "
                f"Lambda {self.lambda_arn}; nothing to do"
            )
        replaced = "; ".join(r.describe() for r in self.replaced)
        return f"target groups synced with the registry: {replaced}"


def weights_by_side(groups: Sequence[TargetGroupWeight], ecs_arn: str, lambda_arn: str) -> Weights:
    """The (ECS, Lambda) weights of ``groups``, found by ARN whatever their order.

    Raises :class:`KeyError` naming the ARN that is not in ``groups``.
    """
    by_arn = {group.arn: group.weight for group in groups}
    return Weights(ecs=by_arn[ecs_arn], lambda_=by_arn[lambda_arn])


def same_groups(left: Sequence[TargetGroupWeight], right: Sequence[TargetGroupWeight]) -> bool:
    """True when both hold the same target groups with the same weights, in any order."""
    return Counter(left) == Counter(right)


def plan_sync(
    groups: Sequence[TargetGroupWeight],
    *,
    ecs_arn: str,
    lambda_arn: str,
    route: str | None = None,
    rule_arn: str | None = None,
) -> SyncPlan:
    """Decide how to make the forward ``groups`` match the registry's two ARNs.

    - Both registry ARNs in the rule: in sync, nothing to write (any other
      target group of the rule is not ours and is kept).
    - Exactly one registry ARN in the rule and exactly one other target
      group: that group is the other side's old one; its ARN is replaced by
      the registry's and its weight kept.
    - Anything else is refused (:class:`SyncRefused`), naming the ARNs: no
      registry ARN in the rule (both changed at once), several candidates for
      the old group, a missing group, an ARN listed twice, a registry record
      that would leave the rule without an ECS target group, or a result
      the ALB would refuse.
    """
    current = tuple(groups)
    found = [group.arn for group in current]

    def refuse(reason: str) -> SyncRefused:
        listed = ", ".join(str(group) for group in current) or "none"
        return SyncRefused(
            f"cannot sync the rule's target groups with the registry: {reason} "
            f"(rule: {listed}; registry: ECS {ecs_arn or '(empty)'}, "
            f"Lambda {lambda_arn or '(empty)'})",
            found=found,
            ecs=ecs_arn,
            lambda_=lambda_arn,
            route=route,
            arn=rule_arn,
        )

    if not ecs_arn.strip():
        raise refuse("the registry record has no ECS target group ARN, and the rule must keep one")
    if not lambda_arn.strip():
        raise refuse("the registry record has no Lambda target group ARN")
    if ecs_arn == lambda_arn:
        raise refuse(
            "the registry record names the same target group for ECS and Lambda, which would "
            "leave the rule without the ECS target group"
        )
    duplicates = sorted(arn for arn, count in Counter(found).items() if count > 1)
    if duplicates:
        raise refuse(f"the rule lists {', '.join(duplicates)} more than once")
    has_ecs = ecs_arn in found
    has_lambda = lambda_arn in found
    if has_ecs and has_lambda:
        return SyncPlan(current, current, (), ecs_arn, lambda_arn)
    if not has_ecs and not has_lambda:
        raise refuse(
            "neither registry target group is in the rule (both changed at once?), so the "
            "sides cannot be told apart"
        )
    known, missing_side, missing_arn = (
        (ecs_arn, LAMBDA_SIDE, lambda_arn) if has_ecs else (lambda_arn, ECS_SIDE, ecs_arn)
    )
    others = [group for group in current if group.arn != known]
    if len(others) != 1:
        what = "no other target group" if not others else f"{len(others)} other target groups"
        raise refuse(
            f"the rule has {what} besides {known}, so the old {missing_side} target group "
            "cannot be identified"
        )
    old = others[0]
    synced = tuple(
        TargetGroupWeight(missing_arn, group.weight) if group.arn == old.arn else group
        for group in current
    )
    try:
        validate_forward([group.weight for group in synced])
    except WeightError as error:
        raise refuse(f"the synced rule would break an ALB limit: {error.message}") from error
    replacement = Replacement(missing_side, old.arn, missing_arn, old.weight)
    return SyncPlan(current, synced, (replacement,), ecs_arn, lambda_arn)
