"""The map proxy handler against a real HTTP upstream on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import gzip
import socket
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.events import load_event
from tests.map_proxy_upstream import (
    ALB_LIMIT,
    BIG_ETAG,
    EXPIRES,
    JSON_TEXT,
    LAST_MODIFIED,
    PBF_RAW,
    PNG_BYTES,
    PNG_ETAG,
    FakeLambdaContext,
    LoopbackUpstream,
    emf_lines,
    load_app,
    log_lines,
)

ROUTE = "tiles"
TRACE_SINGLE = "Root=1-5db31bde-f102927a851f3aaa17ebd23a"
TRACE_MULTI = "Root=1-5db31bde-f102927a851f3aaa17ebd23b"
PNG_PATH = "/tiles/12/3638/1612.png"
TEXT_PLAIN = "text/plain; charset=utf-8"
# The PNG tile's response, but for its headers (single- or multi-value).
PNG_RESPONSE: dict[str, Any] = {
    "statusCode": 200,
    "statusDescription": "200 OK",
    "isBase64Encoded": True,
    "body": base64.b64encode(PNG_BYTES).decode("ascii"),
}
PNG_HEADERS = {
    "Content-Type": "image/png",
    "Cache-Control": "public, max-age=86400",
    "ETag": PNG_ETAG,
    "Last-Modified": LAST_MODIFIED,
    "Expires": EXPIRES,
}


class _CurrentStdout:
    """A stream that writes to whatever sys.stdout is at the time."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture(scope="module")
def upstream() -> Iterator[LoopbackUpstream]:
    with LoopbackUpstream() as server:
        yield server


@pytest.fixture(autouse=True)
def app(
    monkeypatch: pytest.MonkeyPatch, upstream: LoopbackUpstream, capsys: pytest.CaptureFixture[str]
) -> Iterator[ModuleType]:
    """The function module, configured for this test against the loopback upstream.

    Resets what the module keeps between invocations: the pool (rebuilt by
    configure), Metrics' shared metric and dimension sets, and the Logger's
    stream (pointed at this test's captured stdout).
    """
    env = {
        "UPSTREAM_URL": upstream.url,
        "ROUTE_NAME": ROUTE,
        "POWERTOOLS_TRACE_DISABLED": "1",
        # Set at import on purpose: Metrics must not turn it into a
        # `service` dimension.
        "POWERTOOLS_SERVICE_NAME": "map-proxy-test",
        "UPSTREAM_TIMEOUT_MARGIN_MS": "100",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in (
        "HEALTH_CHECK_PATH",
        "ALLOWED_METHODS",
        "UPSTREAM_CONNECT_TIMEOUT_MS",
        "FORWARD_HEADERS",
    ):
        monkeypatch.delenv(name, raising=False)
    module = load_app(env)
    module.configure()
    handler = module.logger.registered_handler
    # Metrics print() to whatever sys.stdout is; the Logger's handler keeps
    # the stream it was built with. Route it to the current sys.stdout too, so
    # capsys sees log lines and EMF documents alike. Plain assignment, since
    # setStream() would flush a previous test's stream that is now closed.
    previous = handler.stream
    handler.stream = _CurrentStdout()
    yield module
    module.metrics.clear_metrics()
    handler.stream = previous


def invoke(app: ModuleType, event: Any, remaining_ms: int = 3000) -> dict[str, Any]:
    response = app.handler(event, FakeLambdaContext(remaining_ms=remaining_ms))
    assert isinstance(response, dict), f"handler returned {type(response).__name__}"
    return response


def tile_event(path: str = PNG_PATH, *, multi: bool = False, **headers: str) -> dict[str, Any]:
    event = load_event("alb_tile_multi" if multi else "alb_tile_single")
    event["path"] = path
    for name, value in headers.items():
        key = name.replace("_", "-")
        if multi:
            event["multiValueHeaders"][key] = [value]
        else:
            event["headers"][key] = value
    return event


def text_response(
    status: str, body: str, *, content_type: str, cache_control: str
) -> dict[str, Any]:
    """The whole single-value-headers response of a text body (``status`` like "200 OK")."""
    return {
        "statusCode": int(status.split()[0]),
        "statusDescription": status,
        "isBase64Encoded": False,
        "body": body,
        "headers": {"Content-Type": content_type, "Cache-Control": cache_control},
    }


def metric_names(output: str) -> list[set[str]]:
    return [
        {m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        for doc in emf_lines(output)
    ]


# --- Bodies and headers ----------------------------------------------------------------


def test_png_tile_single_value_headers(app: ModuleType) -> None:
    response = invoke(app, tile_event())

    assert response == {**PNG_RESPONSE, "headers": PNG_HEADERS}
    assert base64.b64decode(response["body"]) == PNG_BYTES


def test_png_tile_multi_value_headers(app: ModuleType) -> None:
    response = invoke(app, tile_event(multi=True))

    assert "headers" not in response, "multi-value target group needs multiValueHeaders only"
    assert response == {
        **PNG_RESPONSE,
        "multiValueHeaders": {name: [value] for name, value in PNG_HEADERS.items()},
    }


def test_gzip_vector_tile_keeps_encoding(app: ModuleType) -> None:
    response = invoke(app, tile_event("/tiles/12/3638/1612.pbf", accept_encoding="gzip"))

    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    assert response["headers"] == {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
        "Vary": "Accept-Encoding",
        "Cache-Control": "public, max-age=3600",
    }
    assert gzip.decompress(base64.b64decode(response["body"])) == PBF_RAW


def test_json_comes_back_as_text(app: ModuleType) -> None:
    response = invoke(app, tile_event("/meta.json"))

    assert response == text_response(
        "200 OK",
        JSON_TEXT,
        content_type="application/json; charset=utf-8",
        cache_control="no-cache",
    )


def test_empty_body_is_valid(app: ModuleType) -> None:
    response = invoke(app, tile_event("/empty"))

    assert response["statusCode"] == 200
    assert response["body"] == ""
    assert response["isBase64Encoded"] is False


def test_if_none_match_gives_304(app: ModuleType, upstream: LoopbackUpstream) -> None:
    response = invoke(app, tile_event(if_none_match=PNG_ETAG))

    assert response == {
        "statusCode": 304,
        "statusDescription": "304 Not Modified",
        "isBase64Encoded": False,
        "body": "",
        "headers": {
            "Cache-Control": "public, max-age=86400",
            "ETag": PNG_ETAG,
            "Last-Modified": LAST_MODIFIED,
            "Expires": EXPIRES,
        },
    }
    assert upstream.state.snapshot()[-1].headers["if-none-match"] == PNG_ETAG


def test_head_request_has_no_body(app: ModuleType) -> None:
    event = tile_event()
    event["httpMethod"] = "HEAD"

    response = invoke(app, event)

    assert response["statusCode"] == 200
    assert response["body"] == ""
    assert response["headers"]["Content-Type"] == "image/png"


def test_forwards_method_path_query_and_allowed_headers_only(
    app: ModuleType, upstream: LoopbackUpstream
) -> None:
    event = tile_event("/echo", if_modified_since=LAST_MODIFIED, authorization="Bearer secret")
    event["queryStringParameters"] = {"q": "a%20b", "z": "12"}

    response = invoke(app, event)

    assert response["statusCode"] == 200
    seen = upstream.state.snapshot()[-1]
    assert (seen.method, seen.path, seen.query) == ("GET", "/echo", "q=a%20b&z=12")
    assert seen.headers["accept"] == "image/png,image/*;q=0.8"
    assert seen.headers["accept-encoding"] == "gzip, deflate, br"
    assert seen.headers["if-modified-since"] == LAST_MODIFIED
    assert seen.headers["x-amzn-trace-id"] == TRACE_SINGLE
    for private in ("cookie", "authorization", "x-forwarded-for"):
        assert private not in seen.headers, f"{private} leaked to the upstream"
    assert seen.headers["host"] != "maps.example.com"


def test_configured_forward_headers_reach_the_upstream_hop_by_hop_never(
    app: ModuleType, upstream: LoopbackUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A monolith that localised tiles by Accept-Language and logged the client.
    monkeypatch.setenv("FORWARD_HEADERS", "Accept-Language,User-Agent,X-Forwarded-For,TE")
    app.configure(upstream_url=upstream.url)
    event = tile_event("/echo", accept_language="ja-JP", user_agent="maps/1.0", te="trailers")

    assert invoke(app, event)["statusCode"] == 200

    seen = upstream.state.snapshot()[-1]
    assert seen.headers["accept-language"] == "ja-JP"
    assert seen.headers["user-agent"] == "maps/1.0"
    assert seen.headers["x-forwarded-for"] == event["headers"]["x-forwarded-for"]
    assert seen.headers.get("te") != "trailers", "a hop-by-hop header was forwarded"
    assert "cookie" not in seen.headers


def test_multi_value_query_is_forwarded_in_order(
    app: ModuleType, upstream: LoopbackUpstream
) -> None:
    invoke(app, tile_event("/echo", multi=True))

    assert upstream.state.snapshot()[-1].query == "style=day&lang=ja&lang=en"


# --- Status mapping ----------------------------------------------------------------------


def test_upstream_404_passes_through(app: ModuleType) -> None:
    response = invoke(app, tile_event("/missing"))

    assert response == text_response(
        "404 Not Found", "not found\n", content_type=TEXT_PLAIN, cache_control="max-age=60"
    )


def test_upstream_500_becomes_502(app: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    response = invoke(app, tile_event("/error"))

    assert response["statusCode"] == 502
    assert "upstream exploded" not in response["body"], "upstream error body must not leak"
    out = capsys.readouterr().out
    assert metric_names(out) == [{"Requests", "AppErrors", "UpstreamLatency"}]
    [doc] = emf_lines(out)
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert (directive["Namespace"], directive["Dimensions"], doc["route"]) == (
        "Strangler",
        [["route"]],
        ROUTE,
    )
    assert {"Name": "AppErrors", "Unit": "Count", "StorageResolution": 1} in directive["Metrics"]
    assert doc["AppErrors"] in ([1.0], 1.0)
    errors = [line for line in log_lines(out) if line["level"] == "ERROR"]
    assert errors and errors[0]["upstream_status"] == 500
    assert errors[0]["correlation_id"] == TRACE_SINGLE


def test_upstream_timeout_gives_504_before_the_lambda_timeout(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    response = invoke(app, tile_event("/slow", multi=True), remaining_ms=400)
    elapsed = time.monotonic() - started

    assert response["statusCode"] == 504
    assert "multiValueHeaders" in response
    assert elapsed < 0.4, f"waited {elapsed:.3f}s, past the 0.4s left in the invocation"
    out = capsys.readouterr().out
    assert metric_names(out) == [{"Requests", "AppErrors"}]
    [error] = [line for line in log_lines(out) if line["level"] == "ERROR"]
    assert error["failure"] == "timeout"
    assert error["correlation_id"] == TRACE_MULTI


def test_slow_body_is_bounded_by_the_deadline(app: ModuleType) -> None:
    # 20 bytes, 0.15 s apart: each read is quick, the body takes 3 s.
    started = time.monotonic()
    response = invoke(app, tile_event("/drip"), remaining_ms=600)
    elapsed = time.monotonic() - started

    assert response["statusCode"] == 504
    assert elapsed < 0.6, f"waited {elapsed:.3f}s, past the 0.6s left in the invocation"


def test_no_time_left_gives_504_without_calling_upstream(
    app: ModuleType, upstream: LoopbackUpstream
) -> None:
    before = len(upstream.state.snapshot())

    response = invoke(app, tile_event(), remaining_ms=50)

    assert response["statusCode"] == 504
    assert len(upstream.state.snapshot()) == before


def test_connection_refused_gives_502(app: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    # A bound socket that never listens: connecting to it is refused, and
    # holding it keeps any other test from taking the port meanwhile.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        app.configure(upstream_url=f"http://127.0.0.1:{closed.getsockname()[1]}")

        response = invoke(app, tile_event())

    assert response["statusCode"] == 502
    out = capsys.readouterr().out
    assert metric_names(out) == [{"Requests", "AppErrors"}]
    [error] = [line for line in log_lines(out) if line["level"] == "ERROR"]
    assert error["failure"] == "unreachable"


def test_dns_failure_gives_502(app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: object, **kwargs: object) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # No real lookup: the resolver fails the way it does for an unknown name.
    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    app.configure(upstream_url="http://map-delivery.internal:8080")

    response = invoke(app, tile_event())

    assert response["statusCode"] == 502


# --- Size limit -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big", "/bigchunked"], ids=["declared", "chunked"])
def test_body_over_the_alb_limit_gives_502(
    app: ModuleType, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    response = invoke(app, tile_event(path))

    assert response["statusCode"] == 502
    out = capsys.readouterr().out
    [error] = [line for line in log_lines(out) if line["level"] == "ERROR"]
    assert error["size_bytes"] > ALB_LIMIT
    assert error["limit_bytes"] == ALB_LIMIT
    assert error["message"] == "Upstream body too large for an ALB response"


@pytest.mark.parametrize("conditional", [False, True], ids=["head", "304"])
def test_announced_size_without_content_is_not_held_against_the_limit(
    app: ModuleType, conditional: bool
) -> None:
    # HEAD and 304 announce the size of the full body but carry none.
    event = tile_event("/big", if_none_match=BIG_ETAG) if conditional else tile_event("/big")
    if not conditional:
        event["httpMethod"] = "HEAD"

    response = invoke(app, event)

    assert response["statusCode"] == (304 if conditional else 200)
    assert (response["body"], response["isBase64Encoded"]) == ("", False)
    assert response["headers"]["ETag"] == BIG_ETAG


def test_body_that_only_base64_pushes_over_the_limit_gives_502(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    response = invoke(app, tile_event("/base64toobig"))

    assert response["statusCode"] == 502
    [error] = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert error["message"] == "Response too large for the ALB"
    assert error["size_bytes"] > ALB_LIMIT >= 800_000


# --- Health check, methods, bad input ------------------------------------------------------


def test_health_check_answers_without_upstream_or_metrics(
    app: ModuleType, upstream: LoopbackUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(upstream.state.snapshot())

    response = invoke(app, load_event("alb_health_check"))

    assert response == text_response(
        "200 OK", "OK\n", content_type=TEXT_PLAIN, cache_control="no-store"
    )
    assert len(upstream.state.snapshot()) == before, "health check called the upstream"
    assert emf_lines(capsys.readouterr().out) == [], "health check flushed metrics"


def test_health_check_path_comes_from_environment(
    app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_CHECK_PATH", "/_lambda/ping")
    app.configure()
    event = load_event("alb_health_check")
    event["path"] = "/_lambda/ping"

    assert invoke(app, event)["body"] == "OK\n"


@pytest.mark.parametrize("multi", [False, True], ids=["single", "multi"])
def test_method_outside_allowed_set_gives_405(app: ModuleType, multi: bool) -> None:
    event = tile_event(multi=multi)
    event["httpMethod"] = "POST"

    response = invoke(app, event)

    assert response["statusCode"] == 405
    if multi:
        assert response["multiValueHeaders"]["Allow"] == ["GET, HEAD"]
    else:
        assert response["headers"]["Allow"] == "GET, HEAD"


def test_allowed_methods_come_from_environment(
    app: ModuleType, monkeypatch: pytest.MonkeyPatch, upstream: LoopbackUpstream
) -> None:
    monkeypatch.setenv("ALLOWED_METHODS", "GET,POST")
    app.configure()
    event = tile_event("/echo")
    event["httpMethod"] = "POST"
    event["body"] = base64.b64encode(b"\x00\x01").decode()
    event["isBase64Encoded"] = True

    assert invoke(app, event)["statusCode"] == 200
    assert upstream.state.snapshot()[-1].method == "POST"


@pytest.mark.parametrize(
    ("event", "multi"),
    [
        (None, False),
        ([], False),
        ("GET /", False),
        ({}, False),
        ({"Records": [{"eventSource": "aws:sqs"}]}, False),
        ({"requestContext": {"elb": {}}, "path": "/x", "headers": {}}, False),
        ({"requestContext": {"elb": {}}, "httpMethod": "GET", "headers": {}}, False),
        ({"requestContext": {"elb": {}}, "httpMethod": "GET", "path": "/x"}, False),
        (
            {
                "requestContext": {"elb": {}},
                "httpMethod": "GET",
                "path": "/x",
                "multiValueHeaders": {"accept": "not-a-list"},
            },
            True,
        ),
    ],
    ids=[
        "none",
        "list",
        "string",
        "empty",
        "sqs",
        "no-method",
        "no-path",
        "no-headers",
        "bad-multi",
    ],
)
def test_malformed_event_gives_400_and_a_log_line(
    app: ModuleType, capsys: pytest.CaptureFixture[str], event: Any, multi: bool
) -> None:
    response = invoke(app, event)

    assert response["statusCode"] == 400
    assert ("multiValueHeaders" in response) is multi
    out = capsys.readouterr().out
    warnings = [line for line in log_lines(out) if line["level"] == "WARNING"]
    assert warnings and warnings[0]["message"] == "Rejected a malformed event"
    assert emf_lines(out) == []


# --- Observability --------------------------------------------------------------------------


def test_emf_metrics_have_exactly_the_route_dimension(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(app, tile_event())

    [doc] = emf_lines(capsys.readouterr().out)
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Strangler"
    assert directive["Dimensions"] == [["route"]]
    assert doc["route"] == ROUTE
    assert "service" not in doc, "Powertools added its default service dimension"
    assert sorted(directive["Metrics"], key=lambda m: m["Name"]) == [
        {"Name": "Requests", "Unit": "Count", "StorageResolution": 1},
        {"Name": "UpstreamLatency", "Unit": "Milliseconds", "StorageResolution": 1},
    ]
    assert doc["Requests"] == [1.0] or doc["Requests"] == 1.0
    latency = doc["UpstreamLatency"]
    assert (latency[0] if isinstance(latency, list) else latency) > 0


def test_one_emf_document_per_request(app: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):
        invoke(app, tile_event())

    docs = emf_lines(capsys.readouterr().out)
    assert len(docs) == 3
    assert all(doc["Requests"] in ([1.0], 1.0) for doc in docs)


def test_correlation_id_is_the_alb_trace_id(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(app, tile_event("/error", multi=True))

    [error] = [line for line in log_lines(capsys.readouterr().out) if line["level"] == "ERROR"]
    assert error["correlation_id"] == TRACE_MULTI
    assert error["route"] == ROUTE
    assert error["function_request_id"] == FakeLambdaContext().aws_request_id


# --- Connection pool ------------------------------------------------------------------------


def test_connection_is_kept_alive_across_invocations(
    app: ModuleType, upstream: LoopbackUpstream
) -> None:
    for _ in range(3):
        assert invoke(app, tile_event())["statusCode"] == 200

    ports = {seen.client_port for seen in upstream.state.snapshot()[-3:]}
    assert len(ports) == 1, f"expected one kept-alive connection, saw client ports {ports}"


def test_upstream_closing_an_idle_connection_is_survived(app: ModuleType) -> None:
    assert invoke(app, tile_event("/dropafter"))["statusCode"] == 200
    time.sleep(0.05)  # the FIN reaches the client side of the pooled connection

    assert invoke(app, tile_event())["statusCode"] == 200


def test_configure_points_the_pool_at_another_upstream(app: ModuleType) -> None:
    with LoopbackUpstream() as other:
        app.configure(upstream_url=other.url)

        assert invoke(app, tile_event())["statusCode"] == 200
        assert [seen.path for seen in other.state.snapshot()] == [PNG_PATH]


class _RecordingSubsegments:
    """Stands in for the X-Ray provider's `in_subsegment`: records names and annotations."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.annotations: list[tuple[str, Any]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str) -> Iterator[_RecordingSubsegments]:
        self.opened.append(name)
        yield self

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations.append((key, value))


@pytest.mark.parametrize("sampled", [True, False], ids=["sampled", "unsampled"])
def test_only_sampled_invocations_open_the_upstream_subsegment(
    app: ModuleType, monkeypatch: pytest.MonkeyPatch, sampled: bool
) -> None:
    recorder = _RecordingSubsegments()
    monkeypatch.setattr(app.tracer.provider, "in_subsegment", recorder.in_subsegment)
    monkeypatch.setattr(app, "_traced", lambda: sampled)

    assert invoke(app, tile_event())["statusCode"] == 200
    assert invoke(app, tile_event("/error"))["statusCode"] == 502

    if sampled:
        assert recorder.opened == ["## upstream", "## upstream"]
        assert recorder.annotations == [("upstream_status", 200), ("upstream_status", 500)]
    else:
        assert (recorder.opened, recorder.annotations) == ([], [])


def test_unsampled_trace_header_skips_the_x_ray_sdk(
    app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.tracer, "disabled", False)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5db31bde-f102927a851f3aaa17ebd23a;Sampled=0")
    assert app._traced() is False

    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5db31bde-f102927a851f3aaa17ebd23a;Sampled=1")
    assert app._traced() is True
