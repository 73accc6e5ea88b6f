"""The proxy's metrics: one CloudWatch embedded metric format (EMF) document per request.

The document is the one Powertools' `Metrics` prints: one directive with the
namespace, the single dimension `route` and each metric's name, unit and
storage resolution (1: high resolution, the application error alarm has
10-second periods), then the dimension value and each metric's values::

    {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Strangler",
    "Dimensions":[["route"]],"Metrics":[{"Name":"Requests","Unit":"Count",
    "StorageResolution":1}]}]},"route":"map-tile","Requests":[1.0]}

Powertools validates every metric and rebuilds that whole document on every
flush, about a third of the proxy's overhead per request over a bare urllib3
handler (bench/map_proxy.py). The proxy's metrics, units, namespace and
dimension are fixed, so the directive is serialised once per set of metric
names and a request only formats its values into it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

# StorageResolution 1: a high-resolution metric (1 s granularity). CloudWatch
# accepts only 1 or 60.
HIGH_RESOLUTION = 1


class EmfMetrics:
    """The metrics of one request, printed as one EMF line by :meth:`flush_metrics`.

    `units` maps every metric the function may publish to its CloudWatch
    unit; a name outside it is a programming error (KeyError), not a new
    metric on the fly.
    """

    def __init__(self, namespace: str, dimension: str, units: Mapping[str, str]) -> None:
        self._namespace = namespace
        self._dimension = dimension
        self._units = dict(units)
        needs_escaping = sorted(name for name in self._units if json.dumps(name) != f'"{name}"')
        if needs_escaping:
            raise ValueError(f"metric names must be plain JSON strings: {needs_escaping}")
        self._dimension_json = json.dumps(dimension)
        self._value_json = json.dumps("")
        self._values: dict[str, list[float]] = {}
        self._directives: dict[tuple[str, ...], str] = {}

    def set_dimension_value(self, value: str) -> None:
        """The value of the one dimension (the route's name) for every document."""
        self._value_json = json.dumps(value)

    def add_metric(self, name: str, value: float) -> None:
        """Record one value of `name` for the current request."""
        if name not in self._units:
            raise KeyError(f"unknown metric {name!r}; known: {', '.join(self._units)}")
        self._values.setdefault(name, []).append(float(value))

    def clear_metrics(self) -> None:
        """Forget the values recorded so far, without printing them."""
        self._values = {}

    def flush_metrics(self) -> None:
        """Print the recorded values as one EMF line and forget them; nothing if none."""
        if not self._values:
            return
        values, self._values = self._values, {}
        names = tuple(values)
        directive = self._directives.get(names)
        if directive is None:
            directive = self._directive(names)
            self._directives[names] = directive
        # repr() of a finite float is its JSON text; the values are counts and
        # milliseconds, always finite.
        fields = "".join(f',"{name}":[{",".join(map(repr, v))}]' for name, v in values.items())
        print(
            f'{{"_aws":{{"Timestamp":{time.time_ns() // 1_000_000},"CloudWatchMetrics":'
            f"{directive}}},{self._dimension_json}:{self._value_json}{fields}}}"
        )

    def _directive(self, names: tuple[str, ...]) -> str:
        return json.dumps(
            [
                {
                    "Namespace": self._namespace,
                    "Dimensions": [[self._dimension]],
                    "Metrics": [
                        {
                            "Name": name,
                            "Unit": self._units[name],
                            "StorageResolution": HIGH_RESOLUTION,
                        }
                        for name in names
                    ],
                }
            ],
            separators=(",", ":"),
        )
