"""routes[].preview and routes[].verify in the stack config: defaults, limits, collisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.config import DEFAULT_PREVIEW_HEADER, DEFAULT_VERIFY_HEADERS, VerifySample
from tests.unit.test_config import assert_problem, parse, problems, project, raw_config, route

__all__ = ["project"]  # the fixture, re-exported for pytest

SAMPLES = [{"path": "/map-tile/v1/10/905/403.png"}, {"path": "/map-tile/v1/h", "method": "head"}]
HOOK = "arn:aws:lambda:ap-northeast-1:123456789012:function:tile-hook:live"


def with_verify(**verify: Any) -> dict[str, Any]:
    return route(verify={"samples": SAMPLES, **verify})


def test_preview_defaults_to_the_header_and_the_priority_just_below(project: Path) -> None:
    parsed = parse(raw_config(route()), project).routes[0]
    assert parsed.preview is not None
    assert (parsed.preview.header, parsed.preview.priority) == (DEFAULT_PREVIEW_HEADER, 99)
    assert parsed.verify is None


def test_derived_previews_skip_every_number_another_rule_uses(project: Path) -> None:
    routes = parse(
        raw_config(route("map-tile", 100), route("map-poi", 101), route("map-geo", 99)), project
    ).routes
    priorities = {r.name: (r.priority, r.preview.priority if r.preview else None) for r in routes}
    # 100 -> 98 (99 is map-geo's rule), 101 -> 97 (100, 99, 98 taken), 99 -> 96.
    assert priorities == {"map-tile": (100, 98), "map-poi": (101, 97), "map-geo": (99, 96)}


def test_an_explicit_preview_priority_is_kept(project: Path) -> None:
    parsed = parse(raw_config(route(preview={"priority": 40, "header": "X-Try"})), project)
    preview = parsed.routes[0].preview
    assert preview is not None and (preview.priority, preview.header) == (40, "X-Try")


def test_an_explicit_preview_priority_may_not_collide_with_any_rule(project: Path) -> None:
    raw = raw_config(route("map-tile", 100), route("map-poi", 200, preview={"priority": 100}))
    assert_problem(
        raw,
        project,
        "routes[1].preview.priority: 100 is already used by routes[0].priority",
    )


def test_the_preview_rule_must_come_before_the_weighted_rule(project: Path) -> None:
    assert_problem(
        raw_config(route(preview={"priority": 100})),
        project,
        "routes[0].preview.priority: 100 must be lower than the route's priority (100)",
    )


def test_a_route_at_priority_one_needs_an_explicit_preview_priority(project: Path) -> None:
    assert_problem(
        raw_config(route(priority=1)), project, "routes[0].preview.priority: required when"
    )


def test_the_preview_header_condition_must_fit_the_alb_limit(project: Path) -> None:
    match = {"pathPatterns": ["/a/*", "/b/*", "/c/*"], "httpMethods": ["GET", "HEAD"]}
    assert_problem(
        raw_config(route(match=match)),
        project,
        "routes[0].preview: the preview rule needs the route's 5 condition values plus",
    )


def test_a_bad_preview_header_is_named(project: Path) -> None:
    assert_problem(
        raw_config(route(preview={"header": "X Bad"})),
        project,
        "routes[0].preview.header: 'X Bad' is not an HTTP header name",
    )


def test_verify_defaults(project: Path) -> None:
    verify = parse(raw_config(with_verify()), project).routes[0].verify
    assert verify is not None
    assert verify.samples == (
        VerifySample("/map-tile/v1/10/905/403.png", "GET"),
        VerifySample("/map-tile/v1/h", "HEAD"),
    )
    assert (verify.compare, verify.headers, verify.hook_function_arn) == (
        "exact",
        DEFAULT_VERIFY_HEADERS,
        None,
    )


def test_verify_takes_its_mode_headers_and_hook(project: Path) -> None:
    raw = raw_config(with_verify(compare="headers", headers=["ETag"], hookFunctionArn=HOOK))
    verify = parse(raw, project).routes[0].verify
    assert verify is not None
    assert (verify.compare, verify.headers, verify.hook_function_arn) == (
        "headers",
        ("ETag",),
        HOOK,
    )


def test_verify_problems_are_each_named(project: Path) -> None:
    raw = raw_config(
        route(
            verify={
                "samples": [{"path": "no-slash"}, {"path": "/x", "method": "POST"}, {"pth": "/"}],
                "compare": "loose",
                "hookFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:h",
                "extra": 1,
            }
        )
    )
    found = problems(raw, project)
    for expected in (
        "routes[0].verify.samples[0].path: 'no-slash' must start with '/'",
        "routes[0].verify.samples[1].method: 'POST' is not one of GET, HEAD",
        "routes[0].verify.samples[2].pth: unknown key (did you mean path?)",
        "routes[0].verify.compare: 'loose' is not one of exact, headers, status",
        "routes[0].verify.hookFunctionArn: is in us-east-1 but the listener is in ap-northeast-1",
        "routes[0].verify.extra: unknown key",
    ):
        assert any(message.startswith(expected) for message in found), (expected, found)


def test_samples_are_bounded(project: Path) -> None:
    raw = raw_config(route(verify={"samples": [{"path": f"/t/{i}"} for i in range(6)]}))
    assert_problem(raw, project, "routes[0].verify.samples: 6 samples; at most 5")
    assert_problem(raw_config(route(verify={})), project, "routes[0].verify.samples: required")
