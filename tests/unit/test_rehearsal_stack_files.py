"""Tests of rehearsal/world/stack_files.py: the files Pulumi reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from rehearsal.errors import StackConfigError
from rehearsal.world.stack_files import (
    available_stacks,
    load_stack_config,
    project_name,
    stack_name_of,
    stack_region,
)

PROJECT = Path(__file__).resolve().parents[2]


def test_prod_stack_config_of_the_project():
    config = load_stack_config(PROJECT, "prod")
    assert stack_region(config) == "ap-northeast-1"
    assert config["strangler:routes"][0]["name"] == "map-tile"
    assert project_name(PROJECT) == "strangler"
    assert "prod" in available_stacks(PROJECT)


def test_missing_stack_lists_the_known_ones(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    with pytest.raises(StackConfigError, match=r"Pulumi\.prod\.yaml.*stacks in .*: dev"):
        load_stack_config(tmp_path, "prod")


def test_explicit_file_replaces_the_default(tmp_path):
    path = tmp_path / "variant.yaml"
    path.write_text("config:\n  aws:region: eu-west-1\n")
    assert load_stack_config(tmp_path, "prod", path) == {"aws:region": "eu-west-1"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("config: [1, 2]\n", "'config' must be a mapping"),
        ("- a\n", "expected a mapping"),
        ("config: {a: [}\n", "not valid YAML"),
        ("config:\n  strangler:token:\n    secure: AAAB\n", "encrypted values"),
    ],
)
def test_unreadable_stack_files_name_the_problem(tmp_path, text, message):
    (tmp_path / "Pulumi.s.yaml").write_text(text)
    with pytest.raises(StackConfigError, match=message):
        load_stack_config(tmp_path, "s")


def test_project_name_defaults(tmp_path):
    assert project_name(tmp_path) == "strangler"
    (tmp_path / "Pulumi.yaml").write_text("name: other\n")
    assert project_name(tmp_path) == "other"


def test_stack_name_of_a_file():
    assert stack_name_of(Path("tests/stacks/Pulumi.three.yaml")) == "three"
    assert stack_name_of(Path("variant.yaml")) is None
    assert stack_region({}) is None
