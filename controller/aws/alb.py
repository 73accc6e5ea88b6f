"""TrafficPort on the route's ALB listener rule: its two target groups and their weights.

The rule (created by the deploy, which then ignores its actions) forwards to
the ECS target group and the Lambda target group. The controller changes
their two weights (:meth:`AlbTraffic.write_weights`) and, when the registry
names other target groups, their ARNs (:meth:`AlbTraffic.write_forward`, the
sync); the rest of the rule (conditions, other actions, stickiness, any other
target group) stays exactly as it is.

Verification is the caller's job (read back with :meth:`AlbTraffic.read_weights`
and compare), because a ModifyRule that returned 200 is not proof that the
rule holds what we sent: Argo Rollouts #3333 finished a rollout while the ALB
still sent 100 % to the old side, after throttled ELB calls left the weights
unconverged. ``read_weights`` is one DescribeRules call, cheap enough to call
right after every write.

The parsing and the building of the actions are pure functions over the
boto3 dicts, so they are tested without AWS; :class:`AlbTraffic` only adds the
two calls.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.aws.clients import aws_call
from controller.core.contract import RouteRecord
from controller.core.errors import ConcurrentUpdate, DriftDetected, WeightError
from controller.core.sync import TargetGroupWeight, same_groups
from controller.core.weights import Weights, validate_forward

__all__ = [
    "DEFAULT_TARGET_GROUP_WEIGHT",
    "DESCRIBE_RULES",
    "MODIFY_RULE",
    "AlbTraffic",
    "TargetGroupWeight",
    "actions_with_forward",
    "actions_with_weights",
    "forward_action_index",
    "target_group_weights",
    "validate_for_rule",
    "weights_from_rule",
]

DESCRIBE_RULES = "elasticloadbalancing:DescribeRules"
MODIFY_RULE = "elasticloadbalancing:ModifyRule"

# A forward action's target group without an explicit Weight gets 1 (ELB API
# reference, TargetGroupTuple / ForwardActionConfig).
DEFAULT_TARGET_GROUP_WEIGHT = 1


def forward_action_index(actions: list[dict[str, Any]], route: RouteRecord) -> int:
    """The index of the rule's single forward action.

    A rule with no forward action (or, in a damaged rule, more than one) is
    not something the controller can shift: raise :class:`DriftDetected`.
    """
    indexes = [i for i, action in enumerate(actions) if action.get("Type") == "forward"]
    if len(indexes) != 1:
        found = ", ".join(str(a.get("Type")) for a in actions) or "no actions"
        raise DriftDetected(
            f"the rule must have exactly one forward action, found {len(indexes)} "
            f"(actions: {found}); the rule was changed outside the deploy",
            route=route.route,
            arn=route.rule_arn,
            api_call=DESCRIBE_RULES,
        )
    return indexes[0]


def target_group_weights(action: dict[str, Any]) -> list[TargetGroupWeight]:
    """The target groups of a forward action, in order, with their weights.

    DescribeRules reports a weighted forward in ``ForwardConfig.TargetGroups``;
    a plain single-target forward may carry only ``TargetGroupArn``.
    """
    forward = action.get("ForwardConfig") or {}
    groups = forward.get("TargetGroups")
    if groups:
        return [
            TargetGroupWeight(
                arn=str(group["TargetGroupArn"]),
                weight=int(group.get("Weight", DEFAULT_TARGET_GROUP_WEIGHT)),
            )
            for group in groups
        ]
    if action.get("TargetGroupArn"):
        return [TargetGroupWeight(str(action["TargetGroupArn"]), DEFAULT_TARGET_GROUP_WEIGHT)]
    return []


def _require_both(groups: list[TargetGroupWeight], route: RouteRecord) -> dict[str, int]:
    """Target group ARN -> weight, after checking both of the route's groups are there."""
    by_arn = {group.arn: group.weight for group in groups}
    for side, arn in (
        ("ECS", route.ecs_target_group_arn),
        ("Lambda", route.lambda_target_group_arn),
    ):
        if arn not in by_arn:
            found = ", ".join(group.arn for group in groups) or "none"
            raise DriftDetected(
                f"the forward action has lost the {side} target group {arn} "
                f"(target groups found: {found}); when the registry names a new target "
                f"group, run: python -m controller sync --route {route.route}; otherwise the "
                "rule was changed by hand and must be restored before shifting traffic",
                route=route.route,
                arn=route.rule_arn,
                api_call=DESCRIBE_RULES,
            )
    return by_arn


def weights_from_rule(rule: dict[str, Any], route: RouteRecord) -> Weights:
    """The (ECS, Lambda) weights of a rule as DescribeRules returns it."""
    actions = list(rule.get("Actions", []))
    action = actions[forward_action_index(actions, route)]
    by_arn = _require_both(target_group_weights(action), route)
    ecs = by_arn[route.ecs_target_group_arn]
    lambda_ = by_arn[route.lambda_target_group_arn]
    try:
        return Weights(ecs=ecs, lambda_=lambda_)
    except WeightError as error:
        # The ALB itself never holds such weights; only a damaged rule (or an
        # emulator that does not validate, like moto) does.
        raise DriftDetected(
            "the rule holds weights outside the ALB limits: "
            f"ALB weights ecs {ecs} / lambda {lambda_}",
            route=route.route,
            arn=route.rule_arn,
            api_call=DESCRIBE_RULES,
        ) from error


def validate_for_rule(weights: list[int], route: RouteRecord) -> None:
    """:func:`validate_forward` for the route's rule: the error names the route, rule and call."""
    try:
        validate_forward(weights)
    except WeightError as error:
        raise WeightError(
            error.message,
            route=route.route,
            arn=route.rule_arn,
            api_call=MODIFY_RULE,
            limit=error.limit,
        ) from error


def actions_with_weights(
    actions: list[dict[str, Any]], route: RouteRecord, weights: Weights
) -> list[dict[str, Any]]:
    """The rule's full action list with only the two weights replaced.

    ModifyRule replaces the whole action list ("To add an item to a list,
    remove an item from a list, or update an item in a list, you must provide
    the entire list", ELB API reference, ModifyRule), and leaving out
    ``TargetGroupStickinessConfig`` turns stickiness off. So the new list is a
    copy of what DescribeRules returned: other actions, their order, the
    stickiness and any other target group keep their values.

    Validates the resulting forward action against the ALB limits (weights
    0..999, at most 5 target groups) because moto validates neither and a
    refused ModifyRule in AWS is a wasted call on the failback path.
    """
    new_actions = copy.deepcopy(actions)
    index = forward_action_index(new_actions, route)
    action = new_actions[index]
    groups = target_group_weights(action)
    _require_both(groups, route)
    wanted = {
        route.ecs_target_group_arn: weights.ecs,
        route.lambda_target_group_arn: weights.lambda_,
    }
    new_weights = [wanted.get(group.arn, group.weight) for group in groups]
    validate_for_rule(new_weights, route)
    forward = dict(action.get("ForwardConfig") or {})
    forward["TargetGroups"] = [
        {"TargetGroupArn": group.arn, "Weight": weight}
        for group, weight in zip(groups, new_weights, strict=True)
    ]
    action["ForwardConfig"] = forward
    # With more than one target group, a top-level TargetGroupArn next to
    # ForwardConfig is refused ("If you specify both ForwardConfig and
    # TargetGroupArn, you can specify only one target group using
    # ForwardConfig", ELB API reference, Action).
    action.pop("TargetGroupArn", None)
    return new_actions


def actions_with_forward(
    actions: list[dict[str, Any]], route: RouteRecord, groups: list[TargetGroupWeight]
) -> list[dict[str, Any]]:
    """The rule's full action list with the forward action's target groups set to ``groups``.

    As in :func:`actions_with_weights`, everything else (other actions, their
    order, the stickiness) is a copy of what DescribeRules returned, because
    ModifyRule replaces the whole action list. The weights are checked
    against the ALB limits first.
    """
    validate_for_rule([group.weight for group in groups], route)
    new_actions = copy.deepcopy(actions)
    action = new_actions[forward_action_index(new_actions, route)]
    forward = dict(action.get("ForwardConfig") or {})
    forward["TargetGroups"] = [
        {"TargetGroupArn": group.arn, "Weight": group.weight} for group in groups
    ]
    action["ForwardConfig"] = forward
    # A top-level TargetGroupArn next to a weighted ForwardConfig is refused
    # (ELB API reference, Action), and it could name the old target group.
    action.pop("TargetGroupArn", None)
    return new_actions


class AlbTraffic:
    """:class:`~controller.core.ports.TrafficPort` on an elbv2 client.

    IAM: ``elasticloadbalancing:DescribeRules`` (no resource-level scope, so
    ``*``) and ``elasticloadbalancing:ModifyRule`` on the listener-rule ARNs.
    """

    def __init__(self, elbv2_client: Any) -> None:
        """``elbv2_client``: a boto3 ``elbv2`` client (see :class:`ClientFactory`)."""
        self._elbv2 = elbv2_client

    def describe_rule(self, route: RouteRecord) -> dict[str, Any]:
        """The route's rule as DescribeRules returns it (one call)."""
        with aws_call(DESCRIBE_RULES, route.rule_arn, route=route.route):
            response = self._elbv2.describe_rules(RuleArns=[route.rule_arn])
        rules = response.get("Rules", [])
        if len(rules) != 1:
            raise DriftDetected(
                f"DescribeRules returned {len(rules)} rules for one rule ARN",
                route=route.route,
                arn=route.rule_arn,
                api_call=DESCRIBE_RULES,
            )
        return dict(rules[0])

    def read_weights(self, route: RouteRecord) -> Weights:
        """The live (ECS, Lambda) weights: one DescribeRules call, nothing else.

        Raises :class:`DriftDetected` naming the missing target group when the
        rule has lost the ECS or the Lambda target group.
        """
        return weights_from_rule(self.describe_rule(route), route)

    def read_forward(self, route: RouteRecord) -> tuple[TargetGroupWeight, ...]:
        """The forward action's target groups and weights, in the rule's order: one DescribeRules.

        Unlike :meth:`read_weights` it does not require the registry's ARNs to
        be in the rule: the sync reads the rule exactly when they are not.
        """
        actions = list(self.describe_rule(route).get("Actions", []))
        return tuple(target_group_weights(actions[forward_action_index(actions, route)]))

    def write_forward(
        self,
        route: RouteRecord,
        groups: tuple[TargetGroupWeight, ...],
        expected: tuple[TargetGroupWeight, ...],
    ) -> None:
        """Set the forward action's target groups to ``groups`` with ONE ModifyRule call.

        Reads the rule right before writing (the action list is written back
        whole) and writes only when it still holds ``expected``, the groups
        the caller decided on; otherwise raises :class:`ConcurrentUpdate` and
        writes nothing, so a weight written meanwhile (a rollback) is never
        overwritten with an older one. The ALB has no conditional ModifyRule,
        so the window left is the time between these two calls. Writes nothing
        when the rule already holds ``groups``. Does not verify: the caller
        reads back.
        """
        actions = list(self.describe_rule(route).get("Actions", []))
        live = target_group_weights(actions[forward_action_index(actions, route)])
        if same_groups(live, groups):
            return
        if not same_groups(live, expected):
            raise ConcurrentUpdate(
                "the rule's target groups changed after they were read: found "
                + ", ".join(str(group) for group in live)
                + ", expected "
                + ", ".join(str(group) for group in expected)
                + "; read the rule again and decide again",
                route=route.route,
                arn=route.rule_arn,
                api_call=DESCRIBE_RULES,
            )
        new_actions = actions_with_forward(actions, route, list(groups))
        with aws_call(MODIFY_RULE, route.rule_arn, route=route.route):
            self._elbv2.modify_rule(RuleArn=route.rule_arn, Actions=new_actions)

    def write_weights(self, route: RouteRecord, weights: Weights) -> None:
        """Set both weights with at most ONE ModifyRule call.

        Refuses weights the ALB would refuse before calling anything. Reads
        the rule first (the action must be written back whole); when it
        already holds ``weights`` nothing is written. Does not verify: the
        caller reads back with :meth:`read_weights` (see the module docstring).
        """
        # Refuse an impossible pair (e.g. both 0) before any AWS call.
        validate_for_rule(weights.as_list(), route)
        actions = list(self.describe_rule(route).get("Actions", []))
        new_actions = actions_with_weights(actions, route, weights)
        live = _require_both(
            target_group_weights(actions[forward_action_index(actions, route)]), route
        )
        if _same_split(
            live[route.ecs_target_group_arn], live[route.lambda_target_group_arn], weights
        ):
            return
        with aws_call(MODIFY_RULE, route.rule_arn, route=route.route):
            self._elbv2.modify_rule(RuleArn=route.rule_arn, Actions=new_actions)


def _same_split(ecs: int, lambda_: int, wanted: Weights) -> bool:
    """Whether the live pair already splits traffic as ``wanted`` (by ratio: 500/500 is 1/1).

    A rule damaged into weights the ALB refuses (``Weights`` raises) is never
    the same split: it must still be writable (rollback).
    """
    try:
        return Weights(ecs=ecs, lambda_=lambda_) == wanted
    except WeightError:
        return False
