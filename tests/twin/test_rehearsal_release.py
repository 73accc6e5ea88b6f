"""``rehearsal run --release``: a promoted route's new function version, released in stages.

Two runs for the module, each on its own twin, both promoted at once
(``--from-promoted``) to keep the suite short: one whose new version fails
during release stage 1, one that promotes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rehearsal.run import RunOptions, run_rehearsal

pytestmark = pytest.mark.own_stack

PROJECT = Path(__file__).resolve().parents[2]
FAILBACK_LIMIT_MS = 1000


def _run(**options: Any) -> dict[str, Any]:
    report = run_rehearsal(
        RunOptions(project_dir=PROJECT, release=True, from_promoted=True, bake_seconds=2, **options)
    )
    (route,) = report.to_json()["routes"]
    return dict(route)


@pytest.fixture(scope="module")
def failed() -> dict[str, Any]:
    return _run(fail_at_stage=1)


@pytest.fixture(scope="module")
def released() -> dict[str, Any]:
    return _run()


def _events(route: dict[str, Any]) -> list[str]:
    return [event["event"] for event in route["release"]["timeline"]]


def test_a_failing_new_version_is_failed_back_and_the_route_stays_on_lambda(
    failed: dict[str, Any],
) -> None:
    release = failed["release"]
    assert (release["outcome"], release["from_version"], release["to_version"]) == (
        "rolled_back",
        "1",
        "2",
    )
    assert release["final_split"] == {"1": 100.0}, "live must serve the previous version only"
    assert release["failback_ms"] is not None and release["failback_ms"] < FAILBACK_LIMIT_MS
    # The route itself stays promoted on Lambda: ECS got no request and weighs 0.
    assert failed["outcome"] == "promoted"
    assert failed["final_weights"] == {"ecs": 0.0, "lambda": 100.0}
    assert failed["requests"]["ecs"] == 0 and release["ecs_requests"] == 0
    events = _events(failed)
    for expected in ("redeploy", "release_begin", "release_shift", "alarm", "failback"):
        assert expected in events, f"{expected} missing from {events}"
    assert events.index("alarm") < events.index("failback") < events.index("release_end")
    assert "release_finish" not in events


def test_a_new_version_never_gets_more_than_its_stage(failed: dict[str, Any]) -> None:
    shifts = [e for e in failed["release"]["timeline"] if e["event"] == "release_shift"]
    assert [e["reason"].split(": ", 1)[1] for e in shifts] == ["v1 90 % / v2 10 %"]


def test_a_healthy_new_version_is_promoted_stage_by_stage(released: dict[str, Any]) -> None:
    release = released["release"]
    assert (release["outcome"], release["to_version"]) == ("promoted", "2")
    assert release["final_split"] == {"2": 100.0}
    assert release["failback_ms"] is None
    assert released["requests"]["ecs"] == 0 and released["final_weights"]["ecs"] == 0.0
    timeline = release["timeline"]
    shifts = [e["reason"].split(": ", 1)[1] for e in timeline if e["event"] == "release_shift"]
    assert shifts == ["v1 90 % / v2 10 %", "v1 50 % / v2 50 %"]
    checks = [e["reason"] for e in timeline if e["event"] == "release_check"]
    assert checks and all('"invocations"' in reason for reason in checks), checks
    assert "release_finish" in _events(released)
