"""Views the operator CLI prints, as the unit tests' fake backends answer them."""

from __future__ import annotations

from datetime import datetime

from controller.cli.format import RouteStatusView
from controller.core.weights import Weights


def progressing_view(route: str, next_stage_at: datetime | None = None) -> RouteStatusView:
    """What ``status`` shows of a route in stage 1 of 2 at 10 %, no drift, alarms OK."""
    return RouteStatusView(
        route=route,
        status="progressing",
        stage=1,
        stages=2,
        live=Weights.from_percent(10.0),
        last_written=Weights.from_percent(10.0),
        drift=False,
        alarm="OK",
        next_stage_at=next_stage_at,
    )


# The summary of a rollback that was done, as ``--json`` prints it.
ROLLBACK_DONE = {
    "route": "map-tile",
    "action": "rollback",
    "result": "done",
    "status": "rolled_back",
}
