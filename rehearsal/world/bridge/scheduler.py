"""EventBridge Scheduler: the per-route promotion schedules.

moto stores schedules but never fires them; the rehearsal starts runs itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.errors import BridgeError
from rehearsal.world.bridge.base import (
    BridgeContext,
    Created,
    Translation,
    call,
    physical_name,
    required,
    with_outputs,
)

SCHEDULE = "aws:scheduler/schedule:Schedule"

# Schedule names: at most 64 characters (Scheduler quotas).
SCHEDULE_NAME_MAX = 64
DEFAULT_GROUP = "default"
# Target parameters for other target kinds; the program's targets are
# universal (Step Functions StartExecution) and need none of them.
_UNTRANSLATED_TARGET_KEYS = (
    "ecsParameters",
    "eventbridgeParameters",
    "kinesisParameters",
    "sagemakerPipelineParameters",
    "sqsParameters",
)


def _target(name: str, target: Mapping[str, Any]) -> dict[str, Any]:
    present = [key for key in _UNTRANSLATED_TARGET_KEYS if target.get(key)]
    if present:
        raise BridgeError(
            f"target.{', target.'.join(present)} not translated by the bridge",
            token=SCHEDULE,
            name=name,
        )
    translated: dict[str, Any] = {"Arn": target["arn"], "RoleArn": target["roleArn"]}
    if target.get("input"):
        translated["Input"] = target["input"]
    retry = target.get("retryPolicy")
    if retry:
        translated["RetryPolicy"] = {
            key: int(retry[source])
            for source, key in (
                ("maximumEventAgeInSeconds", "MaximumEventAgeInSeconds"),
                ("maximumRetryAttempts", "MaximumRetryAttempts"),
            )
            if retry.get(source) is not None
        }
    dead_letter = target.get("deadLetterConfig")
    if dead_letter and dead_letter.get("arn"):
        translated["DeadLetterConfig"] = {"Arn": dead_letter["arn"]}
    return translated


def create_schedule(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateSchedule``; the id is ``group/name``, like pulumi-aws's."""
    schedule_name = physical_name(inputs, name, SCHEDULE_NAME_MAX)
    group = str(inputs.get("groupName") or DEFAULT_GROUP)
    window = required(SCHEDULE, name, inputs, "flexibleTimeWindow")
    flexible: dict[str, Any] = {"Mode": window["mode"]}
    if window.get("maximumWindowInMinutes"):
        flexible["MaximumWindowInMinutes"] = int(window["maximumWindowInMinutes"])
    response = call(
        SCHEDULE,
        name,
        "scheduler:CreateSchedule",
        ctx.client("scheduler").create_schedule,
        Name=schedule_name,
        GroupName=None if group == DEFAULT_GROUP else group,
        ScheduleExpression=required(SCHEDULE, name, inputs, "scheduleExpression"),
        ScheduleExpressionTimezone=inputs.get("scheduleExpressionTimezone"),
        FlexibleTimeWindow=flexible,
        Target=_target(name, required(SCHEDULE, name, inputs, "target")),
        State=inputs.get("state"),
        Description=inputs.get("description"),
        StartDate=inputs.get("startDate"),
        EndDate=inputs.get("endDate"),
        KmsKeyArn=inputs.get("kmsKeyArn"),
        ActionAfterCompletion=inputs.get("actionAfterCompletion"),
    )
    return Created(
        id=f"{group}/{schedule_name}",
        outputs=with_outputs(
            inputs, arn=response["ScheduleArn"], name=schedule_name, groupName=group
        ),
    )


TRANSLATIONS = (
    Translation(
        token=SCHEDULE,
        create=create_schedule,
        handled=frozenset(
            {
                "name",
                "namePrefix",
                "groupName",
                "scheduleExpression",
                "scheduleExpressionTimezone",
                "flexibleTimeWindow",
                "target",
                "state",
                "description",
                "startDate",
                "endDate",
                "kmsKeyArn",
                "actionAfterCompletion",
            }
        ),
    ),
)
