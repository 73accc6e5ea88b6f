"""Next fire time of an EventBridge Scheduler schedule expression (pure, no AWS).

The operator CLI shows "time until the next scheduled run" for routes with a
``canary.schedule``. The registry stores the expression and its IANA time zone
exactly as the deploy gave them to EventBridge Scheduler, so this module
evaluates them the way Scheduler does:

* ``cron(minutes hours day-of-month month day-of-week year)``: six fields;
  day-of-week counts 1 = SUN .. 7 = SAT; exactly one of day-of-month and
  day-of-week is ``?``; a ``#`` expression must stand alone in its field
  (EventBridge "Cron expressions reference").
* Daylight saving time: "When the time shifts forward in Spring, your schedule
  invocation gets skipped if the cron expression falls on a non-existent date
  and time. When the time shifts back in the Fall, your schedule runs only once"
  (AWS re:Post, "eventbridge-scheduler-adjust-dst"). A skipped local time is
  therefore not a fire time, and a repeated one fires at its first occurrence.
* ``at(yyyy-mm-ddThh:mm:ss)`` fires once at that local time.
* ``rate(...)`` depends on the schedule's start date, which the registry does not
  hold, so its next fire time is unknown (``None``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# EventBridge numbers the days of the week 1 = SUN .. 7 = SAT.
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MIN_YEAR = 1970
MAX_YEAR = 2199

_CRON = re.compile(r"^\s*cron\((?P<body>[^)]*)\)\s*$", re.IGNORECASE)
_AT = re.compile(r"^\s*at\((?P<body>[^)]*)\)\s*$", re.IGNORECASE)
_RATE = re.compile(r"^\s*rate\((?P<body>[^)]*)\)\s*$", re.IGNORECASE)
# rate(value unit): "If the value is equal to 1, then the unit must be singular.
# If the value is greater than 1, the unit must be plural."
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html
RATE_UNITS = ("minute", "hour", "day")


class CronError(ValueError):
    """A schedule expression this module cannot evaluate; the message names the field."""


@dataclass(frozen=True)
class DayOfMonth:
    """The day-of-month field: plain days, ``L`` (last day), ``LW`` and ``nW``."""

    days: frozenset[int]
    last: bool = False
    last_weekday: bool = False
    nearest_weekday: frozenset[int] = frozenset()

    def days_in(self, year: int, month: int) -> set[int]:
        """The days of ``year``-``month`` this field selects."""
        length = calendar.monthrange(year, month)[1]
        out = {d for d in self.days if d <= length}
        if self.last:
            out.add(length)
        if self.last_weekday:
            out.add(_nearest_weekday(year, month, length))
        for wanted in self.nearest_weekday:
            if wanted <= length:
                out.add(_nearest_weekday(year, month, wanted))
        return out


@dataclass(frozen=True)
class DayOfWeek:
    """The day-of-week field (1 = SUN .. 7 = SAT): plain days, ``nL`` and ``n#k``."""

    weekdays: frozenset[int]
    last_of_month: frozenset[int] = frozenset()
    nth: tuple[int, int] | None = None

    def days_in(self, year: int, month: int) -> set[int]:
        """The days of ``year``-``month`` this field selects."""
        length = calendar.monthrange(year, month)[1]
        out: set[int] = set()
        for day in range(1, length + 1):
            weekday = _aws_weekday(date(year, month, day))
            if weekday in self.weekdays:
                out.add(day)
            if weekday in self.last_of_month and day + 7 > length:
                out.add(day)
            week_of_month = (day - 1) // 7 + 1
            if self.nth is not None and (weekday, week_of_month) == self.nth:
                out.add(day)
        return out


@dataclass(frozen=True)
class CronSchedule:
    """A parsed EventBridge cron expression."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: DayOfMonth | None
    months: frozenset[int]
    day_of_week: DayOfWeek | None
    years: frozenset[int]

    def days_in(self, year: int, month: int) -> set[int]:
        """The days of ``year``-``month`` on which the schedule fires (before the year check)."""
        if self.day_of_month is not None:
            return self.day_of_month.days_in(year, month)
        assert self.day_of_week is not None  # parse_cron guarantees exactly one of them
        return self.day_of_week.days_in(year, month)

    def matches(self, local: datetime) -> bool:
        """Whether the local wall-clock minute ``local`` is selected by the fields."""
        return (
            local.minute in self.minutes
            and local.hour in self.hours
            and local.month in self.months
            and local.year in self.years
            and local.day in self.days_in(local.year, local.month)
        )


def _aws_weekday(day: date) -> int:
    """EventBridge day-of-week number of ``day``: 1 = SUN .. 7 = SAT."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """The weekday (MON-FRI) nearest to ``day`` without leaving the month (``W``)."""
    weekday = date(year, month, day).weekday()  # 0 = Monday
    length = calendar.monthrange(year, month)[1]
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, unless that leaves the month
        return day + 1 if day < length else day - 2
    return day


def _value(token: str, field: str, low: int, high: int, names: tuple[str, ...] = ()) -> int:
    """One number (or name) of a field, range-checked."""
    upper = token.upper()
    if upper in names:
        return names.index(upper) + low
    if not token.isdigit():
        raise CronError(f"{field}: {token!r} is not a number in {low}-{high}")
    number = int(token)
    if not low <= number <= high:
        raise CronError(f"{field}: {number} is outside {low}-{high}")
    return number


def _numbers(
    text: str,
    field: str,
    low: int,
    high: int,
    names: tuple[str, ...] = (),
    allow_step: bool = True,
) -> frozenset[int]:
    """Expand ``*``, ``a``, ``a-b``, ``a/s``, ``a-b/s``, ``*/s`` and comma lists."""
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{field}: empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        if step_text and not allow_step:
            raise CronError(f"{field}: '/' is not allowed in {text!r}")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _value(first, field, low, high, names)
            end = _value(last, field, low, high, names)
            if start > end:
                raise CronError(f"{field}: range {base!r} runs backwards")
        else:
            start = _value(base, field, low, high, names)
            # "a/s" means a, a+s, ... up to the field's maximum (docs: 1/10 in Minutes).
            end = high if step_text else start
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _day_of_month(text: str) -> DayOfMonth:
    days: set[int] = set()
    last = last_weekday = False
    nearest: set[int] = set()
    for part in text.split(","):
        upper = part.upper()
        if upper == "L":
            last = True
        elif upper == "LW":
            last_weekday = True
        elif upper.endswith("W"):
            nearest.add(_value(upper[:-1], "day-of-month", 1, 31))
        else:
            days.update(_numbers(part, "day-of-month", 1, 31))
    return DayOfMonth(frozenset(days), last, last_weekday, frozenset(nearest))


def _day_of_week(text: str) -> DayOfWeek:
    if "#" in text:
        if "," in text:
            raise CronError(f"day-of-week: a '#' expression must stand alone, got {text!r}")
        weekday_text, _, nth_text = text.partition("#")
        weekday = _value(weekday_text, "day-of-week", 1, 7, DAY_NAMES)
        nth = _value(nth_text, "day-of-week", 1, 5)
        return DayOfWeek(frozenset(), nth=(weekday, nth))
    weekdays: set[int] = set()
    last_of_month: set[int] = set()
    for part in text.split(","):
        upper = part.upper()
        if upper == "L":
            weekdays.add(7)  # "last day of the week": SAT
        elif upper.endswith("L"):
            last_of_month.add(_value(upper[:-1], "day-of-week", 1, 7, DAY_NAMES))
        else:
            weekdays.update(_numbers(part, "day-of-week", 1, 7, DAY_NAMES, allow_step=False))
    return DayOfWeek(frozenset(weekdays), frozenset(last_of_month))


def parse_cron(expression: str) -> CronSchedule:
    """Parse ``cron(...)`` (or its six bare fields) into a :class:`CronSchedule`."""
    match = _CRON.match(expression)
    body = match.group("body") if match else expression
    fields = body.split()
    if len(fields) != 6:
        raise CronError(f"{expression!r}: a cron expression has 6 fields, got {len(fields)}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise CronError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    return CronSchedule(
        expression=expression.strip(),
        minutes=_numbers(minute, "minutes", 0, 59),
        hours=_numbers(hour, "hours", 0, 23),
        day_of_month=None if dom == "?" else _day_of_month(dom),
        months=_numbers(month, "month", 1, 12, MONTH_NAMES),
        day_of_week=None if dow == "?" else _day_of_week(dow),
        years=_numbers(year, "year", MIN_YEAR, MAX_YEAR),
    )


def parse_rate(expression: str) -> tuple[int, str]:
    """Check ``rate(value unit)`` and return ``(value, unit)``; CronError names the problem."""
    match = _RATE.match(expression)
    if not match:
        raise CronError(f"{expression!r}: expected rate(value unit)")
    parts = match.group("body").split()
    if len(parts) != 2:
        raise CronError(f"{expression!r}: a rate expression has 2 fields (value unit)")
    value_text, unit = parts
    if not value_text.isdigit() or int(value_text) < 1:
        raise CronError(f"{expression!r}: the value {value_text!r} must be a positive integer")
    value = int(value_text)
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in RATE_UNITS:
        raise CronError(f"{expression!r}: unit {unit!r} must be one of minute(s), hour(s), day(s)")
    wanted = singular if value == 1 else singular + "s"
    if unit != wanted:
        raise CronError(f"{expression!r}: with the value {value} the unit is {wanted!r}")
    return value, singular


def parse_at(expression: str) -> datetime:
    """Check ``at(yyyy-mm-ddThh:mm:ss)`` and return the naive local time."""
    match = _AT.match(expression)
    if not match:
        raise CronError(f"{expression!r}: expected at(yyyy-mm-ddThh:mm:ss)")
    body = match.group("body").strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", body):
        raise CronError(f"{expression!r}: expected at(yyyy-mm-ddThh:mm:ss)")
    try:
        return datetime.fromisoformat(body)
    except ValueError as e:
        raise CronError(f"{expression!r}: {body} is not a valid date and time") from e


def check_expression(expression: str) -> None:
    """Check a Scheduler expression (``cron``, ``rate`` or ``at``) against its grammar.

    Raises :class:`CronError` naming what is wrong, so that a config is refused
    before a deploy rather than by a schedule that never fires.
    """
    if _RATE.match(expression):
        parse_rate(expression)
    elif _AT.match(expression):
        parse_at(expression)
    elif _CRON.match(expression):
        parse_cron(expression)
    else:
        raise CronError(f"{expression!r} must be cron(...), rate(...) or at(...)")


def _resolve(naive: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, or None when DST skips it.

    ``fold=0`` picks the first of two occurrences in the autumn, the one
    Scheduler runs ("runs only once").
    """
    aware = naive.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return instant


def next_cron_fire(schedule: CronSchedule, after: datetime, zone: ZoneInfo) -> datetime | None:
    """First fire time strictly after ``after`` (aware), in UTC; None if there is none."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    local_after = after.astimezone(zone)
    # One day of slack: around a DST change, a local time on the previous date
    # can still lie after ``after`` in absolute time.
    earliest_day = local_after.date() - timedelta(days=1)
    for year in sorted(y for y in schedule.years if y >= earliest_day.year):
        for month in sorted(schedule.months):
            if (year, month) < (earliest_day.year, earliest_day.month):
                continue
            for day in sorted(schedule.days_in(year, month)):
                if date(year, month, day) < earliest_day:
                    continue
                for hour in sorted(schedule.hours):
                    for minute in sorted(schedule.minutes):
                        instant = _resolve(datetime(year, month, day, hour, minute), zone)
                        if instant is not None and instant > after:
                            return instant
    return None


def load_zone(timezone: str | None) -> ZoneInfo:
    """The IANA zone of a schedule; Scheduler's default is UTC."""
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CronError(f"time zone {timezone!r} is unknown") from e


def next_run(expression: str, timezone: str | None, after: datetime) -> datetime | None:
    """Next fire time (UTC) of a Scheduler expression, or None when it cannot be known.

    Raises :class:`CronError` for an expression this module cannot read.
    """
    zone = load_zone(timezone)
    if _RATE.match(expression):
        parse_rate(expression)
        return None
    if _AT.match(expression):
        naive = parse_at(expression)
        instant = _resolve(naive, zone)
        return instant if instant is not None and instant > after else None
    return next_cron_fire(parse_cron(expression), after, zone)
