"""EventBridge Scheduler: the per-route promotion schedules.

moto stores schedules but never fires them; the rehearsal starts runs itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Created, PlanContext, Translation
from rehearsal.world.bridge.events import retry_and_dead_letter

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


def _target(resource: base.Registration, target: Mapping[str, Any]) -> dict[str, Any]:
    present = [key for key in _UNTRANSLATED_TARGET_KEYS if target.get(key)]
    if present:
        raise resource.error(f"target.{', target.'.join(present)} not translated by the bridge")
    translated: dict[str, Any] = {"Arn": target["arn"], "RoleArn": target["roleArn"]}
    if target.get("input"):
        translated["Input"] = target["input"]
    translated.update(retry_and_dead_letter(target))
    return translated


def create_schedule(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateSchedule``; the id is ``group/name``, like pulumi-aws's."""
    resource = base.Registration(SCHEDULE, name, inputs)
    schedule_name = resource.physical_name(SCHEDULE_NAME_MAX)
    group = str(inputs.get("groupName") or DEFAULT_GROUP)
    window = resource.required("flexibleTimeWindow")
    flexible: dict[str, Any] = {"Mode": window["mode"]}
    if window.get("maximumWindowInMinutes"):
        flexible["MaximumWindowInMinutes"] = int(window["maximumWindowInMinutes"])
    response = resource.call(
        "scheduler:CreateSchedule",
        ctx.client("scheduler").create_schedule,
        Name=schedule_name,
        GroupName=None if group == DEFAULT_GROUP else group,
        ScheduleExpression=resource.required("scheduleExpression"),
        ScheduleExpressionTimezone=inputs.get("scheduleExpressionTimezone"),
        FlexibleTimeWindow=flexible,
        Target=_target(resource, resource.required("target")),
        State=inputs.get("state"),
        Description=inputs.get("description"),
        StartDate=inputs.get("startDate"),
        EndDate=inputs.get("endDate"),
        KmsKeyArn=inputs.get("kmsKeyArn"),
        ActionAfterCompletion=inputs.get("actionAfterCompletion"),
    )
    return resource.created(
        f"{group}/{schedule_name}", arn=response["ScheduleArn"], name=schedule_name, groupName=group
    )


def fabricate_schedule(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's schedule: the ``group/name`` id of ``create_schedule``, and its ARN."""
    schedule_name = base.physical_name(inputs, name, SCHEDULE_NAME_MAX)
    group = str(inputs.get("groupName") or DEFAULT_GROUP)
    arn = ctx.arn("scheduler", f"schedule/{group}/{schedule_name}")
    return base.created(f"{group}/{schedule_name}", inputs, name=schedule_name, arn=arn)


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
        fabricate=fabricate_schedule,
        key_inputs=(
            "name",
            "scheduleExpression",
            "scheduleExpressionTimezone",
            "state",
            "target.arn",
        ),
    ),
)
