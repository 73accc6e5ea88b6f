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


def test_the_line_shows_stage_weights_requests_alarm_and_status():
    line = format_line(snapshot())
    assert line.startswith("map-tile     stage 2/4  ecs  90.0 / lambda  10.0")
    assert "requests ecs 100 lambda 11 (5xx 0)" in line
    assert line.endswith("alarm OK  progressing")


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
