"""The layers by role are enforced by import-linter (pyproject.toml), not promised.

Each test copies the packages into a temporary folder, breaks one rule there
and runs the real ``lint-imports`` on the copy: the rule must fail, naming the
contract and the import that broke it. The untouched copy passes, so a failure
is the injected import and nothing else.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("controller", "components", "rehearsal")


def _copy_project(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.png"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _append(path: Path, line: str) -> None:
    path.write_text(f"{path.read_text()}\n{line}\n")


def test_the_untouched_layers_keep_every_contract(tmp_path: Path) -> None:
    result = _lint(_copy_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "chain"),
    [
        (
            "controller/core/weights.py",
            "import boto3  # noqa",
            "The controller core is pure",
            "controller.core.weights -> boto3",
        ),
        (
            "controller/core/lifecycle.py",
            "import pulumi  # noqa",
            "The controller core is pure",
            "controller.core.lifecycle -> pulumi",
        ),
        (
            "controller/core/plan.py",
            "import controller.aws.clients  # noqa",
            "The controller core knows nothing of its adapters",
            "controller.core.plan -> controller.aws.clients",
        ),
        (
            "controller/handler.py",
            "import controller.cli.main  # noqa",
            "What runs in the controller Lambda never imports the operator CLI",
            "controller.handler -> controller.cli.main",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str, chain: str
) -> None:
    project = _copy_project(tmp_path)
    _append(project / module, line)

    result = _lint(project)

    assert result.returncode == 1, f"{module}: {line!r} was not caught\n{result.stdout}"
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
    assert chain in result.stdout, result.stdout
