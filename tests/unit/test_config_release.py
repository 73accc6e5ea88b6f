"""components.config: the route's ``release`` block (defaults and every kind of bad input)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.core.release import ReleasePlanRecord, ReleaseStageRecord
from tests.unit.test_config import parse, problems, raw_config, route

project = pytest.fixture(lambda tmp_path: _project(tmp_path))


def _project(tmp_path: Path) -> Path:
    (tmp_path / "fn").mkdir()
    return tmp_path


def test_release_defaults_are_the_safe_ones(project: Path) -> None:
    release = parse(raw_config(route()), project).routes[0].release
    assert release == ReleasePlanRecord()
    assert [(s.weight, s.bake_seconds) for s in release.stages] == [(10, 300), (50, 300), (100, 0)]
    assert release.min_requests == 50
    assert release.max_error_rate_delta_percent == 1
    assert release.schedule is None


def test_release_values_are_read(project: Path) -> None:
    block = {
        "stages": [{"weight": 5, "bakeMinutes": 2}, {"weight": 100}],
        "minRequests": 20,
        "maxErrorRateDeltaPercent": 0.5,
        "schedule": "cron(0 3 * * ? *)",
    }
    release = parse(raw_config(route(release=block)), project).routes[0].release
    assert release.stages == (ReleaseStageRecord(5, 120), ReleaseStageRecord(100, 0))
    assert (release.min_requests, release.max_error_rate_delta_percent) == (20, 0.5)
    assert release.schedule == "cron(0 3 * * ? *)"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"stages": [{"weight": 10}]},
         "routes[0].release.stages[0].weight: the last stage must be 100"),
        ({"stages": [{"weight": 50}, {"weight": 10}, {"weight": 100}]},
         "routes[0].release.stages[1].weight: must be greater than the previous stage (50)"),
        ({"minRequests": 0}, "routes[0].release.minRequests: 0 is below the minimum 1"),
        ({"maxErrorRateDeltaPercent": -1},
         "routes[0].release.maxErrorRateDeltaPercent: must not be negative"),
        ({"schedule": "tomorrow"}, "routes[0].release.schedule: 'tomorrow' must be cron(...)"),
        ({"stage": []}, "routes[0].release.stage"),
        ("fast", "routes[0].release"),
    ],
)  # fmt: skip
def test_bad_release_blocks_are_named(project: Path, block: Any, expected: str) -> None:
    found = problems(raw_config(route(release=block)), project)
    assert any(p.startswith(expected) for p in found), found
