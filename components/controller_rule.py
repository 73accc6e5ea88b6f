"""An EventBridge rule of the stack that invokes the controller, as one piece.

The registry-sync and capacity-tick rules are alike but for what they match
(:class:`StackRule`): a fixed-name rule (replaced delete-first), the controller
as its target and the permission that lets it invoke
(:func:`components.failback.invoke_controller`): one component,
:class:`ControllerRule`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.failback import ControllerTarget, invoke_controller
from components.outputs import register_attributes


@dataclass(frozen=True)
class StackRule:
    """What one stack-wide rule is: its component type, name, and what it matches.

    The rule matches ``schedule_expression`` when set, else ``event_pattern``.
    """

    type_token: str
    rule_name: str
    description: str
    schedule_expression: str | None = None
    event_pattern: str | None = None


class ControllerRule(pulumi.ComponentResource):
    """A rule ``<name>-rule``, its target (the controller) and the permission to invoke.

    The component's type is ``rule.type_token``.
    """

    rule_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        rule: StackRule,
        controller: ControllerTarget,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(rule.type_token, name, None, opts)
        matches = (
            {"schedule_expression": rule.schedule_expression}
            if rule.schedule_expression is not None
            else {"event_pattern": rule.event_pattern}
        )
        event_rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=rule.rule_name,
            description=rule.description,
            **matches,
            # A fixed name (components/naming.py): the old rule goes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        # No input or input transformer: the controller gets the event as it was sent.
        invoke_controller(
            name,
            event_rule,
            controller,
            permission_opts=pulumi.ResourceOptions(parent=self),
            target_opts=pulumi.ResourceOptions(parent=self),
        )
        self.rule_arn = event_rule.arn
        register_attributes(self, "rule_arn")
