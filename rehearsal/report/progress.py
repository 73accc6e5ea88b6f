"""Live progress of a rehearsal: one line per route when something changes, or every second.

``map-tile  ecs 90 % / lambda 10 %  stage 2/4  requests ecs 1412, lambda 98 (0 5xx)
alarm OK  progressing`` (on one line). A line describes a state that has been
reached: the stage is the one whose weights the rule holds (the engine's
job), and a rolled-back route's line names the alarm that caused it.

:func:`format_line` is pure; :class:`ProgressPrinter` decides when to print.
With ``--json`` the lines go to stderr, so stdout stays one JSON document.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from controller.core.split import split_text
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
    cause: str | None = None
    """Why a run ended (the alarm of a failback), shown in place of the alarm's state."""

    def key(self) -> tuple[object, ...]:
        """The parts whose change prints a line at once (not the counters)."""
        return (self.stage, self.weights, self.alarm, self.status)


def format_line(snapshot: RouteSnapshot, *, width: int = 12) -> str:
    """The progress line of one route."""
    weights = split_text(snapshot.weights) if snapshot.weights is not None else "weights unknown"
    if snapshot.status == "progressing" and snapshot.stage > 0:
        stage = f"stage {snapshot.stage}/{snapshot.stages}"
    else:
        stage = f"{snapshot.stage}/{snapshot.stages} passed"
    alarm = snapshot.cause or f"alarm {snapshot.alarm}"
    return (
        f"{snapshot.route:<{width}} {weights:<24} {stage:<11}  "
        f"requests ecs {snapshot.requests_ecs}, lambda {snapshot.requests_lambda} "
        f"({snapshot.errors_lambda} 5xx)  {alarm}  {snapshot.status}"
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
