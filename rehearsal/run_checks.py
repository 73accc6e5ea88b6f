"""Checks of ``rehearsal run``'s inputs that need no emulator: at ``plan`` speed.

Applying the stack to the emulator takes seconds; a misspelled route, a stage
a route does not have, a bad config or a chart path that cannot be written
must be refused before that, each with a line naming the input.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.config import NAMESPACE, ConfigError, parse_stack_config
from controller.core.contract import PlanRecord
from rehearsal.errors import ConfigRejected


def stack_plans(
    config: Mapping[str, Any], *, project_dir: Path, stack: str
) -> dict[str, PlanRecord]:
    """Each route's stage plan, by route name, from a stack file's ``config`` map.

    Validates the config as the program does (the same
    :func:`components.config.parse_stack_config`), so a config the program
    would refuse is refused here, before anything is applied. Raises
    :class:`ConfigRejected` with every problem.
    """
    prefix = f"{NAMESPACE}:"
    raw = {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
    region = config.get("aws:region")
    try:
        parsed = parse_stack_config(
            raw,
            region=str(region) if region else None,
            project_root=project_dir,
            stack=stack,
            other_keys=[key for key in config if not key.startswith(prefix)],
        )
    except ConfigError as error:
        raise ConfigRejected(error.messages) from error
    return {route.name: route.canary.plan_record() for route in parsed.routes}


def chart_problem(path: Path) -> str | None:
    """Why a PNG cannot be written to ``path`` (``--chart``), or None when it can."""
    if path.is_dir():
        return f"--chart {path}: is a folder; give a file name, such as {path / 'rehearsal.png'}"
    parent = path.parent
    if not parent.is_dir():
        return f"--chart {path}: the folder {parent} does not exist"
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"--chart {path}: cannot write there (permission denied)"
    return None
