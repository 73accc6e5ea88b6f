"""Fixtures of the unit tier.

- the program's function archives are built without pip;
- ``service``: the controller's service on the module's own ``world``
  fixture (a :class:`tests.fakes.FakeWorld`; each service-test module
  declares the world its tests need).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from components.function_code import archive_builder
from tests.pulumi_mocks import SourceArchives

if TYPE_CHECKING:
    from controller.service import CanaryService
    from tests.fakes import FakeWorld


@pytest.fixture(scope="module", autouse=True)
def source_archives(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SourceArchives]:
    """Every program a unit test runs gets :class:`SourceArchives` as its archive builder.

    Module-wide, so that module fixtures that run the program get it too (an
    autouse fixture comes first in its scope), and no wider: a test worker
    that runs a unit module and then a twin module must build the real
    archives for the twin.
    """
    builder = SourceArchives(tmp_path_factory.mktemp("archives"))
    with archive_builder(builder):
        yield builder


@pytest.fixture
def service(world: FakeWorld) -> CanaryService:
    """The service on this module's ``world``: the fakes behind every port, its clock."""
    return world.service()
