"""EventBridge: the alarm-state rule and its target (the controller, with a DLQ).

moto routes ``PutEvents`` by pattern to SQS targets, but it never emits the
"CloudWatch Alarm State Change" events itself (alarms are never evaluated);
the rehearsal delivers them through the declared rule's own pattern.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Created, Translation

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"

# Rule names: at most 64 characters (EventBridge quotas).
RULE_NAME_MAX = 64
# Target ids: at most 64 characters (PutTargets API reference).
TARGET_ID_MAX = 64
DEFAULT_BUS = "default"


def _state(inputs: Mapping[str, Any]) -> str | None:
    if inputs.get("state"):
        return str(inputs["state"])
    if inputs.get("isEnabled") is not None:
        return "ENABLED" if inputs["isEnabled"] else "DISABLED"
    return None


def create_event_rule(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutRule``; the pattern must be valid JSON, as AWS requires."""
    resource = base.Registration(EVENT_RULE, name, inputs)
    rule_name = resource.physical_name(RULE_NAME_MAX)
    pattern = inputs.get("eventPattern")
    if pattern is not None:
        pattern = resource.valid_json("eventPattern", pattern, "events:PutRule")
    bus = str(inputs.get("eventBusName") or DEFAULT_BUS)
    response = resource.call(
        "events:PutRule",
        ctx.client("events").put_rule,
        Name=rule_name,
        EventPattern=pattern,
        ScheduleExpression=inputs.get("scheduleExpression"),
        State=_state(inputs),
        Description=inputs.get("description"),
        RoleArn=inputs.get("roleArn"),
        EventBusName=None if bus == DEFAULT_BUS else bus,
    )
    # pulumi-aws ids: the name on the default bus, "bus/name" on another.
    rule_id = rule_name if bus == DEFAULT_BUS else f"{bus}/{rule_name}"
    return resource.created(rule_id, arn=response["RuleArn"], name=rule_name, eventBusName=bus)


def retry_and_dead_letter(target: Mapping[str, Any]) -> dict[str, Any]:
    """A target's ``RetryPolicy`` and ``DeadLetterConfig``, in the shape EventBridge
    (``PutTargets``) and EventBridge Scheduler (``CreateSchedule``) both take."""
    translated: dict[str, Any] = {}
    retry = target.get("retryPolicy")
    if retry:
        translated["RetryPolicy"] = {
            aws: int(retry[key])
            for key, aws in (
                ("maximumRetryAttempts", "MaximumRetryAttempts"),
                ("maximumEventAgeInSeconds", "MaximumEventAgeInSeconds"),
            )
            if retry.get(key) is not None
        }
    dead_letter = target.get("deadLetterConfig")
    if dead_letter and dead_letter.get("arn"):
        translated["DeadLetterConfig"] = {"Arn": dead_letter["arn"]}
    return translated


def _target(inputs: Mapping[str, Any], target_id: str) -> dict[str, Any]:
    target: dict[str, Any] = {"Id": target_id, "Arn": inputs["arn"]}
    for key, aws in (("roleArn", "RoleArn"), ("input", "Input"), ("inputPath", "InputPath")):
        if inputs.get(key):
            target[aws] = inputs[key]
    transformer = inputs.get("inputTransformer")
    if transformer:
        target["InputTransformer"] = {
            "InputTemplate": transformer["inputTemplate"],
            **(
                {"InputPathsMap": dict(transformer["inputPaths"])}
                if transformer.get("inputPaths")
                else {}
            ),
        }
    target.update(retry_and_dead_letter(inputs))
    sqs_target = inputs.get("sqsTarget")
    if sqs_target and sqs_target.get("messageGroupId"):
        target["SqsParameters"] = {"MessageGroupId": sqs_target["messageGroupId"]}
    return target


def create_event_target(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutTargets`` with one target; a failed entry is an error, as in pulumi-aws."""
    resource = base.Registration(EVENT_TARGET, name, inputs)
    rule_name = str(resource.required("rule"))
    resource.required("arn")
    target_id = str(inputs.get("targetId") or base.auto_name(name, TARGET_ID_MAX))
    bus = str(inputs.get("eventBusName") or DEFAULT_BUS)
    response = resource.call(
        "events:PutTargets",
        ctx.client("events").put_targets,
        Rule=rule_name,
        EventBusName=None if bus == DEFAULT_BUS else bus,
        Targets=[_target(inputs, target_id)],
    )
    if response.get("FailedEntryCount"):
        raise resource.error(
            f"PutTargets refused the target: {response.get('FailedEntries')}", "events:PutTargets"
        )
    return resource.created(f"{rule_name}-{target_id}", targetId=target_id, eventBusName=bus)


TRANSLATIONS = (
    Translation(
        token=EVENT_RULE,
        create=create_event_rule,
        handled=frozenset(
            {
                "name",
                "namePrefix",
                "eventPattern",
                "scheduleExpression",
                "state",
                "isEnabled",
                "description",
                "roleArn",
                "eventBusName",
            }
        ),
        ignored={"forceDestroy": "only changes deletion; the twin never deletes"},
        fabricate=base.fabricate_named("events", "rule/{name}", RULE_NAME_MAX),
        key_inputs=("name", "eventPattern"),
    ),
    Translation(
        token=EVENT_TARGET,
        create=create_event_target,
        handled=frozenset(
            {
                "rule",
                "arn",
                "targetId",
                "eventBusName",
                "roleArn",
                "input",
                "inputPath",
                "inputTransformer",
                "deadLetterConfig",
                "retryPolicy",
                "sqsTarget",
            }
        ),
        ignored={"forceDestroy": "only changes deletion; the twin never deletes"},
        fabricate=base.fabricate_arn("cloudwatch"),
        key_inputs=("rule", "targetId", "arn", "deadLetterConfig.arn", "retryPolicy"),
    ),
)
