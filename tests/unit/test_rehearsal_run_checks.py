"""Tests of rehearsal/run_checks.py: ``run``'s inputs checked without an emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rehearsal.errors import ConfigRejected
from rehearsal.run_checks import chart_problem, stack_plans

PROJECT = Path(__file__).resolve().parents[2]


def example_config() -> dict:
    return dict(yaml.safe_load((PROJECT / "Pulumi.prod.yaml").read_text())["config"])


def test_stack_plans_gives_each_route_its_plan() -> None:
    plans = stack_plans(example_config(), project_dir=PROJECT, stack="prod")
    assert list(plans) == ["map-tile"]
    assert [s.bake_seconds for s in plans["map-tile"].stages] == [600, 1200, 1800, 0]


def test_stack_plans_refuses_what_the_program_refuses() -> None:
    config = example_config()
    config["strangler:logRetentionDay"] = config.pop("strangler:logRetentionDays")
    with pytest.raises(ConfigRejected) as caught:
        stack_plans(config, project_dir=PROJECT, stack="prod")
    assert caught.value.messages == [
        "logRetentionDay: unknown key (did you mean logRetentionDays?)"
    ]


def test_chart_path_checks(tmp_path: Path) -> None:
    assert chart_problem(tmp_path / "chart.png") is None
    assert chart_problem(tmp_path) == (
        f"--chart {tmp_path}: is a folder; give a file name, such as {tmp_path / 'rehearsal.png'}"
    )
    missing = tmp_path / "no" / "chart.png"
    assert (
        chart_problem(missing) == f"--chart {missing}: the folder {missing.parent} does not exist"
    )
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert chart_problem(a_file / "chart.png") == (
        f"--chart {a_file / 'chart.png'}: the folder {a_file} does not exist"
    )
