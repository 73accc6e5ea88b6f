"""Strangler: carve high-traffic routes off a monolith on ECS onto Lambda.

config -> alert topic -> one StranglerRoute per route -> stack outputs.
Only this file reads the Pulumi config; the components get typed arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from components.alerts import AlertTopic, AlertTopicArgs
from components.config import (
    NAMESPACE,
    TOP_LEVEL_KEYS,
    ConfigError,
    StackConfig,
    parse_stack_config,
)
from components.controller import CanaryController, CanaryControllerArgs
from components.route import StranglerRoute, StranglerRouteArgs

#: ``function.source`` folders are relative to this project folder.
PROJECT_ROOT = Path(__file__).resolve().parent
#: Keys whose values are YAML structures (Pulumi hands them over as JSON).
STRUCTURED_KEYS = frozenset({"vpc", "alertEmails", "routes"})


def _all_keys() -> set[str] | None:
    """Every full key (``ns:key``) of the stack config, so that typos are reported.

    Pulumi offers no public way to list the config; the runtime's config map
    and the PULUMI_CONFIG environment hold it. None on an SDK without them.
    """
    try:
        from pulumi.runtime import config as runtime_config

        return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env() or {})
    except Exception:  # an SDK without these internals: check the known keys only
        return None


def _present_keys(keys: set[str] | None) -> set[str]:
    """Keys set in the ``strangler`` namespace (the known keys when unknown)."""
    if keys is None:
        return set(TOP_LEVEL_KEYS)
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix) :] for key in keys if key.startswith(prefix)}


def load_config(stack: str) -> StackConfig:
    """Read the ``strangler`` namespace and validate it, and the stack's name, as a whole."""
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    all_keys = _all_keys()
    for key in sorted(_present_keys(all_keys) | set(TOP_LEVEL_KEYS)):
        value: Any
        if key in STRUCTURED_KEYS:
            try:
                value = config.get_object(key)
            except pulumi.ConfigTypeError:
                value = config.get(key)  # not JSON: let validation name the key
        else:
            value = config.get(key)
        if value is not None:
            raw[key] = value
    try:
        return parse_stack_config(
            raw,
            region=pulumi.Config("aws").get("region"),
            project_root=PROJECT_ROOT,
            stack=stack,
            other_keys=[k for k in all_keys or () if not k.startswith(f"{NAMESPACE}:")],
        )
    except ConfigError as err:
        # RunError: Pulumi prints the message (every problem) without a traceback.
        raise pulumi.RunError(str(err)) from err


def export_outputs(routes: list[StranglerRoute], alerts: AlertTopic) -> None:
    """Stack outputs: per route, what an operator needs to find its resources."""
    pulumi.export("topicArn", alerts.topic_arn)
    pulumi.export(
        "routes",
        {
            route.name: {
                "ruleArn": route.rule_arn,
                "lambdaTargetGroupArn": route.lambda_target_group_arn,
                "ecsTargetGroupArn": route.ecs_target_group_arn,
                "functionName": route.function_name,
                "compositeAlarmName": route.composite_alarm_name,
                "topicArn": alerts.topic_arn,
            }
            for route in routes
        },
    )


stack_name = pulumi.get_stack()
stack_config = load_config(stack_name)
alerts = AlertTopic(
    "alerts", AlertTopicArgs(stack_name=stack_name, emails=stack_config.alert_emails)
)
routes = [
    StranglerRoute(
        route.name,
        StranglerRouteArgs(
            route=route, stack=stack_config, stack_name=stack_name, topic_arn=alerts.topic_arn
        ),
    )
    for route in stack_config.routes
]
export_outputs(routes, alerts)
controller = CanaryController(
    "controller",
    CanaryControllerArgs.for_stack(stack_name, stack_config, routes, alerts.topic_arn),
)
pulumi.export(
    "controller",
    {
        "stateMachineArn": controller.state_machine_arn,
        "tableName": controller.table_name,
        "dashboardName": controller.dashboard_name,
        "dlqUrl": controller.dlq_url,
        "registryPath": controller.registry_path,
    },
)
