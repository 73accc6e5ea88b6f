"""Tests of a second apply under mocks (rehearsal/world/program.py with ``previous``).

Small synthetic programs against a fake answerer that records every create
and update, so each engine rule is tested on its own: an unchanged resource
is not touched, a changed one is updated with exactly the changed inputs,
``ignore_changes`` (whole property or a nested path) keeps the stored value,
a new resource is created, and a resource no longer declared fails the run.
"""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rehearsal.errors import DeleteNotTranslated
from rehearsal.world.bridge.base import Change, Created
from rehearsal.world.changes import CREATE, SAME, UPDATE
from rehearsal.world.program import ProgramRun, run_program

PRELUDE = """
import pulumi


class Thing(pulumi.CustomResource):
    def __init__(self, name, props=None, opts=None):
        super().__init__("test:index:Thing", name, {"arn": None, **(props or {})}, opts)


config = pulumi.Config("t")
"""

PROGRAM = """
weight = config.get_int("weight") or 999
target = config.get("target") or "tg-1"
Thing("rule", {"actions": [{"forward": {"targetGroups": [
    {"arn": target, "weight": weight}, {"arn": "tg-lambda", "weight": 0}]}}],
    "priority": config.get_int("priority") or 100},
    pulumi.ResourceOptions(ignore_changes=config.get_object("ignore") or []))
Thing("record", {"value": f"points at {target}"})
Thing("steady", {"value": "always the same"})
if config.get_bool("extra"):
    Thing("extra", {"value": "new"})
"""


class RecordingAnswerer:
    """Answers every create and update; records them (name and changed keys)."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.updated: list[tuple[str, frozenset[str], Mapping[str, Any]]] = []
        self.lock = threading.Lock()

    def create(self, token: str, name: str, inputs: Mapping[str, Any]) -> Created:
        with self.lock:
            self.created.append(name)
        return Created(id=f"{name}-id", outputs={**inputs, "arn": f"arn:test:{name}"})

    def update(self, change: Change) -> Created:
        with self.lock:
            self.updated.append((change.name, change.changed, dict(change.inputs)))
        return Created(id=change.existing.id, outputs={**change.existing.outputs, **change.inputs})

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        return {}


def apply(
    tmp_path: Path,
    config: Mapping[str, Any],
    previous: ProgramRun | None = None,
    body: str = PROGRAM,
) -> tuple[ProgramRun, RecordingAnswerer]:
    program = tmp_path / "__main__.py"
    program.write_text(PRELUDE + textwrap.dedent(body))
    answerer = RecordingAnswerer()
    result = run_program(
        stack="test",
        project="proj",
        project_dir=tmp_path,
        config=dict(config),
        answerer=answerer,
        previous=previous.records if previous else (),
    )
    return result, answerer


def operations(run: ProgramRun) -> dict[str, str]:
    return {change.name: change.operation for change in run.changes}


def test_the_first_apply_creates_everything(tmp_path: Path):
    first, answerer = apply(tmp_path, {})
    assert sorted(answerer.created) == ["record", "rule", "steady"]
    assert set(operations(first).values()) == {CREATE}


def test_an_unchanged_second_apply_touches_nothing(tmp_path: Path):
    first, _ = apply(tmp_path, {})
    second, answerer = apply(tmp_path, {}, previous=first)
    assert answerer.created == [] and answerer.updated == []
    assert set(operations(second).values()) == {SAME}
    by_name = {r.name: r for r in second.records if r.custom}
    assert by_name["record"].id == "record-id", "the recorded id is kept"


def test_a_changed_input_is_updated_and_nothing_else(tmp_path: Path):
    first, _ = apply(tmp_path, {})
    second, answerer = apply(tmp_path, {"t:target": "tg-2"}, previous=first)
    assert answerer.created == []
    assert sorted((name, sorted(keys)) for name, keys, _ in answerer.updated) == [
        ("record", ["value"]),
        ("rule", ["actions"]),
    ]
    assert operations(second) == {"rule": UPDATE, "record": UPDATE, "steady": SAME}


def test_ignoring_the_whole_actions_keeps_the_stored_actions(tmp_path: Path):
    config = {"t:ignore": '["actions"]'}
    first, _ = apply(tmp_path, config)
    second, answerer = apply(tmp_path, {**config, "t:target": "tg-2"}, previous=first)
    assert [name for name, _, _ in answerer.updated] == ["record"]
    rule = next(c for c in second.changes if c.name == "rule")
    assert (rule.operation, rule.ignored) == (SAME, ("actions",))
    recorded = next(r for r in second.records if r.name == "rule")
    groups = recorded.inputs["actions"][0]["forward"]["targetGroups"]
    assert groups[0]["arn"] == "tg-1", "the stored actions are what the next apply diffs"


def test_ignoring_the_weights_by_path_still_sends_the_whole_action(tmp_path: Path):
    """The old positional ignore: a new ARN updates the action, with the stored weights."""
    paths = [
        "actions[0].forward.targetGroups[0].weight",
        "actions[0].forward.targetGroups[1].weight",
    ]
    config = {"t:ignore": str(paths).replace("'", '"')}
    first, _ = apply(tmp_path, config)
    _, answerer = apply(tmp_path, {**config, "t:target": "tg-2", "t:weight": 500}, previous=first)
    ((_, keys, inputs),) = [u for u in answerer.updated if u[0] == "rule"]
    assert keys == frozenset({"actions"})
    groups = inputs["actions"][0]["forward"]["targetGroups"]
    assert [(g["arn"], int(g["weight"])) for g in groups] == [("tg-2", 999), ("tg-lambda", 0)]


def test_a_change_only_under_an_ignored_path_is_no_update(tmp_path: Path):
    config = {"t:ignore": '["actions[0].forward.targetGroups[0].weight"]'}
    first, _ = apply(tmp_path, config)
    second, answerer = apply(tmp_path, {**config, "t:weight": 1}, previous=first)
    assert answerer.updated == []
    rule = next(c for c in second.changes if c.name == "rule")
    assert (rule.operation, rule.ignored) == (SAME, ("actions",))


def test_a_new_resource_is_created_on_the_second_apply(tmp_path: Path):
    first, _ = apply(tmp_path, {})
    second, answerer = apply(tmp_path, {"t:extra": True}, previous=first)
    assert answerer.created == ["extra"] and answerer.updated == []
    assert operations(second)["extra"] == CREATE


def test_a_resource_no_longer_declared_fails_loudly(tmp_path: Path):
    first, _ = apply(tmp_path, {"t:extra": True})
    with pytest.raises(DeleteNotTranslated, match=r"'extra' \(test:index:Thing\)"):
        apply(tmp_path, {}, previous=first)
