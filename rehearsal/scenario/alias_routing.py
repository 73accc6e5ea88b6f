"""The alias ``live`` as the emulated ALB invokes it: split by its routing config, metered.

moto stores an alias's ``RoutingConfig`` but does not split invocations by
it, and publishes no AWS/Lambda metrics. The twin does both, as Lambda does
for an alias with weights: each invocation picks a version by the alias's
``AdditionalVersionWeights`` as read from the emulator, and counts in
``Invocations`` (and ``Errors`` for a function error) under the dimensions
``FunctionName``, ``Resource`` (``<function>:<alias>``) and
``ExecutedVersion`` (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html),
which the controller's release judge reads.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from rehearsal.scenario.traffic import WeightedPicker

# How long a GetAlias answer is used before the alias is read again: short
# against a stage's bake, long against the request interval.
ALIAS_CACHE_SECONDS = 0.05
# How often the per-version counts go to CloudWatch.
FLUSH_SECONDS = 0.5
# Weights of the picker, per unit of share (1 unit = 0.1 %).
_UNITS = 1000


class AliasVersions:
    """Picks the version of each invocation of ``function:alias`` and meters it."""

    def __init__(self, lambda_client: Any, cloudwatch_client: Any, function: str, alias: str):
        self._lambda = lambda_client
        self._cloudwatch = cloudwatch_client
        self.function = function
        self.alias = alias
        self._lock = threading.Lock()
        self._picker = WeightedPicker()
        self._weights: dict[str, int] = {}
        self._read_at = 0.0
        self._counts: dict[str, list[int]] = {}
        self._flushed_at = time.monotonic()
        self.served: dict[str, int] = {}

    def weights(self) -> dict[str, int]:
        """``{version: units of 0.1 %}`` as the alias reads now (cached briefly)."""
        now = time.monotonic()
        with self._lock:
            if now - self._read_at < ALIAS_CACHE_SECONDS and self._weights:
                return dict(self._weights)
        answer = self._lambda.get_alias(FunctionName=self.function, Name=self.alias)
        extra = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        weights = {str(v): round(float(w) * _UNITS) for v, w in extra.items()}
        weights[str(answer["FunctionVersion"])] = _UNITS - sum(weights.values())
        with self._lock:
            self._weights, self._read_at = weights, now
        return weights

    def pick(self) -> str:
        """The version the next invocation runs."""
        weights = self.weights()
        with self._lock:
            return self._picker.pick(weights)

    def record(self, version: str, error: bool) -> None:
        """One invocation of ``version`` ended (``error``: a function error)."""
        with self._lock:
            counts = self._counts.setdefault(version, [0, 0])
            counts[0] += 1
            counts[1] += int(error)
            self.served[version] = self.served.get(version, 0) + 1
            due = time.monotonic() - self._flushed_at >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        """Publish the counts since the last flush (Sum per version)."""
        with self._lock:
            counts, self._counts = self._counts, {}
            self._flushed_at = time.monotonic()
        if not counts:
            return
        at = datetime.now(UTC)
        data = []
        for version, (invocations, errors) in counts.items():
            dimensions = [
                {"Name": "FunctionName", "Value": self.function},
                {"Name": "Resource", "Value": f"{self.function}:{self.alias}"},
                {"Name": "ExecutedVersion", "Value": version},
            ]
            for name, value in (("Invocations", invocations), ("Errors", errors)):
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": at,
                        "Value": float(value),
                        "Unit": "Count",
                    }
                )
        self._cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=data)
