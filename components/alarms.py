"""The route's alarms, and the one composite alarm the controller watches.

Every alarm is a row of :data:`components.alarm_specs.ALARM_SPECS`; this
module turns the rows into resources, with one ``MetricAlarm`` call for all of
them, and ORs them into the composite alarm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.alarm_specs import (
    ALARM_SPECS,
    AlarmSpec,
    Dimensions,
    MetricRef,
    RateOfSums,
    SingleMetric,
)
from components.config import RouteConfig
from components.outputs import register_attributes
from components.route_scope import RouteScope
from controller.core.contract import ROUTE_DIMENSION


def composite_rule(alarm_names: list[str]) -> str:
    """``ALARM("a") OR ALARM("b") ...``: in ALARM as soon as any child is."""
    return " OR ".join(f'ALARM("{name}")' for name in alarm_names)


DimensionValues = Mapping[Dimensions, Mapping[str, pulumi.Input[str]]]


def rate_queries(
    rate: RateOfSums, dimensions: DimensionValues
) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
    """The metric queries of a :class:`~components.alarm_specs.RateOfSums` row."""

    def metric(query_id: str, ref: MetricRef) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
        return aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=query_id,
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=ref.namespace,
                metric_name=ref.metric_name,
                dimensions=dict(dimensions[ref.dimensions]),
                period=rate.period,
                stat="Sum",
            ),
        )

    return [
        metric("failures", rate.failures),
        metric("total", rate.total),
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id="rate", expression=rate.EXPRESSION, label=rate.label, return_data=True
        ),
    ]


def metric_alarm(
    resource_name: str,
    spec: AlarmSpec,
    *,
    route: RouteConfig,
    alarm_name: str,
    dimensions: DimensionValues,
    actions: list[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """The one place a route alarm is declared: every argument comes from ``spec``.

    A single metric sets namespace, metric, statistic and period on the alarm;
    metric math sets them on its queries instead. The other one's arguments
    stay ``None``, which Pulumi leaves out of the inputs. ``dimensions`` holds
    the values of every :class:`~components.alarm_specs.Dimensions` set; each
    metric takes the set it carries.
    """
    single = spec.source if isinstance(spec.source, SingleMetric) else None
    rate = spec.source if isinstance(spec.source, RateOfSums) else None
    window = spec.window(route)
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=alarm_name,
        alarm_description=spec.description(route),
        namespace=single.namespace if single else None,
        metric_name=single.metric_name if single else None,
        dimensions=dict(dimensions[single.dimensions]) if single else None,
        statistic=single.statistic if single else None,
        extended_statistic=single.extended_statistic if single else None,
        period=single.period if single else None,
        metric_queries=rate_queries(rate, dimensions) if rate else None,
        comparison_operator=spec.comparison,
        threshold=spec.threshold(route),
        evaluation_periods=window.evaluation_periods,
        datapoints_to_alarm=window.datapoints_to_alarm,
        treat_missing_data=spec.treat_missing_data,
        alarm_actions=actions,
        opts=opts,
    )


@dataclass
class RouteAlarmsArgs:
    """Inputs of :class:`RouteAlarms`."""

    scope: RouteScope
    function_name: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    topic_arn: pulumi.Input[str]


class RouteAlarms(pulumi.ComponentResource):
    """One alarm per row of the alarm table, ORed by a composite alarm."""

    alarm_names: pulumi.Output[list[str]]
    composite_alarm_name: pulumi.Output[str]
    composite_alarm_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: RouteAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        route, stack_name = args.scope.route, args.scope.stack_name
        super().__init__("strangler:alarms:RouteAlarms", name, None, opts)
        # Fixed names (components/naming.py): the old one goes before the new one.
        named = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        actions: list[pulumi.Input[str]] = [args.topic_arn]
        dimensions: dict[Dimensions, Mapping[str, pulumi.Input[str]]] = {
            Dimensions.FUNCTION: {"FunctionName": args.function_name},
            Dimensions.TARGET_GROUP: {
                "TargetGroup": args.target_group_arn_suffix,
                "LoadBalancer": args.scope.stack.load_balancer_dimension,
            },
            Dimensions.ROUTE: {ROUTE_DIMENSION: route.name},
        }

        alarms = [
            metric_alarm(
                f"{name}-{spec.kind}",
                spec,
                route=route,
                alarm_name=naming.alarm_name(stack_name, route.name, spec.kind),
                dimensions=dimensions,
                actions=actions,
                opts=named,
            )
            for spec in ALARM_SPECS
        ]

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
            opts=named,
        )

        self.alarm_names = pulumi.Output.all(*child_names)
        self.composite_alarm_name = composite.alarm_name
        self.composite_alarm_arn = composite.arn
        register_attributes(self, "alarm_names", "composite_alarm_name", "composite_alarm_arn")
