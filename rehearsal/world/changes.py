"""What the Pulumi engine does with a resource that already exists: ignore_changes and the diff.

When a program is applied again, the engine compares each resource's new
inputs with the inputs it stored for it. Before that, it applies the
resource's ``ignore_changes``: every listed property path takes the value it
had in the stored inputs (or is removed when it was absent there), so a
change under an ignored path never reaches the provider (pulumi/pkg
``processIgnoreChanges``; the paths are the provider's camelCase property
paths, as the ``RegisterResource`` request carries them). What differs
after that is updated; a resource with no difference is not touched.

Pure functions on plain input values, no emulator. Inputs are compared as
:func:`fingerprint` s, taken when each apply happens: archives and assets by
a digest of their content, as the engine compares them by hash, so the same
folder zipped twice is no change and an edited one is.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rehearsal.errors import RehearsalError

__all__ = [
    "CREATE",
    "SAME",
    "UPDATE",
    "WILDCARD",
    "IgnorePathError",
    "Operation",
    "ResourceChange",
    "apply_ignore_changes",
    "changed_inputs",
    "comparable",
    "fingerprint",
    "parse_property_path",
]

Operation = Literal["create", "update", "same"]
CREATE: Operation = "create"
UPDATE: Operation = "update"
SAME: Operation = "same"

# A path element that stands for every key or index at that level.
WILDCARD = "*"

PathElement = str | int

# One element of a property path: a name, a [index], a ["quoted key"] or a
# wildcard (``.*`` or ``[*]``).
_ELEMENT = re.compile(
    r"""(?:^|\.)(?P<name>[^.\[\]"]+)"""
    r"""|\[(?P<index>\d+)\]"""
    r"""|\["(?P<key>(?:[^"\\]|\\.)*)"\]"""
    r"""|\[(?P<star>\*)\]"""
)


class IgnorePathError(RehearsalError):
    """An ``ignore_changes`` path the twin cannot parse or apply."""


@dataclass(frozen=True)
class ResourceChange:
    """What an apply did to one custom resource.

    ``operation`` is ``create`` (new), ``update`` (changed inputs applied in
    place) or ``same`` (not touched). ``properties`` are the top-level inputs
    an update applied; ``ignored`` the top-level inputs that differed from
    the stored ones only under ``ignore_changes`` paths, so the engine left
    them as they were. ``outputs`` is the resource's state after the apply.
    """

    name: str
    type: str
    urn: str
    operation: Operation
    properties: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    outputs: Mapping[str, Any] | None = None

    def describe(self) -> str:
        """``name (update: a, b; ignored: c)`` for logs and the timeline."""
        parts = []
        if self.properties and self.operation == UPDATE:
            parts.append(f"{self.operation}: {', '.join(self.properties)}")
        elif self.operation != UPDATE:
            parts.append(self.operation)
        if self.ignored:
            parts.append(f"ignore_changes kept: {', '.join(self.ignored)}")
        return f"{self.name} ({'; '.join(parts)})"


def parse_property_path(path: str) -> tuple[PathElement, ...]:
    """``actions[0].forward.targetGroups[1].weight`` as ``("actions", 0, "forward", ...)``.

    Pulumi's property path syntax: dotted names, ``[n]`` indices, ``["key"]``
    for keys with dots or brackets, and ``*`` / ``[*]`` wildcards.
    """
    elements: list[PathElement] = []
    position = 0
    while position < len(path):
        match = _ELEMENT.match(path, position)
        if match is None or match.end() == position:
            raise IgnorePathError(f"cannot parse property path {path!r} at position {position}")
        if match.group("name") is not None:
            elements.append(match.group("name"))
        elif match.group("index") is not None:
            elements.append(int(match.group("index")))
        elif match.group("key") is not None:
            elements.append(re.sub(r"\\(.)", r"\1", match.group("key")))
        else:
            elements.append(WILDCARD)
        position = match.end()
    if not elements:
        raise IgnorePathError(f"empty property path {path!r}")
    return tuple(elements)


_MISSING = object()


def _child(container: Any, element: PathElement) -> Any:
    """The value at ``element`` of ``container``, or ``_MISSING``."""
    if isinstance(element, int):
        if isinstance(container, list | tuple) and 0 <= element < len(container):
            return container[element]
        return _MISSING
    if isinstance(container, Mapping) and element in container:
        return container[element]
    return _MISSING


def _elements_of(value: Any) -> list[PathElement]:
    """Every key (mapping) or index (list) of ``value``: what a wildcard stands for."""
    if isinstance(value, Mapping):
        return [str(key) for key in value]
    if isinstance(value, list | tuple):
        return list(range(len(value)))
    return []


def _reset(old: Any, new: Any, path: Sequence[PathElement], full: str) -> Any:
    """``new`` with the value at ``path`` taken from ``old`` (removed when ``old`` has none)."""
    head, rest = path[0], path[1:]
    if head == WILDCARD:
        elements = _elements_of(old)
        elements += [element for element in _elements_of(new) if element not in elements]
        if isinstance(new, list | tuple):
            # Highest index first: removing a list element must not shift the
            # ones still to be visited.
            elements.sort(key=lambda element: -int(element))
        for element in elements:
            new = _reset(old, new, (element, *rest), full)
        return new
    old_child = _child(old, head)
    new_child = _child(new, head)
    if rest and new_child is not _MISSING:
        # Only the value at the end of the path is reset; its siblings keep
        # their new values.
        replacement = _reset(old_child, new_child, rest, full)
    elif old_child is _MISSING:
        replacement = _MISSING
    else:
        # The end of the path, or a container the new inputs lost: the old
        # value comes back whole.
        replacement = copy.deepcopy(old_child)
    if isinstance(head, int):
        if not isinstance(new, list | tuple) or head >= len(new):
            if replacement is _MISSING:
                return new
            raise IgnorePathError(
                f"ignore_changes path {full!r}: element [{head}] is missing in the new inputs"
            )
        items = list(new)
        if replacement is _MISSING:
            del items[head]
        else:
            items[head] = replacement
        return items
    if not isinstance(new, Mapping):
        if replacement is _MISSING:
            return new
        raise IgnorePathError(
            f"ignore_changes path {full!r}: {head!r} is not under an object in the new inputs"
        )
    result = dict(new)
    if replacement is _MISSING:
        result.pop(head, None)
    else:
        result[head] = replacement
    return result


def apply_ignore_changes(
    new_inputs: Mapping[str, Any], old_inputs: Mapping[str, Any], paths: Sequence[str]
) -> dict[str, Any]:
    """The inputs the engine diffs: ``new_inputs`` with every ignored path taken from the old.

    A path absent from ``old_inputs`` is removed from the result, as the
    engine does. ``new_inputs`` is not modified.
    """
    result: Any = dict(new_inputs)
    for path in paths:
        result = _reset(old_inputs, result, parse_property_path(path), path)
    return dict(result)


def comparable(value: Any, base_dir: Path) -> Any:
    """``value`` in a form two applies' inputs can be compared in.

    Archives and assets become a digest of their content (relative paths
    resolve against ``base_dir``, the project root), numbers that are whole
    become ints (Pulumi's wire format carries every number as a float).
    """
    # Imported on use: the scenario reads ResourceChange from this module
    # without needing Pulumi (see tests/unit/test_rehearsal_api.py).
    import pulumi

    from rehearsal.world.bridge.archive import archive_to_zip

    if isinstance(value, pulumi.FileArchive | pulumi.AssetArchive):
        return {"archive-sha256": hashlib.sha256(archive_to_zip(value, base_dir)).hexdigest()}
    if isinstance(value, pulumi.FileAsset):
        path = Path(value.path)
        data = (path if path.is_absolute() else base_dir / path).read_bytes()
        return {"asset-sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(value, pulumi.StringAsset):
        return {"asset-sha256": hashlib.sha256(value.text.encode()).hexdigest()}
    if isinstance(value, Mapping):
        return {str(key): comparable(item, base_dir) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [comparable(item, base_dir) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def fingerprint(inputs: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """``inputs`` in :func:`comparable` form, as the engine keeps them to diff the next apply.

    Taken when a resource is applied: an archive's digest is of its content
    then, so a later change of the folder shows as a change of the input.
    """
    return {str(key): comparable(value, base_dir) for key, value in inputs.items()}


def changed_inputs(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The top-level keys whose values differ between two fingerprints (sorted).

    An absent key and a ``None`` value are the same.
    """
    return tuple(sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key)))
