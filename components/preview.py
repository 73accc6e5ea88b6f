"""The route's preview rule: its conditions AND ``X-Strangler-Preview: <route>``, 100 % Lambda.

Testers (and the equivalence checker, components/traffic_check.py) reach the
route's function through the real ALB before the canary moves any weight:

    curl -H 'X-Strangler-Preview: map-tile' http://<alb>/map/v1/tile/10/905/403.png

Unlike the weighted rule (components/traffic.py), Pulumi owns this rule whole,
its action included: nothing else ever writes it. Its priority is lower than
the route's (the ALB evaluates rules from the lowest number up), so a request
with the header never reaches the weighted rule; components/config.py derives
it and checks it against every other rule of the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import PreviewConfig, RouteConfig
from components.outputs import register_attributes
from components.route_scope import RouteScope
from components.traffic import rule_conditions

#: The one forward target of the preview rule; with a single target group the
#: weight only has to be valid (0..999), and it gets 100 % of the rule's traffic.
PREVIEW_WEIGHT = 1


def preview_conditions(
    route: RouteConfig, preview: PreviewConfig
) -> list[aws.lb.ListenerRuleConditionArgs]:
    """The route's conditions plus the preview header carrying the route's name."""
    return [
        *rule_conditions(route),
        aws.lb.ListenerRuleConditionArgs(
            http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(
                http_header_name=preview.header, values=[route.name]
            )
        ),
    ]


@dataclass
class PreviewRuleArgs:
    """Inputs of :class:`PreviewRule`."""

    scope: RouteScope
    lambda_target_group_arn: pulumi.Input[str]


class PreviewRule(pulumi.ComponentResource):
    """The listener rule that sends previews of one route to its Lambda target group."""

    rule_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PreviewRuleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        route = args.scope.route
        preview = route.preview
        if preview is None:
            raise ValueError(f"routes[{route.index}].preview: the route has no preview settings")
        if preview.priority >= route.priority:
            raise ValueError(
                f"routes[{route.index}].preview.priority: {preview.priority} must be lower than "
                f"the route's {route.priority}"
            )
        super().__init__("strangler:preview:PreviewRule", name, None, opts)
        rule = aws.lb.ListenerRule(
            f"{name}-rule",
            listener_arn=args.scope.stack.listener_arn,
            priority=preview.priority,
            actions=[
                aws.lb.ListenerRuleActionArgs(
                    type="forward",
                    forward=aws.lb.ListenerRuleActionForwardArgs(
                        target_groups=[
                            aws.lb.ListenerRuleActionForwardTargetGroupArgs(
                                arn=args.lambda_target_group_arn, weight=PREVIEW_WEIGHT
                            )
                        ]
                    ),
                )
            ],
            conditions=preview_conditions(route, preview),
            tags={"strangler:route": route.name, "strangler:rule": "preview"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.rule_arn = rule.arn
        register_attributes(self, "rule_arn")
