"""Tests of controller/cli/format.py: the operator CLI's tables and JSON payloads."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from controller.cli.format import (
    ActionView,
    RouteStatusView,
    Style,
    action_payload,
    capacity_text,
    colour_enabled,
    format_duration,
    history_payload,
    render_action,
    render_history,
    render_status,
    status_payload,
    table,
    visible_len,
)
from controller.core.capacity import CapacityGuard
from controller.core.gate import estimate_after_bake
from controller.core.lifecycle import Event, HistoryEntry, Status
from controller.core.weights import ALL_ECS, Weights
from tests.cli_views import ROLLBACK_DONE

NOW = datetime(2024, 5, 10, 9, 0, 0, tzinfo=UTC)


def view(**overrides) -> RouteStatusView:
    values = {
        "route": "map-tile",
        "status": "progressing",
        "stage": 1,
        "stages": 4,
        "live": Weights.from_percent(10.0),
        "last_written": Weights.from_percent(10.0),
        "drift": False,
        "alarm": "OK",
        "execution": "arn:aws:states:ap-northeast-1:123456789012:execution:sm:run-1",
        "execution_running": True,
        "next_stage_at": NOW + timedelta(minutes=4, seconds=12),
    }
    values.update(overrides)
    return RouteStatusView(**values)


def test_status_payload_has_the_documented_keys_and_percent_weights():
    payload = status_payload(view(drift=True, live=Weights(ecs=500, lambda_=499)))
    for key in ("route", "status", "stage", "stages", "weights", "drift", "alarm"):
        assert key in payload, key
    for key in ("alarms_in_alarm", "execution", "next_stage_at", "reason"):
        assert key in payload, key
    assert payload["weights"] == {"ecs": 50.1, "lambda": 49.9}
    assert payload["alb_weights"] == {"ecs": 500, "lambda": 499}
    assert payload["last_written"] == {"ecs": 90.0, "lambda": 10.0}
    assert payload["drift"] is True
    assert payload["next_stage_at"] == "2024-05-10T09:04:12+00:00"
    json.dumps(payload)  # JSON-able as is


def test_status_payload_all_ecs_is_100_and_0():
    payload = status_payload(view(status="idle", live=ALL_ECS, last_written=None))
    assert payload["weights"] == {"ecs": 100.0, "lambda": 0.0}
    assert payload["last_written"] is None


def test_status_table_shows_stage_weights_execution_and_countdown():
    text = render_status([view()], NOW, Style(False))
    header, row = text.splitlines()[:2]
    assert header.split() == [
        "ROUTE", "STATUS", "STAGE", "WEIGHTS", "ALARM", "EXECUTION", "NEXT"
    ]  # fmt: skip
    assert row.split() == [
        "map-tile", "progressing", "1/4", "ecs", "90", "%", "/", "lambda", "10", "%", "OK",
        "run-1", "next", "stage", "in", "4m12s",
    ]  # fmt: skip


def test_status_table_warns_about_drift_and_alarms():
    text = render_status(
        [
            view(
                drift=True,
                live=Weights(ecs=499, lambda_=500),
                alarm="ALARM",
                alarms_in_alarm=("strangler-prod-map-tile-errors",),
            )
        ],
        NOW,
        Style(False),
    )
    assert "DRIFT" in text.splitlines()[1], text
    assert (
        "! map-tile: DRIFT: the rule has ecs 49.9 % / lambda 50.1 % "
        "(ALB weights ecs 499 / lambda 500), the controller last wrote ecs 90 % / lambda 10 %."
    ) in text
    assert (
        "the next shift will pause the route. To keep the rule's weights: python -m controller "
        "pause --route map-tile, then python -m controller resume --route map-tile --accept-live"
    ) in text
    assert "! map-tile: in ALARM: strangler-prod-map-tile-errors" in text


def test_status_table_last_stage_counts_down_to_finish():
    row = render_status([view(stage=3, stages=4)], NOW, Style(False)).splitlines()[1]
    assert row.endswith("finish in 4m12s"), row


def test_status_table_next_scheduled_run_or_raw_schedule():
    scheduled = view(
        route="a", status="paused", next_stage_at=None, next_run_at=NOW + timedelta(hours=3)
    )
    unknown = view(
        route="b",
        status="idle",
        next_stage_at=None,
        schedule="rate(1 day)",
        timezone="Asia/Tokyo",
        execution=None,
    )
    lines = render_status([scheduled, unknown], NOW, Style(False)).splitlines()
    assert lines[1].endswith("run in 3h00m"), lines[1]
    assert lines[2].endswith("schedule: rate(1 day) Asia/Tokyo"), lines[2]
    assert " - " in lines[2]  # no execution


def test_colour_codes_do_not_break_alignment():
    rows = [view(route="a", status="rolled_back"), view(route="long-route-name", drift=True)]
    plain = render_status(rows, NOW, Style(False)).splitlines()
    coloured = render_status(rows, NOW, Style(True)).splitlines()
    assert "\x1b[" in "".join(coloured)
    for p, c in zip(plain, coloured, strict=True):
        assert visible_len(c) == len(p), (p, c)


def test_colour_only_on_a_tty_without_no_color():
    assert colour_enabled(True, {}) is True
    assert colour_enabled(False, {}) is False
    assert colour_enabled(True, {"NO_COLOR": "1"}) is False
    assert Style(False)("x", "red") == "x"


def test_table_pads_to_the_widest_cell():
    lines = table(["A", "BB"], [["long", "x"], ["s", "yy"]])
    assert lines == ["A     BB", "long  x", "s     yy"]


@given(st.integers(0, 10 * 86400))
def test_format_duration_is_short_and_never_negative(seconds):
    text = format_duration(seconds)
    assert len(text) <= 6, text
    assert not text.startswith("-")
    assert format_duration(-5) == "0s"


def entry(**overrides) -> HistoryEntry:
    values = {
        "at": NOW,
        "actor": "operator:alice",
        "event": Event.ROLLBACK,
        "from_status": Status.PROGRESSING,
        "to_status": Status.ROLLED_BACK,
        "stage": 2,
        "weights": ALL_ECS,
        "reason": "latency",
    }
    values.update(overrides)
    return HistoryEntry(**values)


def test_history_payload_keys():
    payload = history_payload(entry())
    assert payload == {
        "at": "2024-05-10T09:00:00+00:00",
        "actor": "operator:alice",
        "event": "rollback",
        "from": "progressing",
        "to": "rolled_back",
        "reason": "latency",
        "stage": 2,
        "weights": {"ecs": 100.0, "lambda": 0.0},
        "execution": None,
    }


def test_history_table():
    noop = entry(event=Event.NOOP, to_status=Status.PROGRESSING, weights=None, reason=None)
    lines = render_history("map-tile", [entry(), noop], Style(False)).splitlines()
    assert lines[0].split()[:4] == ["AT", "(UTC)", "ACTOR", "EVENT"]
    assert "progressing -> rolled_back" in lines[1]
    assert lines[1].rstrip().endswith("ecs 100 % / lambda 0 %  latency"), lines[1]
    assert "->" not in lines[2]
    assert render_history("map-tile", [], Style(False)) == "no history for route map-tile"


def test_action_payload_and_line():
    action = ActionView(
        route="map-tile",
        action="rollback",
        result="done",
        status="rolled_back",
        message="all traffic on ECS",
        stage=2,
        stages=4,
        weights=ALL_ECS,
    )
    payload = action_payload(action)
    assert {k: payload[k] for k in ROLLBACK_DONE} == ROLLBACK_DONE
    assert payload["weights"] == {"ecs": 100.0, "lambda": 0.0}
    assert render_action(action, Style(False)) == (
        "map-tile: rollback -> done: all traffic on ECS; status rolled_back; stage 2/4; "
        "ecs 100 % / lambda 0 %"
    )


def test_a_drift_before_any_write_says_what_the_deploy_left():
    text = render_status(
        [view(status="idle", drift=True, live=Weights(ecs=899, lambda_=100), last_written=None)],
        NOW,
        Style(False),
    )
    assert (
        "the controller last wrote nothing yet (the deploy created the rule at ecs 100 % / "
        "lambda 0 %). Someone changed the rule by hand; to keep the rule's weights: "
        "python -m controller resume --route map-tile --accept-live"
    ) in text


def test_status_shows_the_version_split_of_a_release():
    promoted = view(
        status="promoted",
        stage=4,
        live=Weights.from_percent(100),
        versions="v7 90 % / v8 10 %",
        release="progressing",
        next_stage_at=None,
    )
    row = render_status([promoted], NOW, Style(False)).splitlines()[1]
    assert "ecs 0 % / lambda 100 % (v7 90 % / v8 10 %)" in row
    payload = status_payload(promoted)
    assert (payload["versions"], payload["release"]) == ("v7 90 % / v8 10 %", "progressing")
    single = render_status([replace(promoted, versions="v8")], NOW, Style(False))
    assert "(v8)" not in single, "one version serving everything needs no note"


# --------------------------------------------------------------------------- capacity guard


def test_capacity_text_in_the_routes_time_zone() -> None:
    pinned = CapacityGuard(
        12, 2, NOW, pinned_min=12, hold_until=datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    )
    assert (
        capacity_text(pinned, enabled=True, timezone="Asia/Tokyo")
        == "ecs min pinned 12 (was 2) until 2026-12-05 10:00 Asia/Tokyo"
    )
    canary = CapacityGuard(12, 2, NOW, pinned_min=12)
    assert capacity_text(canary, enabled=True, timezone=None) == (
        "ecs min pinned 12 (was 2) through the canary"
    )
    ended = pinned.released(datetime(2026, 12, 5, 1, 10, tzinfo=UTC))
    assert capacity_text(ended, enabled=True, timezone=None) == (
        "capacity hold ended 2026-12-05 01:10 UTC; ecs min back to 2"
    )
    assert capacity_text(None, enabled=False, timezone=None) == (
        "capacity guard off (no ecsService)"
    )


def test_status_shows_the_guard_and_the_last_gate_estimate() -> None:
    gate = estimate_after_bake(
        stage=3, peak=20, from_percent=10, to_percent=50, reserved=200, headroom_percent=80
    )
    text = render_status(
        [
            view(
                capacity_text="ecs min pinned 12 (was 2) through the canary",
                gate_text=gate.describe(),
            )
        ],
        NOW,
        Style(False),
    )
    assert "  map-tile: ecs min pinned 12 (was 2) through the canary" in text
    assert "  map-tile: last concurrency gate: stage 3 needs ~100 of 200 reserved" in text
    payload = status_payload(view(gate=gate.to_dict(), capacity={"pinned_min": 12}))
    assert payload["gate"]["needed"] == 100 and payload["capacity"] == {"pinned_min": 12}
