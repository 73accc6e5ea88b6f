"""The whole twin in one call: brownfield, then the program applied on top.

``run`` and ``serve`` both start here, with an emulator they own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rehearsal.world.apply import AppliedStack, apply_program, effective_config
from rehearsal.world.brownfield import Brownfield, create_brownfield
from rehearsal.world.emulator import Emulator


@dataclass
class Twin:
    """An applied stack together with the brownfield it was applied to."""

    applied: AppliedStack
    brownfield: Brownfield

    @property
    def emulator(self) -> Emulator:
        """The emulator everything lives in."""
        return self.applied.emulator

    @property
    def route_names(self) -> list[str]:
        """The routes of the stack."""
        return self.applied.route_names


def build_twin(
    stack: str,
    project_dir: Path,
    emulator: Emulator,
    config_overrides: Mapping[str, Any] | None = None,
    *,
    stack_file: Path | None = None,
    main_path: Path | None = None,
) -> Twin:
    """Create the brownfield for ``stack`` in ``emulator``, then apply the program.

    ``config_overrides`` (full keys) are applied before the brownfield reads
    the config, so a caller can rehearse a variant of the stack file;
    ``stack_file`` and ``main_path`` replace the stack file and the program.
    """
    config = effective_config(project_dir, stack, config_overrides, stack_file)
    brownfield = create_brownfield(config, emulator)
    overrides = {**(config_overrides or {}), **brownfield.config_overrides}
    applied = apply_program(
        stack,
        project_dir,
        overrides,
        emulator=emulator,
        stack_file=stack_file,
        main_path=main_path,
    )
    return Twin(applied=applied, brownfield=brownfield)
