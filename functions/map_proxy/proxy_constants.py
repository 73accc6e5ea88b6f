"""Names and limits shared by the map proxy modules.

The metric names, the namespace and the dimension name are a contract with the
CloudWatch alarms of the route: an alarm matches a metric by namespace, name
and the exact set of dimensions, so renaming anything here silently detaches
the alarm.
"""

from __future__ import annotations

from typing import Final

# --- Metrics (contract with the alarms) -------------------------------------
METRICS_NAMESPACE: Final = "Strangler"
ROUTE_DIMENSION: Final = "route"
METRIC_REQUESTS: Final = "Requests"
METRIC_APP_ERRORS: Final = "AppErrors"
METRIC_UPSTREAM_LATENCY: Final = "UpstreamLatency"

# --- Environment variable names ----------------------------------------------
ENV_UPSTREAM_URL: Final = "UPSTREAM_URL"
ENV_ROUTE_NAME: Final = "ROUTE_NAME"
ENV_HEALTH_CHECK_PATH: Final = "HEALTH_CHECK_PATH"
ENV_ALLOWED_METHODS: Final = "ALLOWED_METHODS"
ENV_TIMEOUT_MARGIN_MS: Final = "UPSTREAM_TIMEOUT_MARGIN_MS"
ENV_CONNECT_TIMEOUT_MS: Final = "UPSTREAM_CONNECT_TIMEOUT_MS"
# Request headers forwarded on top of REQUEST_HEADER_ALLOWLIST: comma-separated
# names (the route's `function.forwardHeaders`, set by the deploy).
ENV_FORWARD_HEADERS: Final = "FORWARD_HEADERS"

# --- Defaults ----------------------------------------------------------------
DEFAULT_HEALTH_CHECK_PATH: Final = "/health"
DEFAULT_ALLOWED_METHODS: Final = "GET,HEAD"
# Time kept back from the invocation's remaining time for building the
# response and flushing logs and metrics after the upstream call gives up.
DEFAULT_TIMEOUT_MARGIN_MS: Final = 250
# Upper bound on the TCP connect; the upstream sits in the same VPC, so a
# connect that takes longer than this is a sick upstream, not a slow one.
DEFAULT_CONNECT_TIMEOUT_MS: Final = 1000

# --- ALB limits --------------------------------------------------------------
# "The maximum size of the response JSON that the Lambda function can send is
# 1 MB." (Elastic Load Balancing docs, "Lambda functions as targets", Limits.)
# The limit covers the whole JSON document (status, headers, Base64 body), and
# "1 MB" is read here as 10**6 bytes, the smaller of the two readings.
ALB_MAX_RESPONSE_JSON_BYTES: Final = 1_000_000
# No body larger than this can ever fit in the response JSON, whatever its
# encoding (Base64 grows it by 4/3, JSON escaping only grows text), so the
# upstream body is never read past it.
MAX_UPSTREAM_BODY_BYTES: Final = ALB_MAX_RESPONSE_JSON_BYTES
# Size of each read from the upstream socket while reading a body.
BODY_READ_CHUNK_BYTES: Final = 64 * 1024

# --- Header allow-lists -------------------------------------------------------
# Request headers forwarded to the upstream (lower-case, as the ALB sends
# them). Content negotiation, conditional requests and the trace id; nothing
# hop-by-hop, no cookies, no Host (the pool sets the upstream's own Host).
REQUEST_HEADER_ALLOWLIST: Final = frozenset(
    {
        "accept",
        "accept-encoding",
        "content-type",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-unmodified-since",
        "x-amzn-trace-id",
    }
)

# Never forwarded, whatever FORWARD_HEADERS says: the hop-by-hop headers
# (RFC 9110 section 7.6.1: Connection and the fields it names, Proxy-Connection,
# Keep-Alive, TE, Transfer-Encoding, Upgrade; RFC 2616 section 13.5.1 adds
# Trailer and the Proxy-Authenticate/-Authorization pair), and the framing
# the upstream connection sets itself (Host, Content-Length).
NEVER_FORWARDED_HEADERS: Final = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# Response headers passed back to the ALB, lower-case name -> canonical name.
# Vary is kept because Content-Encoding depends on Accept-Encoding: a cache in
# front of the ALB must not serve a gzip body to a client that did not ask.
RESPONSE_HEADER_ALLOWLIST: Final = {
    "cache-control": "Cache-Control",
    "content-encoding": "Content-Encoding",
    "content-type": "Content-Type",
    "etag": "ETag",
    "expires": "Expires",
    "last-modified": "Last-Modified",
    "vary": "Vary",
}

TRACE_ID_HEADER: Final = "x-amzn-trace-id"
