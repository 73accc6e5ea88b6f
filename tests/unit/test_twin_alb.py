"""rehearsal/world/alb.py without sockets: which rule serves a request, and a Lambda answer."""

from __future__ import annotations

import base64
from typing import Any

from rehearsal.world.alb import AlbRequest, lambda_answer, rule_matches, select_rule

ROUTE = [
    {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/map/v1/tile/*"]}},
    {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET", "HEAD"]}},
]
PREVIEW_HEADER = {
    "Field": "http-header",
    "HttpHeaderConfig": {"HttpHeaderName": "X-Strangler-Preview", "Values": ["map-tile"]},
}
RULES: list[dict[str, Any]] = [
    {"RuleArn": "default", "Priority": "default", "IsDefault": True, "Conditions": []},
    {"RuleArn": "weighted", "Priority": "100", "Conditions": ROUTE},
    {"RuleArn": "preview", "Priority": "99", "Conditions": [*ROUTE, PREVIEW_HEADER]},
]


def request(
    path: str = "/map/v1/tile/1/2/3.png", method: str = "GET", **headers: str
) -> AlbRequest:
    return AlbRequest(method=method, path=path, host="www.example.com", headers=headers)


def test_the_preview_header_selects_the_preview_rule_and_only_with_the_route_name() -> None:
    assert (
        select_rule(RULES, request(**{"x-strangler-preview": "map-tile"}))["RuleArn"] == "preview"
    )
    assert (
        select_rule(RULES, request(**{"x-strangler-preview": "MAP-TILE"}))["RuleArn"] == "preview"
    )
    assert (
        select_rule(RULES, request(**{"x-strangler-preview": "map-poi"}))["RuleArn"] == "weighted"
    )
    assert select_rule(RULES, request())["RuleArn"] == "weighted"


def test_anything_no_rule_claims_goes_to_the_default() -> None:
    assert select_rule(RULES, request("/search"))["RuleArn"] == "default"
    assert select_rule(RULES, request(method="POST"))["RuleArn"] == "default"


def test_priority_order_is_numeric_not_textual() -> None:
    rules = [
        {"RuleArn": "ten", "Priority": "10", "Conditions": ROUTE},
        {"RuleArn": "nine", "Priority": "9", "Conditions": ROUTE},
    ]
    assert select_rule(rules, request())["RuleArn"] == "nine"


def test_paths_are_case_sensitive_and_unknown_conditions_never_match() -> None:
    assert not rule_matches(ROUTE, request("/MAP/v1/tile/1.png"))
    assert not rule_matches([{"Field": "source-ip", "SourceIpConfig": {}}], request())


def test_a_lambda_answer_becomes_http() -> None:
    png = b"\x89PNG-bytes"
    answer = lambda_answer(
        {
            "statusCode": 200,
            "multiValueHeaders": {"Content-Type": ["image/png"], "Content-Length": ["9"]},
            "body": base64.b64encode(png).decode(),
            "isBase64Encoded": True,
        }
    )
    assert (answer.status, answer.body) == (200, png)
    assert answer.headers == [("Content-Type", "image/png")], "hop-by-hop headers are dropped"
