"""``plan``: an offline preview of every resource the program declares.

Runs the real program with fabricated outputs (no emulator), then renders the
resource tree: type, logical name, parent component, key inputs, and the
resources each one waits for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rehearsal.world import (
    FabricatedAnswerer,
    ResourceRecord,
    all_translations,
    effective_config,
    project_name,
    run_program,
    stack_region,
)

# Used only when the stack sets no aws:region (the program then rejects it).
FALLBACK_REGION = "us-east-1"


@dataclass
class Plan:
    """The declared resources of a stack, with what the twin can create."""

    stack: str
    project: str
    region: str
    resources: list[ResourceRecord]
    bridged_types: frozenset[str]

    def tree(self) -> list[tuple[int, ResourceRecord]]:
        """Every resource with its depth, parents before children, siblings by name.

        Creation order among independent resources depends on thread timing;
        names give a stable listing.
        """
        children: dict[str | None, list[ResourceRecord]] = {}
        for record in self.resources:
            children.setdefault(record.parent, []).append(record)
        ordered: list[tuple[int, ResourceRecord]] = []

        def walk(parent: str | None, depth: int) -> None:
            for record in sorted(children.get(parent, []), key=lambda r: r.name):
                ordered.append((depth, record))
                walk(record.name, depth + 1)

        walk(None, 0)
        return ordered

    @property
    def uncovered_types(self) -> list[str]:
        """Declared custom resource types the moto bridge cannot create."""
        return sorted(
            {r.type for r in self.resources if r.custom and r.type not in self.bridged_types}
        )

    def counts(self) -> dict[str, int]:
        """How many resources: all, AWS resources, components."""
        custom = sum(1 for r in self.resources if r.custom)
        return {
            "total": len(self.resources),
            "aws": custom,
            "components": len(self.resources) - custom,
        }

    def to_json(self) -> dict[str, Any]:
        """The ``plan --json`` document."""
        names = {r.urn: r.name for r in self.resources}
        by_type: dict[str, int] = {}
        for record in self.resources:
            by_type[record.type] = by_type.get(record.type, 0) + 1
        return {
            "stack": self.stack,
            "project": self.project,
            "region": self.region,
            "counts": self.counts(),
            "byType": dict(sorted(by_type.items())),
            "uncoveredTypes": self.uncovered_types,
            "resources": [
                {
                    "type": record.type,
                    "name": record.name,
                    "parent": record.parent,
                    "parentType": record.parent_type,
                    "component": record.is_component,
                    "depth": depth,
                    "keyInputs": record.key_inputs,
                    "dependsOn": sorted(names.get(u, u) for u in record.dependencies),
                    "ignoreChanges": list(record.ignore_changes),
                }
                for depth, record in self.tree()
            ],
        }

    def to_text(self) -> str:
        """The human-readable plan: an indented tree with the key inputs."""
        counts = self.counts()
        lines = [
            f"Plan for stack {self.stack} ({self.region}): {counts['total']} resources "
            f"({counts['aws']} AWS resources, {counts['components']} components)",
            "",
        ]
        names = {r.urn: r.name for r in self.resources}
        for depth, record in self.tree():
            indent = "  " * depth
            lines.append(f"{indent}+ {record.type}  {record.name}")
            for key, value in record.key_inputs.items():
                text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                lines.append(f"{indent}      {key}: {text}")
            depends_on = sorted(names.get(u, u) for u in record.dependencies)
            if depends_on:
                lines.append(f"{indent}      dependsOn: {', '.join(depends_on)}")
            if record.ignore_changes:
                lines.append(f"{indent}      ignoreChanges: {', '.join(record.ignore_changes)}")
        if self.uncovered_types:
            lines += ["", "Not covered by the moto bridge (the twin cannot create these):"]
            lines += [f"  {token}" for token in self.uncovered_types]
        return "\n".join(lines)


def build_plan(
    stack: str,
    project_dir: Path,
    config_overrides: Mapping[str, Any] | None = None,
    *,
    stack_file: Path | None = None,
    main_path: Path | None = None,
) -> Plan:
    """Run the program for ``stack`` with fabricated outputs and return its plan.

    Raises StackConfigError (no stack file) or ConfigRejected (the program's
    validation refused the config, with every problem).
    """
    project_dir = project_dir.resolve()
    config = effective_config(project_dir, stack, config_overrides, stack_file)
    region = stack_region(config) or FALLBACK_REGION
    run = run_program(
        stack=stack,
        project=project_name(project_dir),
        project_dir=project_dir,
        config=config,
        answerer=FabricatedAnswerer(region),
        main_path=main_path,
        # Nothing is applied after a plan: no need to zip the archives.
        fingerprints=False,
    )
    return Plan(
        stack=stack,
        project=run.project,
        region=region,
        resources=run.records,
        bridged_types=frozenset(t.token for t in all_translations()),
    )
