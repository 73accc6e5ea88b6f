"""The unit tier builds the program's function archives without pip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components.function_code import archive_builder
from tests.pulumi_mocks import SourceArchives


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
