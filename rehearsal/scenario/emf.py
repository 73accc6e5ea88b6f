"""Embedded Metric Format (EMF) lines from a function's output -> CloudWatch metric data.

In AWS, Lambda ships a function's stdout to CloudWatch Logs, and CloudWatch
extracts the metrics of every EMF line it finds there. moto does neither, so
the twin does it: :func:`parse_emf_line` turns one line into
:class:`MetricDatum` objects (pure), and :class:`EmfPublisher` sends them to
the emulator with ``PutMetricData``, batched, from a background thread. The
controller's Check then counts real ``Strangler/Requests`` of the route.

The format (CloudWatch documentation, "Specification: Embedded metric
format"): a JSON object whose ``_aws`` member holds ``Timestamp`` (epoch ms)
and ``CloudWatchMetrics``, a list of directives, each with a ``Namespace``,
``Dimensions`` (a list of dimension sets, each a list of member names) and
``Metrics`` (``Name``, optional ``Unit`` and ``StorageResolution``). The
values are members of the root object: a number, or a list of numbers.
Every dimension set makes its own metric.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "MAX_DATUMS_PER_CALL",
    "EmfError",
    "EmfPublisher",
    "MetricDatum",
    "parse_emf_line",
    "put_metric_data_requests",
]

# PutMetricData accepts at most 1000 metrics per request (CloudWatch API
# reference, PutMetricData: "MetricData ... Maximum number of 1000 items").
MAX_DATUMS_PER_CALL = 1000
# EMF: "StorageResolution ... 1 or 60; the default is 60".
DEFAULT_STORAGE_RESOLUTION = 60
# EMF: an unknown or absent Unit is "None".
DEFAULT_UNIT = "None"

# How often the publisher sends what it has. The controller's Check reads the
# request count at the end of a bake of a few seconds; 100 ms keeps the last
# requests of the bake in the count.
DEFAULT_FLUSH_INTERVAL_SECONDS = 0.1


class EmfError(ValueError):
    """A line that claims to be EMF (it has ``_aws``) but breaks the specification."""


@dataclass(frozen=True)
class MetricDatum:
    """One metric value, ready for ``PutMetricData``."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    unit: str
    storage_resolution: int
    timestamp: datetime

    def to_api(self) -> dict[str, Any]:
        """The ``MetricData`` entry (the namespace goes on the request)."""
        return {
            "MetricName": self.name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "Timestamp": self.timestamp,
            "Value": self.value,
            "Unit": self.unit,
            "StorageResolution": self.storage_resolution,
        }


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EmfError(f"{where}: {value!r} is not a number")
    return float(value)


def _values(root: Mapping[str, Any], name: str) -> list[float]:
    if name not in root:
        raise EmfError(f"metric {name!r} has no value in the root object")
    value = root[name]
    if isinstance(value, list):
        return [_number(item, f"metric {name!r}") for item in value]
    return [_number(value, f"metric {name!r}")]


def _dimension_sets(
    directive: Mapping[str, Any], root: Mapping[str, Any]
) -> list[tuple[tuple[str, str], ...]]:
    sets = directive.get("Dimensions")
    if not isinstance(sets, list):
        raise EmfError("a CloudWatchMetrics directive needs a Dimensions list")
    found: list[tuple[tuple[str, str], ...]] = []
    for dimension_set in sets:
        if not isinstance(dimension_set, list):
            raise EmfError(f"dimension set {dimension_set!r} is not a list of names")
        pairs = []
        for name in dimension_set:
            if name not in root:
                raise EmfError(f"dimension {name!r} has no value in the root object")
            pairs.append((str(name), str(root[name])))
        found.append(tuple(pairs))
    # A directive with no dimension set at all publishes the metrics without dimensions.
    return found or [()]


def parse_emf_line(line: str) -> list[MetricDatum]:
    """The metric data of one output line; ``[]`` for a line that is not EMF (a log line).

    Raises :class:`EmfError` for a line with ``_aws`` that breaks the format:
    CloudWatch would drop it, and the rehearsal wants to hear about it.
    """
    text = line.strip()
    if not text.startswith("{"):
        return []
    try:
        root = json.loads(text)
    except ValueError:
        return []
    if not isinstance(root, dict) or "_aws" not in root:
        return []
    meta = root["_aws"]
    if not isinstance(meta, dict):
        raise EmfError("_aws must be an object")
    timestamp_ms = meta.get("Timestamp")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise EmfError("_aws.CloudWatchMetrics must be a list")
    at = datetime.fromtimestamp(_number(timestamp_ms, "_aws.Timestamp") / 1000, tz=UTC)
    data: list[MetricDatum] = []
    for directive in directives:
        if not isinstance(directive, dict) or not directive.get("Namespace"):
            raise EmfError(f"directive {directive!r} has no Namespace")
        dimension_sets = _dimension_sets(directive, root)
        for metric in directive.get("Metrics") or []:
            if not isinstance(metric, dict) or not metric.get("Name"):
                raise EmfError(f"metric definition {metric!r} has no Name")
            name = str(metric["Name"])
            resolution = int(metric.get("StorageResolution", DEFAULT_STORAGE_RESOLUTION))
            if resolution not in (1, 60):
                raise EmfError(f"metric {name!r}: StorageResolution {resolution} is not 1 or 60")
            for dimensions in dimension_sets:
                for value in _values(root, name):
                    data.append(
                        MetricDatum(
                            namespace=str(directive["Namespace"]),
                            name=name,
                            dimensions=dimensions,
                            value=value,
                            unit=str(metric.get("Unit") or DEFAULT_UNIT),
                            storage_resolution=resolution,
                            timestamp=at,
                        )
                    )
    return data


def put_metric_data_requests(data: Iterable[MetricDatum]) -> list[dict[str, Any]]:
    """The ``PutMetricData`` keyword arguments for ``data``: one namespace, <= 1000 each."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for datum in data:
        by_namespace.setdefault(datum.namespace, []).append(datum.to_api())
    requests = []
    for namespace, entries in by_namespace.items():
        for start in range(0, len(entries), MAX_DATUMS_PER_CALL):
            requests.append(
                {"Namespace": namespace, "MetricData": entries[start : start + MAX_DATUMS_PER_CALL]}
            )
    return requests


@dataclass
class EmfStats:
    """What the publisher saw: output lines, EMF data published, lines it rejected."""

    lines: int = 0
    published: int = 0
    rejected: int = 0
    last_rejection: str | None = None


class EmfPublisher:
    """Collects EMF lines from function output and publishes them in batches.

    :meth:`feed` is thread safe and cheap (it parses and queues); a daemon
    thread calls ``PutMetricData`` every ``flush_interval`` seconds. An error
    from the API stops nothing but is kept in :attr:`error` and re-raised by
    :meth:`close`: metrics that silently never arrive would make the
    controller's Check fail for a reason the report would not show.
    """

    def __init__(
        self, cloudwatch: Any, *, flush_interval: float = DEFAULT_FLUSH_INTERVAL_SECONDS
    ) -> None:
        self._cloudwatch = cloudwatch
        self._interval = flush_interval
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: list[MetricDatum] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = EmfStats()
        self.error: BaseException | None = None

    def feed(self, line: str) -> None:
        """Take one output line of a function (log lines are ignored)."""
        try:
            data = parse_emf_line(line)
        except EmfError as error:
            with self._lock:
                self.stats.lines += 1
                self.stats.rejected += 1
                self.stats.last_rejection = f"{error}: {line.strip()[:200]}"
            return
        with self._lock:
            self.stats.lines += 1
            self._pending.extend(data)

    def feed_lines(self, lines: Sequence[str]) -> None:
        """:meth:`feed` for each line."""
        for line in lines:
            self.feed(line)

    def flush(self) -> None:
        """Publish everything queued so far (serialised with the background flushes)."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, []
            for request in put_metric_data_requests(pending):
                self._cloudwatch.put_metric_data(**request)
                with self._lock:
                    self.stats.published += len(request["MetricData"])

    def start(self) -> EmfPublisher:
        """Start the background flushes; returns self."""
        self._thread = threading.Thread(target=self._run, name="emf-publisher", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the background flushes, publish what is left, re-raise a failure."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.error is None:
            self.flush()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception as error:  # kept for close(); see the class docstring
                self.error = error
                return
