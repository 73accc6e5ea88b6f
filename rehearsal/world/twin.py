"""The whole twin in one call: brownfield, then the program applied on top.

``run`` and ``serve`` both start here, with an emulator they own. A twin can
also be re-applied (:func:`redeploy`), as a ``pulumi up`` on a live stack,
for example with a route moved to a second ECS target group
(:func:`new_ecs_target_group`, :func:`redeploy_ecs_target_group`).
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rehearsal.errors import RehearsalError
from rehearsal.world.apply import AppliedStack, apply_program, effective_config, reapply_program
from rehearsal.world.brownfield import (
    ROUTES_KEY,
    Brownfield,
    create_brownfield,
    create_replacement_ecs_target_group,
)
from rehearsal.world.changes import ResourceChange
from rehearsal.world.emulator import Emulator


@dataclass
class Twin:
    """An applied stack together with the brownfield it was applied to.

    ``applied`` and ``brownfield`` are replaced by a redeploy; ``lock``
    serialises redeploys (one ``pulumi up`` at a time, as the engine's
    stack lock does).
    """

    applied: AppliedStack
    brownfield: Brownfield
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

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


@dataclass(frozen=True)
class Redeployment:
    """A route moved to another ECS target group by a second apply of the program.

    ``changes`` are the resources the apply updated, created, or left only
    because of their ``ignore_changes`` (see ``AppliedStack.touched``).
    """

    route: str
    previous_ecs_target_group_arn: str
    ecs_target_group_arn: str
    changes: tuple[ResourceChange, ...]


def redeploy(twin: Twin, config_changes: Mapping[str, Any]) -> list[ResourceChange]:
    """Apply the program again with ``config_changes`` (full keys); what it changed.

    See :func:`rehearsal.world.apply.reapply_program`; ``twin.applied``
    becomes the new state.
    """
    with twin.lock:
        twin.applied = reapply_program(twin.applied, config_changes)
        return twin.applied.touched


def _route_entry(routes: Any, route: str) -> dict[str, Any]:
    for entry in routes if isinstance(routes, list) else []:
        if isinstance(entry, dict) and entry.get("name") == route:
            return entry
    raise RehearsalError(f"the applied config has no route {route!r}")


def new_ecs_target_group(twin: Twin, route: str) -> str:
    """A second brownfield ECS target group for ``route``, like its current one; its ARN.

    Created before the redeploy that points the route at it, as the team's
    infrastructure would be; the config is not changed yet.
    """
    with twin.lock:
        entry = _route_entry(twin.applied.config.get(ROUTES_KEY), route)
        current = str(entry["ecsTargetGroupArn"])
        return create_replacement_ecs_target_group(twin.emulator, twin.brownfield, current)


def redeploy_ecs_target_group(twin: Twin, route: str, ecs_target_group_arn: str) -> Redeployment:
    """Re-apply the program with ``route``'s ``ecsTargetGroupArn`` set to ``ecs_target_group_arn``.

    Everything else of the config stays as the last apply had it.
    """
    with twin.lock:
        routes = copy.deepcopy(twin.applied.config.get(ROUTES_KEY))
        entry = _route_entry(routes, route)
        previous = str(entry["ecsTargetGroupArn"])
        entry["ecsTargetGroupArn"] = ecs_target_group_arn
        twin.applied = reapply_program(twin.applied, {ROUTES_KEY: routes})
        groups = {**twin.brownfield.ecs_target_group_arns, route: ecs_target_group_arn}
        twin.brownfield = dataclasses.replace(twin.brownfield, ecs_target_group_arns=groups)
        return Redeployment(
            route=route,
            previous_ecs_target_group_arn=previous,
            ecs_target_group_arn=ecs_target_group_arn,
            changes=tuple(twin.applied.touched),
        )


def redeploy_function_code(
    twin: Twin, route: str, source: Path, release: Mapping[str, Any]
) -> tuple[ResourceChange, ...]:
    """Re-apply the program with ``route``'s function code from ``source`` and its ``release``.

    The function publishes a new version; everything else of the config
    stays as the last apply had it. Returns what the apply changed.
    """
    with twin.lock:
        routes = copy.deepcopy(twin.applied.config.get(ROUTES_KEY))
        entry = _route_entry(routes, route)
        entry["function"] = {**entry["function"], "source": str(source)}
        entry["release"] = dict(release)
        twin.applied = reapply_program(twin.applied, {ROUTES_KEY: routes})
        return tuple(twin.applied.touched)


class TwinRedeployer:
    """Re-applies ``twin`` during a rehearsal (the engine's ``Redeployer``)."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin

    def new_ecs_target_group(self, route: str) -> str:
        """See :func:`new_ecs_target_group`."""
        return new_ecs_target_group(self.twin, route)

    def redeploy(self, route: str, ecs_target_group_arn: str) -> Redeployment:
        """See :func:`redeploy_ecs_target_group`."""
        return redeploy_ecs_target_group(self.twin, route, ecs_target_group_arn)

    def redeploy_code(
        self, route: str, source: Path, release: Mapping[str, Any]
    ) -> tuple[ResourceChange, ...]:
        """See :func:`redeploy_function_code`."""
        return redeploy_function_code(self.twin, route, source, release)

    def function_source(self, route: str) -> Path:
        """The folder of ``route``'s function code, as the last apply had it."""
        with self.twin.lock:
            entry = _route_entry(self.twin.applied.config.get(ROUTES_KEY), route)
            project = self.twin.applied.project_dir or Path(".")
            return (project / str(entry["function"]["source"])).resolve()
