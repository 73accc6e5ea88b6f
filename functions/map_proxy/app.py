"""Map delivery proxy: an ALB target-group Lambda that forwards map requests.

The ALB sends map requests here instead of to the monolith on ECS; this
function forwards each one to the map delivery service (`UPSTREAM_URL`) and
hands the answer back to the ALB. Pure logic lives in `proxy_core`, the HTTP
client in `proxy_upstream`; this module holds the Powertools singletons, the
connection pool and the handler.

Run time: the deployment archive holds this folder at its root (handler
`app.handler`, the root is on sys.path, hence the top-level imports below)
and the pinned dependencies of `requirements.txt`: Powertools, aws-xray-sdk
and urllib3 (components/packaging.py). With `function.powertoolsLayer`,
Powertools and aws-xray-sdk come from the Powertools layer instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from http import HTTPStatus
from numbers import Number
from typing import TYPE_CHECKING, Any, cast

# Tracer is built with auto_patch=False: patch_all() would import and patch
# botocore, requests, sqlite3 and more, none of which this function uses, at
# a cold-start cost. The one call worth tracing, the upstream call, gets its
# own subsegment in _call_upstream below. In Lambda (LAMBDA_TASK_ROOT set) the
# X-Ray SDK uses its local sampler, since the service already decided
# sampling, and the whole import + first invocation stays near 0.1 s on the
# benchmark machine; outside Lambda the SDK builds a botocore X-Ray client for
# centralized sampling, which is where the "up to 0.6 s" figure comes from.
from aws_lambda_powertools import Logger, Tracer
from proxy_config import ProxyConfig, load_config
from proxy_constants import (
    MAX_UPSTREAM_BODY_BYTES,
    METRIC_APP_ERRORS,
    METRIC_REQUESTS,
    METRIC_UPSTREAM_LATENCY,
    METRICS_NAMESPACE,
    ROUTE_DIMENSION,
)
from proxy_core import (
    ProxyRequest,
    UpstreamTimeouts,
    build_alb_response,
    compute_timeouts,
    ensure_fits_alb_limit,
    filter_request_headers,
    filter_response_headers,
    map_upstream_status,
    parse_alb_event,
    simple_response,
    status_for_failure,
    trace_id_of,
    uses_multi_value_headers,
)
from proxy_exceptions import (
    MalformedEventError,
    ResponseTooLargeError,
    UpstreamBodyTooLargeError,
    UpstreamError,
)
from proxy_metrics import EmfMetrics
from proxy_upstream import UpstreamClient, UpstreamResponse

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or "map-proxy"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME, auto_patch=False)
# The alarms match the exact dimension set {route}: any other dimension (such
# as the `service` one Powertools' Metrics adds) would make a different metric
# and leave every alarm without data.
metrics = EmfMetrics(
    namespace=METRICS_NAMESPACE,
    dimension=ROUTE_DIMENSION,
    units={
        METRIC_REQUESTS: "Count",
        METRIC_APP_ERRORS: "Count",
        METRIC_UPSTREAM_LATENCY: "Milliseconds",
    },
)


@dataclass(frozen=True, slots=True)
class _Runtime:
    """What init builds once per execution environment."""

    config: ProxyConfig
    upstream: UpstreamClient


_runtime: _Runtime | None = None


def configure(upstream_url: str | None = None) -> ProxyConfig:
    """Resolve the configuration and (re)build the upstream connection pool.

    Runs once at init with the environment. Calling it again replaces the
    pool (tests point it at their own server this way) and resets the metric
    dimensions to exactly {route}.

    Args:
        upstream_url: overrides `UPSTREAM_URL`; every other setting is read
            from the environment.

    Raises:
        ConfigError: a setting is missing or invalid (fails the init, which
            the Lambda `Errors` alarm sees).
    """
    global _runtime
    config = load_config(upstream_url=upstream_url)
    previous = _runtime
    _runtime = _Runtime(config=config, upstream=UpstreamClient(config.upstream_url))
    if previous is not None:
        previous.upstream.close()

    metrics.clear_metrics()
    metrics.set_dimension_value(config.route_name)
    logger.append_keys(route=config.route_name)
    return config


def _current() -> _Runtime:
    if _runtime is None:  # only if configure() was never called
        raise RuntimeError("map proxy is not configured")
    return _runtime


def _count(name: str) -> None:
    metrics.add_metric(name, 1)


def _traced() -> bool:
    """Tell whether this invocation is recorded by X-Ray.

    The Lambda runtime puts the sampling decision in `_X_AMZN_TRACE_ID`
    (`...;Sampled=0|1`) before each invocation. Unsampled invocations (most
    of them under X-Ray's default rule: one per second, then 5%) skip the SDK
    entirely instead of building dummy segments that are never sent.
    """
    return not tracer.disabled and "Sampled=0" not in os.environ.get("_X_AMZN_TRACE_ID", "")


def _fetch(
    client: UpstreamClient,
    request: ProxyRequest,
    timeouts: UpstreamTimeouts,
    forward_headers: frozenset[str],
) -> UpstreamResponse:
    return client.fetch(
        request.method,
        request.target,
        filter_request_headers(request.headers, forward_headers),
        request.body,
        timeouts,
        MAX_UPSTREAM_BODY_BYTES,
    )


def _call_upstream(
    client: UpstreamClient,
    request: ProxyRequest,
    timeouts: UpstreamTimeouts,
    forward_headers: frozenset[str],
) -> UpstreamResponse:
    """Forward the request, inside an X-Ray subsegment when sampled.

    This is the only subsegment the function opens. Lambda already records
    each invocation (and its init) as the function's own segment, so the
    `## handler` subsegment of `capture_lambda_handler` would repeat it at
    a cost of tens of microseconds per request (the X-Ray SDK parses the trace
    header from the environment on every lookup, serialises and sends a UDP
    datagram per subsegment), measured by bench/map_proxy.py. An exception is
    recorded on the subsegment by the context manager.
    """
    if not _traced():
        return _fetch(client, request, timeouts, forward_headers)
    with tracer.provider.in_subsegment(name="## upstream") as subsegment:
        response = _fetch(client, request, timeouts, forward_headers)
        # X-Ray annotations take str, bool or a number; the stub's
        # numbers.Number does not cover int for mypy.
        subsegment.put_annotation(key="upstream_status", value=cast(Number, response.status))
        return response


def _error(status: int, multi: bool) -> dict[str, Any]:
    return simple_response(status, f"{HTTPStatus(status).phrase}\n", multi_value_headers=multi)


def _proxy_response(
    request: ProxyRequest, runtime: _Runtime, context: LambdaContext
) -> dict[str, Any]:
    multi = request.multi_value_headers
    config = runtime.config
    remaining_ms = context.get_remaining_time_in_millis()
    timeouts = compute_timeouts(remaining_ms, config.timeout_margin_ms, config.connect_timeout_ms)
    if timeouts is None:
        logger.error(
            "No time left for the upstream call",
            extra={"remaining_ms": remaining_ms, "margin_ms": config.timeout_margin_ms},
        )
        return _error(HTTPStatus.GATEWAY_TIMEOUT, multi)

    try:
        upstream = _call_upstream(runtime.upstream, request, timeouts, config.forward_headers)
    except UpstreamBodyTooLargeError as err:
        logger.error(
            "Upstream body too large for an ALB response",
            extra={"size_bytes": err.size_bytes, "limit_bytes": err.limit_bytes},
        )
        return _error(HTTPStatus.BAD_GATEWAY, multi)
    except UpstreamError as err:
        status = status_for_failure(err.failure)
        logger.error(
            "Upstream call failed",
            extra={"failure": err.failure.value, "detail": str(err), "status": status},
        )
        return _error(status, multi)

    metrics.add_metric(METRIC_UPSTREAM_LATENCY, upstream.latency_ms)
    status = map_upstream_status(upstream.status)
    if status != upstream.status:
        logger.error(
            "Upstream answered with an error",
            extra={"upstream_status": upstream.status, "status": status},
        )
        return _error(status, multi)

    response = build_alb_response(
        status,
        filter_response_headers(upstream.headers),
        upstream.body,
        multi_value_headers=multi,
    )
    try:
        ensure_fits_alb_limit(response)
    except ResponseTooLargeError as err:
        logger.error(
            "Response too large for the ALB",
            extra={"size_bytes": err.size_bytes, "limit_bytes": err.limit_bytes},
        )
        return _error(HTTPStatus.BAD_GATEWAY, multi)
    return response


def _proxy(request: ProxyRequest, runtime: _Runtime, context: LambdaContext) -> dict[str, Any]:
    """Proxy one request and publish its metrics (one EMF line)."""
    _count(METRIC_REQUESTS)
    try:
        response = _proxy_response(request, runtime, context)
        if response["statusCode"] >= 500:
            _count(METRIC_APP_ERRORS)
        return response
    finally:
        metrics.flush_metrics()


def _handle(event: Any, context: LambdaContext, multi: bool) -> dict[str, Any]:
    runtime = _current()
    try:
        request = parse_alb_event(event)
    except MalformedEventError as err:
        logger.set_correlation_id(trace_id_of(event))
        logger.warning("Rejected a malformed event", extra={"reason": str(err)})
        return _error(HTTPStatus.BAD_REQUEST, multi)
    logger.set_correlation_id(request.trace_id)

    if request.path == runtime.config.health_check_path:
        # The target group's health check: answered here, no upstream call
        # and no metric, so that a sick upstream does not take the Lambda
        # target out of service (the alarms watch the upstream instead).
        body = "" if request.method == "HEAD" else "OK\n"
        return simple_response(HTTPStatus.OK, body, multi_value_headers=multi)

    if request.method not in runtime.config.allowed_methods:
        logger.info("Rejected a method", extra={"method": request.method})
        return simple_response(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "Method Not Allowed\n",
            multi_value_headers=multi,
            extra_headers={"Allow": runtime.config.allow_header},
        )

    return _proxy(request, runtime, context)


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for ALB target-group events.

    Always returns an ALB response in the shape of the request (`headers` or
    `multiValueHeaders`); no exception escapes, because the ALB would turn it
    into a bare 502 without a log line or metric from this function.
    """
    multi = uses_multi_value_headers(event)
    logger.set_correlation_id(None)  # set from the event once it is parsed
    try:
        return _handle(event, context, multi)
    except Exception:
        logger.exception("Unhandled error while proxying")
        try:
            _count(METRIC_APP_ERRORS)
            metrics.flush_metrics()
        except Exception:
            logger.exception("Could not publish the AppErrors metric")
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR, multi)


configure()
