"""Release runs: a new function version goes live in verified stages behind the alias ``live``.

After a route is promoted (Lambda 100 %), the ALB still sends its traffic to
one target, the function's alias ``live``. A new function version reaches
users only through that alias: each stage of a release sets the alias's
``AdditionalVersionWeights`` (the new version's share), reads it back, bakes,
and is judged against the version it replaces (:func:`judge`).

Lambda's alias routing: "You can point an alias to a maximum of two Lambda
function versions" and the additional version's weight is a fraction from 0
to 1 (``RoutingConfig.AdditionalVersionWeights``, Lambda API reference,
https://docs.aws.amazon.com/lambda/latest/api/API_AliasRoutingConfiguration.html).

The judge is relative (as Kayenta's for Spinnaker): an upstream that fails for
both versions does not blame the new one. Lambda reports ``Invocations`` and
``Errors`` per version for traffic routed through an alias's weights, under
the dimensions ``FunctionName, Resource, ExecutedVersion`` ("Use the
ExecutedVersion dimension to compare error rates for two versions of a
function that are both targets of a weighted alias",
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html).

Pure module: no AWS calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from controller.core.errors import PlanError

__all__ = [
    "ALIAS_NAME",
    "DEFAULT_MAX_ERROR_RATE_DELTA_PERCENT",
    "DEFAULT_MIN_REQUESTS",
    "DEFAULT_STAGES",
    "AliasSplit",
    "Judgement",
    "ReleasePlanRecord",
    "ReleaseStageRecord",
    "Start",
    "Verdict",
    "VersionCounts",
    "decide_start",
    "is_newer",
    "judge",
    "stage_split",
]

#: The alias the Lambda target group invokes; the controller owns where it points.
ALIAS_NAME: Final = "live"

#: Safe defaults of ``release`` in the route config.
DEFAULT_STAGES: Final = ((10.0, 300), (50.0, 300), (100.0, 0))
DEFAULT_MIN_REQUESTS: Final = 50
DEFAULT_MAX_ERROR_RATE_DELTA_PERCENT: Final = 1.0


@dataclass(frozen=True)
class ReleaseStageRecord:
    """One release stage: the new version's share in percent and its bake time."""

    weight: float
    bake_seconds: int = 0


@dataclass(frozen=True)
class ReleasePlanRecord:
    """The release plan of a route, as the deploy resolved it from ``release`` in the config."""

    stages: tuple[ReleaseStageRecord, ...] = tuple(
        ReleaseStageRecord(w, b) for w, b in DEFAULT_STAGES
    )
    min_requests: int = DEFAULT_MIN_REQUESTS
    max_error_rate_delta_percent: float = DEFAULT_MAX_ERROR_RATE_DELTA_PERCENT
    schedule: str | None = None

    def to_input(self) -> dict[str, Any]:
        """The ``release`` object of a registry record or an execution input (camelCase)."""
        return {
            "stages": [{"weight": s.weight, "bakeSeconds": s.bake_seconds} for s in self.stages],
            "minRequests": self.min_requests,
            "maxErrorRateDeltaPercent": self.max_error_rate_delta_percent,
            "schedule": self.schedule,
        }

    @staticmethod
    def from_input(data: dict[str, Any]) -> ReleasePlanRecord:
        """Inverse of :meth:`to_input`."""
        return ReleasePlanRecord(
            stages=tuple(
                ReleaseStageRecord(float(s["weight"]), int(s.get("bakeSeconds", 0)))
                for s in data["stages"]
            ),
            min_requests=int(data.get("minRequests", DEFAULT_MIN_REQUESTS)),
            max_error_rate_delta_percent=float(
                data.get("maxErrorRateDeltaPercent", DEFAULT_MAX_ERROR_RATE_DELTA_PERCENT)
            ),
            schedule=data.get("schedule"),
        )

    def stage(self, index: int, *, route: str) -> ReleaseStageRecord:
        """Stage ``index`` (0-based); PlanError naming the route when there is none."""
        if not 0 <= index < len(self.stages):
            raise PlanError(
                [f"release stage {index + 1} does not exist: the plan has {len(self.stages)}"],
                route=route,
            )
        return self.stages[index]


def is_newer(candidate: str | None, current: str) -> bool:
    """True when published version ``candidate`` is newer than ``current``.

    Published versions are increasing integers; ``$LATEST`` and aliases are
    never a release candidate.
    """
    if candidate is None or not candidate.isdigit():
        return False
    if not current.isdigit():
        return True
    return int(candidate) > int(current)


@dataclass(frozen=True)
class AliasSplit:
    """Where the alias points: its version, and the additional version's share (0..1)."""

    version: str
    additional: tuple[tuple[str, float], ...] = ()

    @property
    def versions(self) -> tuple[str, ...]:
        """Every version that gets traffic, the alias's own first."""
        return (self.version, *(v for v, w in self.additional if w > 0))

    def share(self, version: str) -> float:
        """The fraction (0..1) of the alias's invocations that ``version`` serves."""
        extra = sum(w for _, w in self.additional)
        if version == self.version:
            return round(1.0 - extra, 6)
        return round(sum(w for v, w in self.additional if v == version), 6)

    @property
    def single(self) -> bool:
        """True when exactly one version serves every invocation."""
        return not any(w > 0 for _, w in self.additional)

    def describe(self) -> str:
        """``v7 90 % / v8 10 %``, or ``v7`` alone."""
        if self.single:
            return f"v{self.version}"
        return " / ".join(f"v{v} {_percent(self.share(v))} %" for v in self.versions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: ``{"version": "7", "additional": {"8": 0.1}}``."""
        return {"version": self.version, "additional": dict(self.additional)}


def _percent(fraction: float) -> str:
    value = round(fraction * 100, 1)
    return f"{value:g}"


def stage_split(current: str, new: str, percent: float) -> AliasSplit:
    """The alias for a stage giving ``percent`` of the traffic to ``new``.

    100 % points the alias at ``new`` with no routing config: the release is
    then complete and the old version serves nothing.
    """
    if not 0 < percent <= 100:
        raise PlanError([f"release stage weight {percent} is not in (0, 100]"])
    if percent >= 100:
        return AliasSplit(new)
    return AliasSplit(current, ((new, round(percent / 100, 6)),))


class Start(StrEnum):
    """What a newer published version means for a route right now."""

    NONE = "none"
    """No newer version: nothing to release."""
    RELEASE = "release"
    """Promoted: start a release run (at once, or at ``release.schedule``)."""
    DIRECT = "direct"
    """Lambda gets no traffic: point the alias at the new version straight away."""
    WAIT = "wait"
    """Migrating (Lambda between 0 and 100 %): wait until the route is promoted."""


def decide_start(
    *, promoted: bool, lambda_percent: float, live: AliasSplit, newest: str | None
) -> Start:
    """Whether and how a newer version ``newest`` goes live on a route."""
    if not is_newer(newest, live.version) or newest in live.versions:
        return Start.NONE
    if lambda_percent <= 0:
        return Start.DIRECT
    if promoted:
        return Start.RELEASE
    return Start.WAIT


@dataclass(frozen=True)
class VersionCounts:
    """One version's invocations and errors over a window (AWS/Lambda, by ExecutedVersion)."""

    version: str
    invocations: int
    errors: int

    @property
    def error_rate_percent(self) -> float:
        """Errors per invocation in percent; 0 without invocations."""
        if self.invocations <= 0:
            return 0.0
        return 100.0 * self.errors / self.invocations


class Verdict(StrEnum):
    """The judge's answer for one check."""

    PASS = "pass"
    NOT_YET = "not_yet"
    """Too little evidence on either side: never a pass."""
    FAIL = "fail"


@dataclass(frozen=True)
class Judgement:
    """A verdict with the figures it rests on (recorded in the history)."""

    verdict: Verdict
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


def judge(
    *,
    alarms_ok: bool,
    current: VersionCounts,
    new: VersionCounts,
    min_requests: int,
    max_error_rate_delta_percent: float,
) -> Judgement:
    """Judge the new version against the current one over the same window.

    Passes only when the alarms are OK, both versions served at least
    ``min_requests`` invocations, and the new version's error rate is at most
    ``max_error_rate_delta_percent`` points above the current one's. Too few
    requests on either side is :attr:`Verdict.NOT_YET`, never a pass. The
    comparison is done in integers (cross-multiplied), so no float rounding
    decides a borderline case.
    """
    figures: dict[str, Any] = {
        "alarms_ok": alarms_ok,
        "current": {
            "version": current.version,
            "invocations": current.invocations,
            "errors": current.errors,
            "error_rate_percent": round(current.error_rate_percent, 3),
        },
        "new": {
            "version": new.version,
            "invocations": new.invocations,
            "errors": new.errors,
            "error_rate_percent": round(new.error_rate_percent, 3),
        },
        "min_requests": min_requests,
        "max_error_rate_delta_percent": max_error_rate_delta_percent,
    }
    if not alarms_ok:
        return Judgement(Verdict.FAIL, "a route alarm is in ALARM", figures)
    short = [c for c in (new, current) if c.invocations < max(min_requests, 1)]
    if short:
        names = ", ".join(f"v{c.version} served {c.invocations}" for c in short)
        return Judgement(
            Verdict.NOT_YET, f"not enough evidence: {names}, fewer than {min_requests}", figures
        )
    # new_errors/new_inv - cur_errors/cur_inv <= delta/100, cross-multiplied by
    # 100 * new_inv * cur_inv (both positive): integers except the configured delta,
    # which is scaled to thousandths of a point.
    delta_milli = round(max_error_rate_delta_percent * 1000)
    lhs = 100_000 * (new.errors * current.invocations - current.errors * new.invocations)
    rhs = delta_milli * new.invocations * current.invocations
    rates = (
        f"v{new.version} {new.error_rate_percent:.2f} % errors of {new.invocations}, "
        f"v{current.version} {current.error_rate_percent:.2f} % of {current.invocations}"
    )
    if lhs > rhs:
        return Judgement(
            Verdict.FAIL,
            f"{rates}: more than {max_error_rate_delta_percent:g} points above",
            figures,
        )
    return Judgement(Verdict.PASS, f"alarms OK; {rates}", figures)
