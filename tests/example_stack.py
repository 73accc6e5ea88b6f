"""The example stack the tests deploy: Pulumi.prod.yaml at the project root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.controller import ControllerRoute
from controller.core.contract import PlanRecord

PROJECT = Path(__file__).resolve().parents[1]
STACK = "prod"
REGION = "ap-northeast-1"
# The example stack's first route.
ROUTE = "map-tile"

# What the program declares for the example stack's state table (its inputs).
STATE_TABLE_INPUTS = {
    "name": "strangler-prod-state",
    "billingMode": "PAY_PER_REQUEST",
    "hashKey": "pk",
    "rangeKey": "sk",
    "attributes": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
    "pointInTimeRecovery": {"enabled": True},
    "deletionProtectionEnabled": False,
}


def placeholder_route(
    listener_arn: str, ecs_target_group_arn: str, plan: PlanRecord, rule_arn: str, **rest: Any
) -> ControllerRoute:
    """The controller's view of a route ``map-tile`` whose own resources are placeholders."""
    return ControllerRoute(
        name="map-tile",
        listener_arn=listener_arn,
        plan=plan,
        rule_arn=rule_arn,
        ecs_target_group_arn=ecs_target_group_arn,
        lambda_target_group_arn="tg",
        function_name="fn",
        composite_alarm_name="composite",
        composite_alarm_arn="composite-arn",
        alarm_names=("a",),
        **rest,
    )
