"""Tests of rehearsal/report/chart.py: the PNG of weights and error rates."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from rehearsal.report.chart import error_rate, write_chart
from rehearsal.report.timeline import RehearsalReport, RouteReport, RouteSeries

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_error_rate_per_bucket_of_one_side():
    requests = [
        (10.0, "lambda", 200),
        (20.0, "lambda", 502),
        (30.0, "ecs", 503),  # the other side
        (260.0, "lambda", 502),
        (900.0, "ecs", 200),  # no lambda request in that bucket: no point
    ]
    assert error_rate(requests, bucket_ms=250) == [(0.0, 50.0), (250.0, 100.0)]
    assert error_rate(requests, side="ecs", bucket_ms=250) == [(0.0, 100.0), (750.0, 0.0)]
    with pytest.raises(ValueError, match="bucket_ms"):
        error_rate(requests, bucket_ms=0)


def route(name: str, outcome: str, **series: object) -> RouteReport:
    weights = [(0.0, 0.0), (1000.0, 10.0), (3000.0, 100.0)]
    return RouteReport(
        route=name,
        outcome=outcome,  # type: ignore[arg-type]
        final_weights=ALL_LAMBDA if outcome == "promoted" else ALL_ECS,
        requests={"ecs": 10, "lambda": 5},
        errors={"ecs": 0, "lambda": 2},
        failback_ms=40.0 if series.get("alarm_at_ms") else None,
        timeline=[],
        series=RouteSeries(
            weights=weights,
            requests=[(1100.0, "lambda", 200), (1200.0, "lambda", 502)],
            stage_starts=[(1000.0, 1), (3000.0, 2)],
            **series,  # type: ignore[arg-type]
        ),
    )


def test_the_chart_is_a_png_with_one_row_per_route(tmp_path: Path):
    report = RehearsalReport(
        stack="three",
        resources=99,
        duration_ms=4000.0,
        routes=[
            route("map-tile", "promoted"),
            route("map-poi", "rolled_back", alarm_at_ms=1500.0, failback_at_ms=1540.0),
            route("route-search", "paused", manual_change_at_ms=2000.0),
        ],
    )
    small = write_chart(
        RehearsalReport("prod", [route("map-tile", "promoted")], 47, 4000.0), tmp_path / "one.png"
    )
    path = write_chart(report, tmp_path / "nested" / "three.png")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000, "a real drawing, not an empty canvas"
    # The PNG header holds the height: three rows are taller than one.
    assert int.from_bytes(data[20:24], "big") > int.from_bytes(small.read_bytes()[20:24], "big")


def test_a_route_without_requests_or_reads_still_draws(tmp_path: Path):
    empty = RouteReport(
        route="idle",
        outcome="paused",
        final_weights=Weights.from_percent(33.3),
        requests={},
        errors={},
        failback_ms=None,
        timeline=[],
    )
    path = write_chart(RehearsalReport("prod", [empty], 1, 0.0), tmp_path / "empty.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
