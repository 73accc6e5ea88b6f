"""Lambda's ``ConcurrentExecutions`` for the twin's route functions.

moto publishes no Lambda metrics. Lambda reports, per function (dimension
``FunctionName``), how many execution environments serve an event at the
same time. The twin counts that from the Lambda side of the request loop:
each invocation holds an environment from its start for its own duration,
or for ``hold_ms`` (``--lambda-latency-ms``) when that is longer, and the
peak number of overlapping holds is published once a second.

The request loop itself is one thread and does not wait the ``hold_ms``:
the hold is accounted, not slept, so the loop keeps its rate and the metric
shows what that rate would need at that latency (Little's law, counted).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rehearsal.scenario.traffic import Backend, SyntheticRequest

__all__ = ["ConcurrencyMeter", "MeteredBackend"]

NAMESPACE = "AWS/Lambda"
METRIC = "ConcurrentExecutions"
# How often the overlap is sampled, and how often the peak is published.
SAMPLE_SECONDS = 0.05
PUBLISH_SECONDS = 1.0


class ConcurrencyMeter:
    """Counts overlapping invocations of one function and publishes the peak per second."""

    def __init__(
        self,
        cloudwatch: Any,
        function_name: str,
        *,
        hold_ms: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cloudwatch = cloudwatch
        self.function_name = function_name
        self._hold = hold_ms / 1000
        self._clock = clock
        self._ends: list[float] = []  # sorted end times of the holds
        self._starts: list[float] = []  # sorted start times
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published: list[tuple[datetime, float]] = []
        self.error: BaseException | None = None

    def record(self, started: float, duration: float) -> None:
        """One invocation started at ``started`` (monotonic) and took ``duration`` seconds."""
        end = started + max(duration, self._hold)
        with self._lock:
            bisect.insort(self._starts, started)
            bisect.insort(self._ends, end)

    def in_flight(self, at: float) -> int:
        """How many invocations hold an environment at ``at``."""
        with self._lock:
            started = bisect.bisect_right(self._starts, at)
            ended = bisect.bisect_right(self._ends, at)
        return started - ended

    def start(self) -> None:
        """Sample and publish in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(
            target=self._run, name=f"concurrency-{self.function_name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; re-raises a publishing error."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            peak = 0
            next_publish = self._clock() + PUBLISH_SECONDS
            while not self._stop.wait(SAMPLE_SECONDS):
                peak = max(peak, self.in_flight(self._clock()))
                if self._clock() >= next_publish:
                    self.publish(peak)
                    peak = 0
                    next_publish += PUBLISH_SECONDS
        except BaseException as error:  # surfaced by stop()
            self.error = error

    def publish(self, value: int) -> None:
        """Put one ConcurrentExecutions datapoint, now."""
        at = datetime.now(UTC)
        self._cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": METRIC,
                    "Dimensions": [{"Name": "FunctionName", "Value": self.function_name}],
                    "Timestamp": at,
                    "Value": float(value),
                    "Unit": "Count",
                }
            ],
        )
        self.published.append((at, float(value)))


class MeteredBackend:
    """A Lambda backend whose invocations the meter counts."""

    def __init__(self, backend: Backend, meter: ConcurrencyMeter) -> None:
        self._backend = backend
        self._meter = meter
        self.side = backend.side

    def send(self, request: SyntheticRequest, sequence: int) -> int:
        """Serve the request through the wrapped backend, and record its hold."""
        started = time.monotonic()
        try:
            return self._backend.send(request, sequence)
        finally:
            self._meter.record(started, time.monotonic() - started)

    def close(self) -> None:
        """Close the wrapped backend."""
        self._backend.close()
