"""The concurrency gate's inputs: the bake's peak concurrency, the first stage's guess.

The arithmetic and the decision are pure (:mod:`controller.core.gate`); this
module reads the peak ``ConcurrentExecutions`` through
:class:`~controller.core.ports.ConcurrencyPort` and picks the estimate that
applies to the shift about to happen. A route without
``canary.concurrencyHeadroomPercent`` (no :class:`~controller.core.contract.GateRecord`)
has no gate.
"""

from __future__ import annotations

from datetime import datetime

from controller.core.contract import RouteRecord
from controller.core.errors import StranglerError
from controller.core.gate import GateEstimate, estimate_after_bake, estimate_first_stage
from controller.core.plan import Stage, StagePlan
from controller.core.ports import Ports

__all__ = ["estimate_after_bake_of", "estimate_for_shift"]


def estimate_after_bake_of(
    ports: Ports,
    record: RouteRecord,
    plan: StagePlan,
    baked: Stage,
    start: datetime,
    end: datetime,
) -> GateEstimate | None:
    """The next stage's need from the peak of the bake of ``baked`` (``start`` .. ``end``).

    None without a gate, after the last stage, or when Lambda published no
    datapoint in the window (no estimate is not a pause: ``minRequests``
    already refuses a bake without traffic).
    """
    gate = record.gate
    if gate is None:
        return None
    following = plan.next_stage(baked.index + 1)
    if following is None:
        return None
    if ports.concurrency is None:
        raise StranglerError(
            "the route has a concurrency gate but the controller has no concurrency port",
            route=record.route,
        )
    peak = ports.concurrency.peak_concurrency(record.function_name, start, end)
    if peak is None:
        return None
    return estimate_after_bake(
        stage=following.number,
        peak=peak,
        from_percent=baked.weight_percent,
        to_percent=following.weight_percent,
        reserved=gate.reserved_concurrency,
        headroom_percent=gate.headroom_percent,
    )


def estimate_for_shift(
    record: RouteRecord, stage: Stage, stored: GateEstimate | None
) -> GateEstimate | None:
    """The estimate that decides the shift to ``stage``, against the registry's current cap.

    The first stage uses ``expectedPeakRps`` and the timeout; a later one the
    estimate the check of the previous stage stored. Either is measured
    against the cap the registry holds now, so a ``pulumi up`` that raised
    ``reservedConcurrency`` lets a resumed route through.
    """
    gate = record.gate
    if gate is None:
        return None
    if stage.index == 0:
        return estimate_first_stage(
            expected_peak_rps=gate.expected_peak_rps,
            timeout_seconds=gate.timeout_seconds,
            to_percent=stage.weight_percent,
            reserved=gate.reserved_concurrency,
            headroom_percent=gate.headroom_percent,
        )
    if stored is None or stored.stage != stage.number:
        return None
    return stored.with_reserved(gate.reserved_concurrency, gate.headroom_percent)
