"""The equivalence check's gate: the report (controller/core/verify.py), the life cycle's
``verify`` and ``CanaryService.verify`` / ``verify_route`` on the fakes (tests/fakes.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from controller.core import lifecycle
from controller.core.errors import AwsCallFailed, TransitionRefused
from controller.core.lifecycle import Event, Status
from controller.core.state_machine import Outcome
from controller.core.verify import VerifyAnswerInvalid, VerifyDifference, report_from_answer
from controller.core.weights import ALL_ECS
from controller.service import CanaryService
from tests.fakes import FakeWorld, fake_world, route_record
from tests.unit.test_service import PLAN, ROUTE, begun, events, run, start


@pytest.fixture
def world() -> FakeWorld:
    return fake_world([route_record(ROUTE, PLAN)])


CACHE = VerifyDifference(
    "#1 GET /map/v1/tile/1/2/3.png", "cache-control", "no-store", "public, max-age=86400"
)


def answer(*differences: dict[str, Any], passed: bool | None = None) -> dict[str, Any]:
    """A checker answer (functions/traffic_check/check_core.py build_answer) of one sample."""
    observed = {"status": 200, "bodyLength": 120, "truncated": False, "error": None}
    return {
        "route": ROUTE,
        "mode": "exact",
        "passed": not differences if passed is None else passed,
        "samples": [
            {
                "sample": "#1 GET /map/v1/tile/1/2/3.png",
                "lambda": observed,
                "ecs": observed,
                "differences": list(differences),
            }
        ],
        "differences": list(differences),
    }


# --------------------------------------------------------------------------- the report


def test_a_report_without_differences_passes_and_says_so() -> None:
    report = report_from_answer(ROUTE, answer())
    assert report.passed
    assert report.summary() == (
        "verify passed: 1 sample(s) answer the same on Lambda and ECS (compare exact)"
    )
    assert report.samples[0].lambda_status == "200"


def test_a_difference_names_the_sample_the_field_and_both_values() -> None:
    diff = {"sample": CACHE.sample, "field": "cache-control", "lambda": "no-store", "ecs": "public"}
    report = report_from_answer(ROUTE, answer(diff))
    assert not report.passed
    assert report.summary() == (
        "verify: 1 difference(s) (compare exact): #1 GET /map/v1/tile/1/2/3.png: "
        "cache-control lambda 'no-store', ecs 'public'"
    )
    assert report.to_dict()["differences"] == [diff]


@pytest.mark.parametrize(
    "broken",
    [
        None,
        {"mode": "exact", "samples": []},
        answer(passed=False),
        answer({"sample": "#1", "field": "status", "lambda": "500", "ecs": "200"}, passed=True),
    ],
)
def test_a_malformed_or_contradictory_answer_is_refused(broken: Any) -> None:
    with pytest.raises(VerifyAnswerInvalid, match="route map-tile: the checker's answer"):
        report_from_answer(ROUTE, broken)


# --------------------------------------------------------------------------- life cycle


def test_lifecycle_verify_failed_pauses_for_an_operator_and_releases_the_lock() -> None:
    now = datetime(2026, 1, 1, 1, tzinfo=UTC)
    state = replace(
        lifecycle.initial_state(ROUTE, 3),
        status=Status.PROGRESSING,
        lock=lifecycle.Lock("arn:run", now),
    )
    failed = lifecycle.verify(
        state, execution_arn="arn:run", passed=False, reason="x differs", actor="sm", now=now
    )
    assert failed.state.status is Status.PAUSED and failed.state.lock is None
    assert failed.state.reason == "verify: x differs"
    assert lifecycle.needs_operator(failed.state)
    assert failed.entry is not None and failed.entry.event is Event.VERIFY
    passed = lifecycle.verify(
        state, execution_arn="arn:run", passed=True, reason="ok", actor="sm", now=now
    )
    assert passed.state.status is Status.PROGRESSING and passed.state.lock == state.lock
    assert passed.changed and passed.state.version == state.version + 1
    with pytest.raises(TransitionRefused):
        lifecycle.verify(state, execution_arn="other", passed=True, reason="", actor="sm", now=now)


# --------------------------------------------------------------------------- the gate


def test_a_passing_check_lets_the_run_shift(world: FakeWorld, service: CanaryService) -> None:
    arn = begun(world, service)
    world.log.clear()
    result = service.verify(run(arn))
    assert (result.outcome, result.status) == (Outcome.VERIFIED, Status.PROGRESSING)
    assert world.verify.checked == [ROUTE]
    assert world.log.writes() == ["state.save"], "a pass records one entry, nothing else"
    assert events(service)[-1] is Event.VERIFY
    assert service.shift(run(arn)).outcome == Outcome.BAKING


def test_a_difference_pauses_before_any_weight_moves(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begun(world, service)
    world.verify.differ(ROUTE, CACHE)
    world.log.clear()
    result = service.verify(run(arn))
    assert (result.outcome, result.status) == (Outcome.DIFFERS, Status.PAUSED)
    assert world.log.writes() == ["state.save", "notify.notify"]
    assert world.traffic.read_weights(world.registry.route(ROUTE)) == ALL_ECS
    state = world.state.states[ROUTE]
    assert state.lock is None and lifecycle.needs_operator(state)
    entry = service.history(ROUTE, 1)[0]
    assert entry.event is Event.VERIFY
    assert entry.reason is not None
    assert "#1 GET /map/v1/tile/1/2/3.png: cache-control lambda 'no-store'" in entry.reason
    (sent,) = world.notify.take()
    assert sent["message"]["event"] == "verify"
    assert sent["message"]["differences"] == [CACHE.to_dict()]
    # A retried Verify task answers the same and writes nothing more.
    world.log.clear()
    assert service.verify(run(arn)).outcome == Outcome.DIFFERS
    assert world.log.writes() == []


def test_a_check_that_cannot_run_pauses_too(world: FakeWorld, service: CanaryService) -> None:
    arn = begun(world, service)
    denied = AwsCallFailed("AccessDeniedException: no", api_call="lambda:InvokeFunction")
    world.faults.fail("verify.run_check", denied)
    result = service.verify(run(arn))
    assert (result.outcome, result.status) == (Outcome.DIFFERS, Status.PAUSED)
    assert result.reason is not None
    assert result.reason.startswith("verify: the check could not run: AccessDeniedException")


def test_a_throttled_check_is_raised_for_the_state_machine_to_retry(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = begun(world, service)
    world.faults.throttle("verify.run_check")
    with pytest.raises(AwsCallFailed):
        service.verify(run(arn))
    assert world.state.states[ROUTE].status is Status.PROGRESSING
    assert service.verify(run(arn)).outcome == Outcome.VERIFIED


def test_a_route_without_a_checker_passes_unchecked() -> None:
    world = fake_world([replace(route_record(ROUTE, PLAN), check_function_name=None)])
    service = world.service()
    arn = begun(world, service)
    world.log.clear()
    result = service.verify(run(arn))
    assert result.outcome == Outcome.VERIFIED
    assert world.verify.checked == [] and world.log.writes() == []


def test_a_stale_execution_is_superseded_and_checks_nothing(
    world: FakeWorld, service: CanaryService
) -> None:
    arn = start(world)
    result = service.verify(run(arn))
    assert result.outcome == Outcome.SUPERSEDED
    assert world.verify.checked == []


def test_verify_on_demand_reports_and_records_nothing(
    world: FakeWorld, service: CanaryService
) -> None:
    world.verify.differ(ROUTE, CACHE)
    world.log.clear()
    result = service.verify_route(ROUTE, actor="operator:alice")
    assert (result.action, result.result, result.status) == ("verify", "differs", Status.IDLE)
    assert result.details is not None and result.details["differences"] == [CACHE.to_dict()]
    assert world.log.writes() == []
    world.verify.differ(ROUTE)
    assert service.verify_route(ROUTE, actor="operator:alice").result == "passed"
