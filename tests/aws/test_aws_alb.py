"""controller/aws/alb.py: the TrafficPort on a real boto3 elbv2 client against moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.aws.alb import (
    AlbTraffic,
    TargetGroupWeight,
    actions_with_forward,
    actions_with_weights,
    forward_action_index,
    target_group_weights,
    weights_from_rule,
)
from controller.aws.clients import ClientFactory
from controller.core.errors import AwsCallFailed, ConcurrentUpdate, DriftDetected, WeightError
from controller.core.sync import plan_sync
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from tests.aws_fixtures import (
    REGION,
    AlbWorld,
    CallCounter,
    ErrorInjector,
    build_alb_world,
)

STICKY = {"Enabled": True, "DurationSeconds": 300}


@pytest.fixture
def world(factory: ClientFactory) -> AlbWorld:
    # The world (the deploy, a human at the console) has its own client; the
    # adapter gets the factory's. Both talk to the same moto backend.
    return build_alb_world(boto3.client("elbv2", region_name=REGION), stickiness=STICKY)


@pytest.fixture
def elbv2(factory: ClientFactory) -> Any:
    """The adapter's client."""
    return factory.client("elbv2")


@pytest.fixture
def counter(elbv2: Any) -> CallCounter:
    """Counts the adapter's calls only (not the world's hand edits)."""
    return CallCounter(elbv2)


# --- read ---------------------------------------------------------------------


def test_read_weights_returns_the_live_pair(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    world.set_forward([(world.ecs_tg_arn, 899), (world.lambda_tg_arn, 100)])
    traffic = AlbTraffic(elbv2)

    assert traffic.read_weights(world.route_record()) == Weights(ecs=899, lambda_=100)
    assert counter.count("DescribeRules") == 1, "read_weights must be one DescribeRules call"
    assert counter.count("ModifyRule") == 0


def test_read_weights_ignores_target_group_order(world: AlbWorld, elbv2: Any) -> None:
    world.set_forward([(world.lambda_tg_arn, 10), (world.ecs_tg_arn, 989)])
    assert AlbTraffic(elbv2).read_weights(world.route_record()) == Weights(989, 10)


def test_read_weights_names_a_lost_lambda_target_group(world: AlbWorld, elbv2: Any) -> None:
    world.set_forward([(world.ecs_tg_arn, 999)])
    with pytest.raises(DriftDetected) as caught:
        AlbTraffic(elbv2).read_weights(world.route_record())
    message = str(caught.value)
    assert "Lambda target group" in message
    assert world.lambda_tg_arn in message
    assert world.rule_arn in message
    assert caught.value.route == "map-tile"


def test_read_weights_names_a_lost_ecs_target_group(world: AlbWorld, elbv2: Any) -> None:
    world.set_forward([(world.lambda_tg_arn, 999)])
    with pytest.raises(DriftDetected, match="ECS target group"):
        AlbTraffic(elbv2).read_weights(world.route_record())


def test_read_weights_of_a_missing_rule_is_wrapped(world: AlbWorld, elbv2: Any) -> None:
    gone = world.route_record(rule_arn=world.rule_arn[:-4] + "dead")
    with pytest.raises(AwsCallFailed) as caught:
        AlbTraffic(elbv2).read_weights(gone)
    assert caught.value.error_code == "RuleNotFound"
    assert caught.value.api_call == "elasticloadbalancing:DescribeRules"
    assert not caught.value.transient


def test_read_weights_refuses_weights_the_alb_cannot_hold(world: AlbWorld, elbv2: Any) -> None:
    # moto stores weights above 999; the adapter must not turn them into Weights.
    world.set_forward([(world.ecs_tg_arn, 2000), (world.lambda_tg_arn, 0)])
    with pytest.raises(DriftDetected, match="outside the ALB limits"):
        AlbTraffic(elbv2).read_weights(world.route_record())


# --- write --------------------------------------------------------------------


def test_a_change_writes_exactly_once_and_reads_back(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    traffic = AlbTraffic(elbv2)
    route = world.route_record()
    target = Weights.from_percent(12.5)

    traffic.write_weights(route, target)

    assert counter.count("ModifyRule") == 1, "a change is exactly one ModifyRule"
    assert traffic.read_weights(route) == target
    assert world.weights_by_arn() == {
        world.ecs_tg_arn: target.ecs,
        world.lambda_tg_arn: target.lambda_,
    }


def test_a_no_op_writes_nothing(world: AlbWorld, counter: CallCounter, elbv2: Any) -> None:
    traffic = AlbTraffic(elbv2)

    traffic.write_weights(world.route_record(), ALL_ECS)  # 999/0 is the same split as 1/0

    assert counter.count("ModifyRule") == 0, "unchanged weights must not call ModifyRule"
    assert counter.count("DescribeRules") == 1


def test_repeated_write_is_one_modify_then_no_ops(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    traffic = AlbTraffic(elbv2)
    for _ in range(3):
        traffic.write_weights(world.route_record(), ALL_LAMBDA)
    assert counter.count("ModifyRule") == 1


def test_write_keeps_stickiness_conditions_and_other_target_groups(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    extra = world.new_target_group("other")
    world.set_forward(
        [(world.ecs_tg_arn, 999), (extra, 7), (world.lambda_tg_arn, 0)], stickiness=STICKY
    )
    before = world.client.describe_rules(RuleArns=[world.rule_arn])["Rules"][0]

    AlbTraffic(elbv2).write_weights(world.route_record(), Weights.from_percent(50))

    after = world.client.describe_rules(RuleArns=[world.rule_arn])["Rules"][0]
    forward = world.forward_config()
    assert forward["TargetGroupStickinessConfig"] == STICKY, "stickiness must survive a shift"
    assert [tg["TargetGroupArn"] for tg in forward["TargetGroups"]] == [
        world.ecs_tg_arn,
        extra,
        world.lambda_tg_arn,
    ], "target group order and membership must not change"
    assert world.weights_by_arn()[extra] == 7, "another target group's weight is not ours"
    assert after["Conditions"] == before["Conditions"]
    assert after["Priority"] == before["Priority"]
    assert counter.count("ModifyRule") == 1


def test_all_zero_weights_are_refused_before_any_call(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    with pytest.raises(WeightError) as caught:
        AlbTraffic(elbv2).write_weights(world.route_record(), Weights(0, 0))
    assert counter.calls == [], "nothing may be called with weights the ALB refuses"
    assert caught.value.route == "map-tile"
    assert caught.value.arn == world.rule_arn


def test_six_target_groups_are_refused_before_modify(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    extras = [world.new_target_group(f"extra-{i}") for i in range(4)]
    # moto accepts 6 target groups in one forward action; the ALB allows 5.
    world.set_forward(
        [(world.ecs_tg_arn, 999), (world.lambda_tg_arn, 0), *[(arn, 1) for arn in extras]]
    )
    with pytest.raises(WeightError) as caught:
        AlbTraffic(elbv2).write_weights(world.route_record(), Weights.from_percent(10))
    assert "at most 5 target groups" in str(caught.value)
    assert counter.count("ModifyRule") == 0


def test_another_groups_out_of_range_weight_is_refused_before_modify(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    extra = world.new_target_group("other")
    world.set_forward([(world.ecs_tg_arn, 999), (world.lambda_tg_arn, 0), (extra, 1000)])
    with pytest.raises(WeightError, match="0-999"):
        AlbTraffic(elbv2).write_weights(world.route_record(), Weights.from_percent(10))
    assert counter.count("ModifyRule") == 0


def test_write_to_a_rule_missing_the_lambda_group_names_it_and_writes_nothing(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    world.set_forward([(world.ecs_tg_arn, 999)])
    with pytest.raises(DriftDetected) as caught:
        AlbTraffic(elbv2).write_weights(world.route_record(), ALL_ECS)
    assert world.lambda_tg_arn in str(caught.value)
    assert counter.count("ModifyRule") == 0
    assert world.weights_by_arn() == {world.ecs_tg_arn: 999}, "the rule is left as found"


def test_rollback_rewrites_a_rule_damaged_into_impossible_weights(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    world.set_forward([(world.ecs_tg_arn, 1500), (world.lambda_tg_arn, 1500)])
    AlbTraffic(elbv2).write_weights(world.route_record(), ALL_ECS)
    assert counter.count("ModifyRule") == 1
    assert world.weights_by_arn() == {world.ecs_tg_arn: 1, world.lambda_tg_arn: 0}


def test_throttled_modify_is_transient_and_the_next_call_succeeds(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    ErrorInjector(elbv2, "ModifyRule", "Throttling", message="Rate exceeded")
    traffic = AlbTraffic(elbv2)
    route = world.route_record()

    with pytest.raises(AwsCallFailed) as caught:
        traffic.write_weights(route, ALL_LAMBDA)
    assert caught.value.transient
    assert caught.value.api_call == "elasticloadbalancing:ModifyRule"
    assert traffic.read_weights(route) == ALL_ECS, "a throttled write changed nothing"

    traffic.write_weights(route, ALL_LAMBDA)
    assert traffic.read_weights(route) == ALL_LAMBDA
    assert counter.count("ModifyRule") == 2


# --- the forward action's target groups (sync) ------------------------------------


def test_read_forward_reads_a_rule_the_registry_no_longer_matches(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    new_ecs = world.new_target_group("monolith-ecs-v2")
    world.set_forward([(world.lambda_tg_arn, 100), (world.ecs_tg_arn, 899)])
    route = world.route_record(ecs_target_group_arn=new_ecs)

    assert AlbTraffic(elbv2).read_forward(route) == (
        TargetGroupWeight(world.lambda_tg_arn, 100),
        TargetGroupWeight(world.ecs_tg_arn, 899),
    )
    assert counter.count("DescribeRules") == 1
    with pytest.raises(DriftDetected, match=new_ecs):
        AlbTraffic(elbv2).read_weights(route)  # an ordinary run still refuses this rule


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("side", ["ecs", "lambda"])
def test_sync_through_the_adapter_moves_one_arn_and_keeps_the_split(
    world: AlbWorld, counter: CallCounter, elbv2: Any, reverse: bool, side: str
) -> None:
    new_arn = world.new_target_group(f"new-{side}")
    groups = [(world.ecs_tg_arn, 899), (world.lambda_tg_arn, 100)]
    world.set_forward(groups[::-1] if reverse else groups, stickiness=STICKY)
    before = world.client.describe_rules(RuleArns=[world.rule_arn])["Rules"][0]
    field = "ecs_target_group_arn" if side == "ecs" else "lambda_target_group_arn"
    route = world.route_record(**{field: new_arn})
    traffic = AlbTraffic(elbv2)

    plan = plan_sync(
        traffic.read_forward(route),
        ecs_arn=route.ecs_target_group_arn,
        lambda_arn=route.lambda_target_group_arn,
    )
    traffic.write_forward(route, plan.synced, plan.current)

    assert counter.count("ModifyRule") == 1
    assert traffic.read_weights(route) == Weights(ecs=899, lambda_=100)
    old = world.ecs_tg_arn if side == "ecs" else world.lambda_tg_arn
    assert old not in world.weights_by_arn()
    assert [tg["TargetGroupArn"] for tg in world.forward_config()["TargetGroups"]] == [
        group.arn for group in plan.synced
    ], "the rule's order is kept"
    assert world.forward_config()["TargetGroupStickinessConfig"] == STICKY
    after = world.client.describe_rules(RuleArns=[world.rule_arn])["Rules"][0]
    assert (after["Conditions"], after["Priority"]) == (before["Conditions"], before["Priority"])


def test_write_forward_refuses_a_rule_changed_since_it_was_read(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    new_ecs = world.new_target_group("monolith-ecs-v2")
    route = world.route_record(ecs_target_group_arn=new_ecs)
    traffic = AlbTraffic(elbv2)
    world.set_forward([(world.ecs_tg_arn, 899), (world.lambda_tg_arn, 100)])
    plan = plan_sync(traffic.read_forward(route), ecs_arn=new_ecs, lambda_arn=world.lambda_tg_arn)
    world.set_forward([(world.ecs_tg_arn, 999), (world.lambda_tg_arn, 0)])  # a rollback lands

    with pytest.raises(ConcurrentUpdate, match="changed after they were read"):
        traffic.write_forward(route, plan.synced, plan.current)

    assert counter.count("ModifyRule") == 0
    assert world.weights_by_arn() == {world.ecs_tg_arn: 999, world.lambda_tg_arn: 0}


def test_write_forward_of_what_the_rule_holds_writes_nothing(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    traffic = AlbTraffic(elbv2)
    route = world.route_record()
    live = traffic.read_forward(route)
    traffic.write_forward(route, live[::-1], ())
    assert counter.count("ModifyRule") == 0


@pytest.mark.parametrize("reverse", [False, True])
def test_weights_and_writes_are_by_arn_in_either_order(
    world: AlbWorld, elbv2: Any, reverse: bool
) -> None:
    groups = [(world.ecs_tg_arn, 989), (world.lambda_tg_arn, 10)]
    world.set_forward(groups[::-1] if reverse else groups)
    traffic = AlbTraffic(elbv2)
    route = world.route_record()
    assert traffic.read_weights(route) == Weights(989, 10)
    traffic.write_weights(route, Weights.from_percent(50))
    assert world.weights_by_arn() == {world.ecs_tg_arn: 1, world.lambda_tg_arn: 1}


def test_a_rule_holding_the_same_ratio_is_not_rewritten(
    world: AlbWorld, counter: CallCounter, elbv2: Any
) -> None:
    # 500/500 (an older deploy, a person) splits as the 50 % stage's 1/1 does.
    world.set_forward([(world.ecs_tg_arn, 500), (world.lambda_tg_arn, 500)])
    traffic = AlbTraffic(elbv2)
    traffic.write_weights(world.route_record(), Weights.from_percent(50))
    assert counter.count("ModifyRule") == 0
    assert traffic.read_weights(world.route_record()) == Weights.from_percent(50)


# --- pure helpers ---------------------------------------------------------------

ECS = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/ecs/1"
LAMBDA = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/lambda/2"


def _route() -> Any:
    world = AlbWorld(
        client=None,
        vpc_id="vpc-1",
        listener_arn="listener",
        rule_arn="arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener-rule/app/a/1/2/3",
        ecs_tg_arn=ECS,
        lambda_tg_arn=LAMBDA,
    )
    return world.route_record()


def _actions(ecs: int = 999, lambda_: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "Type": "authenticate-oidc",
            "Order": 1,
            "AuthenticateOidcConfig": {"Issuer": "https://idp.example"},
        },
        {
            "Type": "forward",
            "Order": 2,
            "TargetGroupArn": ECS,
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": ECS, "Weight": ecs},
                    {"TargetGroupArn": LAMBDA, "Weight": lambda_},
                ],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        },
    ]


def test_actions_with_weights_changes_only_the_two_weights() -> None:
    actions = _actions()
    new = actions_with_weights(actions, _route(), Weights(900, 99))
    assert new[0] == actions[0], "other actions are kept as they are"
    assert new[1]["Order"] == 2
    assert new[1]["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": False}
    assert new[1]["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": ECS, "Weight": 900},
        {"TargetGroupArn": LAMBDA, "Weight": 99},
    ]
    assert "TargetGroupArn" not in new[1], "TargetGroupArn + 2 weighted groups is refused"
    assert actions == _actions(), "the input is not mutated"


def test_actions_with_forward_replaces_only_the_target_groups() -> None:
    actions = _actions(899, 100)
    new_ecs = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/ecs2/9"
    groups = [TargetGroupWeight(new_ecs, 899), TargetGroupWeight(LAMBDA, 100)]
    new = actions_with_forward(actions, _route(), groups)
    assert new[0] == actions[0]
    assert new[1]["ForwardConfig"] == {
        "TargetGroups": [
            {"TargetGroupArn": new_ecs, "Weight": 899},
            {"TargetGroupArn": LAMBDA, "Weight": 100},
        ],
        "TargetGroupStickinessConfig": {"Enabled": False},
    }
    assert "TargetGroupArn" not in new[1], "the old top-level ARN must not survive"
    assert actions == _actions(899, 100), "the input is not mutated"
    with pytest.raises(WeightError):
        actions_with_forward(actions, _route(), [TargetGroupWeight(ECS, 1000)])


def test_plain_single_target_forward_is_read_with_weight_one() -> None:
    action = {"Type": "forward", "TargetGroupArn": ECS}
    assert [(g.arn, g.weight) for g in target_group_weights(action)] == [(ECS, 1)]


def test_rule_without_a_forward_action_is_drift() -> None:
    with pytest.raises(DriftDetected, match="exactly one forward action"):
        forward_action_index([{"Type": "fixed-response"}], _route())


@given(tenths=st.integers(min_value=0, max_value=1000))
def test_write_then_read_round_trips_every_plan_weight(tenths: int) -> None:
    route = _route()
    weights = Weights.from_tenths(tenths)
    rule = {"Actions": actions_with_weights(_actions(), route, weights)}
    assert weights_from_rule(rule, route) == weights


@given(ecs=st.integers(min_value=0, max_value=999), lambda_=st.integers(min_value=0, max_value=999))
def test_read_is_the_identity_on_any_valid_pair(ecs: int, lambda_: int) -> None:
    assert weights_from_rule({"Actions": _actions(ecs, lambda_)}, _route()) == Weights(ecs, lambda_)
