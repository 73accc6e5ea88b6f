"""Scheduled canary runs: one EventBridge Scheduler schedule per scheduled route.

Each schedule starts the canary state machine with the route's plan; the
schedules share one role that may start that state machine and dead-letter a
failed start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.controller_iam import render_policy, scheduler_policy
from components.json_text import json_text
from components.moved import FormerParent, MovedComponent
from components.outputs import register_attributes
from components.service_role import service_role
from controller.core.contract import PlanRecord

TYPE_TOKEN = "strangler:canary_schedules:CanarySchedules"

# Scheduler -> state machine (scheduled runs): a start more than an hour late is
# dropped to the DLQ; the next scheduled run resumes from the stored stage.
SCHEDULE_MAX_EVENT_AGE_SECONDS = 3600
SCHEDULE_MAX_RETRY_ATTEMPTS = 5


#: The trigger of a scheduled canary run, and of a scheduled release run (whose
#: Begin releases the registry's newest version, if ``live`` does not serve it yet).
CANARY_TRIGGER = "schedule"
RELEASE_TRIGGER = "release-schedule"


def schedule_input(route: str, plan: PlanRecord, trigger: str = CANARY_TRIGGER) -> dict[str, Any]:
    """The execution input of a scheduled run (``controller/core/state_machine.py``)."""
    return {"route": route, "trigger": trigger, "actor": "schedule", "plan": plan.to_input()}


@dataclass(frozen=True)
class ScheduledRoute:
    """A route with ``canary.schedule``: when its runs start, and with which plan."""

    name: str
    schedule: str
    timezone: str | None
    plan: PlanRecord
    trigger: str = CANARY_TRIGGER

    @property
    def key(self) -> str:
        """The route name; ``<route>-release`` for a release schedule."""
        return self.name if self.trigger == CANARY_TRIGGER else f"{self.name}-release"


@dataclass
class CanarySchedulesArgs:
    """Inputs of :class:`CanarySchedules`; ``routes`` must not be empty."""

    stack: str
    routes: Sequence[ScheduledRoute]
    state_machine_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]
    account: pulumi.Input[str]
    former_parent: FormerParent | None = None


class CanarySchedules(MovedComponent):
    """The schedules' role and one schedule per route; ``arns`` maps route -> schedule ARN."""

    arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: CanarySchedulesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if not args.routes:
            raise ValueError("CanarySchedules needs at least one scheduled route")
        super().__init__(TYPE_TOKEN, name, args.former_parent, opts)
        stack = args.stack

        role, policy = service_role(
            self,
            name,
            service="scheduler.amazonaws.com",
            source_account=args.account,
            description=f"Strangler scheduled canary runs of stack {stack}",
            policy=pulumi.Output.all(args.state_machine_arn, args.dlq_arn).apply(
                lambda v: render_policy(scheduler_policy(v[0], v[1]), role="scheduler")
            ),
            former_prefix="scheduler",
        )
        self.arns = {}
        for route in args.routes:
            release = route.trigger == RELEASE_TRIGGER
            schedule = aws.scheduler.Schedule(
                f"{name}-{route.key}",
                name=(
                    naming.release_schedule_name(stack, route.name)
                    if release
                    else naming.schedule_name(stack, route.name)
                ),
                group_name="default",
                description=(
                    f"Scheduled release run of route {route.name}"
                    if release
                    else f"Scheduled canary run of route {route.name}"
                ),
                schedule_expression=route.schedule,
                schedule_expression_timezone=route.timezone or "UTC",
                # Runs start on the minute the operators planned for.
                flexible_time_window={"mode": "OFF"},
                target={
                    "arn": args.state_machine_arn,
                    "role_arn": role.arn,
                    "input": json_text(schedule_input(route.name, route.plan, route.trigger)),
                    "retry_policy": {
                        "maximum_event_age_in_seconds": SCHEDULE_MAX_EVENT_AGE_SECONDS,
                        "maximum_retry_attempts": SCHEDULE_MAX_RETRY_ATTEMPTS,
                    },
                    "dead_letter_config": {"arn": args.dlq_arn},
                },
                opts=self.child(
                    f"{route.key}-schedule",
                    depends_on=[policy],
                    delete_before_replace=True,
                ),
            )
            self.arns[route.key] = schedule.arn
        register_attributes(self, "arns")
