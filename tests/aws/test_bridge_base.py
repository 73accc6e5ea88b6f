"""Tests of rehearsal/world/bridge/base.py: naming, JSON inputs, error wrapping."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from rehearsal.errors import BridgeError
from rehearsal.world.bridge.base import (
    Translation,
    as_json_text,
    auto_name,
    call,
    physical_name,
    required,
    with_outputs,
)


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
