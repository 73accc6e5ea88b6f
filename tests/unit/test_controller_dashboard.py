"""The stack dashboard body: dimensions from ARNs, metrics per route, a sane grid."""

from __future__ import annotations

import pytest

from components.controller_dashboard import (
    GRID_WIDTH,
    MAX_ALARMS_PER_WIDGET,
    DashboardError,
    DashboardRoute,
    build_dashboard,
    load_balancer_dimension,
    target_group_dimension,
)
from controller.core.contract import METRIC_ROLLBACKS, rollback_dimensions

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
LISTENER = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/common-api/"
    "50dc6c495c0c9188/f2f7dc8efc522ab2"
)
ECS_TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/map-ecs/73e2d6bc24d8a067"
LAMBDA_TG = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/sl-prod-map/0123456789abcdef"
)
DLQ_ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:strangler-prod-controller-dlq"


def route(name: str, alarms: int = 2) -> DashboardRoute:
    return DashboardRoute(
        name=name,
        listener_arn=LISTENER,
        ecs_target_group_arn=ECS_TG,
        lambda_target_group_arn=LAMBDA_TG,
        function_name=f"strangler-prod-{name}",
        alarm_arns=tuple(
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}-{i}" for i in range(alarms)
        ),
    )


def build(*routes: DashboardRoute) -> dict:
    return build_dashboard(
        stack="prod",
        region=REGION,
        routes=list(routes),
        controller_function_name="strangler-prod-controller",
        dlq_name="strangler-prod-controller-dlq",
        dlq_alarm_arn=DLQ_ALARM,
    )


def widgets_titled(body: dict, prefix: str) -> list[dict]:
    return [w for w in body["widgets"] if w["properties"].get("title", "").startswith(prefix)]


def test_dimensions_from_arns():
    assert load_balancer_dimension(LISTENER) == "app/common-api/50dc6c495c0c9188"
    assert target_group_dimension(ECS_TG) == "targetgroup/map-ecs/73e2d6bc24d8a067"


@pytest.mark.parametrize(
    "arn",
    [
        ECS_TG,
        LISTENER.replace("/app/", "/net/"),
        LISTENER.replace(":listener/", ":listener-rule/") + "/9683b2d02a6cabee",
        "not an arn",
    ],
)
def test_load_balancer_dimension_needs_an_alb_listener(arn):
    with pytest.raises(DashboardError, match="listener ARN"):
        load_balancer_dimension(arn)


@pytest.mark.parametrize("arn", [LISTENER, f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", "targetgroup/x/y"])
def test_target_group_dimension_needs_a_target_group(arn):
    with pytest.raises(DashboardError, match="target group ARN"):
        target_group_dimension(arn)


def test_each_route_gets_weight_requests_latency_errors_throttles_alarms():
    body = build(route("map-tile"))
    lb, ecs, lam = (
        "app/common-api/50dc6c495c0c9188",
        "targetgroup/map-ecs/73e2d6bc24d8a067",
        "targetgroup/sl-prod-map/0123456789abcdef",
    )
    weight, requests, latency = (
        widgets_titled(body, "map-tile: Lambda weight")[0],
        widgets_titled(body, "map-tile: requests")[0],
        widgets_titled(body, "map-tile: p99")[0],
    )
    assert weight["properties"]["metrics"] == [
        ["Strangler", "CanaryWeight", "route", "map-tile", {"label": "Lambda %"}]
    ]
    assert weight["properties"]["yAxis"] == {"left": {"min": 0, "max": 100}}
    assert requests["properties"]["metrics"][:2] == [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb, "TargetGroup", ecs,
         {"label": "ECS"}],
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb, "TargetGroup", lam,
         {"label": "Lambda"}],
    ]  # fmt: skip
    assert latency["properties"]["stat"] == "p99"
    assert [m[1] for m in latency["properties"]["metrics"]] == ["TargetResponseTime"] * 2
    errors = widgets_titled(body, "map-tile: errors")[0]["properties"]["metrics"]
    assert [m[1] for m in errors] == [
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_Target_5XX_Count",
        "LambdaUserError",
        "Errors",
        "AppErrors",
    ]
    throttles = widgets_titled(body, "map-tile: throttles")[0]["properties"]["metrics"]
    assert throttles == [
        ["AWS/Lambda", "Throttles", "FunctionName", "strangler-prod-map-tile",
         {"label": "throttles"}],
        ["Strangler", "Rollbacks", "route", "map-tile", "service", "strangler-controller",
         {"label": "rollbacks"}],
    ]  # fmt: skip
    alarms = widgets_titled(body, "map-tile: alarms")[0]
    assert alarms["type"] == "alarm"
    assert alarms["properties"]["alarms"] == list(route("map-tile").alarm_arns)


def test_controller_row_watches_the_function_and_the_dlq():
    body = build(route("map-tile"))
    metrics = widgets_titled(body, "controller:")[0]["properties"]["metrics"]
    assert {m[1] for m in metrics} == {"Invocations", "Errors", "Throttles"}
    assert all(m[3] == "strangler-prod-controller" for m in metrics)
    dlq = widgets_titled(body, "failback dead-letter queue")[0]["properties"]["metrics"]
    assert dlq == [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
         "strangler-prod-controller-dlq"]
    ]  # fmt: skip
    assert widgets_titled(body, "controller alarms")[0]["properties"]["alarms"] == [DLQ_ALARM]


def test_widgets_tile_the_grid_without_overlap():
    body = build(route("a"), route("b"), route("c"))
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= GRID_WIDTH, widget
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, f"overlap at {(x, y)}: {widget['properties']}"
                cells.add((x, y))
    assert len(body["widgets"]) == 4 + 3 * 7  # header + 3 controller; header + 6 per route
    assert all(
        w["properties"]["region"] == REGION for w in body["widgets"] if w["type"] == "metric"
    )


def test_alarm_widget_holds_at_most_the_cloudwatch_limit():
    body = build(route("big", alarms=MAX_ALARMS_PER_WIDGET + 5))
    alarms = widgets_titled(body, "big: alarms")[0]["properties"]["alarms"]
    assert len(alarms) == MAX_ALARMS_PER_WIDGET
    assert alarms[0].endswith(":big-0")


def test_rollbacks_are_graphed_with_the_contracts_whole_dimension_set() -> None:
    body = build(route("map-tile"))
    throttles = widgets_titled(body, "map-tile: throttles")[0]["properties"]["metrics"]
    (rollbacks,) = [m for m in throttles if m[1] == METRIC_ROLLBACKS]
    pairs = dict(zip(rollbacks[2:-1:2], rollbacks[3:-1:2], strict=True))
    assert pairs == rollback_dimensions("map-tile")
