"""An EventBridge rule of the stack that invokes the controller, as one piece.

The registry-sync and capacity-tick rules are alike but for what they match:
a fixed-name rule (replaced delete-first), the controller as its target and
the permission that lets it invoke (:func:`components.failback.invoke_controller`):
one base component, :class:`ControllerRule`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.failback import invoke_controller


@dataclass
class ControllerRuleArgs:
    """Inputs of a stack-wide rule that invokes the controller."""

    stack: str
    function_name: pulumi.Input[str]
    function_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]


class ControllerRule(pulumi.ComponentResource):
    """A component of type ``type_token``: a rule, its target (the controller) and the permission.

    The rule ``<name>-rule`` matches a schedule or an event pattern.
    """

    rule_arn: pulumi.Output[str]

    def __init__(
        self,
        type_token: str,
        name: str,
        args: ControllerRuleArgs,
        *,
        rule_name: str,
        description: str,
        schedule_expression: str | None = None,
        event_pattern: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(type_token, name, None, opts)
        matches = (
            {"schedule_expression": schedule_expression}
            if schedule_expression is not None
            else {"event_pattern": event_pattern}
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=rule_name,
            description=description,
            **matches,
            # A fixed name (components/naming.py): the old rule goes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        # No input or input transformer: the controller gets the event as it was sent.
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
