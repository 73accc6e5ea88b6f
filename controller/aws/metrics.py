"""MetricsPort on CloudWatch: the canary's request count, and the CanaryWeight metric.

The route function emits ``Strangler/Requests`` (dimension ``route``) as a
high-resolution (1 s) EMF metric; the Check step needs how many requests the
Lambda side served during the bake, because no evidence is not a pass. The
controller emits ``Strangler/CanaryWeight`` so the dashboard can draw the
weight over time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.aws.clients import aws_call
from controller.core.contract import (
    METRIC_CANARY_WEIGHT,
    METRIC_NAMESPACE,
    METRIC_REQUESTS,
    ROUTE_DIMENSION,
)
from controller.core.errors import AwsCallFailed

GET_METRIC_DATA = "cloudwatch:GetMetricData"
PUT_METRIC_DATA = "cloudwatch:PutMetricData"

# Periods CloudWatch accepts for high-resolution metrics: 1, 5, 10, 20, 30, 60
# or any multiple of 60 (CloudWatch API reference, MetricStat.Period).
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30, 60)
# How old a start time may be for each finest period before CloudWatch returns
# nothing for a finer one (MetricStat.Period): sub-minute data is kept 3 hours,
# 1-minute data 15 days, 5-minute data 63 days, then 1-hour data.
RETENTION_STEPS = (
    (timedelta(hours=3), 1),
    (timedelta(days=15), 60),
    (timedelta(days=63), 300),
)
OLDEST_DATA_PERIOD = 3600
# Keep one query to at most this many buckets: a bake of hours still answers
# in one small page, and a short bake keeps 1 s buckets (exact edges).
MAX_BUCKETS = 1440


def choose_period(start: datetime, end: datetime, now: datetime) -> int:
    """The finest period CloudWatch accepts for ``start`` that needs at most MAX_BUCKETS buckets.

    The finer the period, the closer the buckets follow ``start`` and
    ``end``: CloudWatch rounds the start time down to a period boundary, so a
    coarse period counts requests from before the bake.
    """
    if end <= start:
        raise ValueError(f"the window must end after it starts: {start} .. {end}")
    age = now - start
    step = OLDEST_DATA_PERIOD
    for limit, finest in RETENTION_STEPS:
        if age <= limit:
            step = finest
            break
    window = (end - start).total_seconds()
    needed = max(1, math.ceil(window / MAX_BUCKETS))
    if step == 1:
        for period in HIGH_RESOLUTION_PERIODS:
            if period >= needed:
                return period
        step = 60
    return max(step, math.ceil(needed / step) * step)


def metric_query(
    query_id: str, namespace: str, metric: str, dimension: tuple[str, str], period: int, stat: str
) -> dict[str, Any]:
    """The MetricDataQuery of one metric, one (name, value) dimension: ``stat`` per ``period``."""
    name, value = dimension
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value}],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def request_query(route: str, period: int) -> dict[str, Any]:
    """The MetricDataQuery of the route's Requests: Sum per ``period``."""
    return metric_query(
        "requests", METRIC_NAMESPACE, METRIC_REQUESTS, (ROUTE_DIMENSION, route), period, "Sum"
    )


def metric_results(
    cloudwatch: Any, query: dict[str, Any], start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    """Every MetricDataResult of ``query`` between ``start`` and ``end``, page after page."""
    paginator = cloudwatch.get_paginator("get_metric_data")
    for page in paginator.paginate(MetricDataQueries=[query], StartTime=start, EndTime=end):
        yield from page.get("MetricDataResults", [])


def canary_weight_datum(route: str, lambda_percent: float, at: datetime) -> dict[str, Any]:
    """The CanaryWeight MetricDatum (high resolution, one dimension: route)."""
    if not 0.0 <= lambda_percent <= 100.0 or math.isnan(lambda_percent):
        raise ValueError(f"route {route}: canary weight {lambda_percent} is outside 0..100 %")
    return {
        "MetricName": METRIC_CANARY_WEIGHT,
        "Dimensions": [{"Name": ROUTE_DIMENSION, "Value": route}],
        "Timestamp": at,
        "Value": float(lambda_percent),
        "Unit": "Percent",
        # 1 = high resolution: a shift and its rollback seconds later both show.
        "StorageResolution": 1,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CloudWatchMetrics:
    """:class:`~controller.core.ports.MetricsPort` on a CloudWatch client.

    IAM: ``cloudwatch:GetMetricData`` and ``cloudwatch:PutMetricData`` on
    ``*`` (neither supports resource-level permissions).
    """

    def __init__(self, cloudwatch_client: Any, clock: Callable[[], datetime] = _utc_now) -> None:
        """``cloudwatch_client``: a boto3 ``cloudwatch`` client; ``clock``: now, in UTC."""
        self._cloudwatch = cloudwatch_client
        self._clock = clock

    def request_count(self, route: str, start: datetime, end: datetime) -> int:
        """How many requests the route's function served between ``start`` and ``end``.

        The Sum of ``Strangler/Requests{route}`` over every bucket. No data
        (no request, or a metric not yet published) is 0, never an error: the
        caller compares with its minimum.
        """
        if end <= start:
            return 0  # an empty window holds no requests; nothing to ask
        period = choose_period(start, end, self._clock())
        total = 0.0
        query = request_query(route, period)
        with aws_call(GET_METRIC_DATA, f"{METRIC_NAMESPACE}/{METRIC_REQUESTS}", route=route):
            for result in metric_results(self._cloudwatch, query, start, end):
                self._check_status(route, result)
                total += sum(float(value) for value in result.get("Values", []))
        return round(total)

    @staticmethod
    def _check_status(route: str, result: dict[str, Any]) -> None:
        # "Complete" and "PartialData" (more pages follow) are answers;
        # "InternalError" and "Forbidden" are failures that come back with HTTP 200.
        status = result.get("StatusCode", "Complete")
        if status in ("Complete", "PartialData"):
            return
        messages = "; ".join(str(m.get("Value", m)) for m in result.get("Messages", []))
        raise AwsCallFailed(
            f"GetMetricData answered {status} for the Requests metric: {messages or 'no detail'}",
            route=route,
            arn=f"{METRIC_NAMESPACE}/{METRIC_REQUESTS}",
            api_call=GET_METRIC_DATA,
            transient=status == "InternalError",
            error_code=status,
        )

    def put_canary_weight(self, route: str, lambda_percent: float) -> None:
        """Emit ``Strangler/CanaryWeight{route}`` = the Lambda share in percent, now."""
        datum = canary_weight_datum(route, lambda_percent, self._clock())
        with aws_call(PUT_METRIC_DATA, f"{METRIC_NAMESPACE}/{METRIC_CANARY_WEIGHT}", route=route):
            self._cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=[datum])
