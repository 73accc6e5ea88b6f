"""The stack's CloudWatch dashboard body, as a pure function of resolved names.

One row of widgets per route: the Lambda weight over time (the controller's
``CanaryWeight`` metric), requests by side (ALB ``RequestCount`` per target
group: ECS vs Lambda), errors, throttles, p99 ``TargetResponseTime`` per side,
and the state of the route's alarms. A first row shows the controller itself:
its errors and throttles, and the failback dead-letter queue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controller.core.contract import (
    METRIC_APP_ERRORS,
    METRIC_CANARY_WEIGHT,
    METRIC_NAMESPACE,
    METRIC_REQUESTS,
    METRIC_ROLLBACKS,
    ROUTE_DIMENSION,
    rollback_dimensions,
)

ALB_NAMESPACE = "AWS/ApplicationELB"
LAMBDA_NAMESPACE = "AWS/Lambda"
SQS_NAMESPACE = "AWS/SQS"
# A dashboard grid is 24 units wide; three widgets of 8 per line.
GRID_WIDTH = 24
WIDGET_WIDTH = 8
WIDGET_HEIGHT = 6
HEADER_HEIGHT = 1
# CloudWatch dashboard body structure: an alarm status widget shows at most 100 alarms.
MAX_ALARMS_PER_WIDGET = 100
PERIOD_SECONDS = 60

_ELB_RESOURCE = re.compile(r"^arn:aws(?:-[a-z]+)*:elasticloadbalancing:[a-z0-9-]+:\d{12}:(.+)$")


class DashboardError(ValueError):
    """An ARN the dashboard needs a dimension from has the wrong shape."""


@dataclass(frozen=True)
class DashboardRoute:
    """What the dashboard needs of one route, resolved."""

    name: str
    listener_arn: str
    ecs_target_group_arn: str
    lambda_target_group_arn: str
    function_name: str
    alarm_arns: tuple[str, ...]


def load_balancer_dimension(listener_arn: str) -> str:
    """``app/<name>/<id>``, the ALB ``LoadBalancer`` dimension, from a listener ARN."""
    match = _ELB_RESOURCE.match(listener_arn)
    parts = match.group(1).split("/") if match else []
    if len(parts) != 5 or parts[0] != "listener" or parts[1] != "app":
        raise DashboardError(f"{listener_arn!r} is not an Application Load Balancer listener ARN")
    return "/".join(parts[1:4])


def target_group_dimension(target_group_arn: str) -> str:
    """``targetgroup/<name>/<id>``, the ALB ``TargetGroup`` dimension, from its ARN."""
    match = _ELB_RESOURCE.match(target_group_arn)
    resource = match.group(1) if match else ""
    if not resource.startswith("targetgroup/") or resource.count("/") != 2:
        raise DashboardError(f"{target_group_arn!r} is not a target group ARN")
    return resource


def _metric_widget(
    title: str,
    metrics: list[list[Any]],
    *,
    region: str,
    x: int,
    y: int,
    stat: str = "Sum",
    y_axis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": title,
        "view": "timeSeries",
        "stacked": False,
        "region": region,
        "stat": stat,
        "period": PERIOD_SECONDS,
        "metrics": metrics,
    }
    if y_axis is not None:
        properties["yAxis"] = y_axis
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": WIDGET_WIDTH,
        "height": WIDGET_HEIGHT,
        "properties": properties,
    }


def _alarm_widget(title: str, alarm_arns: Sequence[str], *, x: int, y: int) -> dict[str, Any]:
    return {
        "type": "alarm",
        "x": x,
        "y": y,
        "width": WIDGET_WIDTH,
        "height": WIDGET_HEIGHT,
        "properties": {"title": title, "alarms": list(alarm_arns)[:MAX_ALARMS_PER_WIDGET]},
    }


def _header(text: str, y: int) -> dict[str, Any]:
    return {
        "type": "text",
        "x": 0,
        "y": y,
        "width": GRID_WIDTH,
        "height": HEADER_HEIGHT,
        "properties": {"markdown": text},
    }


def _route_widgets(route: DashboardRoute, region: str, y: int) -> list[dict[str, Any]]:
    lb = load_balancer_dimension(route.listener_arn)
    ecs_tg = target_group_dimension(route.ecs_target_group_arn)
    lambda_tg = target_group_dimension(route.lambda_target_group_arn)

    def alb(metric: str, tg: str, label: str, **options: Any) -> list[Any]:
        return [
            ALB_NAMESPACE,
            metric,
            "LoadBalancer",
            lb,
            "TargetGroup",
            tg,
            {"label": label, **options},
        ]

    route_dim = [ROUTE_DIMENSION, route.name]
    fn_dim = ["FunctionName", route.function_name]
    row1, row2 = y + HEADER_HEIGHT, y + HEADER_HEIGHT + WIDGET_HEIGHT
    return [
        _header(f"## Route `{route.name}`", y),
        _metric_widget(
            f"{route.name}: Lambda weight (%)",
            [[METRIC_NAMESPACE, METRIC_CANARY_WEIGHT, *route_dim, {"label": "Lambda %"}]],
            region=region,
            x=0,
            y=row1,
            stat="Maximum",
            y_axis={"left": {"min": 0, "max": 100}},
        ),
        _metric_widget(
            f"{route.name}: requests by side",
            [
                alb("RequestCount", ecs_tg, "ECS"),
                alb("RequestCount", lambda_tg, "Lambda"),
                [METRIC_NAMESPACE, METRIC_REQUESTS, *route_dim, {"label": "Lambda (function)"}],
            ],
            region=region,
            x=WIDGET_WIDTH,
            y=row1,
        ),
        _metric_widget(
            f"{route.name}: p99 response time (s)",
            [
                alb("TargetResponseTime", ecs_tg, "ECS p99"),
                alb("TargetResponseTime", lambda_tg, "Lambda p99"),
            ],
            region=region,
            x=2 * WIDGET_WIDTH,
            y=row1,
            stat="p99",
        ),
        _metric_widget(
            f"{route.name}: errors",
            [
                alb("HTTPCode_Target_5XX_Count", ecs_tg, "ECS 5XX"),
                alb("HTTPCode_Target_5XX_Count", lambda_tg, "Lambda 5XX"),
                alb("LambdaUserError", lambda_tg, "Lambda user errors"),
                [LAMBDA_NAMESPACE, "Errors", *fn_dim, {"label": "function errors"}],
                [METRIC_NAMESPACE, METRIC_APP_ERRORS, *route_dim, {"label": "app errors"}],
            ],
            region=region,
            x=0,
            y=row2,
        ),
        _metric_widget(
            f"{route.name}: throttles and rollbacks",
            [
                [LAMBDA_NAMESPACE, "Throttles", *fn_dim, {"label": "throttles"}],
                # Emitted by the controller handler (EMF) with exactly this dimension set.
                [
                    METRIC_NAMESPACE,
                    METRIC_ROLLBACKS,
                    *[part for pair in rollback_dimensions(route.name).items() for part in pair],
                    {"label": "rollbacks"},
                ],
            ],
            region=region,
            x=WIDGET_WIDTH,
            y=row2,
        ),
        _alarm_widget(f"{route.name}: alarms", route.alarm_arns, x=2 * WIDGET_WIDTH, y=row2),
    ]


def build_dashboard(
    *,
    stack: str,
    region: str,
    routes: Sequence[DashboardRoute],
    controller_function_name: str,
    dlq_name: str,
    dlq_alarm_arn: str,
) -> dict[str, Any]:
    """The dashboard body (``DashboardBody`` JSON as a dict) of one stack."""
    widgets: list[dict[str, Any]] = [
        _header(f"# Strangler `{stack}`: controller", 0),
        _metric_widget(
            "controller: invocations, errors, throttles",
            [
                [LAMBDA_NAMESPACE, "Invocations", "FunctionName", controller_function_name],
                [LAMBDA_NAMESPACE, "Errors", "FunctionName", controller_function_name],
                [LAMBDA_NAMESPACE, "Throttles", "FunctionName", controller_function_name],
            ],
            region=region,
            x=0,
            y=HEADER_HEIGHT,
        ),
        _metric_widget(
            "failback dead-letter queue: messages",
            [[SQS_NAMESPACE, "ApproximateNumberOfMessagesVisible", "QueueName", dlq_name]],
            region=region,
            x=WIDGET_WIDTH,
            y=HEADER_HEIGHT,
            stat="Maximum",
        ),
        _alarm_widget("controller alarms", [dlq_alarm_arn], x=2 * WIDGET_WIDTH, y=HEADER_HEIGHT),
    ]
    y = HEADER_HEIGHT + WIDGET_HEIGHT
    for route in routes:
        widgets.extend(_route_widgets(route, region, y))
        y += HEADER_HEIGHT + 2 * WIDGET_HEIGHT
    return {"widgets": widgets}
