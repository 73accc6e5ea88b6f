"""Tests of rehearsal/report/timeline.py: history to timeline, merging, the JSON document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from controller.core.lifecycle import Event, HistoryEntry, Status
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from rehearsal.report.timeline import (
    SOURCE_CONTROLLER,
    SOURCE_TWIN,
    CapacityReport,
    RehearsalReport,
    RouteReport,
    TimelineEvent,
    from_history,
    from_release_history,
    merge,
    outcome_of,
    percent_weights,
    render_text,
)

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def entry(event: Event, stage: int, seconds: float, weights: Weights | None = None) -> HistoryEntry:
    return HistoryEntry(
        at=STARTED + timedelta(seconds=seconds),
        actor="state-machine",
        event=event,
        from_status=Status.PROGRESSING,
        to_status=Status.PROGRESSING,
        stage=stage,
        weights=weights,
        reason=f"{event.value} reason",
    )


@pytest.mark.parametrize(
    ("event", "stored_stage", "shown"),
    [
        (Event.BEGIN, 0, 1),  # the stage the run starts with
        (Event.SHIFT, 1, 2),  # stored: stages passed before; shown: the stage entered
        (Event.CHECK_PASSED, 2, 2),  # stored: passed now; shown: the stage that passed
        (Event.CHECK_FAILED, 1, 2),  # the stage that failed
        (Event.ROLLBACK, 2, 3),
        (Event.DRIFT, 1, 2),
        (Event.FINISH, 4, 4),
        (Event.ROLLBACK, 4, 4),  # capped at the number of stages
    ],
)
def test_history_stages_become_the_stage_an_event_is_about(
    event: Event, stored_stage: int, shown: int
):
    converted = from_history(entry(event, stored_stage, 1.5), started=STARTED, stages_total=4)
    assert converted.stage == shown
    assert converted.at_ms == 1500.0
    assert converted.source == SOURCE_CONTROLLER


def test_a_release_check_is_about_the_stage_it_passed_or_is_still_baking():
    # As the release run stores them (controller/core/release_run.py): a pass
    # moves the stage on, a "not yet" keeps it; finish stores the plan's total.
    entries = [
        entry(Event.RELEASE_BEGIN, 0, 0),
        entry(Event.RELEASE_SHIFT, 0, 1),
        entry(Event.RELEASE_CHECK, 0, 2),  # not yet
        entry(Event.RELEASE_CHECK, 1, 3),  # stage 1 passed
        entry(Event.RELEASE_SHIFT, 1, 4),
        entry(Event.RELEASE_CHECK, 2, 5),  # stage 2 passed
        entry(Event.RELEASE_SHIFT, 2, 6),
        entry(Event.RELEASE_CHECK, 3, 7),  # stage 3 passed
        entry(Event.RELEASE_FINISH, 3, 8),
    ]
    events = from_release_history(entries, started=STARTED, stages_total=3)
    assert [(e.event, e.stage) for e in events] == [
        ("release_begin", 1),
        ("release_shift", 1),
        ("release_check", 1),
        ("release_check", 1),
        ("release_shift", 2),
        ("release_check", 2),
        ("release_shift", 3),
        ("release_check", 3),
        ("release_finish", 3),
    ]


def test_a_passed_check_is_called_check():
    converted = from_history(entry(Event.CHECK_PASSED, 1, 0), started=STARTED, stages_total=4)
    assert converted.event == "check"


def test_merge_orders_by_time_and_keeps_ties_in_source_order():
    controller = [TimelineEvent(10, "shift", 1, None, SOURCE_CONTROLLER)]
    twin = [
        TimelineEvent(5, "start", None, ALL_ECS, SOURCE_TWIN),
        TimelineEvent(10, "alarm", 1, None, SOURCE_TWIN),
    ]
    assert [e.event for e in merge(controller, twin)] == ["start", "shift", "alarm"]


def test_outcomes_of_the_final_statuses():
    assert outcome_of(Status.PROMOTED) == "promoted"
    assert outcome_of(Status.ROLLED_BACK) == "rolled_back"
    assert outcome_of(Status.PAUSED) == "paused"
    assert outcome_of(Status.PROGRESSING) is None
    assert outcome_of(Status.IDLE) is None


def report() -> RehearsalReport:
    return RehearsalReport(
        stack="prod",
        resources=47,
        duration_ms=6400.0,
        routes=[
            RouteReport(
                route="map-tile",
                outcome="rolled_back",
                final_weights=ALL_ECS,
                requests={"ecs": 1234, "lambda": 56},
                errors={"ecs": 0, "lambda": 6},
                failback_ms=12.345,
                timeline=[
                    TimelineEvent(0.04, "shift", 1, Weights.from_percent(1), SOURCE_CONTROLLER),
                    TimelineEvent(99.96, "failback", 1, ALL_ECS, SOURCE_TWIN, "read back"),
                ],
                reason="alarm",
                plan=[(1.0, 4.0), (100.0, 0.0)],
                min_requests=1,
            )
        ],
    )


def test_the_json_document_has_the_issues_shape():
    document = json.loads(json.dumps(report().to_json()))
    assert set(document) == {"stack", "routes", "resources", "duration_ms", "apply_ms"}
    assert document["stack"] == "prod" and document["resources"] == 47
    (route,) = document["routes"]
    assert set(route) == {
        "route",
        "outcome",
        "final_weights",
        "requests",
        "failback_ms",
        "reason",
        "capacity",
        "timeline",
    }
    assert route["reason"] == "alarm"
    assert route["capacity"] is None  # no ecsService: no guard
    assert route["final_weights"] == {"ecs": 100.0, "lambda": 0.0}
    assert route["requests"] == {"ecs": 1234, "lambda": 56}
    assert route["failback_ms"] == 12.3
    first = route["timeline"][0]
    assert {"at_ms", "event", "stage", "weights"} <= set(first)
    assert first == {
        "at_ms": 0.0,
        "event": "shift",
        "stage": 1,
        "weights": {"ecs": 99.0, "lambda": 1.0},
        "source": "controller",
        "reason": None,
    }


def test_capacity_of_a_guarded_route():
    rehearsal = report()
    rehearsal.routes[0].capacity = CapacityReport(12, 12, 12)
    route = json.loads(json.dumps(rehearsal.to_json()))["routes"][0]
    assert route["capacity"] == {
        "baseline_desired": 12,
        "min_pinned": 12,
        "desired_after_failback": 12,
    }
    assert "  capacity: ecs baseline 12, min pinned 12, desired after failback 12" in (
        render_text(rehearsal).splitlines()
    )


def test_no_failback_is_null():
    rehearsal = report()
    rehearsal.routes[0].failback_ms = None
    assert rehearsal.to_json()["routes"][0]["failback_ms"] is None


def test_percent_weights_are_the_shares():
    assert percent_weights(ALL_LAMBDA) == {"ecs": 0.0, "lambda": 100.0}
    assert percent_weights(Weights.from_percent(0.5)) == {"ecs": 99.5, "lambda": 0.5}


def test_the_text_summary_names_the_outcome_and_the_failback():
    text = render_text(report())
    assert "route map-tile: ROLLED_BACK (alarm)" in text
    assert "failback: 12.3 ms" in text
    assert "stages as rehearsed: 1% 4s, 100% 0s (minRequests 1)" in text
    assert "lambda 56 (6 5xx)" in text


def test_route_lookup_names_the_rehearsed_routes():
    with pytest.raises(KeyError, match="map-tile"):
        report().route("map-poi")


def changed_route(*events: TimelineEvent) -> RouteReport:
    return RouteReport(
        route="map-tile",
        outcome="promoted",
        final_weights=ALL_LAMBDA,
        requests={"ecs": 10, "lambda": 10},
        errors={},
        failback_ms=None,
        timeline=list(events),
    )


def test_the_summary_says_when_the_controller_synced_a_redeploy():
    ten = Weights.from_percent(10)
    route = changed_route(
        TimelineEvent(6130, "redeploy", 2, ten, SOURCE_TWIN, "pulumi up ..."),
        TimelineEvent(6510, "sync", 2, ten, SOURCE_CONTROLLER, "target groups synced"),
        TimelineEvent(7000, "reorder", 3, Weights.from_percent(50), SOURCE_TWIN, "reversed"),
    )
    text = render_text(RehearsalReport(stack="prod", routes=[route], resources=1))
    assert "  redeploy: stage 2, synced by the controller 380 ms later" in text
    assert "  reorder: stage 3, forward target groups reversed by hand" in text
    assert "redeploy       stage 2" in text, "the events are in the timeline too"


def test_the_summary_says_when_a_redeploy_was_not_synced():
    route = changed_route(
        TimelineEvent(6130, "redeploy", 2, None, SOURCE_TWIN, "pulumi up ..."),
        TimelineEvent(16200, "sync_missing", 2, None, SOURCE_TWIN, "still the old group"),
    )
    text = render_text(RehearsalReport(stack="prod", routes=[route], resources=1))
    assert "  redeploy: stage 2, NOT synced by the controller" in text


def test_the_summary_run_time_includes_applying_the_stack():
    done = report()
    done.duration_ms, done.apply_ms = 19000.0, 12000.0
    first = render_text(done).splitlines()[0]
    assert first.endswith("19.0 s (applying the stack 12.0 s)"), first


def test_a_release_is_in_the_json_and_the_summary():
    route = changed_route(
        TimelineEvent(100, "shift", 1, ALL_LAMBDA, SOURCE_CONTROLLER, "before the release"),
        TimelineEvent(6130, "redeploy", None, None, SOURCE_TWIN, "new code"),
        TimelineEvent(9000, "failback", 1, None, SOURCE_TWIN, "v1 alone"),
    )
    route.release = {
        "outcome": "rolled_back",
        "from_version": "1",
        "to_version": "2",
        "final_split": {"1": 100.0},
        "failback_ms": 31.25,
        "ecs_requests": 0,
        "started_at_ms": 6000.0,
    }
    entry = RehearsalReport(stack="prod", routes=[route], resources=1).to_json()["routes"][0]
    release = entry["release"]
    assert "started_at_ms" not in release
    assert [e["event"] for e in release["timeline"]] == ["redeploy", "failback"]
    assert (release["outcome"], release["final_split"]) == ("rolled_back", {"1": 100.0})
    text = render_text(RehearsalReport(stack="prod", routes=[route], resources=1))
    assert "  release: ROLLED_BACK v1 -> v2; live serves v1 100 %; failback 31.2 ms" in text


def test_a_long_event_name_widens_the_column_for_every_line():
    route = changed_route(
        TimelineEvent(100, "shift", 1, Weights.from_percent(1), SOURCE_CONTROLLER, "stage 1"),
        TimelineEvent(900, "upstream_failing", 1, None, SOURCE_TWIN, "503 from now on"),
    )
    text = render_text(RehearsalReport(stack="prod", routes=[route], resources=1))
    lines = [line for line in text.splitlines() if "stage 1" in line and "s  " in line]
    columns = {line.index("stage 1") for line in lines}
    assert len(lines) == 2 and len(columns) == 1, lines
    assert "upstream_failing stage 1" in text
