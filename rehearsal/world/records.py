"""What the twin records about each declared resource, and its key inputs.

Pure data: no boto3, no Pulumi runtime. Used by ``plan`` (what would be
created) and by ``apply`` (what was created, with moto's real outputs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

# Which inputs identify a resource to a reviewer, per type: dotted paths into
# the camelCase inputs. Derived values (weights, policy actions, the alarm's
# expression) come from KEY_INPUT_DERIVATIONS below.
KEY_INPUT_PATHS: dict[str, tuple[str, ...]] = {
    "aws:iam/role:Role": ("name", "description"),
    "aws:iam/rolePolicy:RolePolicy": ("role",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "policyArn"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:lambda/function:Function": (
        "name",
        "runtime",
        "handler",
        "code",
        "memorySize",
        "timeout",
        "reservedConcurrentExecutions",
        "tracingConfig.mode",
        "layers",
        "vpcConfig",
        "environment.variables",
    ),
    "aws:lambda/permission:Permission": ("function", "action", "principal", "sourceArn"),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (
        "functionName",
        "maximumRetryAttempts",
        "maximumEventAgeInSeconds",
        "destinationConfig.onFailure.destination",
    ),
    "aws:lb/targetGroup:TargetGroup": (
        "name",
        "targetType",
        "healthCheck.enabled",
        "healthCheck.path",
        "lambdaMultiValueHeadersEnabled",
    ),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": ("targetGroupArn", "targetId"),
    "aws:lb/listenerRule:ListenerRule": ("listenerArn", "priority", "conditions"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "name",
        "namespace",
        "metricName",
        "dimensions",
        "statistic",
        "extendedStatistic",
        "period",
        "comparisonOperator",
        "threshold",
        "evaluationPeriods",
        "datapointsToAlarm",
        "treatMissingData",
    ),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ("alarmName", "alarmRule"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
    "aws:sns/topic:Topic": ("name",),
    "aws:sns/topicSubscription:TopicSubscription": ("protocol", "endpoint"),
    "aws:dynamodb/table:Table": (
        "name",
        "hashKey",
        "rangeKey",
        "billingMode",
        "pointInTimeRecovery.enabled",
    ),
    "aws:sfn/stateMachine:StateMachine": (
        "name",
        "type",
        "roleArn",
        "loggingConfiguration.level",
        "tracingConfiguration.enabled",
    ),
    "aws:cloudwatch/eventRule:EventRule": ("name", "eventPattern"),
    "aws:cloudwatch/eventTarget:EventTarget": (
        "rule",
        "targetId",
        "arn",
        "deadLetterConfig.arn",
        "retryPolicy",
    ),
    "aws:sqs/queue:Queue": ("name", "messageRetentionSeconds"),
    "aws:sqs/queuePolicy:QueuePolicy": ("queueUrl",),
    "aws:scheduler/schedule:Schedule": (
        "name",
        "scheduleExpression",
        "scheduleExpressionTimezone",
        "state",
        "target.arn",
    ),
    "aws:ssm/parameter:Parameter": ("name", "type", "tier"),
}


def _forward_weights(inputs: Mapping[str, Any]) -> Any:
    return [
        {"targetGroupArn": group.get("arn"), "weight": group.get("weight")}
        for action in inputs.get("actions") or []
        for group in (action.get("forward") or {}).get("targetGroups") or []
    ]


def _policy_actions(inputs: Mapping[str, Any]) -> Any:
    policy = inputs.get("policy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    if not isinstance(policy, Mapping):
        return None
    statements = policy.get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    actions: list[str] = []
    for statement in statements:
        listed = statement.get("Action") or []
        actions.extend([listed] if isinstance(listed, str) else listed)
    return sorted(set(actions))


def _alarm_expression(inputs: Mapping[str, Any]) -> Any:
    for query in inputs.get("metricQueries") or []:
        if query.get("returnData") and query.get("expression"):
            return query["expression"]
    return None


def _alarm_metrics(inputs: Mapping[str, Any]) -> Any:
    metrics = [
        f"{q['metric'].get('namespace')}/{q['metric'].get('metricName')}"
        for q in inputs.get("metricQueries") or []
        if q.get("metric")
    ]
    return metrics or None


KEY_INPUT_DERIVATIONS: dict[str, dict[str, Callable[[Mapping[str, Any]], Any]]] = {
    "aws:lb/listenerRule:ListenerRule": {"weights": _forward_weights},
    "aws:iam/rolePolicy:RolePolicy": {"actions": _policy_actions},
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        "expression": _alarm_expression,
        "metrics": _alarm_metrics,
    },
}


def plain(value: Any) -> Any:
    """A JSON-friendly copy of an input value (archives and assets become their path)."""
    if isinstance(value, pulumi.FileArchive):
        return f"FileArchive({value.path})"
    if isinstance(value, pulumi.AssetArchive):
        return {"AssetArchive": {key: plain(item) for key, item in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset):
        return f"FileAsset({value.path})"
    if isinstance(value, pulumi.StringAsset):
        return "StringAsset(...)"
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        # Pulumi's wire format carries every number as a float.
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _lookup(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def key_inputs(token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs a reviewer needs to recognise a resource of type ``token``.

    Types without an entry show all their inputs: a new type is then visible
    in the plan in full rather than reduced to nothing.
    """
    paths = KEY_INPUT_PATHS.get(token)
    if paths is None:
        return {key: plain(value) for key, value in sorted(inputs.items())}
    selected = {path: plain(_lookup(inputs, path)) for path in paths}
    for key, derive in KEY_INPUT_DERIVATIONS.get(token, {}).items():
        selected[key] = plain(derive(inputs))
    return {key: value for key, value in selected.items() if value not in (None, [], {})}


@dataclass
class ResourceRecord:
    """One declared resource, in the order the engine registered it.

    ``parent`` and ``parent_type`` name the parent component (``None`` for
    the stack's direct children); ``dependencies`` are the URNs the SDK
    reported as this resource's dependencies (explicit ``depends_on`` and
    inputs from other resources), each of which was complete before this
    resource was registered. ``outputs`` is the state the answerer (the
    moto bridge, or plan's fabricated values) returned.
    """

    order: int
    type: str
    name: str
    urn: str
    custom: bool
    parent: str | None
    parent_type: str | None
    inputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    registered_outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_component(self) -> bool:
        """A ComponentResource (recorded, never created in the emulator)."""
        return not self.custom

    @property
    def key_inputs(self) -> dict[str, Any]:
        """See :func:`key_inputs`."""
        return key_inputs(self.type, self.inputs)

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly view used by ``plan --json``."""
        return {
            "order": self.order,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "parentType": self.parent_type,
            "component": self.is_component,
            "keyInputs": self.key_inputs,
            "ignoreChanges": list(self.ignore_changes),
        }
