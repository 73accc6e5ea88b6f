"""ReleasePort on Lambda and CloudWatch: the alias ``live`` and the per-version metrics.

Lambda reports ``Invocations`` and ``Errors`` for the traffic an alias routes
to each of its versions under the dimensions ``FunctionName``, ``Resource``
(``<function>:<alias>``) and ``ExecutedVersion`` ("Use the ExecutedVersion
dimension to compare error rates for two versions of a function that are both
targets of a weighted alias",
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.aws.clients import aws_call
from controller.aws.metrics import choose_period
from controller.core.contract import RouteRecord
from controller.core.release import ALIAS_NAME, AliasSplit, VersionCounts

GET_ALIAS = "lambda:GetAlias"
UPDATE_ALIAS = "lambda:UpdateAlias"
GET_METRIC_DATA = "cloudwatch:GetMetricData"
LAMBDA_NAMESPACE = "AWS/Lambda"
METRIC_INVOCATIONS = "Invocations"
METRIC_ERRORS = "Errors"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def alias_of(route: RouteRecord) -> str:
    """The alias the route's target group invokes."""
    return route.alias_name or ALIAS_NAME


def split_from_alias(answer: dict[str, Any]) -> AliasSplit:
    """An :class:`AliasSplit` from a GetAlias/UpdateAlias answer."""
    weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return AliasSplit(
        version=str(answer["FunctionVersion"]),
        additional=tuple(sorted((str(v), float(w)) for v, w in weights.items())),
    )


def version_queries(
    function_name: str, alias: str, versions: tuple[str, ...], period: int
) -> list[dict[str, Any]]:
    """Sum of Invocations and Errors per executed version under ``function:alias``."""
    queries: list[dict[str, Any]] = []
    for index, version in enumerate(versions):
        for metric, key in ((METRIC_INVOCATIONS, "inv"), (METRIC_ERRORS, "err")):
            queries.append(
                {
                    "Id": f"{key}{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": LAMBDA_NAMESPACE,
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "FunctionName", "Value": function_name},
                                {"Name": "Resource", "Value": f"{function_name}:{alias}"},
                                {"Name": "ExecutedVersion", "Value": version},
                            ],
                        },
                        "Period": period,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
            )
    return queries


class LambdaRelease:
    """:class:`~controller.core.ports.ReleasePort` on boto3 ``lambda`` and ``cloudwatch`` clients.

    IAM: ``lambda:GetAlias`` and ``lambda:UpdateAlias`` on the alias ARN,
    ``cloudwatch:GetMetricData`` on ``*``.
    """

    def __init__(
        self,
        lambda_client: Any,
        cloudwatch_client: Any,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._lambda = lambda_client
        self._cloudwatch = cloudwatch_client
        self._clock = clock

    def read_alias(self, route: RouteRecord) -> AliasSplit:
        """GetAlias of the route function's alias."""
        alias = alias_of(route)
        with aws_call(GET_ALIAS, f"{route.function_name}:{alias}", route=route.route):
            answer = self._lambda.get_alias(FunctionName=route.function_name, Name=alias)
        return split_from_alias(answer)

    def write_alias(self, route: RouteRecord, split: AliasSplit) -> None:
        """UpdateAlias with the version and the whole routing config (empty removes it)."""
        alias = alias_of(route)
        weights = {version: weight for version, weight in split.additional if weight > 0}
        with aws_call(UPDATE_ALIAS, f"{route.function_name}:{alias}", route=route.route):
            self._lambda.update_alias(
                FunctionName=route.function_name,
                Name=alias,
                FunctionVersion=split.version,
                RoutingConfig={"AdditionalVersionWeights": weights},
            )

    def version_counts(
        self, route: RouteRecord, versions: tuple[str, ...], start: datetime, end: datetime
    ) -> dict[str, VersionCounts]:
        """Invocations and errors of each version over ``start .. end``; no data is 0."""
        totals = {f"{k}{i}": 0.0 for i in range(len(versions)) for k in ("inv", "err")}
        if end > start and versions:
            period = choose_period(start, end, self._clock())
            queries = version_queries(route.function_name, alias_of(route), versions, period)
            paginator = self._cloudwatch.get_paginator("get_metric_data")
            with aws_call(GET_METRIC_DATA, LAMBDA_NAMESPACE, route=route.route):
                for page in paginator.paginate(
                    MetricDataQueries=queries, StartTime=start, EndTime=end
                ):
                    for result in page.get("MetricDataResults", []):
                        totals[result["Id"]] += sum(float(v) for v in result.get("Values", []))
        return {
            version: VersionCounts(version, round(totals[f"inv{i}"]), round(totals[f"err{i}"]))
            for i, version in enumerate(versions)
        }
