"""The release core: the relative judge, the alias split, when a release starts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.errors import PlanError
from controller.core.release import (
    AliasSplit,
    ReleasePlanRecord,
    ReleaseStageRecord,
    Start,
    Verdict,
    VersionCounts,
    decide_start,
    is_newer,
    judge,
    stage_split,
)

counts = st.integers(min_value=0, max_value=5000)


def _judge(cur: VersionCounts, new: VersionCounts, *, min_requests: int = 50, delta: float = 1.0):
    return judge(
        alarms_ok=True,
        current=cur,
        new=new,
        min_requests=min_requests,
        max_error_rate_delta_percent=delta,
    )


@settings(max_examples=60, deadline=None)
@given(
    cur_inv=counts,
    new_inv=counts,
    data=st.data(),
    min_requests=st.integers(min_value=1, max_value=200),
    delta=st.sampled_from([0.0, 0.5, 1.0, 2.5, 10.0]),
)
def test_judge_agrees_with_the_rates_computed_exactly(
    cur_inv: int, new_inv: int, data: st.DataObject, min_requests: int, delta: float
) -> None:
    cur_err = data.draw(st.integers(min_value=0, max_value=cur_inv))
    new_err = data.draw(st.integers(min_value=0, max_value=new_inv))
    result = _judge(
        VersionCounts("7", cur_inv, cur_err),
        VersionCounts("8", new_inv, new_err),
        min_requests=min_requests,
        delta=delta,
    )
    if cur_inv < min_requests or new_inv < min_requests:
        assert result.verdict is Verdict.NOT_YET, result.reason
        return
    from fractions import Fraction

    gap = Fraction(100 * new_err, new_inv) - Fraction(100 * cur_err, cur_inv)
    expected = Verdict.FAIL if gap > Fraction(str(delta)) else Verdict.PASS
    assert result.verdict is expected, (result.reason, gap)
    assert result.figures["new"]["invocations"] == new_inv
    assert result.figures["current"]["errors"] == cur_err


@settings(max_examples=40, deadline=None)
@given(
    short=st.integers(min_value=0, max_value=49), plenty=st.integers(min_value=50, max_value=900)
)
def test_too_few_requests_on_either_side_is_not_yet_never_a_pass(short: int, plenty: int) -> None:
    for cur, new in (
        (VersionCounts("7", short, 0), VersionCounts("8", plenty, 0)),
        (VersionCounts("7", plenty, 0), VersionCounts("8", short, 0)),
    ):
        assert _judge(cur, new).verdict is Verdict.NOT_YET


def test_an_alarm_fails_whatever_the_counts() -> None:
    result = judge(
        alarms_ok=False,
        current=VersionCounts("7", 500, 0),
        new=VersionCounts("8", 500, 0),
        min_requests=50,
        max_error_rate_delta_percent=1,
    )
    assert result.verdict is Verdict.FAIL
    assert result.figures["alarms_ok"] is False


def test_an_upstream_down_for_both_does_not_blame_the_new_version() -> None:
    result = _judge(VersionCounts("7", 100, 40), VersionCounts("8", 100, 40))
    assert result.verdict is Verdict.PASS


def test_borderline_delta_passes_and_one_error_more_fails() -> None:
    assert _judge(VersionCounts("7", 100, 0), VersionCounts("8", 100, 1)).verdict is Verdict.PASS
    assert _judge(VersionCounts("7", 100, 0), VersionCounts("8", 100, 2)).verdict is Verdict.FAIL


@settings(max_examples=40, deadline=None)
@given(tenths=st.integers(min_value=1, max_value=999))
def test_a_stage_gives_the_new_version_exactly_its_share(tenths: int) -> None:
    percent = tenths / 10
    split = stage_split("7", "8", percent)
    assert split.share("8") == pytest.approx(percent / 100)
    assert split.share("7") + split.share("8") == pytest.approx(1.0)


def test_the_last_stage_points_the_alias_at_the_new_version_alone() -> None:
    split = stage_split("7", "8", 100)
    assert split == AliasSplit("8")
    assert split.single and split.describe() == "v8"


def test_describe_shows_both_versions() -> None:
    assert stage_split("7", "8", 10).describe() == "v7 90 % / v8 10 %"


@pytest.mark.parametrize("bad", [0, -5, 100.5])
def test_a_stage_outside_0_100_is_refused(bad: float) -> None:
    with pytest.raises(PlanError):
        stage_split("7", "8", bad)


def test_is_newer_compares_published_versions_as_numbers() -> None:
    assert is_newer("10", "9")
    assert not is_newer("9", "10")
    assert not is_newer("$LATEST", "1")
    assert not is_newer(None, "1")
    assert is_newer("1", "$LATEST")


@pytest.mark.parametrize(
    ("promoted", "percent", "newest", "expected"),
    [
        (True, 100.0, "8", Start.RELEASE),
        (False, 50.0, "8", Start.WAIT),
        (False, 0.0, "8", Start.DIRECT),
        (True, 100.0, "7", Start.NONE),
        (True, 100.0, None, Start.NONE),
    ],
)
def test_decide_start(promoted: bool, percent: float, newest: str | None, expected: Start) -> None:
    live = AliasSplit("7")
    found = decide_start(promoted=promoted, lambda_percent=percent, live=live, newest=newest)
    assert found is expected


def test_a_release_in_flight_is_not_started_again() -> None:
    live = stage_split("7", "8", 10)
    assert decide_start(promoted=True, lambda_percent=100, live=live, newest="8") is Start.NONE


def test_plan_round_trips_through_its_input() -> None:
    plan = ReleasePlanRecord(
        stages=(ReleaseStageRecord(5, 60), ReleaseStageRecord(100, 0)),
        min_requests=20,
        max_error_rate_delta_percent=0.5,
        schedule="cron(0 3 * * ? *)",
    )
    assert ReleasePlanRecord.from_input(plan.to_input()) == plan
    with pytest.raises(PlanError):
        plan.stage(2, route="map-tile")
