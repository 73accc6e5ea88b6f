"""Tests of rehearsal/world/bridge/base.py: naming, JSON inputs, error wrapping."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from rehearsal.errors import BridgeError
from rehearsal.world.bridge.base import (
    Created,
    PlanContext,
    Registration,
    Translation,
    as_json_text,
    auto_name,
    call,
    fabricate_arn,
    fabricate_named,
    physical_name,
    required,
    stable_hex,
    with_outputs,
)

PLAN = PlanContext(region="eu-west-1", account_id="123456789012")


def test_auto_name_is_stable_and_respects_the_limit():
    first = auto_name("map-tile-lambda-target-group", 32)
    assert first == auto_name("map-tile-lambda-target-group", 32), "must be deterministic"
    assert len(first) <= 32
    assert first.startswith("map-tile-lambda-target-")
    assert auto_name("a", 32) != auto_name("b", 32)


def test_physical_name_prefers_name_then_prefix():
    assert physical_name({"name": "explicit"}, "logical", 64) == "explicit"
    prefixed = physical_name({"namePrefix": "pre-"}, "logical", 64)
    assert prefixed.startswith("pre-") and len(prefixed) == len("pre-") + 7
    assert physical_name({}, "logical", 64).startswith("logical-")


def test_as_json_text_accepts_text_and_documents():
    assert as_json_text('{"a": 1}') == '{"a": 1}'
    assert as_json_text({"a": 1}) == '{"a": 1}'


def test_required_names_the_missing_key():
    with pytest.raises(BridgeError, match=r"aws:x/y:Y 'res'.*'role'"):
        required("aws:x/y:Y", "res", {}, "role")


def test_call_wraps_client_errors_with_the_api_call():
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        with pytest.raises(BridgeError, match=r"\(iam:GetRole\).*NoSuchEntity"):
            call("aws:iam/role:Role", "r", "iam:GetRole", iam.get_role, RoleName="nope")


def test_call_leaves_out_none_arguments():
    seen = {}

    def api(**kwargs):
        seen.update(kwargs)

    call("t", "n", "svc:Op", api, A=1, B=None)
    assert seen == {"A": 1}


def test_with_outputs_overlays_computed_values():
    assert with_outputs({"name": "in", "x": 1}, name="out", arn=None) == {"name": "out", "x": 1}


def test_translation_accepts_common_inputs():
    translation = Translation(token="t", create=lambda c, n, i: None, handled=frozenset({"a"}))  # type: ignore[arg-type,return-value]
    assert {"a", "region", "tags"} <= translation.accepted_inputs()


def test_fabricate_named_names_like_create_and_picks_the_id():
    by_name = fabricate_named("logs", "log-group:{name}", 512)(PLAN, "app-logs", {"x": 1})
    expected = physical_name({}, "app-logs", 512)
    assert by_name == Created(
        id=expected,
        outputs={
            "x": 1,
            "name": expected,
            "arn": f"arn:aws:logs:eu-west-1:123456789012:log-group:{expected}",
        },
    )
    by_arn = fabricate_named("sns", "{name}", 256, id_is_arn=True)(PLAN, "t", {"name": "alerts"})
    assert by_arn.id == by_arn.outputs["arn"] == "arn:aws:sns:eu-west-1:123456789012:alerts"


def test_fabricate_named_global_resources_have_no_region():
    role = fabricate_named("iam", "role/{name}", 64, regional=False)(PLAN, "r", {"name": "ops"})
    assert role.outputs["arn"] == "arn:aws:iam::123456789012:role/ops"


def test_fabricate_arn_makes_the_arn_the_id():
    created = fabricate_arn("lambda")(PLAN, "perm", {"action": "lambda:InvokeFunction"})
    assert created.id == created.outputs["arn"] == "arn:aws:lambda:eu-west-1:123456789012:perm"
    assert created.outputs["action"] == "lambda:InvokeFunction"


def test_stable_hex_is_stable_and_sized():
    assert stable_hex("a") == stable_hex("a") != stable_hex("b")
    assert len(stable_hex("a")) == 16 and len(stable_hex("a", 7)) == 7


def test_a_registration_names_its_resource_in_every_error():
    resource = Registration("aws:x/y:Y", "res", {"doc": "{not json", "size": 3})

    with pytest.raises(BridgeError, match=r"aws:x/y:Y 'res'.*'role'"):
        resource.required("role")
    with pytest.raises(BridgeError, match=r"aws:x/y:Y 'res' \(x:Put\): doc is not valid JSON"):
        resource.valid_json("doc", resource.required("doc"), "x:Put")
    assert str(resource.error("refused", "x:Put")) == "aws:x/y:Y 'res' (x:Put): refused"
    assert resource.valid_json("doc", {"a": 1}, "x:Put") == '{"a": 1}'
    assert resource.created("id-1", arn="arn:x", gone=None) == Created(
        id="id-1", outputs={"doc": "{not json", "size": 3, "arn": "arn:x"}
    )
    assert resource.physical_name(64) == physical_name({}, "res", 64)
