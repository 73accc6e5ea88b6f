"""Pure logic of the map proxy: parsing, headers, status, timeouts, bodies, size."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core import contract
from tests.events import load_event
from tests.map_proxy_upstream import load_function_module

core = load_function_module("proxy_core")
constants = load_function_module("proxy_constants")
exceptions = load_function_module("proxy_exceptions")
config_module = load_function_module("proxy_config")

REQUEST_ALLOWED = sorted(constants.REQUEST_HEADER_ALLOWLIST)
RESPONSE_ALLOWED = sorted(constants.RESPONSE_HEADER_ALLOWLIST)
NOT_FORWARDED = [
    "authorization",
    "connection",
    "content-length",
    "cookie",
    "host",
    "keep-alive",
    "set-cookie",
    "transfer-encoding",
    "x-forwarded-for",
    "x-internal-node",
]

header_value = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=40
)


def random_case(draw: st.DrawFn, name: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if flip else c for c, flip in zip(name, flips, strict=True))


@st.composite
def header_maps(draw: st.DrawFn) -> dict[str, str]:
    names = draw(
        st.lists(st.sampled_from(REQUEST_ALLOWED + NOT_FORWARDED), unique=True, max_size=12)
    )
    return {random_case(draw, name): draw(header_value) for name in names}


@st.composite
def header_items(draw: st.DrawFn) -> list[tuple[str, str]]:
    names = draw(st.lists(st.sampled_from(RESPONSE_ALLOWED + NOT_FORWARDED), max_size=12))
    return [(random_case(draw, name), draw(header_value)) for name in names]


# --- Event parsing ----------------------------------------------------------------


def test_parse_single_value_event() -> None:
    request = core.parse_alb_event(load_event("alb_tile_single"))

    assert request.method == "GET"
    assert request.path == "/tiles/12/3638/1612.png"
    assert request.query == "style=day&lang=ja"
    assert request.target == "/tiles/12/3638/1612.png?style=day&lang=ja"
    assert request.headers["x-forwarded-for"] == "198.51.100.23"
    assert request.trace_id == "Root=1-5db31bde-f102927a851f3aaa17ebd23a"
    assert request.multi_value_headers is False
    assert request.body == b""


def test_parse_multi_value_event() -> None:
    request = core.parse_alb_event(load_event("alb_tile_multi"))

    assert request.query == "style=day&lang=ja&lang=en"
    assert request.multi_value_headers is True
    assert request.trace_id == "Root=1-5db31bde-f102927a851f3aaa17ebd23b"


def test_query_string_is_not_re_encoded() -> None:
    # The ALB passes query parameters still URL-encoded.
    assert core.build_query_string({"q": "a%20b", "tag": "x%26y"}, False) == "q=a%20b&tag=x%26y"
    assert core.build_query_string({"k": ["1", "2"]}, True) == "k=1&k=2"
    assert core.build_query_string(None, False) == ""
    assert core.build_query_string({}, True) == ""


def test_base64_request_body_is_decoded() -> None:
    event = load_event("alb_tile_single")
    event["body"] = base64.b64encode(b"\x00\xff").decode()
    event["isBase64Encoded"] = True

    assert core.parse_alb_event(event).body == b"\x00\xff"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("requestContext"), "requestContext.elb"),
        (lambda e: e["requestContext"].pop("elb"), "requestContext.elb"),
        (lambda e: e.pop("httpMethod"), "httpMethod"),
        (lambda e: e.update(httpMethod="G E T"), "httpMethod"),
        (lambda e: e.pop("path"), "path"),
        (lambda e: e.update(path="tiles/1.png"), "path"),
        (lambda e: e.update(path="/a b"), "path"),
        (lambda e: e.pop("headers"), "headers"),
        (lambda e: e["headers"].update(accept=["x"]), "headers.accept"),
        (lambda e: e.update(queryStringParameters=["x"]), "queryStringParameters"),
        (lambda e: e.update(body="***", isBase64Encoded=True), "body"),
        (lambda e: e.update(body=42), "body"),
    ],
)
def test_malformed_event_names_the_field(change: Any, field: str) -> None:
    event = load_event("alb_tile_single")
    change(event)

    with pytest.raises(exceptions.MalformedEventError) as caught:
        core.parse_alb_event(event)
    assert caught.value.field == field


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())))
def test_non_object_events_are_malformed(event: Any) -> None:
    with pytest.raises(exceptions.MalformedEventError):
        core.parse_alb_event(event)
    assert core.trace_id_of(event) is None
    assert core.uses_multi_value_headers(event) is False


# --- Header filtering ----------------------------------------------------------------


@given(header_maps())
def test_request_filter_keeps_exactly_the_allow_list(headers: dict[str, str]) -> None:
    kept = core.filter_request_headers(headers)

    assert set(kept) <= constants.REQUEST_HEADER_ALLOWLIST
    expected = {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() in constants.REQUEST_HEADER_ALLOWLIST
    }
    assert kept == expected
    assert core.filter_request_headers(kept) == kept  # idempotent


def test_the_never_forwarded_headers_are_the_contracts() -> None:
    # The function keeps its own copy (it imports nothing of the project).
    assert constants.NEVER_FORWARDED_HEADERS == contract.NEVER_FORWARDED_HEADERS
    assert constants.ENV_FORWARD_HEADERS == contract.ENV_FORWARD_HEADERS
    assert not constants.REQUEST_HEADER_ALLOWLIST & constants.NEVER_FORWARDED_HEADERS


def test_configured_headers_are_forwarded_on_top_of_the_default() -> None:
    allowed = config_module.parse_forward_headers(
        "FORWARD_HEADERS", "Accept-Language, User-Agent,X-Forwarded-For"
    )
    headers = {
        "Accept": "image/png",
        "Accept-Language": "ja",
        "User-Agent": "maps/1.0",
        "X-Forwarded-For": "203.0.113.7",
        "Cookie": "session=1",
    }
    assert core.filter_request_headers(headers, allowed) == {
        "accept": "image/png",
        "accept-language": "ja",
        "user-agent": "maps/1.0",
        "x-forwarded-for": "203.0.113.7",
    }
    # Without the setting, today's default only.
    assert core.filter_request_headers(headers) == {"accept": "image/png"}


@given(st.sampled_from(sorted(constants.NEVER_FORWARDED_HEADERS)))
def test_hop_by_hop_headers_are_never_forwarded_whatever_the_config(name: str) -> None:
    allowed = config_module.parse_forward_headers("FORWARD_HEADERS", f"{name},accept-language")
    assert name not in allowed
    # Even an allowlist that names it (a caller bypassing the parser) drops it.
    everything = allowed | {name}
    assert core.filter_request_headers({name: "x", "accept-language": "ja"}, everything) == {
        "accept-language": "ja"
    }


def test_headers_the_connection_header_names_are_hop_by_hop() -> None:
    allowed = config_module.parse_forward_headers("FORWARD_HEADERS", "x-tile-hint,accept-language")
    headers = {"Connection": "X-Tile-Hint", "X-Tile-Hint": "fast", "Accept-Language": "en"}
    assert core.filter_request_headers(headers, allowed) == {"accept-language": "en"}


def test_a_bad_forward_header_name_is_a_config_error() -> None:
    with pytest.raises(exceptions.ConfigError) as caught:
        config_module.load_config(
            environ={"UPSTREAM_URL": "http://maps", "ROUTE_NAME": "t", "FORWARD_HEADERS": "a b"}
        )
    assert caught.value.key == "FORWARD_HEADERS"


def test_forward_headers_come_from_the_environment() -> None:
    config = config_module.load_config(
        environ={"UPSTREAM_URL": "http://maps", "ROUTE_NAME": "t", "FORWARD_HEADERS": "User-Agent"}
    )
    assert config.forward_headers == constants.REQUEST_HEADER_ALLOWLIST | {"user-agent"}


@given(st.sampled_from(REQUEST_ALLOWED), st.sampled_from(["a\r\nb", "a\nb", "a\x00b"]))
def test_request_filter_drops_values_that_would_split_the_request(name: str, value: str) -> None:
    assert core.filter_request_headers({name: value}) == {}


@given(header_items())
def test_response_filter_keeps_allowed_values_in_order(items: list[tuple[str, str]]) -> None:
    kept = core.filter_response_headers(items)

    assert set(kept) <= set(constants.RESPONSE_HEADER_ALLOWLIST.values())
    for lower, canonical in constants.RESPONSE_HEADER_ALLOWLIST.items():
        expected = [value for name, value in items if name.lower() == lower]
        assert kept.get(canonical, []) == expected, canonical


def test_response_filter_uses_canonical_names() -> None:
    kept = core.filter_response_headers(
        [("etag", '"a"'), ("CONTENT-TYPE", "image/png"), ("set-cookie", "x=1")]
    )
    assert kept == {"ETag": ['"a"'], "Content-Type": ["image/png"]}


# --- Status mapping ---------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=1000))
def test_status_mapping(status: int) -> None:
    mapped = core.map_upstream_status(status)

    if 200 <= status <= 499:
        assert mapped == status
    else:
        assert mapped == 502


def test_failure_mapping() -> None:
    failure = exceptions.UpstreamFailure
    assert core.status_for_failure(failure.TIMEOUT) == 504
    assert core.status_for_failure(failure.UNREACHABLE) == 502
    assert core.status_for_failure(failure.PROTOCOL) == 502
    assert core.status_for_failure(failure.BODY_TOO_LARGE) == 502


# --- Timeouts ---------------------------------------------------------------------------


@given(
    st.integers(min_value=0, max_value=900_000),
    st.integers(min_value=0, max_value=5_000),
    st.integers(min_value=1, max_value=10_000),
)
def test_timeouts_never_reach_past_the_margin(remaining: int, margin: int, cap: int) -> None:
    timeouts = core.compute_timeouts(remaining, margin, cap)

    if remaining <= margin:
        assert timeouts is None
        return
    assert timeouts is not None
    assert timeouts.budget_s == pytest.approx((remaining - margin) / 1000)
    assert timeouts.connect_s <= timeouts.budget_s
    assert timeouts.connect_s <= cap / 1000


# --- Bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "encoding", "text"),
    [
        ("image/png", None, False),
        ("application/x-protobuf", None, False),
        ("application/vnd.mapbox-vector-tile", None, False),
        ("application/json", None, True),
        ("application/json; charset=utf-8", None, True),
        ("application/json", "gzip", False),
        ("application/geo+json", None, True),
        ("text/plain; charset=ISO-8859-1", None, False),
        ("text/html", "identity", True),
        (None, None, False),
    ],
)
def test_text_or_binary(content_type: str | None, encoding: str | None, text: bool) -> None:
    assert core.is_text_body(content_type, encoding) is text


@given(
    st.binary(max_size=2048),
    st.sampled_from(["image/png", "application/json", "text/plain", "application/x-protobuf"]),
    st.sampled_from([None, "gzip"]),
)
def test_body_round_trips(body: bytes, content_type: str, encoding: str | None) -> None:
    text, is_base64 = core.encode_body(body, content_type, encoding)

    decoded = base64.b64decode(text) if is_base64 else text.encode("utf-8")
    assert decoded == body
    if not body:
        assert (text, is_base64) == ("", False)


def test_invalid_utf8_text_falls_back_to_base64() -> None:
    assert core.encode_body(b"\xff\xfe", "text/plain", None) == ("//4=", True)


def test_response_shapes() -> None:
    headers = {"Content-Type": ["image/png"], "Vary": ["Accept-Encoding", "Origin"]}

    single = core.build_alb_response(200, headers, b"\x89PNG", multi_value_headers=False)
    multi = core.build_alb_response(200, headers, b"\x89PNG", multi_value_headers=True)

    body = base64.b64encode(b"\x89PNG").decode()
    assert single == {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "isBase64Encoded": True,
        "body": body,
        "headers": {"Content-Type": "image/png", "Vary": "Accept-Encoding, Origin"},
    }
    assert multi == {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "isBase64Encoded": True,
        "body": body,
        "multiValueHeaders": {"Content-Type": ["image/png"], "Vary": ["Accept-Encoding", "Origin"]},
    }


# --- Response size -------------------------------------------------------------------------


@given(
    st.one_of(st.binary(max_size=3000), st.text(max_size=1000).map(lambda t: t.encode())),
    st.sampled_from(["image/png", "application/json; charset=utf-8"]),
    st.booleans(),
)
def test_response_size_bounds_the_serialised_json(
    body: bytes, content_type: str, multi: bool
) -> None:
    response = core.build_alb_response(
        200, {"Content-Type": [content_type]}, body, multi_value_headers=multi
    )

    size = core.response_json_size(response)

    assert size == len(json.dumps(response))
    assert size >= len(json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode())


def test_size_limit_boundary() -> None:
    response = core.build_alb_response(
        200, {"Content-Type": ["image/png"]}, b"\0" * 3000, multi_value_headers=False
    )
    size = core.response_json_size(response)

    assert core.ensure_fits_alb_limit(response, size) == size
    with pytest.raises(exceptions.ResponseTooLargeError) as caught:
        core.ensure_fits_alb_limit(response, size - 1)
    assert caught.value.size_bytes == size
    assert str(size) in str(caught.value)


def test_largest_binary_body_that_fits_the_alb_limit() -> None:
    # Base64 grows the body by 4/3: 750 KB is about the most that fits.
    fits = core.build_alb_response(
        200, {"Content-Type": ["image/png"]}, b"\0" * 740_000, multi_value_headers=True
    )
    too_big = core.build_alb_response(
        200, {"Content-Type": ["image/png"]}, b"\0" * 760_000, multi_value_headers=True
    )

    assert core.ensure_fits_alb_limit(fits) <= constants.ALB_MAX_RESPONSE_JSON_BYTES
    with pytest.raises(exceptions.ResponseTooLargeError):
        core.ensure_fits_alb_limit(too_big)


# --- Configuration -------------------------------------------------------------------------


def test_metric_and_environment_names_are_the_contract() -> None:
    # The function folder ships on its own and cannot import controller.core.contract,
    # which the alarms and the function's environment are built from. An alarm
    # on any other name or dimension set watches a metric nobody publishes.
    assert constants.METRICS_NAMESPACE == contract.METRIC_NAMESPACE
    assert constants.ROUTE_DIMENSION == contract.ROUTE_DIMENSION
    assert constants.METRIC_REQUESTS == contract.METRIC_REQUESTS
    assert constants.METRIC_APP_ERRORS == contract.METRIC_APP_ERRORS
    assert constants.METRIC_UPSTREAM_LATENCY == contract.METRIC_UPSTREAM_LATENCY
    assert constants.ENV_ROUTE_NAME == contract.ENV_ROUTE_NAME
    assert constants.ENV_HEALTH_CHECK_PATH == contract.ENV_HEALTH_CHECK_PATH


def test_config_defaults() -> None:
    config = config_module.load_config(
        environ={"UPSTREAM_URL": "http://maps.internal:8080/", "ROUTE_NAME": "tiles"}
    )

    assert config.upstream_url == "http://maps.internal:8080"
    assert config.health_check_path == "/health"
    assert config.allowed_methods == frozenset({"GET", "HEAD"})
    assert config.allow_header == "GET, HEAD"
    assert config.timeout_margin_ms == constants.DEFAULT_TIMEOUT_MARGIN_MS
    assert config.forward_headers == constants.REQUEST_HEADER_ALLOWLIST


def test_explicit_argument_wins_over_environment() -> None:
    config = config_module.load_config(
        upstream_url="https://other.internal",
        environ={"UPSTREAM_URL": "http://maps.internal", "ROUTE_NAME": "tiles"},
    )
    assert config.upstream_url == "https://other.internal"


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"ROUTE_NAME": "tiles"}, "UPSTREAM_URL"),
        ({"UPSTREAM_URL": "ftp://maps", "ROUTE_NAME": "tiles"}, "UPSTREAM_URL"),
        ({"UPSTREAM_URL": "http://maps?x=1", "ROUTE_NAME": "tiles"}, "UPSTREAM_URL"),
        ({"UPSTREAM_URL": "http://maps"}, "ROUTE_NAME"),
        (
            {"UPSTREAM_URL": "http://maps", "ROUTE_NAME": "t", "ALLOWED_METHODS": "GET,G T"},
            "ALLOWED_METHODS",
        ),
        (
            {"UPSTREAM_URL": "http://maps", "ROUTE_NAME": "t", "HEALTH_CHECK_PATH": "health"},
            "HEALTH_CHECK_PATH",
        ),
        (
            {"UPSTREAM_URL": "http://maps", "ROUTE_NAME": "t", "UPSTREAM_TIMEOUT_MARGIN_MS": "x"},
            "UPSTREAM_TIMEOUT_MARGIN_MS",
        ),
        (
            {"UPSTREAM_URL": "http://maps", "ROUTE_NAME": "t", "UPSTREAM_CONNECT_TIMEOUT_MS": "0"},
            "UPSTREAM_CONNECT_TIMEOUT_MS",
        ),
    ],
)
def test_config_errors_name_the_variable(environ: dict[str, str], key: str) -> None:
    with pytest.raises(exceptions.ConfigError) as caught:
        config_module.load_config(environ=environ)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


# --- EMF metrics -----------------------------------------------------------------------------

proxy_metrics = load_function_module("proxy_metrics")


def _emf(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_emf_document_is_the_one_powertools_metrics_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricResolution, MetricUnit

    reference = Metrics(namespace="Strangler", service="")
    reference.set_default_dimensions(route="map-tile")
    reference.add_metric(name="Requests", unit=MetricUnit.Count, value=1, resolution=1)
    reference.add_metric(
        name="UpstreamLatency",
        unit=MetricUnit.Milliseconds,
        value=12.5,
        resolution=MetricResolution.High,
    )
    reference.flush_metrics()
    ours = proxy_metrics.EmfMetrics(
        "Strangler", "route", {"Requests": "Count", "UpstreamLatency": "Milliseconds"}
    )
    ours.set_dimension_value("map-tile")
    ours.add_metric("Requests", 1)
    ours.add_metric("UpstreamLatency", 12.5)
    ours.flush_metrics()
    expected, got = _emf(capsys)
    for document in (expected, got):
        assert isinstance(document["_aws"].pop("Timestamp"), int)
    assert got == expected


def test_emf_flush_prints_one_line_per_request_and_nothing_without_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    units = {"Requests": "Count", "AppErrors": "Count"}
    ours = proxy_metrics.EmfMetrics("Strangler", "route", units)
    ours.set_dimension_value("r")
    ours.flush_metrics()
    ours.add_metric("Requests", 1)
    ours.add_metric("AppErrors", 1)
    ours.add_metric("AppErrors", 1)
    ours.flush_metrics()
    ours.flush_metrics()
    ours.add_metric("Requests", 1)
    ours.clear_metrics()
    ours.flush_metrics()
    [document] = _emf(capsys)
    assert document["Requests"] == [1.0]
    assert document["AppErrors"] == [1.0, 1.0]
    assert document["route"] == "r"
    with pytest.raises(KeyError, match="Latency"):
        ours.add_metric("Latency", 1)
    with pytest.raises(ValueError, match="plain JSON"):
        proxy_metrics.EmfMetrics("Strangler", "route", {'Say "hi"': "Count"})


@given(
    headers=st.dictionaries(st.text(max_size=20), st.lists(st.text(max_size=40), max_size=3)),
    body=st.text(max_size=200),
    binary=st.booleans(),
    multi=st.booleans(),
)
def test_the_quick_size_bound_is_never_below_the_json_size(
    headers: dict[str, list[str]], body: str, binary: bool, multi: bool
) -> None:
    data = body.encode("utf-8")
    content_type = ["application/octet-stream" if binary else "text/plain; charset=utf-8"]
    response = core.build_alb_response(
        200, {**headers, "Content-Type": content_type}, data, multi_value_headers=multi
    )
    exact = core.response_json_size(response)
    bound = core._size_upper_bound(response)
    assert bound is not None and bound >= exact
    assert core.ensure_fits_alb_limit(response, exact) == exact
    assert core.ensure_fits_alb_limit(response) >= exact
