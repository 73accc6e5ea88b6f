"""The rehearsal's report: per route the outcome, the traffic and a timeline; and its JSON.

Pure data and formatting, no AWS. The timeline merges two sources, each
event tagged with it:

- ``controller``: the route's history in the state table, written by the
  real controller (begin, shift, check, check_failed, rollback, drift,
  finish...), converted by :func:`from_history`;
- ``twin``: what the rehearsal itself did or saw (start, alarm, failback,
  manual_change, redeploy, sync_missing, reorder, end).

``--json`` prints :meth:`RehearsalReport.to_json` (issue 5 fixes the shape)::

    {"stack": "prod", "routes": [{"route", "outcome", "final_weights": {"ecs", "lambda"},
      "requests": {"ecs", "lambda"}, "failback_ms", "reason",
      "capacity": {"baseline_desired", "min_pinned", "desired_after_failback"} | null,
      "timeline": [{"at_ms", "event", "stage", "weights", "source", "reason"}]}],
     "resources": 37}

Weights are percentages (0.1 steps), times are milliseconds since the
canaries were started.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from controller.core.lifecycle import Event, HistoryEntry, Status
from controller.core.split import split_json, split_text
from controller.core.weights import Weights

__all__ = [
    "OUTCOMES",
    "SOURCE_CONTROLLER",
    "SOURCE_TWIN",
    "CapacityReport",
    "Outcome",
    "RehearsalReport",
    "RouteReport",
    "RouteSeries",
    "TimelineEvent",
    "from_history",
    "from_release_history",
    "merge",
    "outcome_of",
    "percent_weights",
    "render_text",
]

Outcome = Literal["promoted", "rolled_back", "paused"]
OUTCOMES: tuple[Outcome, ...] = ("promoted", "rolled_back", "paused")

SOURCE_CONTROLLER = "controller"
SOURCE_TWIN = "twin"

# The controller's history events, under the names the timeline uses.
_EVENT_NAMES = {Event.CHECK_PASSED: "check"}
# Events whose stored ``stage`` (stages passed) is the stage they are about;
# for every other event the stage being run is one more.
_PASSED_STAGE_EVENTS = frozenset({Event.CHECK_PASSED, Event.FINISH, Event.PAUSE, Event.PROMOTE})


def percent_weights(weights: Weights) -> dict[str, float]:
    """``{"ecs": 99.0, "lambda": 1.0}``: percent of the pair, as the JSON shows them."""
    return split_json(weights) or {"ecs": 0.0, "lambda": 0.0}


def outcome_of(status: Status) -> Outcome | None:
    """The rehearsal outcome of a route's final status; None when the run did not end."""
    if status is Status.PROMOTED:
        return "promoted"
    if status is Status.ROLLED_BACK:
        return "rolled_back"
    if status is Status.PAUSED:
        return "paused"
    return None


@dataclass(frozen=True)
class TimelineEvent:
    """One point of a route's timeline."""

    at_ms: float
    event: str
    stage: int | None
    weights: Weights | None
    source: str
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (weights in percent)."""
        return {
            "at_ms": round(self.at_ms, 1),
            "event": self.event,
            "stage": self.stage,
            "weights": percent_weights(self.weights) if self.weights is not None else None,
            "source": self.source,
            "reason": self.reason,
        }


def _ms_since(at: datetime, started: datetime) -> float:
    return (at - started).total_seconds() * 1000


def from_history(entry: HistoryEntry, *, started: datetime, stages_total: int) -> TimelineEvent:
    """A controller history entry as a timeline event (stage numbers are 1-based).

    The history stores ``stage`` as the number of stages passed; the timeline
    shows the stage an event is about: the stage a shift enters or a check
    failed in, the stage a passed check completed.
    """
    if entry.event in _PASSED_STAGE_EVENTS:
        stage = entry.stage
    else:
        stage = entry.stage + 1
        if stages_total:
            stage = min(stage, stages_total)
    return TimelineEvent(
        at_ms=_ms_since(entry.at, started),
        event=_EVENT_NAMES.get(entry.event, entry.event.value),
        stage=stage,
        weights=entry.weights,
        source=SOURCE_CONTROLLER,
        reason=entry.reason,
    )


def from_release_history(
    entries: Iterable[HistoryEntry], *, started: datetime, stages_total: int
) -> list[TimelineEvent]:
    """A release run's history entries, oldest first, as timeline events.

    ``release_check`` records both a passed check (the stored stage moves on,
    as for ``check_passed``) and a "not yet" (the stage stays): a check that
    moved the stage is about the stage it passed, the others about the stage
    being baked. ``stages_total`` is the release plan's.
    """
    events = []
    stage = 0
    for entry in entries:
        event = from_history(entry, started=started, stages_total=stages_total)
        if entry.event is Event.RELEASE_CHECK and entry.stage > stage:
            event = replace(event, stage=entry.stage)
        stage = entry.stage
        events.append(event)
    return events


def merge(*sources: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """All events in time order (stable: equal times keep their source order)."""
    events = [event for source in sources for event in source]
    return sorted(events, key=lambda event: event.at_ms)


@dataclass
class RouteSeries:
    """What the chart draws for one route (times in ms since the start)."""

    weights: list[tuple[float, float]] = field(default_factory=list)
    """(time, Lambda share in percent) at every read of the rule."""
    requests: list[tuple[float, str, int]] = field(default_factory=list)
    """(time, side, HTTP status) of every synthetic request."""
    stage_starts: list[tuple[float, int]] = field(default_factory=list)
    """(time, stage number) of every verified shift."""
    alarm_at_ms: float | None = None
    failback_at_ms: float | None = None
    manual_change_at_ms: float | None = None
    redeploy_at_ms: float | None = None
    """When the program was re-applied with a new ECS target group."""
    synced_at_ms: float | None = None
    """When the rule was first read forwarding to the redeploy's ECS target group."""
    reorder_at_ms: float | None = None
    """When the rule's forward target groups were reversed by hand."""


@dataclass
class RouteReport:
    """How one route's rehearsal ended."""

    route: str
    outcome: Outcome
    final_weights: Weights
    requests: dict[str, int]
    errors: dict[str, int]
    failback_ms: float | None
    timeline: list[TimelineEvent]
    reason: str | None = None
    plan: list[tuple[float, float]] = field(default_factory=list)
    """(weight %, bake seconds) of each stage, as rehearsed."""
    min_requests: int = 0
    series: RouteSeries = field(default_factory=RouteSeries)
    release: dict[str, Any] | None = None
    """The release rehearsal's outcome (``--release``), without its timeline."""
    capacity: CapacityReport | None = None
    """The capacity guard of a route with ``ecsService``; None without one."""

    def to_json(self) -> dict[str, Any]:
        """The route's entry of the JSON document."""
        return {
            "route": self.route,
            "outcome": self.outcome,
            "final_weights": percent_weights(self.final_weights),
            "requests": {
                "ecs": self.requests.get("ecs", 0),
                "lambda": self.requests.get("lambda", 0),
            },
            "failback_ms": round(self.failback_ms, 1) if self.failback_ms is not None else None,
            "reason": self.reason,
            "capacity": self.capacity.to_json() if self.capacity is not None else None,
            "timeline": [event.to_json() for event in self.timeline],
            **({"release": self._release_json()} if self.release is not None else {}),
        }

    def _release_json(self) -> dict[str, Any]:
        """``release``: outcome, versions, final split, failback, its part of the timeline."""
        assert self.release is not None
        started = self.release.get("started_at_ms") or 0.0
        timeline = [e.to_json() for e in self.timeline if e.at_ms >= started]
        fields = {k: v for k, v in self.release.items() if k != "started_at_ms"}
        return {**fields, "timeline": timeline}


@dataclass(frozen=True)
class CapacityReport:
    """The ECS service of a guarded route: its baseline, the pinned minimum, after a failback."""

    baseline_desired: int | None
    min_pinned: int | None
    desired_after_failback: int | None

    def to_json(self) -> dict[str, Any]:
        """The route entry's ``capacity`` object."""
        return {
            "baseline_desired": self.baseline_desired,
            "min_pinned": self.min_pinned,
            "desired_after_failback": self.desired_after_failback,
        }

    def describe(self) -> str:
        """One line of the text report."""
        after = self.desired_after_failback
        return (
            f"  capacity: ecs baseline {self.baseline_desired}, min pinned {self.min_pinned}, "
            f"desired after failback {'-' if after is None else after}"
        )


@dataclass
class RehearsalReport:
    """The whole rehearsal: the stack, every rehearsed route, the declared resource count."""

    stack: str
    routes: list[RouteReport]
    resources: int
    duration_ms: float = 0.0
    """The whole run: applying the stack (``apply_ms``) and the canaries."""
    apply_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The one JSON document of ``--json``."""
        return {
            "stack": self.stack,
            "routes": [route.to_json() for route in self.routes],
            "resources": self.resources,
            "duration_ms": round(self.duration_ms, 1),
            "apply_ms": round(self.apply_ms, 1),
        }

    def route(self, name: str) -> RouteReport:
        """The report of one route (KeyError naming the rehearsed routes)."""
        for route in self.routes:
            if route.route == name:
                return route
        raise KeyError(
            f"route {name!r} was not rehearsed; routes: {[r.route for r in self.routes]}"
        )


def _weights_text(weights: Weights | None) -> str:
    return "" if weights is None else split_text(weights)


# The event column is at least this wide, and as wide as the longest event shown.
_EVENT_COLUMN = 14


def _timeline_lines(events: Sequence[TimelineEvent]) -> list[str]:
    lines = []
    width = max([_EVENT_COLUMN, *(len(event.event) for event in events)])
    for event in events:
        stage = f"stage {event.stage}" if event.stage is not None else ""
        text = (
            f"  {event.at_ms / 1000:7.2f}s  {event.source:<10} {event.event:<{width}} "
            f"{stage:<8} {_weights_text(event.weights):<26} {event.reason or ''}"
        )
        lines.append(text.rstrip())
    return lines


def _stack_change_lines(route: RouteReport) -> list[str]:
    """What changed under the running canary (redeploy, reorder), from its timeline."""
    lines = []
    for event in route.timeline:
        if event.event == "redeploy":
            sync = next(
                (e for e in route.timeline if e.event == "sync" and e.at_ms >= event.at_ms), None
            )
            missing = any(e.event == "sync_missing" for e in route.timeline)
            if sync is not None:
                after = f"synced by the controller {sync.at_ms - event.at_ms:.0f} ms later"
            elif missing:
                after = "NOT synced by the controller"
            else:
                after = "no sync recorded"
            lines.append(f"  redeploy: stage {event.stage}, {after}")
        elif event.event == "reorder":
            lines.append(f"  reorder: stage {event.stage}, forward target groups reversed by hand")
    return lines


def _release_lines(route: RouteReport) -> list[str]:
    """The release's summary line (``--release``): outcome, versions, final split."""
    release = route.release
    if release is None:
        return []
    split = release.get("final_split") or {}
    served = " / ".join(f"v{version} {share:g} %" for version, share in split.items())
    failback = release.get("failback_ms")
    return [
        f"  release: {str(release.get('outcome')).upper()} v{release.get('from_version')} -> "
        f"v{release.get('to_version')}; live serves {served or 'unknown'}"
        + (f"; failback {failback:.1f} ms" if failback is not None else "")
        + f"; ECS requests during the release: {release.get('ecs_requests')}"
    ]


def render_text(report: RehearsalReport) -> str:
    """The human summary printed at the end of ``run`` (without ``--json``)."""
    lines = [
        f"Rehearsal of stack {report.stack}: {report.resources} resources declared, "
        f"{len(report.routes)} route(s), {report.duration_ms / 1000:.1f} s"
        + (f" (applying the stack {report.apply_ms / 1000:.1f} s)" if report.apply_ms else "")
    ]
    for route in report.routes:
        plan = ", ".join(f"{weight:g}% {bake:g}s" for weight, bake in route.plan)
        failback = f"{route.failback_ms:.1f} ms" if route.failback_ms is not None else "none"
        changes = _stack_change_lines(route)
        lines += [
            "",
            f"route {route.route}: {route.outcome.upper()}"
            + (f" ({route.reason})" if route.reason else ""),
            f"  stages as rehearsed: {plan} (minRequests {route.min_requests})",
            f"  final weights: {_weights_text(route.final_weights)}",
            f"  requests: ecs {route.requests.get('ecs', 0)} "
            f"({route.errors.get('ecs', 0)} 5xx), lambda {route.requests.get('lambda', 0)} "
            f"({route.errors.get('lambda', 0)} 5xx)",
            f"  failback: {failback}",
            *_release_lines(route),
            *([route.capacity.describe()] if route.capacity is not None else []),
            *changes,
            "  timeline:",
            *_timeline_lines(route.timeline),
        ]
    return "\n".join(lines)
