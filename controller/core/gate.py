"""The concurrency gate: will the next stage fit under the function's reserved concurrency?

Each route's function has reserved concurrency, its cap: above it the ALB
answers 502 at once, by design. A shift from w % to w' % multiplies the
function's concurrency by about w'/w, so a cap that held stage 2 may be far
too low for stage 3, and the step itself would cause the 502s that then fail
a good function. Before each shift the controller estimates what the next
stage needs and pauses the route instead of shifting when the estimate is
above the headroom: ``headroomPercent`` of the reserved concurrency.

- After a bake: the peak of ``AWS/Lambda ConcurrentExecutions`` of the
  function during the bake just passed, times w'/w.
- Before the first stage (no bake yet): ``expectedPeakRps`` (the route's peak
  request rate, all of it) times w'/100 times the function timeout, the
  longest a request can hold an execution (Little's law at its worst). No
  estimate without ``expectedPeakRps``.

The decision is exact: it compares the fractions the inputs stand for, not
rounded floats, so the route pauses exactly when the estimate exceeds the
headroom.

Pure module: no AWS calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from controller.core.json_form import fields_dict

__all__ = ["GateEstimate", "estimate_after_bake", "estimate_first_stage"]

BASIS_PEAK = "peak"
BASIS_EXPECTED = "expected"


def _fraction(value: float) -> Fraction:
    # Through str: 0.1 is one tenth, not the binary float nearest to it.
    return Fraction(str(value))


@dataclass(frozen=True)
class GateEstimate:
    """What the next stage needs, against what the cap allows.

    ``stage`` is the 1-based number of the stage about to be shifted to.
    ``basis`` is ``peak`` (measured during the bake of the stage at
    ``from_percent``) or ``expected`` (``expectedPeakRps`` and the timeout).
    """

    stage: int
    from_percent: float
    to_percent: float
    basis: str
    measured: float
    reserved: int
    headroom_percent: float

    @property
    def needed_exact(self) -> Fraction:
        """The estimate as an exact fraction."""
        if self.basis == BASIS_PEAK:
            return (
                _fraction(self.measured) * _fraction(self.to_percent) / _fraction(self.from_percent)
            )
        # measured = expectedPeakRps x timeout: the concurrency at 100 %.
        return _fraction(self.measured) * _fraction(self.to_percent) / 100

    @property
    def limit_exact(self) -> Fraction:
        """``headroomPercent`` of the reserved concurrency, exactly."""
        return Fraction(self.reserved) * _fraction(self.headroom_percent) / 100

    @property
    def needed(self) -> float:
        """The estimated concurrency of the next stage."""
        return float(self.needed_exact)

    @property
    def limit(self) -> float:
        """The most the gate lets the next stage need."""
        return float(self.limit_exact)

    @property
    def blocked(self) -> bool:
        """True exactly when the estimate is above the headroom: do not shift."""
        return self.needed_exact > self.limit_exact

    def with_reserved(self, reserved: int, headroom_percent: float) -> GateEstimate:
        """The same estimate against another cap (after ``pulumi up`` raised it)."""
        return replace(self, reserved=reserved, headroom_percent=headroom_percent)

    def describe(self) -> str:
        """One line, e.g. ``concurrency gate: stage 3 needs ~260 of 200 reserved (80 % headroom
        = 160); ...``."""
        if self.basis == BASIS_PEAK:
            source = (
                f"peak {self.measured:g} concurrent at {self.from_percent:g} % "
                f"x {self.to_percent:g}/{self.from_percent:g}"
            )
        else:
            source = (
                f"expectedPeakRps x timeout = {self.measured:g} at 100 % x {self.to_percent:g} %"
            )
        verdict = "pausing" if self.blocked else "ok"
        return (
            f"concurrency gate: stage {self.stage} needs ~{self.needed:.0f} of {self.reserved} "
            f"reserved ({self.headroom_percent:g} % headroom = {self.limit:g}); {source}; {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored with the route's state)."""
        return {
            **fields_dict(self),
            "needed": round(self.needed, 3),
            "limit": round(self.limit, 3),
            "blocked": self.blocked,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> GateEstimate:
        """Inverse of :meth:`to_dict` (the derived keys are recomputed)."""
        return GateEstimate(
            stage=int(data["stage"]),
            from_percent=float(data["from_percent"]),
            to_percent=float(data["to_percent"]),
            basis=str(data["basis"]),
            measured=float(data["measured"]),
            reserved=int(data["reserved"]),
            headroom_percent=float(data["headroom_percent"]),
        )


def estimate_after_bake(
    *,
    stage: int,
    peak: float,
    from_percent: float,
    to_percent: float,
    reserved: int,
    headroom_percent: float,
) -> GateEstimate:
    """The next stage's need from the peak ``ConcurrentExecutions`` of the bake just passed."""
    if from_percent <= 0:
        raise ValueError(
            f"the stage that baked must have a Lambda weight above 0, got {from_percent}"
        )
    if peak < 0:
        raise ValueError(f"a peak concurrency is never negative, got {peak}")
    return GateEstimate(
        stage=stage,
        from_percent=from_percent,
        to_percent=to_percent,
        basis=BASIS_PEAK,
        measured=peak,
        reserved=reserved,
        headroom_percent=headroom_percent,
    )


def estimate_first_stage(
    *,
    expected_peak_rps: float | None,
    timeout_seconds: int,
    to_percent: float,
    reserved: int,
    headroom_percent: float,
) -> GateEstimate | None:
    """Stage 1's need from ``expectedPeakRps`` and the timeout; None without ``expectedPeakRps``."""
    if expected_peak_rps is None:
        return None
    at_full = float(_fraction(expected_peak_rps) * timeout_seconds)
    return GateEstimate(
        stage=1,
        from_percent=0.0,
        to_percent=to_percent,
        basis=BASIS_EXPECTED,
        measured=at_full,
        reserved=reserved,
        headroom_percent=headroom_percent,
    )
