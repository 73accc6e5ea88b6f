"""The failback path of one route: its composite alarm in ALARM invokes the controller.

An EventBridge rule matches the route's composite alarm entering ``ALARM`` and
targets the controller function, with retries and the stack's dead-letter
queue; a Lambda permission lets that rule (and only it) invoke the function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.json_text import json_text
from components.moved import FormerParent, MovedComponent
from components.outputs import register_attributes

TYPE_TOKEN = "strangler:failback:FailbackRule"

# EventBridge -> controller (alarm failback). Delivery retries stop after this
# age and the event goes to the DLQ, whose alarm pages: a failback that could
# not be delivered within 5 minutes needs a human (`python -m controller rollback`).
FAILBACK_EVENT_MAX_AGE_SECONDS = 300
FAILBACK_MAX_RETRY_ATTEMPTS = 185  # EventBridge's maximum; the age above bounds it


def failback_event_pattern(composite_alarm_arn: str) -> dict[str, Any]:
    """EventBridge pattern: this composite alarm entered ``ALARM``.

    CloudWatch emits "CloudWatch Alarm State Change" events with the alarm's ARN
    in ``resources`` and the new state in ``detail.state.value``.
    """
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [composite_alarm_arn],
        "detail": {"state": {"value": ["ALARM"]}},
    }


@dataclass(frozen=True)
class ControllerTarget:
    """The controller function as a rule's target, and where undelivered events go."""

    function_name: pulumi.Input[str]
    function_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]


def invoke_controller(
    name: str,
    rule: aws.cloudwatch.EventRule,
    controller: ControllerTarget,
    *,
    permission_opts: pulumi.ResourceOptions,
    target_opts: pulumi.ResourceOptions,
) -> None:
    """Let ``rule`` invoke the controller: the Lambda permission and the target.

    Every rule of the stack that calls the controller delivers the event as
    it came, retries for ``FAILBACK_EVENT_MAX_AGE_SECONDS`` and sends what it
    could not deliver to the stack's dead-letter queue.
    """
    permission = aws.lambda_.Permission(
        f"{name}-permission",
        action="lambda:InvokeFunction",
        function=controller.function_name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=permission_opts,
    )
    aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        target_id="controller",
        arn=controller.function_arn,
        retry_policy={
            "maximum_event_age_in_seconds": FAILBACK_EVENT_MAX_AGE_SECONDS,
            "maximum_retry_attempts": FAILBACK_MAX_RETRY_ATTEMPTS,
        },
        dead_letter_config={"arn": controller.dlq_arn},
        # The target's identity is (rule, "controller"): a replacement put
        # first would overwrite it and then be removed with the old one.
        opts=pulumi.ResourceOptions.merge(
            target_opts,
            pulumi.ResourceOptions(depends_on=[permission], delete_before_replace=True),
        ),
    )


@dataclass
class FailbackRuleArgs:
    """Inputs of :class:`FailbackRule`."""

    stack: str
    route: str
    composite_alarm_arn: pulumi.Input[str]
    controller: ControllerTarget
    former_parent: FormerParent | None = None


class FailbackRule(MovedComponent):
    """The rule, its target (the controller) and the permission that lets it invoke."""

    rule_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: FailbackRuleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, args.former_parent, opts)
        route = args.route

        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=naming.failback_rule_name(args.stack, route),
            description=f"Composite alarm of route {route} in ALARM: fail back to ECS",
            event_pattern=pulumi.Output.from_input(args.composite_alarm_arn).apply(
                lambda arn: json_text(failback_event_pattern(arn))
            ),
            opts=self.child(f"{route}-failback-rule", delete_before_replace=True),
        )
        invoke_controller(
            name,
            rule,
            args.controller,
            permission_opts=self.child(f"{route}-failback-permission"),
            target_opts=self.child(f"{route}-failback-target"),
        )

        self.rule_arn = rule.arn
        register_attributes(self, "rule_arn")
