"""Read the files Pulumi reads: ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml``.

The twin takes the same config as ``pulumi up``: the stack file in the
project root. Values stay as YAML gave them (lists, mappings); the program
runner JSON-encodes the structured ones, as the Pulumi engine does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rehearsal.errors import StackConfigError

DEFAULT_PROJECT = "strangler"


def stack_file(project_dir: Path, stack: str) -> Path:
    """``<project_dir>/Pulumi.<stack>.yaml``."""
    return project_dir / f"Pulumi.{stack}.yaml"


def available_stacks(project_dir: Path) -> list[str]:
    """The stacks that have a ``Pulumi.<stack>.yaml`` in the project root."""
    return sorted(p.name.split(".")[1] for p in project_dir.glob("Pulumi.*.yaml"))


def load_stack_config(project_dir: Path, stack: str, path: Path | None = None) -> dict[str, Any]:
    """The ``config`` map of the stack file: full keys (``strangler:routes``) to values.

    ``path`` replaces the default ``<project_dir>/Pulumi.<stack>.yaml`` (to
    rehearse a variant of a stack). Raises StackConfigError naming the file
    when it is missing or is not a YAML mapping (invalid *values* are the
    program's to report).
    """
    path = path or stack_file(project_dir, stack)
    if not path.is_file():
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise StackConfigError(f"no stack file {path} (stacks in {project_dir}: {known})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise StackConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, Mapping):
        raise StackConfigError(f"{path}: expected a mapping with a 'config' key")
    config = data.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackConfigError(f"{path}: 'config' must be a mapping")
    secure = sorted(
        key for key, value in config.items() if isinstance(value, Mapping) and "secure" in value
    )
    if secure:
        # Encrypted values need the Pulumi CLI and the stack's secrets provider.
        raise StackConfigError(f"{path}: encrypted values are not supported: {', '.join(secure)}")
    return {str(key): value for key, value in config.items()}


def project_name(project_dir: Path) -> str:
    """The ``name`` in ``Pulumi.yaml`` (``strangler`` when the file has none)."""
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        return DEFAULT_PROJECT
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        return DEFAULT_PROJECT
    return str(data.get("name") or DEFAULT_PROJECT)


def stack_name_of(path: Path) -> str | None:
    """``prod`` for ``Pulumi.prod.yaml``; None for a file not named like a stack file."""
    parts = path.name.split(".")
    if len(parts) == 3 and parts[0] == "Pulumi" and parts[2] in ("yaml", "yml"):
        return parts[1]
    return None


def stack_region(config: Mapping[str, Any]) -> str | None:
    """``aws:region`` of a stack config, if set."""
    region = config.get("aws:region")
    return str(region) if region else None
