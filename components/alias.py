"""The route function's alias ``live``: the one target the Lambda target group invokes.

Pulumi creates the alias on the function's first published version and then
never diffs where it points: its ``functionVersion`` and ``routingConfig``
belong to the controller, which moves each new version in behind it in
verified stages (release runs), exactly as it owns the rule's weights.
Both are top-level properties, a scalar and a map, for which the engine's
``ignore_changes`` is reliable; no path indexes into them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.outputs import register_attributes
from controller.core.release import ALIAS_NAME

#: The alias properties the controller owns (release runs write them).
IGNORED_ALIAS_PROPERTIES = ("functionVersion", "routingConfig")


@dataclass
class RouteAliasArgs:
    """Inputs of :class:`RouteAlias`."""

    route_name: str
    function_name: pulumi.Input[str]
    first_version: pulumi.Input[str]


class RouteAlias(pulumi.ComponentResource):
    """The alias ``live`` of a route function."""

    alias_name: str
    alias_arn: pulumi.Output[str]
    # The name as the alias's output: whatever is granted on it waits for the alias.
    qualifier: pulumi.Output[str]

    def __init__(
        self, name: str, args: RouteAliasArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("strangler:alias:RouteAlias", name, None, opts)
        alias = aws.lambda_.Alias(
            f"{name}-live",
            name=ALIAS_NAME,
            function_name=args.function_name,
            function_version=args.first_version,
            description=(
                f"Strangler route {args.route_name}: what the ALB invokes; the controller "
                "moves it to each new version in stages"
            ),
            # A fixed name within the function: the old alias goes first.
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=list(IGNORED_ALIAS_PROPERTIES),
                delete_before_replace=True,
            ),
        )
        self.alias_name = ALIAS_NAME
        self.alias_arn = alias.arn
        self.qualifier = alias.name
        register_attributes(self, "alias_arn")
