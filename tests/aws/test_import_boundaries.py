"""Import boundaries checked in a fresh interpreter (one subprocess each).

The import-linter contracts in pyproject.toml check the static graph; these
check what a real import loads.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def assert_runs_clean(code: str) -> None:
    """Run ``code`` in a fresh interpreter at the project root; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_backend_does_not_import_the_cli_entry_point() -> None:
    # What main and backend share lives in controller.cli.types: loading the
    # backend (as main does lazily) must not need main to be loaded first.
    code = (
        "import sys\n"
        "import controller.cli.backend\n"
        "assert 'controller.cli.main' not in sys.modules, 'backend imports main'\n"
    )
    assert_runs_clean(code)


def test_the_service_holds_ports_and_loads_no_adapter() -> None:
    # The adapters are wired in controller.aws.wiring; importing the service
    # (as the Lambda's events and the CLI do) must not pull them, nor boto3, in.
    code = (
        "import sys\n"
        "import controller.service as service\n"
        "from controller.core.ports import Ports\n"
        "assert service.Ports is Ports\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('controller.aws', 'boto3')))\n"
        "assert not loaded, loaded\n"
    )
    assert_runs_clean(code)
