"""Pure logic of the map proxy: no network, no clock, no Powertools.

Event parsing, header filtering, status mapping, timeout computation, body
encoding and the ALB response size check live here so that each can be tested
directly. Facts about the ALB event and response formats come from the
Elastic Load Balancing docs, "Lambda functions as targets"
(docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from proxy_constants import (
    ALB_MAX_RESPONSE_JSON_BYTES,
    NEVER_FORWARDED_HEADERS,
    REQUEST_HEADER_ALLOWLIST,
    RESPONSE_HEADER_ALLOWLIST,
    TRACE_ID_HEADER,
)
from proxy_exceptions import MalformedEventError, ResponseTooLargeError, UpstreamFailure

# Bytes that http.client refuses in a request target (controls and space).
# Rejecting them here turns them into a 400 instead of an exception deep in
# the HTTP client.
_BAD_TARGET_CHARS = re.compile(r"[\x00-\x20\x7f]")
# A header value must not smuggle a line break or a NUL into the upstream
# request (http.client raises on them).
_BAD_HEADER_VALUE_CHARS = re.compile(r"[\r\n\x00]")
_METHOD_RE = re.compile(r"^[A-Z]+$")

# Media types sent back as text (isBase64Encoded false). Anything else,
# including PNG and PBF vector tiles, goes back as Base64.
_TEXT_MEDIA_TYPES = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/xml",
        "image/svg+xml",
    }
)
_UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


# --- Request ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """The parts of an ALB request that the proxy uses.

    `headers` has lower-case names; repeated values are joined with ", ".
    `query` is the raw query string without the leading "?".
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    multi_value_headers: bool
    trace_id: str | None

    @property
    def target(self) -> str:
        """Path plus query string, as sent on the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path


def uses_multi_value_headers(event: object) -> bool:
    """Tell whether the response must use `multiValueHeaders`.

    With the target-group attribute `lambda.multi_value_headers.enabled`, the
    ALB sends `multiValueHeaders` (and `multiValueQueryStringParameters`)
    instead of `headers`, and the function must answer with
    `multiValueHeaders` too (ELB docs, "Multi-value headers"). The event never
    carries both, so the key's presence decides the response shape.
    """
    return isinstance(event, Mapping) and "multiValueHeaders" in event


def trace_id_of(event: object) -> str | None:
    """Return the X-Amzn-Trace-Id header of an ALB event, or None.

    Tolerates any input: it runs before the event is validated, so that even
    the log line of a malformed event carries the correlation id.
    """
    if not isinstance(event, Mapping):
        return None
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping):
        for name, values in multi.items():
            if isinstance(name, str) and name.lower() == TRACE_ID_HEADER:
                if isinstance(values, list) and values and isinstance(values[-1], str):
                    return values[-1]
                return None
        return None
    single = event.get("headers")
    if isinstance(single, Mapping):
        for name, value in single.items():
            if isinstance(name, str) and name.lower() == TRACE_ID_HEADER:
                return value if isinstance(value, str) else None
    return None


def _require_str(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(key, "missing or not a non-empty string")
    return value


def _parse_headers(event: Mapping[str, Any], multi: bool) -> dict[str, str]:
    key = "multiValueHeaders" if multi else "headers"
    raw = event.get(key)
    if not isinstance(raw, Mapping):
        raise MalformedEventError(key, "missing or not an object")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str):
            raise MalformedEventError(key, "header name is not a string")
        if multi:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise MalformedEventError(f"{key}.{name}", "not a list of strings")
            headers[name.lower()] = ", ".join(value)
        else:
            if not isinstance(value, str):
                raise MalformedEventError(f"{key}.{name}", "not a string")
            headers[name.lower()] = value
    return headers


def build_query_string(params: Mapping[str, Any] | None, multi: bool) -> str:
    """Rebuild the query string from the ALB's query parameters.

    "If the query parameters are URL-encoded, the load balancer does not decode
    them" (ELB docs, "Receive events from the load balancer"), so keys and
    values are joined back as they are, without re-encoding. A bare key
    (`?flag`) comes back as `flag=`. Without multi-value headers the ALB keeps
    only the last value of a repeated key.

    Raises:
        MalformedEventError: the parameters are not of the documented shape.
    """
    key = "multiValueQueryStringParameters" if multi else "queryStringParameters"
    if params is None:
        return ""
    if not isinstance(params, Mapping):
        raise MalformedEventError(key, "not an object")
    pairs: list[str] = []
    for name, value in params.items():
        if not isinstance(name, str):
            raise MalformedEventError(key, "parameter name is not a string")
        values = value if multi else [value]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise MalformedEventError(f"{key}.{name}", "unexpected value type")
        pairs.extend(f"{name}={v}" for v in values)
    return "&".join(pairs)


def _parse_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None or body == "":
        return b""
    if not isinstance(body, str):
        raise MalformedEventError("body", "not a string")
    if event.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedEventError("body", "isBase64Encoded but not valid Base64") from None
    return body.encode("utf-8")


def parse_alb_event(event: object) -> ProxyRequest:
    """Validate an ALB target-group event and extract the request.

    Both shapes are accepted: `headers`/`queryStringParameters` and, with
    multi-value headers enabled on the target group,
    `multiValueHeaders`/`multiValueQueryStringParameters`.

    Raises:
        MalformedEventError: the event is not an ALB event or lacks a field;
            the message names the field.
    """
    if not isinstance(event, Mapping):
        raise MalformedEventError("event", f"expected an object, got {type(event).__name__}")
    context = event.get("requestContext")
    if not isinstance(context, Mapping) or not isinstance(context.get("elb"), Mapping):
        raise MalformedEventError("requestContext.elb", "missing: not an ALB event")

    method = _require_str(event, "httpMethod").upper()
    if not _METHOD_RE.match(method):
        raise MalformedEventError("httpMethod", f"{method!r} is not an HTTP method")
    path = _require_str(event, "path")
    if not path.startswith("/"):
        raise MalformedEventError("path", "must start with '/'")

    multi = uses_multi_value_headers(event)
    headers = _parse_headers(event, multi)
    query = build_query_string(
        event.get("multiValueQueryStringParameters" if multi else "queryStringParameters"),
        multi,
    )
    request = ProxyRequest(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=_parse_body(event),
        multi_value_headers=multi,
        trace_id=headers.get(TRACE_ID_HEADER),
    )
    if _BAD_TARGET_CHARS.search(request.target):
        raise MalformedEventError("path", "request target contains a control character or space")
    return request


# --- Headers ------------------------------------------------------------------


def filter_request_headers(
    headers: Mapping[str, str], allowed: frozenset[str] = REQUEST_HEADER_ALLOWLIST
) -> dict[str, str]:
    """Keep only the ``allowed`` request headers (lower-case names).

    Hop-by-hop headers are dropped even when ``allowed`` names them: those of
    :data:`NEVER_FORWARDED_HEADERS` and any the request's ``Connection``
    header lists (RFC 9110 section 7.6.1).
    """
    connection = next((v for k, v in headers.items() if k.lower() == "connection"), "")
    hop_by_hop = NEVER_FORWARDED_HEADERS | {
        part.strip().lower() for part in connection.split(",") if part.strip()
    }
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in hop_by_hop or lower not in allowed:
            continue
        if not _BAD_HEADER_VALUE_CHARS.search(value):
            kept[lower] = value
    return kept


def filter_response_headers(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Keep only the allow-listed upstream response headers.

    Names come back in canonical form (`ETag`, `Content-Type`); a header sent
    several times keeps all its values, in order.
    """
    kept: dict[str, list[str]] = {}
    for name, value in items:
        canonical = RESPONSE_HEADER_ALLOWLIST.get(name.lower())
        if canonical is not None:
            kept.setdefault(canonical, []).append(value)
    return kept


# --- Status codes -------------------------------------------------------------


def map_upstream_status(status: int) -> int:
    """Status code that the proxy answers for an upstream status code.

    2xx, 3xx (304 for If-None-Match) and 4xx pass through; 5xx, and anything
    outside 200..599, become 502: the upstream failed, not the client.
    """
    if 200 <= status <= 499:
        return status
    return int(HTTPStatus.BAD_GATEWAY)


def status_for_failure(failure: UpstreamFailure) -> int:
    """Status code for an upstream call that produced no usable response."""
    if failure is UpstreamFailure.TIMEOUT:
        return int(HTTPStatus.GATEWAY_TIMEOUT)
    return int(HTTPStatus.BAD_GATEWAY)


# --- Timeouts ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamTimeouts:
    """Time the upstream call may take, in seconds.

    `budget_s` bounds the whole call (connect, headers and body);
    `connect_s` bounds the TCP connect alone.
    """

    budget_s: float
    connect_s: float


def compute_timeouts(
    remaining_ms: int, margin_ms: int, connect_cap_ms: int
) -> UpstreamTimeouts | None:
    """Derive the upstream timeouts from the invocation's remaining time.

    The upstream call must give up `margin_ms` before the Lambda timeout, so
    the function still answers 504 itself instead of being killed (which the
    ALB would turn into a 502 with no log line and no metric).

    Returns:
        None when no time is left for an upstream call.
    """
    budget_ms = remaining_ms - margin_ms
    if budget_ms <= 0:
        return None
    return UpstreamTimeouts(
        budget_s=budget_ms / 1000.0,
        connect_s=min(connect_cap_ms, budget_ms) / 1000.0,
    )


# --- Response -----------------------------------------------------------------


def _media_type_and_charset(content_type: str) -> tuple[str, str | None]:
    media_type, _, params = content_type.partition(";")
    charset: str | None = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset


def is_text_body(content_type: str | None, content_encoding: str | None) -> bool:
    """Tell whether a body can go back to the ALB as a JSON string.

    Only UTF-8 text qualifies: a compressed body (gzip-encoded JSON included)
    or a body of an unknown type is binary, and so is text in another charset,
    which would not survive a round trip through a JSON string.
    """
    if content_encoding and content_encoding.strip().lower() != "identity":
        return False
    if not content_type:
        return False
    media_type, charset = _media_type_and_charset(content_type)
    if charset is not None and charset not in _UTF8_CHARSETS:
        return False
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_MEDIA_TYPES
        or media_type.endswith("+json")
        or media_type.endswith("+xml")
    )


def encode_body(
    body: bytes, content_type: str | None, content_encoding: str | None
) -> tuple[str, bool]:
    """Encode a body for the ALB response.

    "If the content of the body is binary, you must Base64 encode it and set
    isBase64Encoded to true" (ELB docs, "Respond to the load balancer").

    Returns:
        The body string and the value of `isBase64Encoded`.
    """
    if not body:
        return "", False
    if is_text_body(content_type, content_encoding):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _status_description(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def build_alb_response(
    status: int,
    headers: Mapping[str, list[str]],
    body: bytes,
    *,
    multi_value_headers: bool,
) -> dict[str, Any]:
    """Build the response dict handed back to the ALB.

    With multi-value headers every header maps to a list; without, repeated
    values are joined with ", " (the ALB would keep only one value otherwise).
    """
    status = int(status)
    first = {name.lower(): values[0] for name, values in headers.items() if values}
    body_text, is_base64 = encode_body(
        body, first.get("content-type"), first.get("content-encoding")
    )
    response: dict[str, Any] = {
        "statusCode": status,
        "statusDescription": _status_description(status),
        "isBase64Encoded": is_base64,
        "body": body_text,
    }
    if multi_value_headers:
        response["multiValueHeaders"] = {name: list(values) for name, values in headers.items()}
    else:
        response["headers"] = {name: ", ".join(values) for name, values in headers.items()}
    return response


def simple_response(
    status: int,
    message: str,
    *,
    multi_value_headers: bool,
    extra_headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build a small text response produced by the proxy itself.

    `Cache-Control: no-store` keeps caches in front of the ALB from keeping
    an error (or a health check answer) that the upstream never sent.
    """
    headers: dict[str, list[str]] = {
        "Content-Type": ["text/plain; charset=utf-8"],
        "Cache-Control": ["no-store"],
    }
    for name, value in (extra_headers or {}).items():
        headers[name] = [value]
    return build_alb_response(
        status, headers, message.encode("utf-8"), multi_value_headers=multi_value_headers
    )


def response_json_size(response: Mapping[str, Any]) -> int:
    """Upper bound of the size in bytes of the response JSON.

    `json.dumps` defaults (ASCII-only escapes, ", " and ": " separators) give
    the largest of the usual serialisations of the same dict, so whatever
    serialiser the Lambda runtime uses produces at most this many bytes.
    A Base64 body needs no escaping, so its length is added as it is instead
    of running a copy of up to 1 MB through the encoder on every request.
    """
    body = response.get("body", "")
    if response.get("isBase64Encoded") is True and isinstance(body, str):
        envelope = json.dumps({**response, "body": ""})
        return len(envelope) + len(body)
    return len(json.dumps(response))


def ensure_fits_alb_limit(
    response: Mapping[str, Any], limit_bytes: int = ALB_MAX_RESPONSE_JSON_BYTES
) -> int:
    """Check the response against the ALB's 1 MB Lambda response limit.

    Returns:
        An upper bound of the size in bytes: the exact size (see
        :func:`response_json_size`) when the response comes close to the
        limit, a cheaper bound when it is far below it.

    Raises:
        ResponseTooLargeError: the response JSON would exceed `limit_bytes`.
    """
    bound = _size_upper_bound(response)
    if bound is not None and bound <= limit_bytes:
        # Far enough below the limit: no need to serialise the envelope.
        return bound
    size = response_json_size(response)
    if size > limit_bytes:
        raise ResponseTooLargeError(size, limit_bytes)
    return size


# Bytes a JSON string may take per character at most (`\uXXXX`), and an upper
# bound of the envelope's fixed keys, punctuation and numbers.
_MAX_JSON_BYTES_PER_CHAR = 6
_ENVELOPE_BYTES = 256


def _size_upper_bound(response: Mapping[str, Any]) -> int | None:
    """A cheap upper bound of :func:`response_json_size`, or None for an unusual shape.

    Every string (header names and values, the status description and a
    text body) is counted at 6 bytes per character, the most a JSON escape
    takes; a Base64 body is counted as it is, as in :func:`response_json_size`.
    """
    body = response.get("body", "")
    description = response.get("statusDescription", "")
    headers = response.get("multiValueHeaders") or response.get("headers") or {}
    if not isinstance(body, str) or not isinstance(description, str):
        return None
    total = _ENVELOPE_BYTES + _MAX_JSON_BYTES_PER_CHAR * len(description)
    per_char = 1 if response.get("isBase64Encoded") is True else _MAX_JSON_BYTES_PER_CHAR
    total += per_char * len(body)
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(name, str) or not all(isinstance(v, str) for v in values):
            return None
        total += _MAX_JSON_BYTES_PER_CHAR * (len(name) + sum(len(v) + 4 for v in values)) + 8
    return total
