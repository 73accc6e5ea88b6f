"""Tests of rehearsal/world/changes.py: property paths, ignore_changes and the input diff."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from rehearsal.world.changes import (
    SAME,
    UPDATE,
    WILDCARD,
    IgnorePathError,
    ResourceChange,
    apply_ignore_changes,
    changed_inputs,
    fingerprint,
    parse_property_path,
)

RULE = {
    "priority": 100,
    "actions": [
        {
            "type": "forward",
            "forward": {
                "targetGroups": [
                    {"arn": "ecs-1", "weight": 999.0},
                    {"arn": "lambda", "weight": 0.0},
                ]
            },
        }
    ],
}


def rule(ecs: str, ecs_weight: int, lambda_weight: int, priority: int = 100) -> dict:
    return {
        "priority": priority,
        "actions": [
            {
                "type": "forward",
                "forward": {
                    "targetGroups": [
                        {"arn": ecs, "weight": ecs_weight},
                        {"arn": "lambda", "weight": lambda_weight},
                    ]
                },
            }
        ],
    }


@pytest.mark.parametrize(
    ("path", "elements"),
    [
        ("actions", ("actions",)),
        (
            "actions[0].forward.targetGroups[1].weight",
            ("actions", 0, "forward", "targetGroups", 1, "weight"),
        ),
        ('tags["strangler:route"]', ("tags", "strangler:route")),
        ('tags["a.b"].c', ("tags", "a.b", "c")),
        ("a.*.b", ("a", WILDCARD, "b")),
        ("a[*]", ("a", WILDCARD)),
    ],
)
def test_property_paths_parse(path: str, elements: tuple):
    assert parse_property_path(path) == elements


@pytest.mark.parametrize("path", ["", "a..b", "a[x]", 'a["unterminated]'])
def test_a_malformed_path_is_refused(path: str):
    with pytest.raises(IgnorePathError):
        parse_property_path(path)


def test_ignoring_a_whole_property_keeps_the_old_value():
    new = rule("ecs-2", 999, 0)
    kept = apply_ignore_changes(new, RULE, ["actions"])
    assert kept["actions"] == RULE["actions"]
    assert new["actions"][0]["forward"]["targetGroups"][0]["arn"] == "ecs-2", "input not modified"


def test_ignoring_nested_paths_keeps_only_those_values():
    paths = [
        "actions[0].forward.targetGroups[0].weight",
        "actions[0].forward.targetGroups[1].weight",
    ]
    kept = apply_ignore_changes(rule("ecs-2", 1, 998, priority=7), RULE, paths)
    groups = kept["actions"][0]["forward"]["targetGroups"]
    assert [(g["arn"], g["weight"]) for g in groups] == [("ecs-2", 999.0), ("lambda", 0.0)]
    assert kept["priority"] == 7


def test_a_path_absent_from_the_old_inputs_is_removed():
    assert apply_ignore_changes({"a": 1, "b": 2}, {"b": 2}, ["a"]) == {"b": 2}
    assert apply_ignore_changes({"a": {"b": 1, "c": 2}}, {}, ["a.b"]) == {"a": {"c": 2}}


def test_a_wildcard_covers_every_element():
    assert apply_ignore_changes({"a": {"b": 1, "c": 2}}, {"a": {"b": 5}}, ["a.*"]) == {
        "a": {"b": 5}
    }
    assert apply_ignore_changes({"a": [1, 2, 3]}, {"a": [7]}, ["a[*]"]) == {"a": [7]}


def changed(old: dict, new: dict, base_dir: Path = Path(".")) -> tuple[str, ...]:
    return changed_inputs(fingerprint(old, base_dir), fingerprint(new, base_dir))


def test_numbers_compare_as_the_wire_format_carries_them():
    assert changed(RULE, rule("ecs-1", 999, 0)) == ()
    assert changed(RULE, rule("ecs-2", 999, 0)) == ("actions",)
    assert changed({"a": None}, {}) == (), "absent and None are the same"


def test_archives_compare_by_their_content_when_applied(tmp_path: Path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(e, c):\n    return 1\n")
    applied = fingerprint({"code": pulumi.FileArchive(str(code))}, tmp_path)
    # Relative to the project: the same folder, the same content.
    again = fingerprint({"code": pulumi.FileArchive("code")}, tmp_path)
    assert changed_inputs(applied, again) == ()
    (code / "app.py").write_text("def handler(e, c):\n    return 2\n")
    edited = fingerprint({"code": pulumi.FileArchive(str(code))}, tmp_path)
    assert changed_inputs(applied, edited) == ("code",)
    assert changed({"code": pulumi.StringAsset("one")}, {"code": pulumi.StringAsset("two")}) == (
        "code",
    )


def test_a_change_describes_itself():
    updated = ResourceChange("p", "aws:ssm/parameter:Parameter", "urn", UPDATE, ("value",))
    kept = ResourceChange(
        "r", "aws:lb/listenerRule:ListenerRule", "urn", SAME, ignored=("actions",)
    )
    assert updated.describe() == "p (update: value)"
    assert kept.describe() == "r (same; ignore_changes kept: actions)"
