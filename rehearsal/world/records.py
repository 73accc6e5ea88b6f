"""What the twin records about each declared resource, and its key inputs.

Plain data, no Pulumi runtime and no emulator. Used by ``plan`` (what would
be created) and by ``apply`` (what was created, with moto's real outputs).
Which inputs are key to a type is declared on its entry in the bridge's
table (``Translation.key_inputs``), next to how the bridge creates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from rehearsal.world.bridge.registry import translation_for


def plain(value: Any) -> Any:
    """A JSON-friendly copy of an input value (archives and assets become their path)."""
    if isinstance(value, pulumi.FileArchive):
        return f"FileArchive({value.path})"
    if isinstance(value, pulumi.AssetArchive):
        return {"AssetArchive": {key: plain(item) for key, item in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset):
        return f"FileAsset({value.path})"
    if isinstance(value, pulumi.StringAsset):
        return "StringAsset(...)"
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        # Pulumi's wire format carries every number as a float.
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _lookup(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def key_inputs(token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs a reviewer needs to recognise a resource of type ``token``.

    The paths and derived values come from the type's translation
    (``key_inputs``, ``derived_key_inputs``). Types without them show all
    their inputs: a new type is then visible in the plan in full rather than
    reduced to nothing.
    """
    translation = translation_for(token)
    if translation is None or translation.key_inputs is None:
        return {key: plain(value) for key, value in sorted(inputs.items())}
    selected = {path: plain(_lookup(inputs, path)) for path in translation.key_inputs}
    for key, derive in translation.derived_key_inputs.items():
        selected[key] = plain(derive(inputs))
    return {key: value for key, value in selected.items() if value not in (None, [], {})}


@dataclass
class ResourceRecord:
    """One declared resource, in the order the engine registered it.

    ``parent`` and ``parent_type`` name the parent component (``None`` for
    the stack's direct children); ``dependencies`` are the URNs the SDK
    reported as this resource's dependencies (explicit ``depends_on`` and
    inputs from other resources), each of which was complete before this
    resource was registered. ``outputs`` is the state the answerer (the
    moto bridge, or plan's fabricated values) returned. ``fingerprint`` is
    the inputs as a later apply compares them (rehearsal/world/changes.py),
    for the custom resources of an apply to the emulator.
    """

    order: int
    type: str
    name: str
    urn: str
    custom: bool
    parent: str | None
    parent_type: str | None
    inputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] | None = None
    id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    registered_outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_component(self) -> bool:
        """A ComponentResource (recorded, never created in the emulator)."""
        return not self.custom

    @property
    def key_inputs(self) -> dict[str, Any]:
        """See :func:`key_inputs`."""
        return key_inputs(self.type, self.inputs)

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly view used by ``plan --json``."""
        return {
            "order": self.order,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "parentType": self.parent_type,
            "component": self.is_component,
            "keyInputs": self.key_inputs,
            "ignoreChanges": list(self.ignore_changes),
        }
