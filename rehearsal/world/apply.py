"""Apply the real program to the emulator: every declared resource created in moto.

:func:`apply_program` runs ``__main__.py`` (unchanged) under Pulumi's mocks
with the stack's config from ``Pulumi.<stack>.yaml``; each custom resource is
created through the moto bridge in dependency order (see rehearsal/world/program.py)
and recorded with moto's real ids, ARNs and names. The result,
:class:`AppliedStack`, is what the later steps of the rehearsal use: records
by type and name, the route names, the stack's exports and the emulator.

:func:`reapply_program` applies the program again to the same emulator, as a
second ``pulumi up`` would: resources whose inputs changed (after their
``ignore_changes``) are updated in place, the others are not touched (see
rehearsal/world/program.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rehearsal.errors import RehearsalError
from rehearsal.world.bridge import Bridge
from rehearsal.world.changes import SAME, ResourceChange
from rehearsal.world.emulator import Emulator
from rehearsal.world.program import run_program
from rehearsal.world.records import ResourceRecord
from rehearsal.world.stack_files import load_stack_config, project_name, stack_region

ROUTE_COMPONENT = "strangler:route:StranglerRoute"


@dataclass
class AppliedStack:
    """A stack as applied to the emulator.

    ``resources`` holds every declared resource (components included) in
    creation order; ``exports`` the program's stack outputs; ``config`` the
    effective stack config (after the brownfield's and the caller's overrides).
    ``changes`` says what the apply did to each custom resource (all
    ``create`` on the first apply); ``project_dir`` and ``main_path`` are
    the program that was applied, for a later :func:`reapply_program`.
    """

    stack: str
    project: str
    region: str
    emulator: Emulator
    config: dict[str, Any]
    resources: list[ResourceRecord]
    exports: dict[str, Any] = field(default_factory=dict)
    changes: list[ResourceChange] = field(default_factory=list)
    project_dir: Path | None = None
    main_path: Path | None = None

    @property
    def touched(self) -> list[ResourceChange]:
        """The changes that did something, or that ``ignore_changes`` held back."""
        return [c for c in self.changes if c.operation != SAME or c.ignored]

    @property
    def custom_resources(self) -> list[ResourceRecord]:
        """The resources that exist in the emulator (no components)."""
        return [r for r in self.resources if r.custom]

    @property
    def route_names(self) -> list[str]:
        """The routes the program declared, in declaration order."""
        return [r.name for r in self.resources if r.type == ROUTE_COMPONENT]

    def by_type(self, token: str) -> list[ResourceRecord]:
        """All resources of one type, in creation order."""
        return [r for r in self.resources if r.type == token]

    def by_name(self, name: str) -> ResourceRecord:
        """The resource with this logical name (KeyError listing the known names)."""
        for record in self.resources:
            if record.name == name:
                return record
        raise KeyError(f"no resource named {name!r}; known: {sorted(self.names())}")

    def names(self) -> list[str]:
        """Every logical name, in creation order."""
        return [r.name for r in self.resources]

    def descendants(self, component: str) -> list[ResourceRecord]:
        """Every resource below the component named ``component`` (transitively)."""
        below: set[str] = {component}
        found: list[ResourceRecord] = []
        # Records are in creation order and a parent registers before its
        # children, so one pass sees every parent before its children.
        for record in self.resources:
            if record.parent in below:
                below.add(record.name)
                found.append(record)
        return found

    def route_resources(self, route: str, token: str | None = None) -> list[ResourceRecord]:
        """The resources of one route (optionally of one type)."""
        if route not in self.route_names:
            raise KeyError(f"no route {route!r}; routes: {self.route_names}")
        return [r for r in self.descendants(route) if token is None or r.type == token]


def effective_config(
    project_dir: Path,
    stack: str,
    config_overrides: Mapping[str, Any] | None,
    stack_file: Path | None = None,
) -> dict[str, Any]:
    """The stack file's config with ``config_overrides`` (full keys) replacing keys."""
    config = load_stack_config(project_dir, stack, stack_file)
    config.update(config_overrides or {})
    return config


def apply_program(
    stack: str,
    project_dir: Path,
    config_overrides: Mapping[str, Any] | None = None,
    *,
    emulator: Emulator,
    stack_file: Path | None = None,
    main_path: Path | None = None,
) -> AppliedStack:
    """Run the program for ``stack`` and create everything it declares in ``emulator``.

    ``config_overrides`` maps full config keys (``"strangler:listenerArn"``)
    to values that replace the stack file's, typically the brownfield's ARNs
    (rehearsal.world.brownfield). The emulator's region must be the stack's
    ``aws:region``. Raises ConfigRejected (bad config), BridgeError (a
    resource could not be created, or its type is not covered) or
    RehearsalError. ``stack_file`` replaces ``Pulumi.<stack>.yaml`` and
    ``main_path`` the project's ``__main__.py`` (to rehearse a variant).
    """
    project_dir = project_dir.resolve()
    config = effective_config(project_dir, stack, config_overrides, stack_file)
    region = stack_region(config)
    if region and region != emulator.region:
        raise RehearsalError(
            f"stack {stack} is in {region} but the emulator is in {emulator.region}"
        )
    return _apply(
        stack,
        project_name(project_dir),
        project_dir,
        config,
        emulator=emulator,
        region=emulator.region,
        main_path=main_path,
    )


def reapply_program(
    applied: AppliedStack, config_changes: Mapping[str, Any] | None = None
) -> AppliedStack:
    """Apply the same program again to ``applied``'s emulator, with ``config_changes``.

    ``config_changes`` (full keys) replace keys of the config ``applied``
    was applied with. Every resource is matched to its record in
    ``applied``: updated in place when its inputs changed (after its
    ``ignore_changes``), left alone when they did not, created when new.
    Returns the new :class:`AppliedStack`, whose ``changes`` say which.
    Raises what :func:`apply_program` raises, UpdateNotTranslated when a
    change cannot be applied in place (naming the resource and the input),
    and DeleteNotTranslated when a resource is no longer declared.
    """
    if applied.project_dir is None:
        raise RehearsalError(
            f"stack {applied.stack} was not applied by apply_program: no program to re-apply"
        )
    config = {**applied.config, **(config_changes or {})}
    return _apply(
        applied.stack,
        applied.project,
        applied.project_dir,
        config,
        emulator=applied.emulator,
        region=applied.region,
        main_path=applied.main_path,
        previous=applied.resources,
    )


def _apply(
    stack: str,
    project: str,
    project_dir: Path,
    config: Mapping[str, Any],
    *,
    emulator: Emulator,
    region: str,
    main_path: Path | None,
    previous: Sequence[ResourceRecord] = (),
) -> AppliedStack:
    """Run the program against the moto bridge of ``emulator``; what it applied."""
    run = run_program(
        stack=stack,
        project=project,
        project_dir=project_dir,
        config=config,
        answerer=Bridge(emulator, project_dir),
        main_path=main_path,
        previous=previous,
    )
    return AppliedStack(
        stack=stack,
        project=run.project,
        region=region,
        emulator=emulator,
        config=run.config,
        resources=run.records,
        exports=run.exports,
        changes=run.changes,
        project_dir=project_dir,
        main_path=main_path,
    )
