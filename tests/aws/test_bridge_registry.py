"""Tests of rehearsal/world/bridge/registry.py: dispatch, and loud failures on gaps."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rehearsal.errors import BridgeError, UnhandledInput, UnknownResourceType
from rehearsal.world.bridge import Bridge, all_translations
from rehearsal.world.bridge.base import Created, PlanContext, Translation
from rehearsal.world.emulator import in_process

REGION = "ap-northeast-1"
COMPONENTS = Path(__file__).resolve().parents[2] / "components"


def test_unknown_type_fails_naming_the_type(bridge):
    with pytest.raises(UnknownResourceType, match=r"'aws:s3/bucket:Bucket'") as raised:
        bridge.create("aws:s3/bucket:Bucket", "logs", {})
    assert "'logs'" in str(raised.value)
    assert "aws:iam/role:Role" in str(raised.value), "lists the known types"


def test_unhandled_input_fails_naming_the_key(bridge):
    with pytest.raises(UnhandledInput, match="reservedConcurency"):
        bridge.create("aws:sqs/queue:Queue", "q", {"name": "q", "reservedConcurency": 1})


def test_region_other_than_the_emulators_is_refused(bridge):
    with pytest.raises(BridgeError, match="differs from the emulator"):
        bridge.create("aws:sqs/queue:Queue", "q", {"name": "q", "region": "us-west-2"})


def test_tags_and_matching_region_are_accepted(bridge):
    created = bridge.create(
        "aws:sqs/queue:Queue", "q", {"name": "q", "region": REGION, "tags": {"a": "b"}}
    )
    assert created.outputs["name"] == "q"


def test_custom_translations_and_duplicates(tmp_path):
    def fake(ctx, name, inputs):
        return Created(id=name, outputs=dict(inputs))

    translation = Translation(token="x:y/z:Z", create=fake, handled=frozenset({"a"}))
    with in_process(REGION, managed_policies=False) as emulator:
        bridge = Bridge(emulator, tmp_path, [translation])
        assert bridge.create("x:y/z:Z", "n", {"a": 1}) == Created(id="n", outputs={"a": 1})
        assert bridge.known_types == ["x:y/z:Z"]
        with pytest.raises(ValueError, match="two translations"):
            Bridge(emulator, tmp_path, [translation, translation])


def test_each_type_has_exactly_one_translation():
    tokens = [t.token for t in all_translations()]
    assert len(tokens) == len(set(tokens))


def _declared_types() -> set[str]:
    """Pulumi type tokens of every ``aws.<module>.<Resource>(...)`` in components/."""
    import pulumi_aws

    declared: set[str] = set()
    for path in COMPONENTS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not (
                isinstance(owner, ast.Attribute)
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "aws"
            ):
                continue
            cls = getattr(getattr(pulumi_aws, owner.attr, None), node.func.attr, None)
            # Resource classes carry their type token; Args classes do not.
            token = getattr(cls, "pulumi_type", None)
            if isinstance(token, str):
                declared.add(token)
    return declared


def test_every_type_the_components_declare_has_a_translation():
    declared = _declared_types()
    assert "aws:lb/listenerRule:ListenerRule" in declared, "the scan must find the program's types"
    missing = declared - {t.token for t in all_translations()}
    assert not missing, f"types declared in components/ without a moto translation: {missing}"


def test_every_translation_declares_what_plan_needs():
    context = PlanContext(region=REGION, account_id="123456789012")
    for translation in all_translations():
        token = translation.token
        assert translation.fabricate is not None, f"{token}: plan cannot make up its outputs"
        assert translation.key_inputs, f"{token}: plan would show every input"
        created = translation.fabricate(context, "logical", {"tags": {"a": "b"}})
        assert created.id, f"{token}: fabricated without an id"
        assert created.outputs["tags"] == {"a": "b"}, f"{token}: the inputs are outputs too"


def _create(ctx, name, inputs):
    return Created(id=name, outputs=dict(inputs))


@pytest.mark.parametrize(
    ("key_inputs", "derived", "message"),
    [
        (("size.width", "colour.hue"), {}, r"x:y/z:Z: key inputs \['colour'\] are not inputs"),
        (("size",), {"size": len}, r"x:y/z:Z: derived key inputs \['size'\] hide input paths"),
    ],
)
def test_key_inputs_that_could_never_show_fail_when_the_table_is_built(
    key_inputs, derived, message
):
    with pytest.raises(ValueError, match=message):
        Translation(
            token="x:y/z:Z",
            create=_create,
            handled=frozenset({"size"}),
            key_inputs=key_inputs,
            derived_key_inputs=derived,
        )
