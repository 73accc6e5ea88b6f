"""Rendering for the operator CLI: aligned tables for people, stable JSON for scripts.

Pure module (no boto3): the CLI gathers the facts into the view dataclasses
below, and this module turns them into text. Building a payload and printing
it are separate steps, so tests assert on the built dicts and strings.

JSON keys are part of the CLI's interface; add keys, never rename them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller.cli.verify_format import render_verify
from controller.core.capacity import CapacityGuard
from controller.core.lifecycle import HistoryEntry
from controller.core.split import alb_text, split_json, split_text
from controller.core.weights import Weights

# ANSI SGR codes. Colour is decided once per run (see :func:`colour_enabled`).
_RESET = "\x1b[0m"
_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "cyan": "36",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Clears the screen and homes the cursor: --watch redraws in place on a TTY.
CLEAR_SCREEN = "\x1b[H\x1b[2J"

STATUS_STYLE = {
    "idle": "dim",
    "progressing": "cyan",
    "paused": "yellow",
    "promoted": "green",
    "rolled_back": "red",
}
ALARM_STYLE = {"OK": "green", "ALARM": "red", "INSUFFICIENT_DATA": "yellow"}


def colour_enabled(is_tty: bool, env: Mapping[str, str]) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return is_tty and not env.get("NO_COLOR")


@dataclass(frozen=True)
class Style:
    """Applies ANSI colours when enabled; otherwise returns the text untouched."""

    enabled: bool = False

    def __call__(self, text: str, *styles: str) -> str:
        """``text`` wrapped in the given styles (``"red"``, ``"bold"``, ...)."""
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}{_RESET}"


def visible_len(text: str) -> int:
    """Length of ``text`` as the terminal shows it (ANSI codes take no room)."""
    return len(_ANSI.sub("", text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns separated by two spaces; cells may already be coloured."""
    widths = [visible_len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], visible_len(cell))
    lines = []
    for row in [list(headers), *[list(r) for r in rows]]:
        cells = [cell + " " * (widths[i] - visible_len(cell)) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return lines


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``-free ``+00:00`` offset, seconds precision."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def format_duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``4m12s``, ``3h05m``, ``2d04h``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def percent_pair(weights: Weights | None) -> dict[str, float] | None:
    """``{"ecs": 99.0, "lambda": 1.0}`` in percent of the pair, or None (no weights, both 0)."""
    return split_json(weights)


def _last_written_text(weights: Weights | None) -> str:
    if weights is None:
        return "nothing yet (the deploy created the rule at ecs 100 % / lambda 0 %)"
    return split_text(weights)


def drift_hint(route: str, status: str) -> str:
    """What resolves a drift from ``status``: the command to keep the rule's weights, or undo them.

    Each command here clears the DRIFT flag from that status (tests run each one).
    """
    run = f"python -m controller {{}} --route {route}"
    undo = f"to undo it: {run.format('rollback')}"
    if status == "progressing":
        return (
            "the next shift will pause the route. To keep the rule's weights: "
            f"{run.format('pause')}, then {run.format('resume')} --accept-live; {undo}"
        )
    if status in ("idle", "paused"):
        return f"to keep the rule's weights: {run.format('resume')} --accept-live; {undo}"
    if status == "promoted":
        return f"to put 100 % back on Lambda: {run.format('promote')} --full --yes; {undo}"
    return f"to put all traffic back on ECS: {run.format('rollback')}"


def execution_name(execution_arn: str | None) -> str | None:
    """The execution's name: the last segment of its ARN (what the console shows)."""
    if not execution_arn:
        return None
    return execution_arn.rsplit(":", 1)[-1]


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class RouteStatusView:
    """Everything ``status`` shows about one route, gathered by the CLI."""

    route: str
    status: str
    stage: int
    stages: int
    live: Weights | None
    last_written: Weights | None
    drift: bool
    alarm: str
    alarms_in_alarm: tuple[str, ...] = ()
    execution: str | None = None
    execution_running: bool = False
    next_stage_at: datetime | None = None
    next_run_at: datetime | None = None
    schedule: str | None = None
    timezone: str | None = None
    schedule_error: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None
    error: str | None = None
    """Set when the route could not be read; the other fields are then placeholders."""
    versions: str | None = None
    """The alias ``live``'s versions, ``v7 90 % / v8 10 %``; None without an alias."""
    release: str | None = None
    """The status of the route's last release run, if any."""
    capacity: dict[str, Any] | None = None
    """The capacity guard as stored (None: off, or no run began yet)."""
    capacity_text: str | None = None
    """One line about the guard, e.g. ``ecs min pinned 12 (was 2) until ...``."""
    gate: dict[str, Any] | None = None
    """The concurrency gate's last estimate."""
    gate_text: str | None = None


def capacity_text(guard: CapacityGuard | None, *, enabled: bool, timezone: str | None) -> str:
    """The guard in one line, times in the route's time zone (UTC without one).

    ``ecs min pinned 12 (was 2) until 2026-12-05 10:00 Asia/Tokyo``.
    """
    if not enabled:
        return "capacity guard off (no ecsService)"
    if guard is None:
        return "capacity guard on; the baseline is recorded when a run begins"
    zone = timezone or "UTC"
    if guard.released_at is not None:
        restored = f"; ecs min back to {guard.baseline_min}" if guard.pinned_min else ""
        return f"capacity hold ended {_local(guard.released_at, zone)}{restored}"
    if guard.hold_until is None:
        return f"{guard.describe()} through the canary"
    return f"{guard.describe()} until {_local(guard.hold_until, zone)}"


def _local(moment: datetime, zone: str) -> str:
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        local, zone = moment.astimezone(UTC), "UTC"
    return f"{local:%Y-%m-%d %H:%M} {zone}"


def error_view(route: str, message: str) -> RouteStatusView:
    """The row of a route whose status could not be read (the others are still shown)."""
    return RouteStatusView(
        route=route,
        status="unknown",
        stage=0,
        stages=0,
        live=None,
        last_written=None,
        drift=False,
        alarm="unknown",
        error=message,
    )


def status_payload(view: RouteStatusView) -> dict[str, Any]:
    """The ``status --json`` object of one route (weights in percent, read live)."""
    return {
        "route": view.route,
        "status": view.status,
        "stage": view.stage,
        "stages": view.stages,
        "weights": percent_pair(view.live),
        "alb_weights": view.live.to_dict() if view.live is not None else None,
        "last_written": percent_pair(view.last_written),
        "drift": view.drift,
        "alarm": view.alarm,
        "alarms_in_alarm": list(view.alarms_in_alarm),
        "execution": view.execution,
        "execution_running": view.execution_running,
        "next_stage_at": iso(view.next_stage_at),
        "next_run_at": iso(view.next_run_at),
        "schedule": view.schedule,
        "timezone": view.timezone,
        "reason": view.reason,
        "updated_at": iso(view.updated_at),
        "error": view.error,
        "versions": view.versions,
        "release": view.release,
        "capacity": view.capacity,
        "capacity_text": view.capacity_text,
        "gate": view.gate,
    }


def _next_text(view: RouteStatusView, now: datetime) -> str:
    if view.next_stage_at is not None:
        # ``stage`` counts the stages passed; the one baking now is stage + 1.
        label = "next stage" if view.stage + 1 < view.stages else "finish"
        return f"{label} in {format_duration((view.next_stage_at - now).total_seconds())}"
    if view.next_run_at is not None:
        return f"run in {format_duration((view.next_run_at - now).total_seconds())}"
    if view.schedule:
        return f"schedule: {view.schedule} {view.timezone or 'UTC'}"
    return "-"


def _execution_text(view: RouteStatusView) -> str:
    name = execution_name(view.execution)
    if name is None:
        return "-"
    return name if view.execution_running else f"{name} (ended)"


def render_status(
    views: Sequence[RouteStatusView], now: datetime, style: Style, header: str = ""
) -> str:
    """The ``status`` table, then one note line per warning (drift, alarms, reason)."""
    rows = []
    notes: list[str] = []
    for view in views:
        if view.error is not None:
            rows.append([style(view.route, "bold"), style("error", "red"), "-", "-", "-", "-", "-"])
            notes.append(style(f"! {view.route}: could not read the status: {view.error}", "red"))
            continue
        weights = split_text(view.live)
        if view.versions and "/" in view.versions:
            # A release in flight: which versions share the Lambda side.
            weights = f"{weights} ({view.versions})"
        if view.drift:
            weights = style(f"{weights} DRIFT", "red", "bold")
        alarm = style(view.alarm, ALARM_STYLE.get(view.alarm, "yellow"))
        rows.append(
            [
                style(view.route, "bold"),
                style(view.status, STATUS_STYLE.get(view.status, "bold")),
                f"{view.stage}/{view.stages}",
                weights,
                alarm,
                _execution_text(view),
                _next_text(view, now),
            ]
        )
        if view.drift:
            live = "-" if view.live is None else f"{split_text(view.live)} ({alb_text(view.live)})"
            notes.append(
                style(
                    f"! {view.route}: DRIFT: the rule has {live}, the controller last wrote "
                    f"{_last_written_text(view.last_written)}. Someone changed the rule by hand; "
                    f"{drift_hint(view.route, view.status)}",
                    "red",
                )
            )
        if view.alarms_in_alarm:
            notes.append(
                style(f"! {view.route}: in ALARM: {', '.join(view.alarms_in_alarm)}", "red")
            )
        if view.reason:
            notes.append(f"  {view.route}: reason: {view.reason}")
        if view.capacity_text:
            notes.append(f"  {view.route}: {view.capacity_text}")
        if view.gate_text and view.gate_text != view.reason:
            notes.append(f"  {view.route}: last {view.gate_text}")
        if view.schedule_error:
            notes.append(f"  {view.route}: schedule {view.schedule}: {view.schedule_error}")
    lines = [header] if header else []
    if not views:
        lines.append("no routes in this stack")
    else:
        lines.extend(
            table(
                ["ROUTE", "STATUS", "STAGE", "WEIGHTS", "ALARM", "EXECUTION", "NEXT"],
                rows,
            )
        )
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines)


# --------------------------------------------------------------------------- history


def history_payload(entry: HistoryEntry) -> dict[str, Any]:
    """The ``history --json`` object of one entry (weights in percent)."""
    return {
        "at": iso(entry.at),
        "actor": entry.actor,
        "event": str(entry.event),
        "from": str(entry.from_status),
        "to": str(entry.to_status),
        "reason": entry.reason,
        "stage": entry.stage,
        "weights": percent_pair(entry.weights),
        "execution": entry.execution_arn,
    }


def render_history(route: str, entries: Sequence[HistoryEntry], style: Style) -> str:
    """The ``history`` table, in the order given (newest first), times in UTC."""
    if not entries:
        return f"no history for route {route}"
    body = []
    for entry in entries:
        transition = str(entry.from_status)
        if entry.to_status != entry.from_status:
            to_status = style(str(entry.to_status), STATUS_STYLE.get(entry.to_status, "bold"))
            transition = f"{entry.from_status} -> {to_status}"
        body.append(
            [
                iso(entry.at) or "-",
                entry.actor,
                str(entry.event),
                transition,
                str(entry.stage),
                split_text(entry.weights),
                entry.reason or "",
            ]
        )
    return "\n".join(
        table(["AT (UTC)", "ACTOR", "EVENT", "STATUS", "STAGE", "WEIGHTS", "REASON"], body)
    )


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class ActionView:
    """The outcome of an action command (start, pause, resume, rollback, promote)."""

    route: str
    action: str
    result: str
    status: str
    message: str
    stage: int | None = None
    stages: int | None = None
    weights: Weights | None = None
    execution: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def action_payload(view: ActionView) -> dict[str, Any]:
    """The ``--json`` object of an action command."""
    payload: dict[str, Any] = {
        "route": view.route,
        "action": view.action,
        "result": view.result,
        "status": view.status,
        "message": view.message,
        "stage": view.stage,
        "stages": view.stages,
        "weights": percent_pair(view.weights),
        "execution": view.execution,
    }
    payload.update(view.extra)
    return payload


def render_action(view: ActionView, style: Style) -> str:
    """One line: what happened and why, then where the route stands now."""
    status = style(view.status, STATUS_STYLE.get(view.status, "bold"))
    parts = [f"{view.route}: {view.action} -> {view.result}: {view.message}", f"status {status}"]
    if view.stage is not None and view.stages is not None:
        parts.append(f"stage {view.stage}/{view.stages}")
    if view.weights is not None:
        parts.append(split_text(view.weights))
    if view.execution:
        parts.append(f"execution {execution_name(view.execution)}")
    stopped = view.extra.get("stopped_execution")
    if stopped:
        parts.append(f"stopped execution {execution_name(str(stopped))}")
    details = view.extra.get("details")
    if view.action == "verify" and isinstance(details, Mapping):
        return "; ".join(parts) + "\n" + render_verify(details)
    return "; ".join(parts)
