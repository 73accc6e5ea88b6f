"""Fixtures shared by the test tiers (the directories are the tiers: unit, aws, twin).

- ``factory``: an empty moto account and the adapters' client factory on it
  (the adapter tests of tests/aws);
- ``twin``: the stack deployed by the REAL program (``tests/stacks/Pulumi.three.yaml``
  applied to moto by rehearsal/world), built once per test session (per
  xdist worker) and put back as deployed before every test that uses it; see
  :class:`tests.aws_fixtures.SharedTwin`.

moto, boto3 and the twin are imported inside the fixtures: the unit tier
never pays for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from controller.aws.clients import ClientFactory
    from tests.aws_fixtures import SharedTwin, TwinWorld


@pytest.fixture
def factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """An empty moto account (ap-northeast-1, fake credentials) and a client factory on it."""
    from rehearsal.world import moto_patches
    from tests.aws_fixtures import moto_factory

    # moto 5.2.5 stores composite alarms but has no PutCompositeAlarm handler;
    # the rehearsal's one patch adds it (and refuses any other moto version).
    moto_patches.install()
    with moto_factory(monkeypatch) as made:
        yield made


@pytest.fixture(scope="session")
def shared_twin() -> Iterator[SharedTwin]:
    """The twin of this session (worker): built on first use, kept between tests."""
    from tests.aws_fixtures import SharedTwin

    shared = SharedTwin()
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def twin(shared_twin: SharedTwin, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwinWorld]:
    """The deployed twin, as the deploy left it: no state, rules at ECS, alarms OK, no run."""
    from tests.aws_fixtures import fake_aws_env

    fake_aws_env(monkeypatch)
    with shared_twin.use() as world:
        yield world


# --- scheduling -----------------------------------------------------------------------
#: The tiers in the order ``make pytest`` hands them out: slowest first.
TIER_ORDER = ("twin", "aws", "unit")


def _schedule_rank(item: pytest.Item) -> tuple[int, int]:
    """Where ``item`` goes in the run: its tier, and within it the ``own_stack`` modules first."""
    tier = item.path.parent.name
    rank = TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER)
    return rank, 0 if item.get_closest_marker("own_stack") else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Hand the longest work out first, so that the short modules fill the gaps at the end.

    ``make pytest`` runs ``--dist loadscope --no-loadscope-reorder``: each
    module (or class) goes whole to one worker, in the order of this list.
    xdist's own reordering (most tests first) would hand out a module that
    applies a stack of its own, three slow tests, after hundreds of quick
    ones, and the run would end waiting on it. The sort is stable: within a
    rank, modules and tests keep their collection order.
    """
    items.sort(key=_schedule_rank)
