"""Tests of rehearsal/scenario/traffic.py: picking by weights, rule cache, requests, backends."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from rehearsal.scenario.traffic import (
    ECS,
    LAMBDA,
    HttpBackend,
    LambdaBackend,
    NoTargetGroup,
    RouteTraffic,
    RuleWeights,
    SyntheticRequest,
    WeightedPicker,
    alb_event,
    forward_weights,
    request_for_rule,
)
from rehearsal.world.ecs_standin import StandinServer
from rehearsal.world.moto_lambda import route_lambda_invocations
from tests.aws_fixtures import REGION, alb_listener, fake_aws_env, weighted_forward
from tests.events import load_event

ECS_TG = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/map-ecs/1"
LAMBDA_TG = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/map-fn/2"

weights_strategy = st.dictionaries(
    keys=st.sampled_from(["tg-a", "tg-b", "tg-c", "tg-d", "tg-e"]),
    values=st.integers(min_value=0, max_value=999),
    min_size=1,
    max_size=5,
).filter(lambda weights: sum(weights.values()) > 0)


# --- picking ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(weights=weights_strategy, picks=st.integers(min_value=1, max_value=3000))
def test_the_picks_follow_the_weights_within_one_request(weights: dict[str, int], picks: int):
    picker = WeightedPicker()
    counts = Counter(picker.pick(weights) for _ in range(picks))
    total = sum(weights.values())
    for group, weight in weights.items():
        expected = picks * weight / total
        assert abs(counts[group] - expected) <= len(weights), (
            f"{group} (weight {weight} of {total}) picked {counts[group]} times in {picks}, "
            f"expected {expected:.1f}"
        )


@settings(max_examples=200, deadline=None)
@given(
    ecs=st.integers(min_value=0, max_value=999),
    lambda_=st.integers(min_value=0, max_value=999),
    picks=st.integers(min_value=1, max_value=3000),
)
def test_two_groups_follow_the_weights_within_half_a_pick(ecs: int, lambda_: int, picks: int):
    if ecs + lambda_ == 0:
        return
    picker = WeightedPicker()
    lambda_picks = sum(
        picker.pick({ECS_TG: ecs, LAMBDA_TG: lambda_}) == LAMBDA_TG for _ in range(picks)
    )
    expected = picks * lambda_ / (ecs + lambda_)
    assert abs(lambda_picks - expected) <= 0.5, (
        f"lambda weight {lambda_} of {ecs + lambda_}: {lambda_picks} of {picks}, "
        f"expected {expected}"
    )


@settings(max_examples=200, deadline=None)
@given(weights=weights_strategy, picks=st.integers(min_value=1, max_value=500))
def test_a_zero_weight_is_never_picked(weights: dict[str, int], picks: int):
    picker = WeightedPicker()
    picked = {picker.pick(weights) for _ in range(picks)}
    zero = {group for group, weight in weights.items() if weight == 0}
    assert not picked & zero, f"picked zero-weight group(s) {picked & zero} of {weights}"


def test_a_one_percent_canary_gets_exactly_its_share():
    picker = WeightedPicker()
    weights = {ECS_TG: 989, LAMBDA_TG: 10}  # the controller's 1 %: lambda 10 of 999
    counts = Counter(picker.pick(weights) for _ in range(999))
    assert counts[LAMBDA_TG] == 10
    assert counts[ECS_TG] == 989


def test_the_picker_follows_a_change_of_weights_at_once():
    picker = WeightedPicker()
    for _ in range(50):
        picker.pick({ECS_TG: 899, LAMBDA_TG: 100})
    after = Counter(picker.pick({ECS_TG: 999, LAMBDA_TG: 0}) for _ in range(100))
    assert after == {ECS_TG: 100}, "a rollback to ECS 100 % must stop Lambda picks at once"


def test_all_weights_zero_cannot_be_picked():
    with pytest.raises(NoTargetGroup, match="weight 0"):
        WeightedPicker().pick({ECS_TG: 0, LAMBDA_TG: 0})


def test_forward_weights_of_a_weighted_forward():
    rule = {
        "Actions": [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": ECS_TG, "Weight": 899},
                        {"TargetGroupArn": LAMBDA_TG},
                    ]
                },
            }
        ]
    }
    assert forward_weights(rule) == {ECS_TG: 899, LAMBDA_TG: 1}


def test_forward_weights_of_a_plain_forward_and_of_no_forward():
    assert forward_weights({"Actions": [{"Type": "forward", "TargetGroupArn": ECS_TG}]}) == {
        ECS_TG: 1
    }
    with pytest.raises(ValueError, match="no forward action"):
        forward_weights({"RuleArn": "arn:rule", "Actions": [{"Type": "fixed-response"}]})


# --- the rule, read from moto ----------------------------------------------------------


@pytest.fixture
def elbv2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake_aws_env(monkeypatch)
    with mock_aws():
        import boto3

        yield boto3.client("elbv2", region_name=REGION)


def _rule(elbv2: Any, ecs_weight: int, lambda_weight: int) -> tuple[str, str, str]:
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION)
    listener, ecs = alb_listener(ec2, elbv2, REGION)
    fn = elbv2.create_target_group(Name="fn", TargetType="lambda")["TargetGroups"][0][
        "TargetGroupArn"
    ]
    rule = elbv2.create_rule(
        ListenerArn=listener,
        Priority=100,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/map/*"]}}],
        Actions=weighted_forward((ecs, ecs_weight), (fn, lambda_weight)),
    )["Rules"][0]["RuleArn"]
    return rule, ecs, fn


def test_rule_weights_are_cached_for_the_ttl_then_read_again(elbv2: Any):
    rule, ecs, fn = _rule(elbv2, 899, 100)
    now = [0.0]
    reads: list[tuple[float, dict[str, int]]] = []
    weights = RuleWeights(
        elbv2,
        rule,
        ttl_seconds=0.15,
        clock=lambda: now[0],
        on_read=lambda t, w: reads.append((t, w)),
    )
    assert weights.current() == {ecs: 899, fn: 100}
    elbv2.modify_rule(
        RuleArn=rule,
        Actions=weighted_forward((ecs, 999), (fn, 0)),
    )
    now[0] = 0.1
    assert weights.current() == {ecs: 899, fn: 100}, "within the TTL the cached weights serve"
    now[0] = 0.2
    assert weights.current() == {ecs: 999, fn: 0}, "after the TTL the rule is read again"
    assert [t for t, _ in reads] == [0.0, 0.2], "exactly one DescribeRules per TTL"


# --- requests --------------------------------------------------------------------------


def test_the_request_matches_the_rule_conditions():
    conditions = [
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}},
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/map/v1/tile/*"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["HEAD", "GET"]}},
        {
            "Field": "query-string",
            "QueryStringConfig": {"Values": [{"Key": "style", "Value": "da?"}]},
        },
    ]
    request = request_for_rule(conditions, 3, default_host="unused")
    assert request.method == "HEAD"
    assert request.host == "www.example.com"
    assert request.path.startswith("/map/v1/tile/12/") and request.path.endswith(".png")
    assert request.target == request.path + "?style=dax"
    assert request_for_rule(conditions, 4, default_host="x").path != request.path


def test_a_rule_without_conditions_gets_the_default_host_and_root():
    request = request_for_rule([], 0, default_host="www.example.com")
    assert (request.method, request.path, request.host) == ("GET", "/", "www.example.com")


@pytest.mark.parametrize(
    ("multi", "fixture"), [(False, "alb_tile_single"), (True, "alb_tile_multi")]
)
def test_alb_events_have_the_shape_of_the_real_ones(multi: bool, fixture: str):
    request = SyntheticRequest("GET", "/map/v1/tile/12/1/2.png", "maps.example.com", (("a", "b"),))
    event = alb_event(request, LAMBDA_TG, multi_value_headers=multi, trace_id="Root=1-abc")
    assert set(event) == set(load_event(fixture)), f"keys differ from tests/events/{fixture}.json"
    assert event["requestContext"]["elb"]["targetGroupArn"] == LAMBDA_TG
    if multi:
        assert event["multiValueHeaders"]["host"] == ["maps.example.com"]
        assert event["multiValueQueryStringParameters"] == {"a": ["b"]}
    else:
        assert event["headers"]["x-amzn-trace-id"] == "Root=1-abc"
        assert event["queryStringParameters"] == {"a": "b"}


# --- backends and the loop -------------------------------------------------------------


def test_http_backend_reaches_the_standin_and_reconnects():
    with StandinServer("monolith") as server:
        backend = HttpBackend(server.host, server.port)
        request = SyntheticRequest("GET", "/map/v1/tile/1/2/3.png", "maps.example.com")
        assert backend.send(request, 0) == 200
        server.set_failing(True)
        assert backend.send(request, 1) == 503
        backend.close()
        server.set_failing(False)
        assert backend.send(request, 2) == 200, "a new connection after close"
        assert server.requests == 3


def test_lambda_backend_invokes_the_function_with_an_alb_event(monkeypatch: pytest.MonkeyPatch):
    fake_aws_env(monkeypatch)
    seen: list[dict[str, Any]] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.append(event)
        if event["path"].endswith("/boom"):
            raise RuntimeError("boom")
        return {"statusCode": 404 if event["path"].endswith("/none") else 200, "body": ""}

    with mock_aws(config={"lambda": {"use_docker": False}}):
        import boto3

        client = boto3.client("lambda", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        arn = client.create_function(
            FunctionName="fn",
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )["FunctionArn"]
        with route_lambda_invocations({"fn": handler}):
            backend = LambdaBackend(client, arn, LAMBDA_TG, multi_value=True)
            ok = SyntheticRequest("GET", "/map/ok", "h")
            assert backend.send(ok, 1) == 200
            assert backend.send(SyntheticRequest("GET", "/map/none", "h"), 2) == 404
            assert backend.send(SyntheticRequest("GET", "/map/boom", "h"), 3) == 502, (
                "a function error is the ALB's 502"
            )
    assert "multiValueHeaders" in seen[0]
    assert seen[0]["requestContext"]["elb"]["targetGroupArn"] == LAMBDA_TG


class _Recorder:
    """A backend of our own for the loop's tests (the Backend protocol)."""

    def __init__(self, side: str, status: int = 200) -> None:
        self.side = side
        self.status = status
        self.requests: list[SyntheticRequest] = []

    def send(self, request: SyntheticRequest, sequence: int) -> int:
        self.requests.append(request)
        return self.status

    def close(self) -> None:
        pass


class _FixedWeights(RuleWeights):
    def __init__(self, weights: dict[str, int]) -> None:
        self.rule_arn = "arn:rule"
        self.weights = weights

    def current(self) -> dict[str, int]:
        return dict(self.weights)


def test_the_loop_counts_each_side_and_its_errors():
    ecs, fn = _Recorder(ECS), _Recorder(LAMBDA, status=502)
    traffic = RouteTraffic(
        "map-tile",
        _FixedWeights({ECS_TG: 749, LAMBDA_TG: 250}),
        {ECS_TG: ecs, LAMBDA_TG: fn},
        [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/map/*"]}}],
        rate_per_second=100,
        default_host="h",
    )
    for sequence in range(400):
        traffic.send_one(sequence)
    counts = traffic.counts()
    assert counts.requests == {ECS: 300, LAMBDA: 100}
    assert counts.errors == {ECS: 0, LAMBDA: 100}
    assert all(r.path.startswith("/map/") for r in ecs.requests + fn.requests)
    assert [s.side for s in traffic.samples()].count(LAMBDA) == 100


def test_the_loop_runs_at_a_bounded_rate_and_stops():
    ecs = _Recorder(ECS)
    traffic = RouteTraffic(
        "map-tile",
        _FixedWeights({ECS_TG: 1}),
        {ECS_TG: ecs},
        [],
        rate_per_second=50,
        default_host="h",
    )
    traffic.start()
    import time

    time.sleep(0.5)
    traffic.stop()
    sent = len(ecs.requests)
    assert 10 <= sent <= 30, f"{sent} requests in 0.5 s at 50 per second"
    traffic.stop()  # idempotent


def test_a_target_group_without_backend_fails_the_loop_loudly():
    traffic = RouteTraffic(
        "map-tile",
        _FixedWeights({"arn:unknown": 1}),
        {ECS_TG: _Recorder(ECS)},
        [],
        rate_per_second=100,
        default_host="h",
    )
    traffic.start()
    import time

    time.sleep(0.1)
    with pytest.raises(LookupError, match="arn:unknown"):
        traffic.stop()


def test_rate_must_be_positive():
    with pytest.raises(ValueError, match="map-tile"):
        RouteTraffic("map-tile", _FixedWeights({}), {}, [], rate_per_second=0, default_host="h")


def test_the_event_round_trips_as_json():
    request = SyntheticRequest("GET", "/p", "h")
    event = alb_event(request, LAMBDA_TG, multi_value_headers=False, trace_id="t")
    assert json.loads(json.dumps(event)) == event
