"""What every part of one route is declared from.

The route function, its traffic path, its alarms and its equivalence check
(:mod:`components.route`) all read the same three things: the route's parsed
config, the stack's parsed config and the Pulumi stack name, which goes into
every physical name so that two stacks in one account never collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import RouteConfig, StackConfig


@dataclass(frozen=True)
class RouteScope:
    """One route of one stack: its config, the stack's config and the stack's name."""

    route: RouteConfig
    stack: StackConfig
    stack_name: str
