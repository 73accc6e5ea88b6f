"""The unit tier builds the program's function archives without pip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components.function_code import archive_builder
from tests.pulumi_mocks import SourceArchives


@pytest.fixture(scope="session", autouse=True)
def source_archives(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SourceArchives]:
    """Every program a unit test runs gets :class:`SourceArchives` as its archive builder.

    Session-wide, so that module fixtures that run the program get it too.
    """
    builder = SourceArchives(tmp_path_factory.mktemp("archives"))
    with archive_builder(builder):
        yield builder
