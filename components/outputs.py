"""A component's outputs: the attributes it has set, registered under their own names."""

from __future__ import annotations

import pulumi


def register_attributes(component: pulumi.ComponentResource, *names: str) -> None:
    """Register ``component``'s attributes ``names`` as its outputs, in that order.

    Every component of the program sets its outputs as typed attributes first;
    the registered outputs carry the same values under the same names.
    """
    component.register_outputs({name: getattr(component, name) for name in names})
