"""Tests of the package APIs of rehearsal/world, rehearsal/scenario and rehearsal/report.

Each package names in ``__all__`` what the commands (rehearsal/cli.py,
run.py, plan.py, serve.py) use and imports it from its submodule on first
use (rehearsal/lazy.py). The commands import from these APIs only, and
importing a package, or a light submodule of it, stays light.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("rehearsal.world", "rehearsal.scenario", "rehearsal.report")
COMMANDS = ("cli.py", "run.py", "plan.py", "serve.py", "fault.py")


def _fresh_modules(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a new interpreter."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_is_its_submodules_object(package: str):
    api = importlib.import_module(package)
    exports = {name: module for module, names in api._EXPORTS.items() for name in names}

    assert sorted(api.__all__) == sorted(exports), "__all__ and the map must agree"
    for name, module in exports.items():
        defined = getattr(importlib.import_module(f"{package}.{module}"), name)
        assert getattr(api, name) is defined


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str):
    api = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = api.no_such_name


def test_importing_the_packages_imports_none_of_their_submodules():
    loaded = _fresh_modules("import rehearsal.world, rehearsal.scenario, rehearsal.report")

    inside = sorted(m for m in loaded if m.startswith(tuple(f"{p}." for p in PACKAGES)))
    assert inside == [], f"imported on package import: {inside}"


def test_the_lambda_worker_imports_nothing_a_function_would_not_have():
    loaded = _fresh_modules("import rehearsal.world.lambda_worker")

    heavy = sorted({"boto3", "botocore", "moto", "pulumi", "yaml"} & loaded)
    assert heavy == [], f"the worker process would import {heavy}"


def test_the_run_command_imports_matplotlib_and_pulumi_only_when_used():
    loaded = _fresh_modules("import rehearsal.run")

    assert "matplotlib" not in loaded, "only --chart needs it"
    assert "pulumi" not in loaded, "only a run needs it"


def _rehearsal_imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every ``from rehearsal... import names`` of a file, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rehearsal"):
            found.append((node.module or "", [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("rehearsal")]
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_the_commands_import_the_package_apis_only(command: str):
    for module, names in _rehearsal_imports(ROOT / "rehearsal" / command):
        inside = [p for p in PACKAGES if module.startswith(f"{p}.")]
        assert not inside, f"{command} reaches into {module}; import from {inside[0]}"
        if module in PACKAGES:
            api = importlib.import_module(module)
            missing = sorted(set(names) - set(api.__all__))
            assert not missing, f"{command} imports {missing} that {module} does not export"
