"""The canary state machine: its log group, role and the Step Functions machine.

The definition (``controller.core.state_machine``) calls the controller
function for every task; executions are logged to CloudWatch Logs and traced
with X-Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.controller_iam import render_policy, state_machine_policy
from components.json_text import json_text
from components.moved import FormerParent, MovedComponent
from components.outputs import register_attributes
from components.service_role import service_role

TYPE_TOKEN = "strangler:canary_state_machine:CanaryStateMachine"


@dataclass
class CanaryStateMachineArgs:
    """Inputs of :class:`CanaryStateMachine`.

    ``definition`` builds the ASL from the controller function's ARN;
    ``account`` scopes the role's trust to the stack's own account.
    """

    stack: str
    controller_function_arn: pulumi.Input[str]
    account: pulumi.Input[str]
    log_retention_days: int
    definition: Callable[[str], dict[str, Any]]
    former_parent: FormerParent | None = None


class CanaryStateMachine(MovedComponent):
    """A STANDARD state machine that runs a route's canary by calling the controller."""

    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: CanaryStateMachineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, args.former_parent, opts)
        function_arn = pulumi.Output.from_input(args.controller_function_arn)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=naming.state_machine_log_group_name(args.stack),
            retention_in_days=args.log_retention_days,
            opts=self.child("state-machine-logs", delete_before_replace=True),
        )
        role, policy = service_role(
            self,
            name,
            service="states.amazonaws.com",
            source_account=args.account,
            description=f"Strangler canary state machine of stack {args.stack}",
            policy=function_arn.apply(
                lambda arn: render_policy(state_machine_policy(arn), role="state machine")
            ),
            former_prefix="state-machine",
        )
        machine = aws.sfn.StateMachine(
            f"{name}-sfn",
            name=naming.state_machine_name(args.stack),
            type="STANDARD",
            role_arn=role.arn,
            definition=function_arn.apply(lambda arn: json_text(args.definition(arn))),
            logging_configuration={
                # Step Functions wants the log group ARN with the ":*" suffix.
                "log_destination": log_group.arn.apply(lambda arn: f"{arn}:*"),
                "include_execution_data": True,
                "level": "ALL",
            },
            tracing_configuration={"enabled": True},
            # CreateStateMachine checks that the role may deliver the logs.
            opts=self.child("state-machine", depends_on=[policy], delete_before_replace=True),
        )

        self.arn = machine.arn
        register_attributes(self, "arn")
