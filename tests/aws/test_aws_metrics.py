"""controller/aws/metrics.py: the MetricsPort on a real boto3 CloudWatch client against moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.aws.clients import ClientFactory
from controller.aws.metrics import (
    HIGH_RESOLUTION_PERIODS,
    MAX_BUCKETS,
    CloudWatchMetrics,
    choose_period,
)
from controller.core.contract import METRIC_CANARY_WEIGHT, METRIC_NAMESPACE, METRIC_REQUESTS
from controller.core.errors import AwsCallFailed
from tests.aws_fixtures import REGION, CallCounter, ErrorInjector

ROUTE = "map-tile"


@pytest.fixture
def cloudwatch(factory: ClientFactory) -> Any:
    return factory.client("cloudwatch")


@pytest.fixture
def emitter(factory: ClientFactory) -> Any:
    """The route function's side (its own client), publishing Requests."""
    return boto3.client("cloudwatch", region_name=REGION)


NOW = datetime.now(UTC).replace(microsecond=0)


def publish_requests(client: Any, route: str, at: datetime, count: float) -> None:
    client.put_metric_data(
        Namespace=METRIC_NAMESPACE,
        MetricData=[
            {
                "MetricName": METRIC_REQUESTS,
                "Dimensions": [{"Name": "route", "Value": route}],
                "Timestamp": at,
                "Value": count,
                "Unit": "Count",
                "StorageResolution": 1,
            }
        ],
    )


# --- request_count --------------------------------------------------------------------


def test_counts_only_the_routes_requests_inside_the_window(emitter: Any, cloudwatch: Any) -> None:
    start, end = NOW - timedelta(minutes=5), NOW
    for seconds in range(10, 300, 20):  # 15 points of 4 requests inside the bake
        publish_requests(emitter, ROUTE, start + timedelta(seconds=seconds), 4)
    publish_requests(emitter, ROUTE, start - timedelta(seconds=30), 1000)  # before the bake
    publish_requests(emitter, "geo", start + timedelta(seconds=60), 500)  # another route

    count = CloudWatchMetrics(cloudwatch, clock=lambda: NOW).request_count(ROUTE, start, end)

    assert count == 60


def test_no_data_is_zero_requests(cloudwatch: Any) -> None:
    metrics = CloudWatchMetrics(cloudwatch, clock=lambda: NOW)
    assert metrics.request_count(ROUTE, NOW - timedelta(minutes=5), NOW) == 0


def test_an_empty_window_is_zero_without_a_call(cloudwatch: Any) -> None:
    counter = CallCounter(cloudwatch)
    assert CloudWatchMetrics(cloudwatch).request_count(ROUTE, NOW, NOW) == 0
    assert counter.calls == []


def test_the_query_is_a_high_resolution_sum_of_the_routes_requests(cloudwatch: Any) -> None:
    counter = CallCounter(cloudwatch)
    CloudWatchMetrics(cloudwatch, clock=lambda: NOW).request_count(
        ROUTE, NOW - timedelta(minutes=5), NOW
    )
    (params,) = counter.params("GetMetricData")
    (query,) = params["MetricDataQueries"]
    stat = query["MetricStat"]
    assert stat["Metric"] == {
        "Namespace": "Strangler",
        "MetricName": "Requests",
        "Dimensions": [{"Name": "route", "Value": ROUTE}],
    }
    assert stat["Stat"] == "Sum"
    assert stat["Period"] == 1, "a 5 minute bake fits 1 s buckets"


def test_throttled_query_is_transient(cloudwatch: Any) -> None:
    ErrorInjector(cloudwatch, "GetMetricData", "Throttling")
    with pytest.raises(AwsCallFailed) as caught:
        CloudWatchMetrics(cloudwatch).request_count(ROUTE, NOW - timedelta(minutes=1), NOW)
    assert caught.value.transient
    assert caught.value.route == ROUTE


@pytest.mark.parametrize(("status", "transient"), [("InternalError", True), ("Forbidden", False)])
def test_a_failed_result_inside_a_200_is_an_error(status: str, transient: bool) -> None:
    result = {"Id": "requests", "StatusCode": status, "Messages": [{"Value": "nope"}]}
    with pytest.raises(AwsCallFailed) as caught:
        CloudWatchMetrics._check_status(ROUTE, result)
    assert caught.value.transient is transient
    assert "nope" in str(caught.value)


# --- put_canary_weight -------------------------------------------------------------------


def test_canary_weight_is_published_high_resolution(cloudwatch: Any) -> None:
    counter = CallCounter(cloudwatch)
    metrics = CloudWatchMetrics(cloudwatch, clock=lambda: NOW)

    metrics.put_canary_weight(ROUTE, 12.5)

    (params,) = counter.params("PutMetricData")
    (datum,) = params["MetricData"]
    assert params["Namespace"] == METRIC_NAMESPACE
    assert datum["MetricName"] == METRIC_CANARY_WEIGHT
    assert datum["Dimensions"] == [{"Name": "route", "Value": ROUTE}]
    assert datum["StorageResolution"] == 1
    assert datum["Unit"] == "Percent"
    back = cloudwatch.get_metric_data(
        StartTime=NOW - timedelta(seconds=5),
        EndTime=NOW + timedelta(seconds=5),
        MetricDataQueries=[
            {
                "Id": "w",
                "MetricStat": {
                    "Metric": {
                        "Namespace": METRIC_NAMESPACE,
                        "MetricName": METRIC_CANARY_WEIGHT,
                        "Dimensions": [{"Name": "route", "Value": ROUTE}],
                    },
                    "Period": 1,
                    "Stat": "Maximum",
                },
            }
        ],
    )
    assert back["MetricDataResults"][0]["Values"] == [12.5]


@pytest.mark.parametrize("percent", [-0.1, 100.1, float("nan")])
def test_impossible_weight_is_refused_before_any_call(cloudwatch: Any, percent: float) -> None:
    counter = CallCounter(cloudwatch)
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        CloudWatchMetrics(cloudwatch).put_canary_weight(ROUTE, percent)
    assert counter.calls == []


# --- choose_period (pure) ------------------------------------------------------------------


def test_period_examples() -> None:
    assert choose_period(NOW - timedelta(minutes=5), NOW, NOW) == 1
    assert choose_period(NOW - timedelta(hours=2), NOW, NOW) == 5
    assert choose_period(NOW - timedelta(hours=4), NOW, NOW) == 60
    assert choose_period(NOW - timedelta(days=20), NOW - timedelta(days=19), NOW) == 300
    assert choose_period(NOW - timedelta(days=70), NOW - timedelta(days=69), NOW) == 3600
    with pytest.raises(ValueError):
        choose_period(NOW, NOW, NOW)


def allowed(period: int, age: timedelta) -> bool:
    """What MetricStat.Period accepts for a start time ``age`` old."""
    if age > timedelta(days=63):
        return period % 3600 == 0
    if age > timedelta(days=15):
        return period % 300 == 0
    if age > timedelta(hours=3):
        return period % 60 == 0
    return period in HIGH_RESOLUTION_PERIODS or period % 60 == 0


@given(
    age_seconds=st.integers(min_value=0, max_value=90 * 86400),
    window_seconds=st.integers(min_value=1, max_value=30 * 86400),
)
def test_period_is_allowed_bounded_and_finest(age_seconds: int, window_seconds: int) -> None:
    start = NOW - timedelta(seconds=age_seconds)
    end = start + timedelta(seconds=window_seconds)
    period = choose_period(start, end, NOW)
    age = NOW - start

    assert allowed(period, age), f"period {period} not allowed {age} back"
    assert -(-window_seconds // period) <= MAX_BUCKETS
    finer = [p for p in range(1, period) if allowed(p, age)]
    assert all(-(-window_seconds // p) > MAX_BUCKETS for p in finer), "a finer period fits"
