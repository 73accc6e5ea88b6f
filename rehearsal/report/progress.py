"""Live progress of a rehearsal: one line per route when something changes, or every second.

``map-tile  stage 2/4  ecs  90.0 / lambda  10.0  requests ecs 1412 lambda 98 (5xx 0)
alarm OK  progressing`` (on one line)

:func:`format_line` is pure; :class:`ProgressPrinter` decides when to print.
With ``--json`` the lines go to stderr, so stdout stays one JSON document.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from controller.core.weights import Weights

__all__ = ["HEARTBEAT_SECONDS", "ProgressPrinter", "RouteSnapshot", "format_line"]

# Without a change, a route's line is repeated this often, so a long bake
# still shows the request counters moving.
HEARTBEAT_SECONDS = 1.0


@dataclass(frozen=True)
class RouteSnapshot:
    """What the progress line of one route shows."""

    route: str
    stage: int
    """The stage being run while progressing; the stages passed once the run ended."""
    stages: int
    weights: Weights | None
    requests_ecs: int
    requests_lambda: int
    errors_lambda: int
    alarm: str
    status: str

    def key(self) -> tuple[object, ...]:
        """The parts whose change prints a line at once (not the counters)."""
        return (self.stage, self.weights, self.alarm, self.status)


def format_line(snapshot: RouteSnapshot, *, width: int = 12) -> str:
    """The progress line of one route."""
    weights = (
        f"ecs {snapshot.weights.ecs_percent:5.1f} / lambda {snapshot.weights.lambda_percent:5.1f}"
        if snapshot.weights is not None
        else "weights unknown"
    )
    if snapshot.status == "progressing":
        stage = f"stage {snapshot.stage}/{snapshot.stages}"
    else:
        stage = f"{snapshot.stage}/{snapshot.stages} passed"
    return (
        f"{snapshot.route:<{width}} {stage}  {weights}  "
        f"requests ecs {snapshot.requests_ecs} lambda {snapshot.requests_lambda} "
        f"(5xx {snapshot.errors_lambda})  alarm {snapshot.alarm}  {snapshot.status}"
    )


class ProgressPrinter:
    """Prints a route's line when its stage, weights, alarm or status change; else a heartbeat."""

    def __init__(
        self,
        stream: TextIO | None,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        width: int = 12,
    ) -> None:
        self._stream = stream
        self._heartbeat = heartbeat_seconds
        self._clock = clock
        self._width = width
        self._last: dict[str, tuple[tuple[object, ...], float]] = {}
        self._lock = threading.Lock()

    def update(self, snapshot: RouteSnapshot) -> bool:
        """Print the snapshot's line if due; True when it printed."""
        now = self._clock()
        with self._lock:
            last = self._last.get(snapshot.route)
            due = last is None or last[0] != snapshot.key() or now - last[1] >= self._heartbeat
            if not due:
                return False
            self._last[snapshot.route] = (snapshot.key(), now)
        self.say(format_line(snapshot, width=self._width))
        return True

    def say(self, line: str) -> None:
        """Print one line (nothing when there is no stream)."""
        if self._stream is None:
            return
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
