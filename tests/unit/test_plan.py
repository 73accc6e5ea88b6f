"""Tests of controller.core.plan: the stage plan built from a PlanRecord, and its validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.contract import PlanRecord, StagePlanRecord
from controller.core.errors import PlanError
from controller.core.plan import Stage, StagePlan, plan_problems
from controller.core.weights import ALL_LAMBDA, Weights


def record(*weights: float, bake: int = 60, per_run: int = 0, min_requests: int = 0) -> PlanRecord:
    return PlanRecord(
        stages=tuple(StagePlanRecord(weight=w, bake_seconds=bake) for w in weights),
        stages_per_run=per_run,
        min_requests=min_requests,
    )


# Valid plans: strictly increasing shares on the 0.1 % grid, ending at 100 %.
@st.composite
def valid_records(draw: st.DrawFn) -> PlanRecord:
    tenths = draw(st.lists(st.integers(min_value=1, max_value=999), unique=True, max_size=8))
    percents = [t / 10 for t in sorted(tenths)]
    percents.append(100.0)
    bakes = draw(st.lists(st.integers(0, 3600), min_size=len(percents), max_size=len(percents)))
    return PlanRecord(
        stages=tuple(
            StagePlanRecord(weight=p, bake_seconds=b) for p, b in zip(percents, bakes, strict=True)
        ),
        stages_per_run=draw(st.integers(0, 10)),
        min_requests=draw(st.integers(0, 10_000)),
    )


def test_from_record_builds_indexed_stages() -> None:
    plan = StagePlan.from_record(record(1, 10, 50, 100, per_run=2, min_requests=20))
    assert plan.stages == (
        Stage(0, 1.0, 60),
        Stage(1, 10.0, 60),
        Stage(2, 50.0, 60),
        Stage(3, 100.0, 60),
    )
    assert (plan.stages_per_run, plan.min_requests, plan.total, len(plan)) == (2, 20, 4, 4)
    assert plan.stage(1).weights.same_pair(Weights(ecs=9, lambda_=1))
    assert plan.stage(3).weights == ALL_LAMBDA
    assert plan.stage(0).number == 1


@given(valid_records())
def test_record_round_trip(rec: PlanRecord) -> None:
    plan = StagePlan.from_record(rec)
    assert plan.to_record() == rec
    assert StagePlan.from_record(PlanRecord.from_input(rec.to_input())) == plan


@given(valid_records())
def test_valid_plans_strictly_increase_in_share_and_end_at_all_lambda(
    rec: PlanRecord,
) -> None:
    plan = StagePlan.from_record(rec)
    shares = [s.weights.lambda_tenths for s in plan.stages]
    assert shares == sorted(set(shares))
    assert plan.stages[-1].weights == ALL_LAMBDA
    assert plan.is_last(plan.total - 1)


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        (record(), "plan.stages: at least one stage is required"),
        (record(0, 100), "plan.stages[0].weight: must be above 0, got 0"),
        (record(50, 50, 100), "plan.stages[1].weight: 50 is not above plan.stages[0].weight 50"),
        (record(50, 20, 100), "plan.stages[1].weight: 20 is not above plan.stages[0].weight 50"),
        (record(10, 50), "plan.stages[1].weight: the last stage must be 100, got 50"),
        (record(10, 100.5), "plan.stages[1].weight: percent 100.5 is outside 0..100"),
        (record(10.25, 100), "plan.stages[0].weight: percent 10.25 is not a multiple of 0.1"),
        (record(10, 100, bake=-1), "plan.stages[0].bakeSeconds: must be >= 0, got -1"),
        (record(10, 100, per_run=-1), "plan.stagesPerRun: must be >= 0, got -1"),
        (record(10, 100, min_requests=-5), "plan.minRequests: must be >= 0, got -5"),
    ],
)
def test_invalid_plans_name_the_field(rec: PlanRecord, expected: str) -> None:
    with pytest.raises(PlanError) as info:
        StagePlan.from_record(rec, route="map-tile")
    assert any(expected in problem for problem in info.value.problems), info.value.problems
    assert "route map-tile" in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    problems = plan_problems(record(50, 50, 40, bake=-1, per_run=-2, min_requests=-3))
    fields = [p.split(":")[0] for p in problems]
    assert "plan.stages[1].weight" in fields
    assert "plan.stages[2].weight" in fields
    assert "plan.stages[0].bakeSeconds" in fields
    assert "plan.stagesPerRun" in fields
    assert "plan.minRequests" in fields


def test_valid_plan_has_no_problems() -> None:
    assert plan_problems(record(0.1, 1, 5, 25, 50, 100)) == []


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(PlanError, match=r"plan.stages\[1\].index: must be 1, got 5"):
        StagePlan(stages=(Stage(0, 10.0), Stage(5, 100.0)))
    with pytest.raises(PlanError, match="the last stage must be 100"):
        StagePlan(stages=(Stage(0, 10.0),))


def test_stage_and_is_last_refuse_out_of_range_indexes() -> None:
    plan = StagePlan.from_record(record(10, 100))
    assert not plan.is_last(0)
    assert plan.is_last(1)
    with pytest.raises(IndexError, match=r"stage index 2 is outside 0\.\.1"):
        plan.stage(2)
    with pytest.raises(IndexError):
        plan.is_last(-1)


def test_next_stage() -> None:
    plan = StagePlan.from_record(record(10, 50, 100))
    assert plan.next_stage(0) == plan.stage(0)
    assert plan.next_stage(2) == plan.stage(2)
    assert plan.next_stage(3) is None
    with pytest.raises(IndexError):
        plan.next_stage(4)


def test_stages_this_run_without_limit_is_all_remaining() -> None:
    plan = StagePlan.from_record(record(10, 50, 100))
    assert plan.stages_this_run(0) == plan.stages
    assert plan.stages_this_run(2) == (plan.stage(2),)
    assert plan.stages_this_run(3) == ()


def test_stages_this_run_respects_stages_per_run() -> None:
    plan = StagePlan.from_record(record(10, 25, 50, 75, 100, per_run=2))
    assert [s.index for s in plan.stages_this_run(0)] == [0, 1]
    assert [s.index for s in plan.stages_this_run(2)] == [2, 3]
    assert [s.index for s in plan.stages_this_run(4)] == [4]
    with pytest.raises(IndexError):
        plan.stages_this_run(6)


@given(valid_records())
def test_runs_cover_every_stage_once_in_order(rec: PlanRecord) -> None:
    plan = StagePlan.from_record(rec)
    start = 0
    seen: list[int] = []
    while start < plan.total:
        run = plan.stages_this_run(start)
        assert run, "a run must make progress"
        if plan.stages_per_run:
            assert len(run) <= plan.stages_per_run
        seen.extend(s.index for s in run)
        start += len(run)
    assert seen == list(range(plan.total))
