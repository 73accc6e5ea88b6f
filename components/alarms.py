"""The route's alarms, and the one composite alarm the controller watches.

What is watched (the original design's table, plus the ALB's view):

- errors: 100 * Lambda Errors / Invocations; the function itself failed.
- throttles: Lambda Throttles; the concurrency cap was hit (the ALB answers 502).
- app-errors: 100 * Strangler AppErrors / Requests, 10-second periods; the
  upstream returned an error, or a runtime error.
- target-5xx: ALB HTTPCode_Target_5XX_Count; the function answered 5xx.
- lambda-user-errors: ALB LambdaUserError; the ALB could not use the function.
- healthy-hosts: ALB HealthyHostCount < 1 for longer than a new target takes
  to turn healthy; the health check fails.
- p99-latency: ALB TargetResponseTime p99; the function got slow.

The ALB target-group metrics of a Lambda target group carry the dimensions
``TargetGroup`` (``targetgroup/<name>/<id>``) and ``LoadBalancer``
(``app/<name>/<id>``), both set here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.config import HealthCheckConfig, RouteConfig, StackConfig
from controller.core.contract import (
    METRIC_APP_ERRORS,
    METRIC_NAMESPACE,
    METRIC_REQUESTS,
    ROUTE_DIMENSION,
)

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

# "M out of N": one bad minute out of three is enough to act on; a single
# noisy datapoint is not.
STANDARD_EVALUATION_PERIODS = 3
STANDARD_DATAPOINTS_TO_ALARM = 2
# Application errors: 3 bad 10-second datapoints within one minute.
HIGH_RESOLUTION_EVALUATION_PERIODS = 6
HIGH_RESOLUTION_DATAPOINTS_TO_ALARM = 3

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


def composite_rule(alarm_names: list[str]) -> str:
    """``ALARM("a") OR ALARM("b") ...``: in ALARM as soon as any child is."""
    return " OR ".join(f'ALARM("{name}")' for name in alarm_names)


@dataclass
class RouteAlarmsArgs:
    """Inputs of :class:`RouteAlarms`."""

    route: RouteConfig
    stack: StackConfig
    stack_name: str
    function_name: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    topic_arn: pulumi.Input[str]


class RouteAlarms(pulumi.ComponentResource):
    """One alarm per failure signal of a route, ORed by a composite alarm."""

    alarm_names: pulumi.Output[list[str]]
    composite_alarm_name: pulumi.Output[str]
    composite_alarm_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: RouteAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        route, stack, stack_name = args.route, args.stack, args.stack_name
        thresholds = route.canary.alarms
        super().__init__("strangler:alarms:RouteAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        actions = [args.topic_arn]
        lambda_dims: dict[str, pulumi.Input[str]] = {"FunctionName": args.function_name}
        alb_dims: dict[str, pulumi.Input[str]] = {
            "TargetGroup": args.target_group_arn_suffix,
            "LoadBalancer": stack.load_balancer_dimension,
        }
        route_dims: dict[str, pulumi.Input[str]] = {ROUTE_DIMENSION: route.name}
        healthy_periods = healthy_host_periods(route.health_check)

        def alarm_name(kind: str) -> str:
            return naming.alarm_name(stack_name, route.name, kind)

        def rate_queries(
            namespace: str,
            failures: str,
            total: str,
            dimensions: dict[str, pulumi.Input[str]],
            period: int,
            label: str,
        ) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
            # 100 * failures / total. FILL(failures, 0): a period with requests
            # but no failure datapoint is a 0 % period, not a missing one. A
            # period without requests has no result at all (missing data).
            def metric(
                query_id: str, metric_name: str
            ) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
                return aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=query_id,
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=namespace,
                        metric_name=metric_name,
                        dimensions=dimensions,
                        period=period,
                        stat="Sum",
                    ),
                )

            return [
                metric("failures", failures),
                metric("total", total),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="rate",
                    expression="100 * FILL(failures, 0) / total",
                    label=label,
                    return_data=True,
                ),
            ]

        alarms: list[aws.cloudwatch.MetricAlarm] = []

        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-errors",
                name=alarm_name("errors"),
                alarm_description=f"{route.name}: Lambda Errors above "
                f"{thresholds.error_rate_percent:g} % of Invocations",
                metric_queries=rate_queries(
                    LAMBDA_NAMESPACE,
                    "Errors",
                    "Invocations",
                    lambda_dims,
                    STANDARD_PERIOD,
                    "Lambda error rate (%)",
                ),
                comparison_operator="GreaterThanThreshold",
                threshold=thresholds.error_rate_percent,
                evaluation_periods=STANDARD_EVALUATION_PERIODS,
                datapoints_to_alarm=STANDARD_DATAPOINTS_TO_ALARM,
                treat_missing_data=NO_TRAFFIC_IS_FINE,
                alarm_actions=actions,
                opts=child,
            )
        )
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-throttles",
                name=alarm_name("throttles"),
                alarm_description=f"{route.name}: reserved concurrency exhausted; throttled "
                "requests get a 502 from the ALB",
                namespace=LAMBDA_NAMESPACE,
                metric_name="Throttles",
                dimensions=lambda_dims,
                statistic="Sum",
                period=STANDARD_PERIOD,
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=thresholds.throttles,
                # One minute with throttles is enough: each one is a failed
                # request, and the cap exists to protect the upstream.
                evaluation_periods=1,
                datapoints_to_alarm=1,
                treat_missing_data=NO_TRAFFIC_IS_FINE,
                alarm_actions=actions,
                opts=child,
            )
        )
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-app-errors",
                name=alarm_name("app-errors"),
                alarm_description=f"{route.name}: application errors above "
                f"{thresholds.app_error_rate_percent:g} % of requests (10-second periods)",
                metric_queries=rate_queries(
                    METRIC_NAMESPACE,
                    METRIC_APP_ERRORS,
                    METRIC_REQUESTS,
                    route_dims,
                    HIGH_RESOLUTION_PERIOD,
                    "Application error rate (%)",
                ),
                comparison_operator="GreaterThanThreshold",
                threshold=thresholds.app_error_rate_percent,
                evaluation_periods=HIGH_RESOLUTION_EVALUATION_PERIODS,
                datapoints_to_alarm=HIGH_RESOLUTION_DATAPOINTS_TO_ALARM,
                treat_missing_data=NO_TRAFFIC_IS_FINE,
                alarm_actions=actions,
                opts=child,
            )
        )
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-target-5xx",
                name=alarm_name("target-5xx"),
                alarm_description=f"{route.name}: the Lambda target answered 5xx",
                namespace=ALB_NAMESPACE,
                metric_name="HTTPCode_Target_5XX_Count",
                dimensions=alb_dims,
                statistic="Sum",
                period=STANDARD_PERIOD,
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=thresholds.target_5xx_count,
                evaluation_periods=STANDARD_EVALUATION_PERIODS,
                datapoints_to_alarm=STANDARD_DATAPOINTS_TO_ALARM,
                treat_missing_data=NO_TRAFFIC_IS_FINE,
                alarm_actions=actions,
                opts=child,
            )
        )
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-lambda-user-errors",
                name=alarm_name("lambda-user-errors"),
                alarm_description=f"{route.name}: the ALB could not use the function's "
                "response (LambdaUserError: bad response, permission, over 1 MB)",
                namespace=ALB_NAMESPACE,
                metric_name="LambdaUserError",
                dimensions=alb_dims,
                statistic="Sum",
                period=STANDARD_PERIOD,
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=thresholds.lambda_user_errors,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                treat_missing_data=NO_TRAFFIC_IS_FINE,
                alarm_actions=actions,
                opts=child,
            )
        )
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-healthy-hosts",
                name=alarm_name("healthy-hosts"),
                alarm_description=f"{route.name}: the ALB health check of the function "
                f"({route.health_check.path}) is failing",
                namespace=ALB_NAMESPACE,
                metric_name="HealthyHostCount",
                dimensions=alb_dims,
                statistic="Minimum",
                period=STANDARD_PERIOD,
                comparison_operator="LessThanThreshold",
                threshold=1,
                # Every period of the window must be bad: N out of N.
                evaluation_periods=healthy_periods,
                datapoints_to_alarm=healthy_periods,
                treat_missing_data=MISSING_HEALTH_IS_UNKNOWN,
                alarm_actions=actions,
                opts=child,
            )
        )
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-p99-latency",
                name=alarm_name("p99-latency"),
                alarm_description=f"{route.name}: p99 target response time above "
                f"{thresholds.p99_latency_ms} ms",
                namespace=ALB_NAMESPACE,
                metric_name="TargetResponseTime",
                dimensions=alb_dims,
                extended_statistic="p99",
                period=STANDARD_PERIOD,
                comparison_operator="GreaterThanThreshold",
                # TargetResponseTime is in seconds.
                threshold=thresholds.p99_latency_ms / 1000,
                evaluation_periods=STANDARD_EVALUATION_PERIODS,
                datapoints_to_alarm=STANDARD_DATAPOINTS_TO_ALARM,
                treat_missing_data=NO_TRAFFIC_IS_FINE,
                alarm_actions=actions,
                opts=child,
            )
        )

        child_names = [alarm.name for alarm in alarms]
        # The rule is built from the children's name outputs, so the composite
        # is created after them (CloudWatch refuses a rule naming a missing alarm).
        composite = aws.cloudwatch.CompositeAlarm(
            f"{name}-composite",
            alarm_name=naming.composite_alarm_name(stack_name, route.name),
            alarm_description=f"{route.name}: any alarm of the route; the canary controller "
            "rolls the route back to ECS when this goes to ALARM",
            alarm_rule=pulumi.Output.all(*child_names).apply(composite_rule),
            alarm_actions=actions,
            ok_actions=actions,
            opts=child,
        )

        self.alarm_names = pulumi.Output.all(*child_names)
        self.composite_alarm_name = composite.alarm_name
        self.composite_alarm_arn = composite.arn
        self.register_outputs(
            {
                "alarm_names": self.alarm_names,
                "composite_alarm_name": self.composite_alarm_name,
                "composite_alarm_arn": self.composite_alarm_arn,
            }
        )
