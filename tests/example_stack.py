"""The example stack the tests deploy: Pulumi.prod.yaml at the project root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.controller import ControllerRoute
from controller.core.contract import PlanRecord

PROJECT = Path(__file__).resolve().parents[1]
STACK = "prod"
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
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


def write_own_logs(log_group_arn: str) -> dict[str, Any]:
    """The IAM statement that lets a function write its own log streams, and no others."""
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{log_group_arn}:log-stream:*",
    }


# The controller's statement for the example stack's route functions: it moves
# each one's alias ``live`` and nothing else.
RELEASE_FUNCTION_VERSIONS = {
    "Sid": "ReleaseFunctionVersions",
    "Effect": "Allow",
    "Action": ["lambda:GetAlias", "lambda:UpdateAlias"],
    "Resource": [
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:strangler-prod-map-style:live",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:strangler-prod-map-tile:live",
    ],
}
