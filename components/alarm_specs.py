"""What a route's alarms watch: one table, one row per alarm kind.

:data:`ALARM_SPECS` is the single source of the route alarms. The alarm
resources (:mod:`components.alarms`), the alarm names
(:data:`components.naming.ALARM_KINDS`), the composite alarm's rule and the
tests are all derived from it, so a new kind is one new row here (plus
whatever new threshold or dimension it needs).

What is watched (the original design's table, plus the ALB's view):

- errors: 100 * Lambda Errors / the target group's ALB RequestCount; the
  function itself failed.
- throttles: Lambda Throttles; the concurrency cap was hit (the ALB answers 502).
- app-errors: 100 * Strangler AppErrors / Strangler Requests, 10-second
  periods; the upstream returned an error, or a runtime error.

Neither rate divides by Lambda ``Invocations``: the ALB's health checks of a
Lambda target are ordinary invocations and count there, so at a low canary
weight, when a route gets a few requests a minute and a health check every
interval, ``Errors / Invocations`` would be diluted toward 0 % exactly when a
broken function must be caught.
- target-5xx: ALB HTTPCode_Target_5XX_Count; the function answered 5xx.
- lambda-user-errors: ALB LambdaUserError; the ALB could not use the function.
- healthy-hosts: ALB HealthyHostCount < 1 for longer than a new target takes
  to turn healthy; the health check fails.
- p99-latency: ALB TargetResponseTime p99; the function got slow.

The ALB target-group metrics of a Lambda target group carry the dimensions
``TargetGroup`` (``targetgroup/<name>/<id>``) and ``LoadBalancer``
(``app/<name>/<id>``); :class:`Dimensions` says which set a metric carries.

Pure: no Pulumi. The rows read the route's validated config only.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from components.config import HealthCheckConfig, RouteConfig
from controller.core.contract import METRIC_APP_ERRORS, METRIC_NAMESPACE, METRIC_REQUESTS

LAMBDA_NAMESPACE = "AWS/Lambda"
ALB_NAMESPACE = "AWS/ApplicationELB"

#: Standard-resolution AWS metrics arrive once a minute.
STANDARD_PERIOD = 60
#: The route function emits its metrics at high resolution (1 s storage), so
#: the application error alarm can evaluate every 10 s. PutMetricAlarm: "Valid
#: values are 10, 20, 30, and any multiple of 60"; 10/20/30 only for metrics
#: stored with StorageResolution 1, and they make a (pricier) high-resolution
#: alarm. In a metric-math alarm the period sits on each metric query.
HIGH_RESOLUTION_PERIOD = 10

#: No traffic is not an error: Lambda and the ALB publish nothing while a route
#: gets no requests (Lambda sends Invocations/Errors only when non-zero), so
#: missing data counts as "fine" for every traffic-driven alarm.
NO_TRAFFIC_IS_FINE = "notBreaching"
#: A missing health signal is neither fine nor a failure: HealthyHostCount is
#: documented as "Reported if health checks are enabled", but the same ELB page
#: also says "Elastic Load Balancing reports metrics to CloudWatch only when
#: requests are flowing through the load balancer ... If there are no requests
#: ... or no data for a metric, the metric is not reported" (ELB guide,
#: "CloudWatch metrics for your Application Load Balancer"). Nothing documents
#: that a weight-0 Lambda target group gets the metric regardless of traffic.
#: "breaching" would then put the composite alarm in ALARM on a fresh deploy,
#: and the controller rolls a route back on ALARM from any status, idle
#: included: every new route would start rolled back and blocked. "missing"
#: (CloudWatch: "If all data points in the alarm evaluation range are missing,
#: the alarm transitions to INSUFFICIENT_DATA") leaves a lost signal out of the
#: composite rule, which only ORs ALARM(...); a published 0 still alarms.
MISSING_HEALTH_IS_UNKNOWN = "missing"


class Dimensions(enum.Enum):
    """Which dimensions a metric carries; the component supplies their values."""

    #: ``FunctionName``: the route function's Lambda metrics.
    FUNCTION = "function"
    #: ``TargetGroup`` and ``LoadBalancer``: the Lambda target group's ALB metrics.
    TARGET_GROUP = "target-group"
    #: ``route``: the route function's own metrics (``controller.core.contract``).
    ROUTE = "route"


@dataclass(frozen=True)
class Window:
    """ "M out of N": alarm when ``datapoints_to_alarm`` of ``evaluation_periods`` breach."""

    evaluation_periods: int
    datapoints_to_alarm: int


# One bad minute out of three is enough to act on; a single noisy datapoint is not.
STANDARD_WINDOW = Window(evaluation_periods=3, datapoints_to_alarm=2)
# Application errors: 3 bad 10-second datapoints within one minute.
HIGH_RESOLUTION_WINDOW = Window(evaluation_periods=6, datapoints_to_alarm=3)
# Each datapoint is already a failed request: one bad minute is enough.
SINGLE_PERIOD_WINDOW = Window(evaluation_periods=1, datapoints_to_alarm=1)


@dataclass(frozen=True)
class SingleMetric:
    """One metric with one statistic, evaluated every :data:`STANDARD_PERIOD`.

    Exactly one of ``statistic`` (``Sum``, ``Minimum``, ...) and
    ``extended_statistic`` (``p99``) is set: CloudWatch takes one or the other.
    """

    namespace: str
    metric_name: str
    dimensions: Dimensions
    statistic: str | None = None
    extended_statistic: str | None = None
    period: int = STANDARD_PERIOD

    def __post_init__(self) -> None:
        if (self.statistic is None) == (self.extended_statistic is None):
            raise ValueError(
                f"{self.metric_name}: set exactly one of statistic and extended_statistic"
            )


@dataclass(frozen=True)
class MetricRef:
    """One metric of a metric-math alarm: namespace, name and which dimensions."""

    namespace: str
    metric_name: str
    dimensions: Dimensions


@dataclass(frozen=True)
class RateOfSums:
    """Metric math: ``100 * FILL(failures, 0) / total`` over the Sum of two metrics.

    The two metrics may come from different namespaces (a Lambda metric over an
    ALB metric), each with its own dimensions; both use ``period``.
    FILL(failures, 0): a period with requests but no failure datapoint is a 0 %
    period, not a missing one. A period without requests has no result at all
    (missing data).
    """

    failures: MetricRef
    total: MetricRef
    period: int
    label: str

    EXPRESSION: ClassVar[str] = "100 * FILL(failures, 0) / total"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm kind of a route: what it watches and when it fires.

    ``threshold``, ``window`` and ``description`` read the route's config, so
    a row can use the route's own thresholds and health check.
    """

    kind: str
    source: SingleMetric | RateOfSums
    comparison: str
    threshold: Callable[[RouteConfig], float]
    window: Callable[[RouteConfig], Window]
    treat_missing_data: str
    description: Callable[[RouteConfig], str]


def healthy_host_periods(health_check: HealthCheckConfig) -> int:
    """One-minute periods HealthyHostCount must stay below 1 before the alarm fires.

    A newly registered target is not healthy until it passes its first health
    checks ("After your target is registered, it must pass one health check to
    be considered healthy", ELB guide; older target groups wait for the healthy
    threshold), so the count is 0 for up to ``interval * healthy_threshold``
    seconds after every deploy that registers the function. The alarm waits
    one period longer than that, so a fresh target never trips it while a
    target that stays unhealthy still does.
    """
    warm_up_seconds = health_check.interval_seconds * health_check.healthy_threshold
    return math.ceil(warm_up_seconds / STANDARD_PERIOD) + 1


def _healthy_host_window(route: RouteConfig) -> Window:
    # Every period of the window must be bad: N out of N.
    periods = healthy_host_periods(route.health_check)
    return Window(evaluation_periods=periods, datapoints_to_alarm=periods)


def _always(window: Window) -> Callable[[RouteConfig], Window]:
    return lambda _route: window


ALARM_SPECS: tuple[AlarmSpec, ...] = (
    AlarmSpec(
        kind="errors",
        source=RateOfSums(
            failures=MetricRef(LAMBDA_NAMESPACE, "Errors", Dimensions.FUNCTION),
            # The denominator counts client requests only. RequestCount of a
            # target group is "The number of requests processed over IPv4 and
            # IPv6. This metric is only incremented for requests where the load
            # balancer node was able to choose a target" (ELB guide, "CloudWatch
            # metrics for your Application Load Balancer"); health checks are
            # sent by the load balancer itself, not processed for a client, so
            # they are not in it, while they are in Lambda Invocations. Not the
            # function's own Requests metric: a function that crashes, times out
            # or fails to start writes no EMF at all, so Errors / Requests would
            # have no denominator exactly when Errors is high. The ALB counts the
            # request whatever the function does. Errors still counts a failed
            # health check; that only makes the alarm fire sooner on a function
            # that fails its health check, which is a failure too.
            total=MetricRef(ALB_NAMESPACE, "RequestCount", Dimensions.TARGET_GROUP),
            period=STANDARD_PERIOD,
            label="Lambda error rate (% of ALB requests)",
        ),
        comparison="GreaterThanThreshold",
        threshold=lambda route: route.canary.alarms.error_rate_percent,
        window=_always(STANDARD_WINDOW),
        treat_missing_data=NO_TRAFFIC_IS_FINE,
        description=lambda route: (
            f"{route.name}: Lambda Errors above "
            f"{route.canary.alarms.error_rate_percent:g} % of the target group's requests"
        ),
    ),
    AlarmSpec(
        kind="throttles",
        source=SingleMetric(
            namespace=LAMBDA_NAMESPACE,
            metric_name="Throttles",
            dimensions=Dimensions.FUNCTION,
            statistic="Sum",
        ),
        comparison="GreaterThanOrEqualToThreshold",
        threshold=lambda route: route.canary.alarms.throttles,
        # One minute with throttles is enough: each one is a failed request,
        # and the cap exists to protect the upstream.
        window=_always(SINGLE_PERIOD_WINDOW),
        treat_missing_data=NO_TRAFFIC_IS_FINE,
        description=lambda route: (
            f"{route.name}: reserved concurrency exhausted; throttled "
            "requests get a 502 from the ALB"
        ),
    ),
    AlarmSpec(
        kind="app-errors",
        source=RateOfSums(
            failures=MetricRef(METRIC_NAMESPACE, METRIC_APP_ERRORS, Dimensions.ROUTE),
            # A route function emits Requests for every request it serves and
            # none for the target group's health check (the route-function
            # contract, docs/architecture.md "A new route function";
            # functions/map_proxy/app.py answers the health check without a
            # metric), so health checks do not dilute this rate. It stays on the
            # function's own metric because the ALB's RequestCount is a
            # one-minute metric and this alarm evaluates 10-second periods.
            total=MetricRef(METRIC_NAMESPACE, METRIC_REQUESTS, Dimensions.ROUTE),
            period=HIGH_RESOLUTION_PERIOD,
            label="Application error rate (%)",
        ),
        comparison="GreaterThanThreshold",
        threshold=lambda route: route.canary.alarms.app_error_rate_percent,
        window=_always(HIGH_RESOLUTION_WINDOW),
        treat_missing_data=NO_TRAFFIC_IS_FINE,
        description=lambda route: (
            f"{route.name}: application errors above "
            f"{route.canary.alarms.app_error_rate_percent:g} % of requests (10-second periods)"
        ),
    ),
    AlarmSpec(
        kind="target-5xx",
        source=SingleMetric(
            namespace=ALB_NAMESPACE,
            metric_name="HTTPCode_Target_5XX_Count",
            dimensions=Dimensions.TARGET_GROUP,
            statistic="Sum",
        ),
        comparison="GreaterThanOrEqualToThreshold",
        threshold=lambda route: route.canary.alarms.target_5xx_count,
        window=_always(STANDARD_WINDOW),
        treat_missing_data=NO_TRAFFIC_IS_FINE,
        description=lambda route: f"{route.name}: the Lambda target answered 5xx",
    ),
    AlarmSpec(
        kind="lambda-user-errors",
        source=SingleMetric(
            namespace=ALB_NAMESPACE,
            metric_name="LambdaUserError",
            dimensions=Dimensions.TARGET_GROUP,
            statistic="Sum",
        ),
        comparison="GreaterThanOrEqualToThreshold",
        threshold=lambda route: route.canary.alarms.lambda_user_errors,
        window=_always(SINGLE_PERIOD_WINDOW),
        treat_missing_data=NO_TRAFFIC_IS_FINE,
        description=lambda route: (
            f"{route.name}: the ALB could not use the function's "
            "response (LambdaUserError: bad response, permission, over 1 MB)"
        ),
    ),
    AlarmSpec(
        kind="healthy-hosts",
        source=SingleMetric(
            namespace=ALB_NAMESPACE,
            metric_name="HealthyHostCount",
            dimensions=Dimensions.TARGET_GROUP,
            statistic="Minimum",
        ),
        comparison="LessThanThreshold",
        threshold=lambda _route: 1,
        window=_healthy_host_window,
        treat_missing_data=MISSING_HEALTH_IS_UNKNOWN,
        description=lambda route: (
            f"{route.name}: the ALB health check of the function "
            f"({route.health_check.path}) is failing"
        ),
    ),
    AlarmSpec(
        kind="p99-latency",
        source=SingleMetric(
            namespace=ALB_NAMESPACE,
            metric_name="TargetResponseTime",
            dimensions=Dimensions.TARGET_GROUP,
            extended_statistic="p99",
        ),
        comparison="GreaterThanThreshold",
        # TargetResponseTime is in seconds.
        threshold=lambda route: route.canary.alarms.p99_latency_ms / 1000,
        window=_always(STANDARD_WINDOW),
        treat_missing_data=NO_TRAFFIC_IS_FINE,
        description=lambda route: (
            f"{route.name}: p99 target response time above {route.canary.alarms.p99_latency_ms} ms"
        ),
    ),
)
