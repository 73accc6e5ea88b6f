"""Fixtures of the moto bridge tests (tests/aws/test_bridge_*.py).

``bridge``: a :class:`Bridge` on a fresh in-process emulator, in the
``REGION`` the test module declares (its ARNs are spelled with it), without
AWS managed policies (loading them takes seconds and no translation needs
them). Its project directory is the test's ``tmp_path``, where relative
archive paths resolve.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rehearsal.world.bridge import Bridge
from rehearsal.world.emulator import in_process


@pytest.fixture
def bridge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bridge]:
    """A bridge on an empty emulator in the test module's ``REGION``."""
    region = str(request.module.REGION)
    with in_process(region, managed_policies=False) as emulator:
        yield Bridge(emulator, tmp_path)
