"""One entry in the bridge's table is all a new resource type needs.

A made-up type (``test:store/widget:Widget``) is added to a service module's
``TRANSLATIONS``, as a new type would be, and nothing else: the bridge
creates it in moto (``apply``), ``plan`` fabricates its outputs for the
resources that consume them, shows its key inputs and counts it as covered.
Without the entry the same program is a gap: the bridge refuses the type and
``plan`` lists it as not covered, with every input.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rehearsal.errors import UnhandledInput, UnknownResourceType
from rehearsal.plan import build_plan
from rehearsal.world.apply import apply_program
from rehearsal.world.bridge import Bridge, ssm
from rehearsal.world.bridge.base import BridgeContext, Created, PlanContext, Translation
from rehearsal.world.emulator import in_process
from rehearsal.world.fabricate import FabricatedAnswerer
from rehearsal.world.records import key_inputs

REGION = "ap-northeast-1"
WIDGET = "test:store/widget:Widget"

PROGRAM = """
import pulumi


class Widget(pulumi.CustomResource):
    def __init__(self, name, props):
        # "arn" is an output only: None in the props, filled by the answerer.
        super().__init__("test:store/widget:Widget", name, {"arn": None, **props})


first = Widget("first", {"colour": "red", "size": {"width": 2, "height": 3}})
Widget("second", {"colour": "blue", "neighbour": first.arn})
"""


def create_widget(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Stores the widget as an SSM parameter, where the test can find it."""
    parameter = f"/widgets/{name}"
    ctx.client("ssm").put_parameter(Name=parameter, Value=str(inputs["colour"]), Type="String")
    arn = f"arn:aws:ssm:{ctx.region}:{ctx.account_id}:parameter{parameter}"
    return Created(id=name, outputs={**inputs, "arn": arn})


def fabricate_widget(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    return Created(id=f"made-up-{name}", outputs={**inputs, "arn": ctx.arn("test", name)})


def widget_area(inputs: Mapping[str, Any]) -> Any:
    size = inputs.get("size")
    return size["width"] * size["height"] if size else None


WIDGET_TRANSLATION = Translation(
    token=WIDGET,
    create=create_widget,
    handled=frozenset({"colour", "size", "neighbour"}),
    fabricate=fabricate_widget,
    key_inputs=("colour", "size.width"),
    derived_key_inputs={"area": widget_area},
)


@pytest.fixture
def widget_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The widget's entry added to a service module's table, and nothing else."""
    monkeypatch.setattr(ssm, "TRANSLATIONS", (*ssm.TRANSLATIONS, WIDGET_TRANSLATION))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: widgets\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(f"config:\n  aws:region: {REGION}\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    return tmp_path


@pytest.mark.usefixtures("widget_entry")
def test_plan_fabricates_and_shows_the_new_type(project: Path):
    plan = build_plan("dev", project)

    assert plan.uncovered_types == [], "the entry makes the type covered"
    first, second = sorted((r for r in plan.resources if r.type == WIDGET), key=lambda r: r.name)
    assert first.id == "made-up-first", "fabricated by the entry's fabricate"
    assert second.inputs["neighbour"] == f"arn:aws:test:{REGION}:123456789012:first"
    assert first.key_inputs == {"colour": "red", "size.width": 2, "area": 6}
    assert second.key_inputs == {"colour": "blue"}, "neighbour is not a key input"


@pytest.mark.usefixtures("widget_entry")
def test_apply_creates_the_new_type_in_the_emulator(project: Path):
    with in_process(REGION, managed_policies=False) as emulator:
        applied = apply_program("dev", project, emulator=emulator)
        stored = emulator.client("ssm").get_parameter(Name="/widgets/second")["Parameter"]

    assert stored["Value"] == "blue"
    first = applied.by_name("first")
    assert applied.by_name("second").inputs["neighbour"] == first.outputs["arn"]
    assert first.outputs["arn"].endswith(":parameter/widgets/first"), "moto's, not made up"


@pytest.mark.usefixtures("widget_entry")
def test_the_new_type_still_refuses_an_input_it_does_not_handle(tmp_path: Path):
    with in_process(REGION, managed_policies=False) as emulator:
        bridge = Bridge(emulator, tmp_path)
        with pytest.raises(UnhandledInput, match="weight"):
            bridge.create(WIDGET, "w", {"colour": "red", "weight": 3})


@pytest.mark.usefixtures("widget_entry")
def test_fabricate_and_key_inputs_read_the_entry():
    created = FabricatedAnswerer(REGION).create(WIDGET, "w", {"colour": "red"})

    assert created == Created(
        id="made-up-w", outputs={"colour": "red", "arn": f"arn:aws:test:{REGION}:123456789012:w"}
    )
    assert key_inputs(WIDGET, {"colour": "red", "neighbour": "x"}) == {"colour": "red"}


def test_without_the_entry_the_type_is_a_gap(project: Path, tmp_path: Path):
    plan = build_plan("dev", project)

    assert plan.uncovered_types == [WIDGET]
    first = next(r for r in plan.resources if r.name == "first")
    assert first.key_inputs == {"colour": "red", "size": {"height": 3, "width": 2}}, "all inputs"
    with in_process(REGION, managed_policies=False) as emulator:
        bridge = Bridge(emulator, tmp_path)
        with pytest.raises(UnknownResourceType, match="widget"):
            bridge.create(WIDGET, "w", {"colour": "red"})
