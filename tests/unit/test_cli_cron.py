"""Tests of controller/core/cron.py: next fire times of Scheduler expressions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.cron import CronError, next_cron_fire, next_run, parse_cron

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        # Weekdays 09:00 in Tokyo (UTC+9): Friday 2024-05-10 00:00Z is Fri 09:00 JST.
        ("cron(0 9 ? * MON-FRI *)", "Asia/Tokyo", utc(2024, 5, 9, 23, 0), utc(2024, 5, 10, 0, 0)),
        # ... and after it, the next is Monday (weekend skipped).
        ("cron(0 9 ? * MON-FRI *)", "Asia/Tokyo", utc(2024, 5, 10, 0, 0), utc(2024, 5, 13, 0, 0)),
        # Strictly after: a fire time equal to `after` is not the next one.
        ("cron(30 * * * ? *)", "UTC", utc(2024, 1, 1, 10, 30), utc(2024, 1, 1, 11, 30)),
        # 1/10 in minutes: 1, 11, 21, ... (docs example).
        ("cron(1/10 * * * ? *)", "UTC", utc(2024, 1, 1, 10, 2), utc(2024, 1, 1, 10, 11)),
        ("cron(*/15 8-9 * * ? *)", "UTC", utc(2024, 1, 1, 9, 46), utc(2024, 1, 2, 8, 0)),
        # L: last day of the month, leap February.
        ("cron(0 12 L * ? *)", "UTC", utc(2024, 2, 1), utc(2024, 2, 29, 12, 0)),
        # 3W: 2024-08-03 is a Saturday -> Friday the 2nd.
        ("cron(0 0 3W * ? *)", "UTC", utc(2024, 7, 31), utc(2024, 8, 2, 0, 0)),
        # 1W: 2024-06-01 is a Saturday -> Monday the 3rd (not May 31st).
        ("cron(0 0 1W * ? *)", "UTC", utc(2024, 5, 20), utc(2024, 6, 3, 0, 0)),
        # LW: last weekday; 2024-03-31 is a Sunday -> Friday the 29th.
        ("cron(0 0 LW * ? *)", "UTC", utc(2024, 3, 1), utc(2024, 3, 29, 0, 0)),
        # 3#2: the second Tuesday (docs example); March 2024 -> the 12th.
        ("cron(0 10 ? * 3#2 *)", "UTC", utc(2024, 3, 1), utc(2024, 3, 12, 10, 0)),
        # 6L: the last Friday of the month; March 2024 -> the 29th.
        ("cron(0 10 ? * 6L *)", "UTC", utc(2024, 3, 1), utc(2024, 3, 29, 10, 0)),
        # L in day-of-week: Saturday.
        ("cron(0 10 ? * L *)", "UTC", utc(2024, 3, 1), utc(2024, 3, 2, 10, 0)),
        # Month and year names/limits.
        ("cron(0 0 1 JAN,JUL ? 2025)", "UTC", utc(2025, 1, 1, 0, 0), utc(2025, 7, 1, 0, 0)),
        ("cron(0 0 1 1 ? 2025)", "UTC", utc(2025, 1, 1, 0, 0), None),
        # Berlin springs forward on 2024-03-31 at 02:00 -> 03:00: 02:30 does not
        # exist that day and Scheduler skips it.
        ("cron(30 2 * * ? *)", "Europe/Berlin", utc(2024, 3, 30, 12), utc(2024, 4, 1, 0, 30)),
        # Berlin falls back on 2024-10-27 at 03:00 -> 02:00: 02:30 happens twice,
        # Scheduler runs once, at the first one (00:30Z, still CEST).
        ("cron(30 2 * * ? *)", "Europe/Berlin", utc(2024, 10, 26, 12), utc(2024, 10, 27, 0, 30)),
        ("cron(30 2 * * ? *)", "Europe/Berlin", utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)),
        # at(): one time, local to the zone.
        ("at(2030-01-02T09:00:00)", "Asia/Tokyo", utc(2029, 1, 1), utc(2030, 1, 2, 0, 0)),
        ("at(2020-01-02T09:00:00)", "Asia/Tokyo", utc(2029, 1, 1), None),
        # rate(): depends on the start date, which the registry does not hold.
        ("rate(1 hour)", None, utc(2024, 1, 1), None),
    ],
)
def test_next_run_examples(expression, zone, after, expected):
    assert next_run(expression, zone, after) == expected, expression


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("cron(0 9 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 9 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 9 * *)", "6 fields"),
        ("cron(60 9 * * ? *)", "minutes: 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24 is outside 0-23"),
        ("cron(0 9 ? FOO MON *)", "month: 'FOO'"),
        ("cron(0 9 ? * 2#1,3#1 *)", "must stand alone"),
        ("cron(0 9 ? * MON/2 *)", "'/' is not allowed"),
        ("cron(0 9 10-5 * ? *)", "runs backwards"),
        ("cron(0/0 9 * * ? *)", "step"),
    ],
)
def test_parse_cron_rejects_with_the_field_named(expression, fragment):
    with pytest.raises(CronError, match=None) as raised:
        parse_cron(expression)
    assert fragment in str(raised.value), str(raised.value)


def test_unknown_time_zone_is_a_cron_error():
    with pytest.raises(CronError, match="Mars/Olympus"):
        next_run("cron(0 9 * * ? *)", "Mars/Olympus", utc(2024, 1, 1))


def test_naive_after_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        next_cron_fire(parse_cron("cron(0 9 * * ? *)"), datetime(2024, 1, 1), TOKYO)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"]


def brute_force(schedule, after: datetime, zone: ZoneInfo, horizon: timedelta) -> datetime | None:
    """Walk UTC minute by minute: the reference the fast search must agree with."""
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute <= after + horizon:
        local = minute.astimezone(zone)
        # fold=1 is the second occurrence of a repeated local time: not a fire time.
        if local.fold == 0 and schedule.matches(local.replace(tzinfo=None)):
            return minute
        minute += timedelta(minutes=1)
    return None


@st.composite
def expressions(draw: st.DrawFn) -> str:
    minutes = draw(st.lists(st.integers(0, 59), min_size=1, max_size=3, unique=True))
    hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=3, unique=True))
    minute_field = ",".join(map(str, minutes))
    hour_field = draw(st.sampled_from([",".join(map(str, hours)), "*", "*/6", "1-3"]))
    if draw(st.booleans()):
        days = draw(st.lists(st.integers(1, 7), min_size=1, max_size=3, unique=True))
        return f"cron({minute_field} {hour_field} ? * {','.join(map(str, days))} *)"
    dom = draw(st.sampled_from(["*", "L", "1/2", "15W", "LW"]))
    return f"cron({minute_field} {hour_field} {dom} * ? *)"


@settings(max_examples=60, deadline=None)
@given(
    expression=expressions(),
    zone_name=st.sampled_from(ZONES),
    after=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
)
def test_next_fire_agrees_with_a_minute_by_minute_walk(expression, zone_name, after):
    zone = ZoneInfo(zone_name)
    schedule = parse_cron(expression)
    fast = next_cron_fire(schedule, after, zone)
    assert fast is not None, expression
    assert fast > after
    slow = brute_force(schedule, after, zone, horizon=fast - after)
    assert slow == fast, f"{expression} {zone_name} after {after}: walk {slow}, search {fast}"
