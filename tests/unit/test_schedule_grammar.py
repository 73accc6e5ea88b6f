"""Tests of the Scheduler expression grammar (controller/core/cron.py) and its use by the config.

The config refuses an expression EventBridge Scheduler would refuse, or one
that would never fire as meant, when the stack is planned, not after a deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, namespace_problems, parse_stack_config
from controller.core.cron import CronError, check_expression, parse_rate

LISTENER = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/common-api/"
    "50dc6c495c0c9188/f2f7dc8efc522ab2"
)
ECS_TG = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/map-ecs/6d0ecf831eec9f09"
)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 10 ? * MON-FRI *)",
        "cron(0/15 8-17 ? * 2-6 2026-2030)",
        "cron(0 12 L * ? *)",
        "cron(0 9 ? * 6#3 *)",
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
        "at(2026-12-24T09:30:00)",
    ],
)
def test_valid_expressions_pass(expression: str) -> None:
    check_expression(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 10 * * MON-FRI)", "a cron expression has 6 fields, got 5"),
        ("cron(0 10 * * MON-FRI *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(60 10 ? * MON *)", "minutes: 60 is outside 0-59"),
        ("cron(0 10-8 ? * MON *)", "hours: range '10-8' runs backwards"),
        ("cron(0 10 ? * MON 1969)", "year: 1969 is outside 1970-2199"),
        ("cron(0 10 ? * MON/2 *)", "day-of-week: '/' is not allowed"),
        ("rate(1 minutes)", "with the value 1 the unit is 'minute'"),
        ("rate(5 hour)", "with the value 5 the unit is 'hours'"),
        ("rate(0 days)", "the value '0' must be a positive integer"),
        ("rate(1.5 hours)", "the value '1.5' must be a positive integer"),
        ("rate(2 weeks)", "unit 'weeks' must be one of minute(s), hour(s), day(s)"),
        ("rate(5)", "a rate expression has 2 fields (value unit)"),
        ("at(2026-13-01T09:00:00)", "is not a valid date and time"),
        ("at(2026-12-24 09:00)", "expected at(yyyy-mm-ddThh:mm:ss)"),
        ("every day at ten", "must be cron(...), rate(...) or at(...)"),
    ],
)
def test_invalid_expressions_are_refused_naming_the_problem(expression: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        check_expression(expression)
    assert message in str(caught.value)


def test_rate_returns_value_and_unit() -> None:
    assert parse_rate("rate(15 minutes)") == (15, "minute")


def _raw(canary: dict[str, Any]) -> dict[str, Any]:
    stages = [{"weight": 10, "bakeMinutes": 5}, {"weight": 100}]
    return {
        "listenerArn": LISTENER,
        "routes": [
            {
                "name": "map-tile",
                "priority": 100,
                "match": {"pathPatterns": ["/map/*"]},
                "ecsTargetGroupArn": ECS_TG,
                "function": {"source": "fn", "reservedConcurrency": 10},
                "canary": {"stages": stages, **canary},
            }
        ],
    }


def _problems(tmp_path: Path, raw: dict[str, Any], other_keys: tuple[str, ...] = ()) -> list[str]:
    (tmp_path / "fn").mkdir(exist_ok=True)
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(
            raw, region="ap-northeast-1", project_root=tmp_path, other_keys=other_keys
        )
    return caught.value.messages


def test_config_refuses_a_five_field_cron(tmp_path: Path) -> None:
    assert _problems(tmp_path, _raw({"schedule": "cron(0 10 * * MON-FRI)"})) == [
        "routes[0].canary.schedule: 'cron(0 10 * * MON-FRI)': a cron expression has 6 fields, got 5"
    ]


def test_config_refuses_a_rate_with_the_wrong_unit(tmp_path: Path) -> None:
    assert _problems(tmp_path, _raw({"schedule": "rate(1 hours)"})) == [
        "routes[0].canary.schedule: 'rate(1 hours)': with the value 1 the unit is 'hour'"
    ]


def test_config_refuses_a_time_zone_outside_the_iana_database(tmp_path: Path) -> None:
    raw = _raw({"schedule": "rate(1 day)", "timezone": "Asia/Tokio"})
    assert _problems(tmp_path, raw) == [
        "routes[0].canary.timezone: 'Asia/Tokio' is not an IANA time zone"
    ]


def test_config_refuses_keys_outside_the_known_namespaces(tmp_path: Path) -> None:
    found = _problems(tmp_path, _raw({}), ("stranger:logRetentionDays", "aws:region", "foo:bar"))
    assert found == [
        "foo:bar: unknown namespace 'foo': only strangler:, aws:, pulumi: are read "
        "(keys belong in the strangler: namespace)",
        "stranger:logRetentionDays: unknown namespace 'stranger': only strangler:, aws:, "
        "pulumi: are read (did you mean strangler:logRetentionDays?)",
    ]


def test_aws_and_pulumi_namespaces_are_accepted() -> None:
    assert namespace_problems(["aws:region", "aws:profile", "pulumi:tags"]) == []
