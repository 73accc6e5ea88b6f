"""Tests of rehearsal/report/progress.py: the live progress lines."""

from __future__ import annotations

import io

from controller.core.weights import Weights
from rehearsal.report.progress import ProgressPrinter, RouteSnapshot, format_line


def snapshot(**changes: object) -> RouteSnapshot:
    values: dict[str, object] = {
        "route": "map-tile",
        "stage": 2,
        "stages": 4,
        "weights": Weights.from_percent(10),
        "requests_ecs": 100,
        "requests_lambda": 11,
        "errors_lambda": 0,
        "alarm": "OK",
        "status": "progressing",
    }
    values.update(changes)
    return RouteSnapshot(**values)  # type: ignore[arg-type]


def test_the_line_shows_weights_stage_requests_alarm_and_status():
    line = format_line(snapshot())
    assert line.split() == [
        "map-tile", "ecs", "90", "%", "/", "lambda", "10", "%", "stage", "2/4",
        "requests", "ecs", "100,", "lambda", "11", "(0", "5xx)", "alarm", "OK", "progressing",
    ]  # fmt: skip


def test_a_failback_line_names_the_alarm_that_caused_it():
    line = format_line(
        snapshot(
            stage=1,
            weights=Weights.from_percent(0),
            status="rolled_back",
            cause="alarm strangler-prod-map-tile-composite in ALARM",
        )
    )
    assert line.endswith("alarm strangler-prod-map-tile-composite in ALARM  rolled_back"), line
    assert "alarm OK" not in line


def test_a_run_before_its_first_shift_shows_no_stage_yet():
    assert "0/4 passed" in format_line(snapshot(stage=0, weights=Weights.from_percent(0)))


def test_an_ended_route_shows_the_stages_it_passed():
    assert "1/4 passed" in format_line(snapshot(stage=1, status="rolled_back"))
    assert "weights unknown" in format_line(snapshot(weights=None))


def test_lines_print_on_change_or_on_the_heartbeat_only():
    stream = io.StringIO()
    now = [0.0]
    printer = ProgressPrinter(stream, heartbeat_seconds=1.0, clock=lambda: now[0])
    assert printer.update(snapshot())
    now[0] = 0.5
    assert not printer.update(snapshot(requests_ecs=150)), "counters alone wait for the heartbeat"
    assert printer.update(snapshot(alarm="ALARM")), "an alarm prints at once"
    now[0] = 1.6
    assert printer.update(snapshot(alarm="ALARM", requests_ecs=200)), "the heartbeat"
    assert printer.update(snapshot(route="map-poi")), "each route has its own line"
    assert len(stream.getvalue().splitlines()) == 4


def test_no_stream_prints_nothing():
    printer = ProgressPrinter(None)
    assert printer.update(snapshot())
    printer.say("nothing")


def test_a_progressing_line_shows_the_stage_whose_weights_the_rule_holds():
    from controller.core.contract import PlanRecord, StagePlanRecord
    from controller.core.lifecycle import RouteState, Status
    from rehearsal.scenario.engine import _rollback_cause, _stage_holding

    plan = PlanRecord(
        stages=(*(StagePlanRecord(w, 2) for w in (1.0, 10.0, 50.0)), StagePlanRecord(100, 0))
    )
    # Stage 2 passed, the shift to stage 3 (50 %) not written yet: still stage 2's line.
    assert _stage_holding(plan, Weights.from_percent(10), passed=2) == 2
    assert _stage_holding(plan, Weights.from_percent(50), passed=2) == 3
    assert _stage_holding(plan, Weights.from_percent(0), passed=0) == 0
    # A rollback wrote ECS 100 % and has not recorded it: no line for that instant.
    assert _stage_holding(plan, Weights.from_percent(0), passed=1) is None
    rolled = RouteState(route="map-tile", status=Status.ROLLED_BACK, reason="alarm a in ALARM: why")
    assert _rollback_cause(rolled) == "alarm a in ALARM"
