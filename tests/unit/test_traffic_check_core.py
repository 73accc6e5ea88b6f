"""functions/traffic_check/check_core.py: what each mode compares, the hook, the answer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "traffic_check"
if str(FUNCTION_DIR) not in sys.path:
    # As in Lambda, where the folder root is the task root.
    sys.path.insert(0, str(FUNCTION_DIR))

import check_core  # noqa: E402
from check_core import (  # noqa: E402
    CheckConfig,
    CheckConfigError,
    Observation,
    Sample,
    SampleResult,
    build_answer,
    compare,
    hook_verdict,
)

from controller.core.verify import report_from_answer  # noqa: E402

SAMPLE = Sample(0, "GET", "/map/v1/tile/1/2/3.png")
HEADERS = ("Cache-Control", "Content-Encoding")
TILE = Observation(
    status=200,
    headers={"Content-Type": "image/png", "Cache-Control": "public, max-age=86400"},
    body_length=120,
    body_sha256="a" * 64,
)


def config(**changes: Any) -> str:
    data = {
        "route": "map-tile",
        "baseUrl": "http://alb.example:80/",
        "previewHeader": "X-Strangler-Preview",
        "samples": [{"path": SAMPLE.path}, {"path": "/h", "method": "head"}],
        "compare": "exact",
        "headers": list(HEADERS),
        "hookFunctionArn": None,
        "hostHeader": None,
    }
    data.update(changes)
    return json.dumps(data)


def other(**changes: Any) -> Observation:
    values = {
        "status": TILE.status,
        "headers": dict(TILE.headers),
        "body_length": TILE.body_length,
        "body_sha256": TILE.body_sha256,
    }
    values.update(changes)
    return Observation(**values)


def fields(lambda_side: Observation, ecs_side: Observation, mode: str) -> list[str]:
    return [d.field for d in compare(SAMPLE, lambda_side, ecs_side, mode, HEADERS)]


def test_equal_answers_have_no_difference_in_any_mode() -> None:
    for mode in check_core.MODES:
        assert fields(TILE, other(), mode) == []


def test_each_mode_compares_what_it_says() -> None:
    cached = other(headers={"content-type": "image/png", "cache-control": "no-store"})
    assert fields(cached, TILE, "exact") == ["cache-control"]
    assert fields(cached, TILE, "headers") == ["cache-control"]
    assert fields(cached, TILE, "status") == []
    body = other(body_length=99, body_sha256="b" * 64)
    assert fields(body, TILE, "exact") == ["body-length", "body-sha256"]
    assert fields(body, TILE, "headers") == []
    assert fields(other(status=502), TILE, "status") == ["status"]
    typed = other(headers={"Content-Type": "text/plain", "Cache-Control": "public, max-age=86400"})
    assert fields(typed, TILE, "headers") == ["content-type"]


def test_header_names_compare_case_insensitively_and_values_exactly() -> None:
    lower = other(headers={"content-type": "image/png", "cache-control": "public, max-age=86400"})
    assert fields(lower, TILE, "exact") == []
    encoded = other(headers={**TILE.headers, "Content-Encoding": "gzip"})
    (difference,) = compare(SAMPLE, encoded, TILE, "exact", HEADERS)
    assert (difference.field, difference.lambda_value, difference.ecs_value) == (
        "content-encoding",
        "gzip",
        None,
    )


def test_a_side_that_did_not_answer_differs_in_status_only() -> None:
    timeout = Observation(status=None, error="TimeoutError: timed out")
    (difference,) = compare(SAMPLE, timeout, TILE, "exact", HEADERS)
    assert difference.field == "status"
    assert difference.lambda_value == "no answer: TimeoutError: timed out"
    assert fields(timeout, timeout, "status") == ["status"], "both unanswered is no pass"


def test_a_truncated_body_never_equals_a_complete_one() -> None:
    assert fields(other(truncated=True), TILE, "exact") == ["body-length"]


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ({"status": "Succeeded"}, True),
        ({"status": "Failed", "reason": "tiles are blank"}, False),
        ({"passed": True}, False),
        (None, False),
    ],
)
def test_the_hook_must_answer_like_a_codedeploy_hook(answer: Any, passed: bool) -> None:
    assert hook_verdict("arn:hook", answer).passed is passed


def test_the_answer_is_what_the_controller_reads() -> None:
    parsed = CheckConfig.from_json(config())
    assert parsed.base_url == "http://alb.example:80"
    assert parsed.samples[1] == Sample(1, "HEAD", "/h")
    cached = other(headers={"Content-Type": "image/png", "Cache-Control": "no-store"})
    differences = tuple(compare(SAMPLE, cached, TILE, "exact", HEADERS))
    results = [SampleResult(SAMPLE, cached, TILE, differences)]
    failed_hook = hook_verdict("arn:hook", {"status": "Failed", "reason": "blank"})
    built = build_answer(parsed, results, failed_hook)
    assert built["passed"] is False
    assert [(d["sample"], d["field"]) for d in built["differences"]] == [
        ("#1 GET /map/v1/tile/1/2/3.png", "cache-control"),
        ("hook", "hook"),
    ]
    report = report_from_answer("map-tile", json.loads(json.dumps(built)))
    assert not report.passed and len(report.differences) == 2
    assert report_from_answer("map-tile", build_answer(parsed, [], None)).passed


@pytest.mark.parametrize(
    "broken", [config(compare="loose"), config(samples=[]), "{", config(route=None) + "x"]
)
def test_a_malformed_environment_is_named(broken: str) -> None:
    with pytest.raises(CheckConfigError):
        CheckConfig.from_json(broken)


def test_the_request_timeout_is_the_bound_unless_the_environment_sets_one() -> None:
    assert CheckConfig.from_json(config()).request_timeout_seconds is None
    assert CheckConfig.from_json(config(requestTimeoutSeconds=4)).request_timeout_seconds == 4.0
    with pytest.raises(CheckConfigError, match="malformed"):
        CheckConfig.from_json(config(requestTimeoutSeconds="soon"))
