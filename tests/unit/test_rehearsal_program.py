"""Tests of rehearsal/world/program.py: a program run under mocks, in dependency order.

The programs here are small synthetic ones (written to tmp_path) against a
fake answerer (our own Protocol), so each property of the runner is tested
on its own: depends_on, components, secrets, invokes, errors.
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rehearsal.errors import BridgeError, ConfigRejected, RehearsalError
from rehearsal.world.bridge.base import Created
from rehearsal.world.program import check_creation_order, reveal_secrets, run_program
from rehearsal.world.records import ResourceRecord

PRELUDE = """
import asyncio
import pulumi


class Thing(pulumi.CustomResource):
    def __init__(self, name, props=None, opts=None):
        # "arn" is an output only: None in the props, filled by the answerer.
        super().__init__("test:index:Thing", name, {"arn": None, **(props or {})}, opts)


class Box(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("test:index:Box", name, None, opts)
        Thing(f"{name}-child", {"label": later("child")}, pulumi.ResourceOptions(parent=self))
        self.register_outputs({"done": True})


async def _later(value):
    # An input that resolves only after a while: its resource registers late.
    await asyncio.sleep(0.3)
    return value


def later(value):
    return pulumi.Output.from_input(_later(value))


config = pulumi.Config("t")
"""


class FakeAnswerer:
    """Records calls; fails for names listed in ``fail``."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.created: list[tuple[str, Mapping[str, Any]]] = []
        self.invoked: list[tuple[str, Mapping[str, Any]]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def create(self, token: str, name: str, inputs: Mapping[str, Any]) -> Created:
        if name in self.fail:
            raise BridgeError("refused", token=token, name=name)
        with self.lock:
            self.created.append((name, dict(inputs)))
        return Created(id=f"{name}-id", outputs={**inputs, "arn": f"arn:test:{name}"})

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        self.invoked.append((token, dict(args)))
        return {"answer": 42}


def run(tmp_path: Path, body: str, config=None, answerer=None):
    program = tmp_path / "__main__.py"
    program.write_text(PRELUDE + textwrap.dedent(body))
    answerer = answerer or FakeAnswerer()
    result = run_program(
        stack="test",
        project="proj",
        project_dir=tmp_path,
        config=config or {},
        answerer=answerer,
    )
    return result, answerer


def order_of(result) -> list[str]:
    return [r.name for r in result.records if r.custom]


DEPENDS_ON = """
slow = Thing("slow", {"label": later("slow")})
options = pulumi.ResourceOptions(depends_on=[slow]) if config.get_bool("dependsOn") else None
Thing("fast", {"label": "fast"}, options)
"""


def test_without_depends_on_the_independent_resource_goes_first(tmp_path):
    result, _ = run(tmp_path, DEPENDS_ON, {"t:dependsOn": False})
    assert order_of(result) == ["fast", "slow"]


def test_depends_on_is_honoured(tmp_path):
    result, _ = run(tmp_path, DEPENDS_ON, {"t:dependsOn": True})
    assert order_of(result) == ["slow", "fast"]
    fast = next(r for r in result.records if r.name == "fast")
    slow = next(r for r in result.records if r.name == "slow")
    assert slow.urn in fast.dependencies


def test_an_input_output_orders_like_depends_on(tmp_path):
    body = """
    slow = Thing("slow", {"label": later("slow")})
    Thing("consumer", {"source": slow.arn})
    """
    result, answerer = run(tmp_path, body)
    assert order_of(result) == ["slow", "consumer"]
    assert dict(answerer.created)["consumer"]["source"] == "arn:test:slow"


def test_depends_on_a_component_waits_for_its_children(tmp_path):
    body = """
    box = Box("box")
    Thing("after", {"label": "x"}, pulumi.ResourceOptions(depends_on=[box]))
    """
    result, answerer = run(tmp_path, body)
    assert order_of(result) == ["box-child", "after"]
    assert [name for name, _ in answerer.created] == ["box-child", "after"], (
        "components are recorded, never created"
    )
    box = next(r for r in result.records if r.name == "box")
    child = next(r for r in result.records if r.name == "box-child")
    assert box.is_component and box.registered_outputs == {"done": True}
    assert (child.parent, child.parent_type) == ("box", "test:index:Box")
    assert box.parent is None, "children of the stack have no parent component"


def test_secret_inputs_reach_the_answerer_in_clear(tmp_path):
    body = """
    Thing("s", {"value": pulumi.Output.secret("s3cr3t")})
    """
    result, answerer = run(tmp_path, body)
    assert dict(answerer.created)["s"]["value"] == "s3cr3t"
    assert result.records[0].inputs["value"] == "s3cr3t"


def test_invokes_and_exports(tmp_path):
    body = """
    answer = pulumi.runtime.invoke("test:index/getThing:getThing", {"a": 1}).value
    thing = Thing("t", {"answer": answer["answer"]})
    pulumi.export("thingArn", thing.arn)
    """
    result, answerer = run(tmp_path, body)
    assert answerer.invoked == [("test:index/getThing:getThing", {"a": 1})]
    assert dict(answerer.created)["t"]["answer"] == 42
    assert result.exports == {"thingArn": "arn:test:t"}


def test_the_first_creation_error_is_raised(tmp_path):
    with pytest.raises(BridgeError, match=r"'bad': refused"):
        run(tmp_path, 'Thing("good")\nThing("bad")\n', answerer=FakeAnswerer(frozenset({"bad"})))


def test_reading_an_existing_resource_is_refused(tmp_path):
    with pytest.raises(BridgeError, match=r"Resource\.get"):
        run(tmp_path, 'Thing("existing", opts=pulumi.ResourceOptions(id="abc"))\n')


def test_config_error_of_the_program_becomes_config_rejected(tmp_path):
    body = """
    class ConfigError(ValueError):
        messages = ["routes[0].priority: must be 1..50000", "listenerArn: required"]

    try:
        raise ConfigError("bad")
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from error
    """
    with pytest.raises(ConfigRejected) as raised:
        run(tmp_path, body)
    assert raised.value.messages == [
        "routes[0].priority: must be 1..50000",
        "listenerArn: required",
    ]


def test_a_missing_program_is_reported(tmp_path):
    with pytest.raises(RehearsalError, match="no Pulumi program"):
        run_program(
            stack="s", project="p", project_dir=tmp_path, config={}, answerer=FakeAnswerer()
        )


def test_project_dir_is_importable_during_the_run_only(tmp_path):
    (tmp_path / "helper_mod_for_rehearsal.py").write_text("VALUE = 7\n")
    _, answerer = run(
        tmp_path,
        'import helper_mod_for_rehearsal\nThing("t", {"v": helper_mod_for_rehearsal.VALUE})\n',
    )
    assert dict(answerer.created)["t"]["v"] == 7
    import sys

    assert str(tmp_path) not in sys.path


def record(order: int, name: str, dependencies: list[str]) -> ResourceRecord:
    return ResourceRecord(
        order=order,
        type="test:index:Thing",
        name=name,
        urn=f"urn:pulumi:s::p::test:index:Thing::{name}",
        custom=True,
        parent=None,
        parent_type=None,
        inputs={},
        dependencies=dependencies,
    )


def test_check_creation_order_names_violations():
    urn = "urn:pulumi:s::p::test:index:Thing::"
    good = [record(0, "a", []), record(1, "b", [urn + "a"])]
    assert check_creation_order(good) == []
    bad = [record(0, "b", [urn + "a"]), record(1, "a", [])]
    assert check_creation_order(bad) == ["b (#0) was created before its dependency a (#1)"]
    dangling = [record(0, "b", [urn + "ghost"])]
    assert "never registered" in check_creation_order(dangling)[0]


def test_reveal_secrets_is_recursive():
    from pulumi.runtime import rpc

    secret = {rpc._special_sig_key: rpc._special_secret_sig, "value": {"k": "v"}}
    assert reveal_secrets({"a": [secret], "b": 1}) == {"a": [{"k": "v"}], "b": 1}


def test_runs_do_not_leak_into_each_other(tmp_path):
    first, _ = run(tmp_path, 'Thing("one")\npulumi.export("x", 1)\n')
    time.sleep(0)
    second, _ = run(tmp_path, 'Thing("two")\n')
    assert [r.name for r in second.records] == ["two"]
    assert second.exports == {}
    assert first.exports == {"x": 1}
