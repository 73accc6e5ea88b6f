"""Aliases for resources that moved under a sub-component.

The canary controller used to declare every resource directly under
:class:`~components.controller.CanaryController`, with logical names such as
``controller-function-role``. Its sub-components now parent them, which
changes their URNs. Without an alias Pulumi would create each resource anew
and then delete the old one, and the create fails because the explicit
physical name (table, function, queue, ...) is still taken. An alias to the
former URN makes the update move the resource in place instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class FormerParent:
    """The component a sub-component's children were declared under before it existed.

    ``name`` is that component's logical name, the prefix of the children's
    former logical names (``<name>-<suffix>``).
    """

    resource: pulumi.Resource
    name: str


class MovedComponent(pulumi.ComponentResource):
    """A sub-component whose children may have been declared under ``former`` before.

    ``former`` is ``None`` for a sub-component declared on its own; its
    children then get no alias.
    """

    def __init__(
        self,
        type_token: str,
        name: str,
        former: FormerParent | None,
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        super().__init__(type_token, name, None, opts)
        self._former = former

    def child(
        self,
        former_suffix: str,
        depends_on: Sequence[pulumi.Resource] | None = None,
        *,
        delete_before_replace: bool = False,
    ) -> pulumi.ResourceOptions:
        """Options of a child of this component that was ``<former.name>-<former_suffix>``.

        Without a former parent there is no alias. ``delete_before_replace`` is
        for a resource with a fixed name or identity (see :mod:`components.naming`).
        """
        aliases: list[pulumi.Alias | str] | None = None
        if self._former is not None:
            aliases = [
                pulumi.Alias(
                    name=f"{self._former.name}-{former_suffix}", parent=self._former.resource
                )
            ]
        return pulumi.ResourceOptions(
            parent=self,
            aliases=aliases,
            depends_on=list(depends_on) if depends_on is not None else None,
            delete_before_replace=delete_before_replace,
        )
