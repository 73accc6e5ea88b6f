"""The scenario: what happens on the applied twin during a rehearsal.

Synthetic traffic through each route's rule (traffic), the functions' EMF
output turned into CloudWatch metrics (emf), the stack kept alive with both
(live, shared by ``run`` and ``serve``), the faults injected on demand
(faults, and live_faults for a served twin), and the engine that starts the
canaries, watches them and builds the report (engine); a promoted route's
release of new function code (release), with the alias's split and metrics
as the ALB sees them (alias_routing).

The names below are what ``python -m rehearsal run`` (rehearsal/run.py) uses;
each is imported from its submodule on first use (see rehearsal/lazy.py).
The submodules stay importable on their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rehearsal.lazy import load_export

if TYPE_CHECKING:
    from rehearsal.scenario.engine import Redeployer, RoutePlan, RunConfigError, run_canaries
    from rehearsal.scenario.live import LiveStack
    from rehearsal.scenario.live_faults import FAILBACK_TIMEOUT_SECONDS, FAULT_KINDS, LiveFaults
    from rehearsal.scenario.release import ReleaseOptions, release_stage_problem
    from rehearsal.scenario.traffic import RouteTraffic, RuleWeights

__all__ = [
    "FAILBACK_TIMEOUT_SECONDS",
    "FAULT_KINDS",
    "LiveFaults",
    "LiveStack",
    "Redeployer",
    "ReleaseOptions",
    "RoutePlan",
    "RouteTraffic",
    "RuleWeights",
    "RunConfigError",
    "release_stage_problem",
    "run_canaries",
]

# Each name of __all__, under the submodule that defines it.
_EXPORTS = {
    "engine": ("Redeployer", "RoutePlan", "RunConfigError", "run_canaries"),
    "live": ("LiveStack",),
    "live_faults": ("FAILBACK_TIMEOUT_SECONDS", "FAULT_KINDS", "LiveFaults"),
    "release": ("ReleaseOptions", "release_stage_problem"),
    "traffic": ("RouteTraffic", "RuleWeights"),
}


def __getattr__(name: str) -> Any:
    """Import ``name`` from its submodule on first use (see the module docstring)."""
    return load_export(__name__, _EXPORTS, name)
