"""controller/core/sync.py: the pure decision that syncs a rule's target groups with the registry.

Every side is found by ARN: whatever the order of the target groups in the
rule and whatever the split, the synced rule holds the registry's ARNs and
the same weights on the same side. Anything that would need a guess is
refused, naming the ARNs.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.contract import route_of_parameter, route_parameter_name, stack_parameter_name
from controller.core.errors import SyncRefused
from controller.core.sync import (
    ECS_SIDE,
    LAMBDA_SIDE,
    TargetGroupWeight,
    plan_sync,
    same_groups,
    weights_by_side,
)
from controller.core.weights import Weights

ELB = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012"
ECS_OLD = f"{ELB}:targetgroup/monolith-ecs/1111111111111111"
ECS_NEW = f"{ELB}:targetgroup/monolith-ecs-v2/2222222222222222"
LAMBDA_OLD = f"{ELB}:targetgroup/map-tile-lambda/3333333333333333"
LAMBDA_NEW = f"{ELB}:targetgroup/map-tile-lambda/4444444444444444"
OTHER = f"{ELB}:targetgroup/someone-elses/5555555555555555"

weights = st.integers(min_value=0, max_value=999)
# A split the ALB accepts: not both 0 (validate_forward refuses that).
splits = st.tuples(weights, weights).filter(lambda pair: sum(pair) > 0)


def tg(arn: str, weight: int) -> TargetGroupWeight:
    return TargetGroupWeight(arn, weight)


# --------------------------------------------------------------------------- properties


@given(split=splits, reverse=st.booleans(), ecs_changed=st.booleans())
def test_one_side_replaced_keeps_the_split_by_side_in_any_order(
    split: tuple[int, int], reverse: bool, ecs_changed: bool
) -> None:
    ecs_weight, lambda_weight = split
    in_rule_ecs = ECS_OLD if ecs_changed else ECS_NEW
    in_rule_lambda = LAMBDA_NEW if ecs_changed else LAMBDA_OLD
    rule = [tg(in_rule_ecs, ecs_weight), tg(in_rule_lambda, lambda_weight)]
    if reverse:
        rule.reverse()

    plan = plan_sync(rule, ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)

    assert plan.changed
    assert {g.arn for g in plan.synced} == {ECS_NEW, LAMBDA_NEW}
    assert weights_by_side(plan.synced, ECS_NEW, LAMBDA_NEW) == Weights(ecs_weight, lambda_weight)
    assert [g.weight for g in plan.synced] == [g.weight for g in rule], "order and weights kept"
    (replaced,) = plan.replaced
    if ecs_changed:
        assert (replaced.side, replaced.old_arn, replaced.new_arn) == (ECS_SIDE, ECS_OLD, ECS_NEW)
        assert replaced.weight == ecs_weight
    else:
        assert (replaced.side, replaced.old_arn, replaced.new_arn) == (
            LAMBDA_SIDE,
            LAMBDA_OLD,
            LAMBDA_NEW,
        )
        assert replaced.weight == lambda_weight
    assert plan.current == tuple(rule)


@given(
    groups=st.permutations(
        [tg(ECS_NEW, 0), tg(LAMBDA_NEW, 0), tg(OTHER, 0)],
    ),
    split=splits,
    extra=st.integers(min_value=0, max_value=999),
    with_other=st.booleans(),
)
def test_a_rule_with_both_registry_groups_is_in_sync_in_any_order(
    groups: list[TargetGroupWeight],
    split: tuple[int, int],
    extra: int,
    with_other: bool,
) -> None:
    value = {ECS_NEW: split[0], LAMBDA_NEW: split[1], OTHER: extra}
    rule = [tg(g.arn, value[g.arn]) for g in groups if with_other or g.arn != OTHER]
    plan = plan_sync(rule, ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)
    assert not plan.changed
    assert plan.synced == plan.current == tuple(rule)
    assert plan.weights == Weights(*split)


@given(split=splits, reverse=st.booleans())
def test_sync_is_idempotent(split: tuple[int, int], reverse: bool) -> None:
    rule = [tg(ECS_OLD, split[0]), tg(LAMBDA_NEW, split[1])]
    if reverse:
        rule.reverse()
    once = plan_sync(rule, ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)
    twice = plan_sync(once.synced, ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)
    assert not twice.changed
    assert twice.synced == once.synced


@given(split=splits, reverse=st.booleans())
def test_both_sides_changed_at_once_is_refused_naming_every_arn(
    split: tuple[int, int], reverse: bool
) -> None:
    rule = [tg(ECS_OLD, split[0]), tg(LAMBDA_OLD, split[1])]
    if reverse:
        rule.reverse()
    with pytest.raises(SyncRefused, match="neither registry target group") as caught:
        plan_sync(rule, ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW, route="map-tile")
    message = str(caught.value)
    for arn in (ECS_OLD, LAMBDA_OLD, ECS_NEW, LAMBDA_NEW):
        assert arn in message
    assert caught.value.route == "map-tile"
    assert set(caught.value.found) == {ECS_OLD, LAMBDA_OLD}


# --------------------------------------------------------------------------- refusals


def test_two_candidates_for_the_old_group_are_refused() -> None:
    rule = [tg(ECS_NEW, 899), tg(LAMBDA_OLD, 100), tg(OTHER, 1)]
    with pytest.raises(SyncRefused, match="2 other target groups") as caught:
        plan_sync(rule, ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)
    assert OTHER in str(caught.value) and LAMBDA_OLD in str(caught.value)


def test_a_rule_that_lost_a_group_is_refused_not_repaired() -> None:
    with pytest.raises(SyncRefused, match="no other target group"):
        plan_sync([tg(ECS_NEW, 999)], ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)


@pytest.mark.parametrize(
    ("ecs", "lambda_", "problem"),
    [
        ("", LAMBDA_NEW, "no ECS target group ARN"),
        ("  ", LAMBDA_NEW, "no ECS target group ARN"),
        (LAMBDA_NEW, LAMBDA_NEW, "without the ECS target group"),
        (ECS_NEW, "", "no Lambda target group ARN"),
    ],
)
def test_a_record_that_would_leave_the_rule_without_ecs_is_refused(
    ecs: str, lambda_: str, problem: str
) -> None:
    rule = [tg(ECS_OLD, 899), tg(LAMBDA_NEW, 100)]
    with pytest.raises(SyncRefused, match=problem):
        plan_sync(rule, ecs_arn=ecs, lambda_arn=lambda_)


def test_an_arn_listed_twice_is_refused() -> None:
    rule = [tg(ECS_OLD, 500), tg(ECS_OLD, 499), tg(LAMBDA_NEW, 0)]
    with pytest.raises(SyncRefused, match="more than once"):
        plan_sync(rule, ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)


def test_weights_the_alb_refuses_are_not_written_back() -> None:
    with pytest.raises(SyncRefused, match="ALB limit"):
        plan_sync([tg(ECS_OLD, 2000), tg(LAMBDA_NEW, 0)], ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)


def test_describe_names_the_old_and_new_arns() -> None:
    plan = plan_sync(
        [tg(ECS_OLD, 899), tg(LAMBDA_NEW, 100)], ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW
    )
    assert plan.describe() == (
        f"target groups synced with the registry: ECS {ECS_OLD} -> {ECS_NEW} (weight 899 kept)"
    )
    in_sync = plan_sync(plan.synced, ecs_arn=ECS_NEW, lambda_arn=LAMBDA_NEW)
    assert "nothing to do" in in_sync.describe()


def test_same_groups_ignores_order_but_not_weights() -> None:
    assert same_groups([tg(ECS_NEW, 1), tg(LAMBDA_NEW, 2)], [tg(LAMBDA_NEW, 2), tg(ECS_NEW, 1)])
    assert not same_groups([tg(ECS_NEW, 1), tg(LAMBDA_NEW, 2)], [tg(ECS_NEW, 2), tg(LAMBDA_NEW, 1)])


# --------------------------------------------------------------------------- parameter names


@given(
    stack=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    route=st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True),
)
def test_route_of_parameter_inverts_route_parameter_name(stack: str, route: str) -> None:
    assert route_of_parameter(stack, route_parameter_name(stack, route)) == route


@pytest.mark.parametrize(
    "name",
    [
        stack_parameter_name("prod"),
        route_parameter_name("prod-eu", "map-tile"),  # a stack whose name extends this one's
        route_parameter_name("other", "map-tile"),
        route_parameter_name("prod", ""),
        route_parameter_name("prod", "map-tile") + "/extra",
        "/elsewhere/prod/routes/map-tile",
    ],
)
def test_other_parameters_are_no_route(name: str) -> None:
    assert route_of_parameter("prod", name) is None
