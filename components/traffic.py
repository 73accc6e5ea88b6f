"""The route's traffic path: Lambda target group and the weighted listener rule.

The rule forwards to the existing ECS target group and to the new Lambda
target group. Pulumi creates it with all traffic on ECS and then never touches
its action again: the controller owns the weights, and reconciles the target
group ARNs with the route registry when the registry changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.config import RouteConfig
from components.outputs import register_attributes
from components.route_scope import RouteScope
from controller.core.weights import ALL_ECS, validate_forward

#: The ALB weights on create: everything on ECS, as the exact ratio the
#: controller writes for 0 % (ECS 1 / Lambda 0; controller/core/weights.py).
INITIAL_ECS_WEIGHT = ALL_ECS.ecs
INITIAL_LAMBDA_WEIGHT = ALL_ECS.lambda_

#: The rule's properties the controller owns: the whole ``actions`` list. The
#: provider models the forward action's target groups as a set, so a path that
#: indexes into it (``actions[0].forward.targetGroups[1].weight``) is not
#: reliable: after a refresh the engine may copy old values by index onto
#: reordered elements (pulumi-terraform-bridge #2240, #1756), and any other
#: change to the action makes the provider send the whole list
#: (pulumi-aws #5771, #5798). So Pulumi sets the action once, on create, and
#: never diffs it again; the controller reconciles the target group ARNs with
#: the registry (see components/registry_sync.py). Conditions, priority and
#: tags stay Pulumi's.
IGNORED_RULE_PROPERTIES = ("actions",)


@dataclass(frozen=True)
class TargetGroupIdentity:
    """The Lambda target group's inputs whose change makes the provider replace it.

    CreateTargetGroup takes them and ModifyTargetGroup cannot change them. A
    lambda target group has no port, protocol or VPC, so these are all of them.
    """

    name: str
    target_type: str


def target_group_identity(stack_name: str, route_name: str) -> TargetGroupIdentity:
    """The target group's replacement-triggering inputs: the stack and route names only."""
    return TargetGroupIdentity(
        name=naming.target_group_name(stack_name, route_name), target_type="lambda"
    )


def rule_conditions(route: RouteConfig) -> list[aws.lb.ListenerRuleConditionArgs]:
    """One condition block per kind; the values of a block are ORed, blocks ANDed."""
    match = route.match
    conditions: list[aws.lb.ListenerRuleConditionArgs] = []
    if match.path_patterns:
        conditions.append(
            aws.lb.ListenerRuleConditionArgs(
                path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(
                    values=list(match.path_patterns)
                )
            )
        )
    if match.host_headers:
        conditions.append(
            aws.lb.ListenerRuleConditionArgs(
                host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(
                    values=list(match.host_headers)
                )
            )
        )
    if match.http_methods:
        conditions.append(
            aws.lb.ListenerRuleConditionArgs(
                http_request_method=aws.lb.ListenerRuleConditionHttpRequestMethodArgs(
                    values=list(match.http_methods)
                )
            )
        )
    return conditions


@dataclass
class RouteTrafficArgs:
    """Inputs of :class:`RouteTraffic`."""

    scope: RouteScope
    function_name: pulumi.Input[str]
    function_arn: pulumi.Input[str]
    # The alias the target group invokes (its ARN is ``function_arn``): the
    # invoke permission must be granted on that qualifier.
    qualifier: pulumi.Input[str] | None = None


class RouteTraffic(pulumi.ComponentResource):
    """Lambda target group, invoke permission, attachment and the weighted rule."""

    lambda_target_group_arn: pulumi.Output[str]
    lambda_target_group_arn_suffix: pulumi.Output[str]
    rule_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: RouteTrafficArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        route, stack = args.scope.route, args.scope.stack
        if not route.match.condition_values:
            raise ValueError(f"routes[{route.index}].match: the rule needs a condition")
        # At most 5 target groups per forward action, each weight 0..999.
        validate_forward([INITIAL_ECS_WEIGHT, INITIAL_LAMBDA_WEIGHT])
        super().__init__("strangler:traffic:RouteTraffic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        hc = route.health_check
        identity = target_group_identity(args.scope.stack_name, route.name)

        # Health checks of a lambda target group are off by default ("If the
        # target type is lambda, health checks are disabled by default"); the
        # HealthyHostCount alarm needs them, so they are always on here.
        #
        # Never replaced in place: its replacement-triggering inputs (name,
        # target_type; no port, protocol or vpc_id for a lambda target group)
        # come from the stack and route names only (target_group_identity), and
        # every other input updates it in place. A replacement could not work
        # either way: ELB refuses to delete a target group a rule still
        # forwards to (ResourceInUse), and the rule's actions are ignored by
        # Pulumi. So no delete_before_replace here: a replacement with the same
        # name stops at CreateTargetGroup (DuplicateTargetGroupName) before
        # anything is touched, whereas deleting first would make the engine
        # delete the attachment and the invoke permission, then fail.
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            name=identity.name,
            target_type=identity.target_type,
            # The function gets and returns multi-value headers and query
            # strings (attribute lambda.multi_value_headers.enabled).
            lambda_multi_value_headers_enabled=True,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=hc.path,
                interval=hc.interval_seconds,
                timeout=hc.timeout_seconds,
                healthy_threshold=hc.healthy_threshold,
                unhealthy_threshold=hc.unhealthy_threshold,
                matcher=hc.matcher,
            ),
            tags={"strangler:route": route.name},
            opts=child,
        )

        # ELB invokes the function directly; the permission is scoped to this
        # target group (aws:SourceArn) and account, against the confused deputy.
        # The target is the alias: "If you use a qualifier, the invoker must use
        # the full Amazon Resource Name (ARN) of that version or alias to invoke
        # the function" (AddPermission, https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html),
        # and a target group registering a qualified ARN needs the permission on
        # that qualifier ("Permissions to invoke the Lambda function",
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html).
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=args.function_name,
            qualifier=args.qualifier,
            principal="elasticloadbalancing.amazonaws.com",
            source_arn=target_group.arn,
            source_account=stack.account_id,
            opts=child,
        )
        # Registering the target makes ELB test the invoke permission, so the
        # attachment waits for it. Its identity is (target group, function): a
        # replacement created first would register the same target again and
        # then deregister it, leaving the target group empty, so the old
        # registration goes first.
        aws.lb.TargetGroupAttachment(
            f"{name}-attachment",
            target_group_arn=target_group.arn,
            target_id=args.function_arn,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[permission], delete_before_replace=True
            ),
        )

        target_groups = [
            aws.lb.ListenerRuleActionForwardTargetGroupArgs(
                arn=route.ecs_target_group_arn, weight=INITIAL_ECS_WEIGHT
            ),
            aws.lb.ListenerRuleActionForwardTargetGroupArgs(
                arn=target_group.arn, weight=INITIAL_LAMBDA_WEIGHT
            ),
        ]
        rule = aws.lb.ListenerRule(
            f"{name}-rule",
            listener_arn=stack.listener_arn,
            priority=route.priority,
            actions=[
                aws.lb.ListenerRuleActionArgs(
                    type="forward",
                    forward=aws.lb.ListenerRuleActionForwardArgs(target_groups=target_groups),
                )
            ],
            conditions=rule_conditions(route),
            tags={"strangler:route": route.name},
            # A replacement (only a new listener forces one) is created before
            # the old rule is deleted: the new rule has its own listener, so its
            # priority cannot collide, and it starts on ECS 1 / Lambda 0 (all on ECS).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=list(IGNORED_RULE_PROPERTIES)),
        )

        self.lambda_target_group_arn = target_group.arn
        self.lambda_target_group_arn_suffix = target_group.arn_suffix
        self.rule_arn = rule.arn
        register_attributes(
            self, "lambda_target_group_arn", "lambda_target_group_arn_suffix", "rule_arn"
        )
