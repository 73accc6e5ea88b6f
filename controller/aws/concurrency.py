"""ConcurrencyPort on CloudWatch: the peak ``AWS/Lambda ConcurrentExecutions`` of a function.

Lambda publishes ``ConcurrentExecutions`` per function (dimension
``FunctionName``) at one-minute resolution; the gate wants the highest value
of a bake, so the query asks for the ``Maximum`` of one-minute buckets (or
coarser, for old windows: :func:`controller.aws.metrics.choose_period`).
CloudWatch rounds the start down to a bucket edge, so a bucket may include a
few seconds before the bake; those ran at the previous, lower weight.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.aws.clients import aws_call
from controller.aws.metrics import GET_METRIC_DATA, choose_period, metric_query, metric_results

LAMBDA_NAMESPACE = "AWS/Lambda"
CONCURRENT_EXECUTIONS = "ConcurrentExecutions"
# Lambda's own metrics are standard resolution: one datapoint per minute.
LAMBDA_PERIOD = 60


def concurrency_query(function_name: str, period: int) -> dict[str, Any]:
    """The MetricDataQuery of the function's ConcurrentExecutions: Maximum per ``period``."""
    return metric_query(
        "concurrency",
        LAMBDA_NAMESPACE,
        CONCURRENT_EXECUTIONS,
        ("FunctionName", function_name),
        period,
        "Maximum",
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LambdaConcurrency:
    """:class:`~controller.core.ports.ConcurrencyPort` on a CloudWatch client.

    IAM: ``cloudwatch:GetMetricData`` on ``*`` (no resource type).
    """

    def __init__(self, cloudwatch_client: Any, clock: Callable[[], datetime] = _utc_now) -> None:
        self._cloudwatch = cloudwatch_client
        self._clock = clock

    def peak_concurrency(self, function_name: str, start: datetime, end: datetime) -> float | None:
        """The highest ConcurrentExecutions between ``start`` and ``end``; None without data."""
        if end <= start:
            return None
        period = max(LAMBDA_PERIOD, choose_period(start, end, self._clock()))
        values: list[float] = []
        query = concurrency_query(function_name, period)
        with aws_call(GET_METRIC_DATA, f"{LAMBDA_NAMESPACE}/{CONCURRENT_EXECUTIONS}"):
            for result in metric_results(self._cloudwatch, query, start, end):
                values.extend(float(v) for v in result.get("Values", []))
        return max(values) if values else None
