"""The capacity guard's clock: a scheduled EventBridge rule that invokes the controller.

A route's capacity hold (``capacity.holdHours`` after a promotion or a
rollback) ends by itself: every ``CAPACITY_TICK_RATE`` the rule sends
EventBridge's "Scheduled Event" (source ``aws.events``) to the controller,
which restores the recorded ``MinCapacity`` of every route whose hold is over
and records it (:meth:`controller.service.CanaryService.capacity_tick`). No
operator has to remember it, and a missed tick only delays the restore to
the next one. The rule exists only when a route has ``ecsService``.

Delivery is the failback rule's: retries, then the stack's dead-letter queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.failback import invoke_controller

TYPE_TOKEN = "strangler:capacity_tick:CapacityTickRule"

#: How often the controller looks for holds that are over. A hold is hours
#: long; a quarter of an hour late is of no consequence, and the invocations
#: cost next to nothing.
CAPACITY_TICK_RATE = "rate(15 minutes)"


@dataclass
class CapacityTickRuleArgs:
    """Inputs of :class:`CapacityTickRule`."""

    stack: str
    function_name: pulumi.Input[str]
    function_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]


class CapacityTickRule(pulumi.ComponentResource):
    """The scheduled rule, its target (the controller) and the permission that lets it invoke."""

    rule_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: CapacityTickRuleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        stack = args.stack
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=naming.capacity_tick_rule_name(stack),
            description=f"End the capacity holds of stack {stack} that are over",
            schedule_expression=CAPACITY_TICK_RATE,
            # A fixed name (components/naming.py): the old rule goes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        invoke_controller(
            name,
            rule,
            function_name=args.function_name,
            function_arn=args.function_arn,
            dlq_arn=args.dlq_arn,
            permission_opts=pulumi.ResourceOptions(parent=self),
            target_opts=pulumi.ResourceOptions(parent=self),
        )
        self.rule_arn = rule.arn
        self.register_outputs({"rule_arn": self.rule_arn})
