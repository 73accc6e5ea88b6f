"""EventBridge: the alarm-state rule and its target (the controller, with a DLQ).

moto routes ``PutEvents`` by pattern to SQS targets, but it never emits the
"CloudWatch Alarm State Change" events itself (alarms are never evaluated);
the rehearsal delivers them through the declared rule's own pattern.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rehearsal.errors import BridgeError
from rehearsal.world.bridge.base import (
    BridgeContext,
    Created,
    Translation,
    as_json_text,
    auto_name,
    call,
    physical_name,
    required,
    with_outputs,
)

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
    rule_name = physical_name(inputs, name, RULE_NAME_MAX)
    pattern = inputs.get("eventPattern")
    if pattern is not None:
        pattern = as_json_text(pattern)
        try:
            json.loads(pattern)
        except ValueError as error:
            raise BridgeError(
                f"eventPattern is not valid JSON: {error}",
                token=EVENT_RULE,
                name=name,
                api_call="events:PutRule",
            ) from error
    bus = str(inputs.get("eventBusName") or DEFAULT_BUS)
    response = call(
        EVENT_RULE,
        name,
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
    return Created(
        id=rule_id,
        outputs=with_outputs(inputs, arn=response["RuleArn"], name=rule_name, eventBusName=bus),
    )


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
    dead_letter = inputs.get("deadLetterConfig")
    if dead_letter and dead_letter.get("arn"):
        target["DeadLetterConfig"] = {"Arn": dead_letter["arn"]}
    retry = inputs.get("retryPolicy")
    if retry:
        policy: dict[str, int] = {}
        if retry.get("maximumRetryAttempts") is not None:
            policy["MaximumRetryAttempts"] = int(retry["maximumRetryAttempts"])
        if retry.get("maximumEventAgeInSeconds") is not None:
            policy["MaximumEventAgeInSeconds"] = int(retry["maximumEventAgeInSeconds"])
        target["RetryPolicy"] = policy
    sqs_target = inputs.get("sqsTarget")
    if sqs_target and sqs_target.get("messageGroupId"):
        target["SqsParameters"] = {"MessageGroupId": sqs_target["messageGroupId"]}
    return target


def create_event_target(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutTargets`` with one target; a failed entry is an error, as in pulumi-aws."""
    rule_name = str(required(EVENT_TARGET, name, inputs, "rule"))
    required(EVENT_TARGET, name, inputs, "arn")
    target_id = str(inputs.get("targetId") or auto_name(name, TARGET_ID_MAX))
    bus = str(inputs.get("eventBusName") or DEFAULT_BUS)
    response = call(
        EVENT_TARGET,
        name,
        "events:PutTargets",
        ctx.client("events").put_targets,
        Rule=rule_name,
        EventBusName=None if bus == DEFAULT_BUS else bus,
        Targets=[_target(inputs, target_id)],
    )
    if response.get("FailedEntryCount"):
        raise BridgeError(
            f"PutTargets refused the target: {response.get('FailedEntries')}",
            token=EVENT_TARGET,
            name=name,
            api_call="events:PutTargets",
        )
    return Created(
        id=f"{rule_name}-{target_id}",
        outputs=with_outputs(inputs, targetId=target_id, eventBusName=bus),
    )


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
    ),
)
