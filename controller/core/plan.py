"""The stage plan of a route: which Lambda share each stage sets and how long it bakes.

Built from :class:`controller.core.contract.PlanRecord` (what the deploy resolved
from the config and what travels in the state machine's execution input), and
validated here once more, because the execution input can also come from an
operator. Pure module: no AWS calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.contract import PlanRecord, StagePlanRecord
from controller.core.errors import PlanError, WeightError
from controller.core.weights import Weights, percent_to_tenths

__all__ = ["Stage", "StagePlan", "plan_problems"]


@dataclass(frozen=True)
class Stage:
    """One stage: set the Lambda share to ``weight_percent``, then bake ``bake_seconds``."""

    index: int
    weight_percent: float
    bake_seconds: int = 0

    @property
    def weights(self) -> Weights:
        """The ALB weights this stage writes: the exact ratio of its share."""
        return Weights.from_percent(self.weight_percent)

    @property
    def number(self) -> int:
        """The 1-based stage number, as operators count them."""
        return self.index + 1


def plan_problems(record: PlanRecord) -> list[str]:
    """Every problem of ``record``, each naming its field; empty when the plan is valid.

    Rules: at least one stage; each weight in (0, 100] on the 0.1 grid; the
    weights strictly increase; the last stage is 100; bake seconds, stagesPerRun
    and minRequests are not negative.
    """
    problems: list[str] = []
    if not record.stages:
        problems.append("plan.stages: at least one stage is required")
    previous: tuple[int, float, int] | None = None  # (index, percent, tenths)
    for index, stage in enumerate(record.stages):
        field = f"plan.stages[{index}]"
        tenths: int | None = None
        try:
            tenths = percent_to_tenths(stage.weight)
        except WeightError as exc:
            problems.append(f"{field}.weight: {exc.message}")
        else:
            if tenths == 0:
                problems.append(f"{field}.weight: must be above 0, got {stage.weight}")
                tenths = None
        if isinstance(stage.bake_seconds, bool) or not isinstance(stage.bake_seconds, int):
            problems.append(f"{field}.bakeSeconds: must be an integer, got {stage.bake_seconds!r}")
        elif stage.bake_seconds < 0:
            problems.append(f"{field}.bakeSeconds: must be >= 0, got {stage.bake_seconds}")
        if tenths is not None:
            # Every 0.1 % step has its own exact ALB ratio, so a stage is
            # distinct from the previous one exactly when its share is above it.
            if previous is not None and tenths <= previous[2]:
                prev_index, prev_percent, _ = previous
                problems.append(
                    f"{field}.weight: {stage.weight} is not above "
                    f"plan.stages[{prev_index}].weight {prev_percent}; "
                    "weights must strictly increase"
                )
            previous = (index, stage.weight, tenths)
    if record.stages:
        last = record.stages[-1]
        try:
            last_is_full = percent_to_tenths(last.weight) == 1000
        except WeightError:
            last_is_full = True  # already reported above
        if not last_is_full:
            problems.append(
                f"plan.stages[{len(record.stages) - 1}].weight: the last stage must be 100, "
                f"got {last.weight}"
            )
    for name, value in (
        ("plan.stagesPerRun", record.stages_per_run),
        ("plan.minRequests", record.min_requests),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name}: must be an integer, got {value!r}")
        elif value < 0:
            problems.append(f"{name}: must be >= 0, got {value}")
    return problems


@dataclass(frozen=True)
class StagePlan:
    """A validated stage plan. Construct with :meth:`from_record`.

    ``stages_per_run`` is how many stages one run may pass before the route is
    paused until the next run (0 = no limit). ``min_requests`` is the number of
    canary requests a bake needs before its check can pass: no evidence is not
    a pass.
    """

    stages: tuple[Stage, ...]
    stages_per_run: int = 0
    min_requests: int = 0

    def __post_init__(self) -> None:
        problems = plan_problems(self.to_record())
        for position, stage in enumerate(self.stages):
            if stage.index != position:
                problems.append(
                    f"plan.stages[{position}].index: must be {position}, got {stage.index}"
                )
        if problems:
            raise PlanError(problems)

    @classmethod
    def from_record(cls, record: PlanRecord, route: str | None = None) -> StagePlan:
        """Validate ``record`` and build the plan; :class:`PlanError` lists every problem."""
        problems = plan_problems(record)
        if problems:
            raise PlanError(problems, route=route)
        return cls(
            stages=tuple(
                Stage(index=i, weight_percent=s.weight, bake_seconds=s.bake_seconds)
                for i, s in enumerate(record.stages)
            ),
            stages_per_run=record.stages_per_run,
            min_requests=record.min_requests,
        )

    def to_record(self) -> PlanRecord:
        """Back to the contract record (inverse of :meth:`from_record`)."""
        return PlanRecord(
            stages=tuple(
                StagePlanRecord(weight=s.weight_percent, bake_seconds=s.bake_seconds)
                for s in self.stages
            ),
            stages_per_run=self.stages_per_run,
            min_requests=self.min_requests,
        )

    @property
    def total(self) -> int:
        """The number of stages."""
        return len(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    def stage(self, index: int) -> Stage:
        """The stage at 0-based ``index``; :class:`IndexError` naming the range otherwise."""
        if not 0 <= index < len(self.stages):
            raise IndexError(f"stage index {index} is outside 0..{len(self.stages) - 1}")
        return self.stages[index]

    def is_last(self, index: int) -> bool:
        """True when ``index`` is the last stage (the one at 100 %)."""
        self.stage(index)
        return index == len(self.stages) - 1

    def next_stage(self, passed: int) -> Stage | None:
        """The stage to run after ``passed`` stages have passed; None when all have."""
        if not 0 <= passed <= len(self.stages):
            raise IndexError(f"stages passed {passed} is outside 0..{len(self.stages)}")
        return self.stages[passed] if passed < len(self.stages) else None

    def stages_this_run(self, start_stage: int) -> tuple[Stage, ...]:
        """The stages one run starting at ``start_stage`` (0-based) may pass.

        At most ``stages_per_run`` of them (0 = all remaining); empty when
        ``start_stage`` is past the last stage.
        """
        if not 0 <= start_stage <= len(self.stages):
            raise IndexError(f"start stage {start_stage} is outside 0..{len(self.stages)}")
        remaining = self.stages[start_stage:]
        if self.stages_per_run == 0:
            return remaining
        return remaining[: self.stages_per_run]
