"""Synthetic requests through a route's listener rule, split by the rule's live weights.

What an ALB does with a request that matches a weighted forward rule, reduced
to what the rehearsal needs:

1. read the rule's forward action (``DescribeRules``) and its target group
   weights: :func:`forward_weights`, cached for a short time by
   :class:`RuleWeights`;
2. pick one target group by weight: :class:`WeightedPicker`;
3. send the request to that target group's backend: a Lambda target group
   invokes its registered function with an ALB event (:func:`alb_event`),
   an ECS target group is the local stand-in HTTP server
   (rehearsal/world/ecs_standin.py).

:class:`RouteTraffic` runs that loop in a thread at a bounded rate and keeps
every request's outcome (:class:`Sample`) for the report and the chart.

The request itself is built from the rule's own conditions
(:func:`request_for_rule`), so a path pattern or a host header that the
program got wrong shows up as requests the function rejects.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "ECS",
    "LAMBDA",
    "Backend",
    "HttpBackend",
    "LambdaBackend",
    "NoTargetGroup",
    "RouteTraffic",
    "RuleWeights",
    "Sample",
    "SyntheticRequest",
    "TrafficCounts",
    "WeightedPicker",
    "alb_event",
    "forward_weights",
    "request_for_rule",
]

ECS = "ecs"
LAMBDA = "lambda"

# DescribeRules may omit Weight for a target group; the ALB's default weight
# for a group in ForwardConfig is then 1 (ELBv2 API reference, TargetGroupTuple).
DEFAULT_WEIGHT = 1

# How long a DescribeRules answer is reused. The request loop runs at up to a
# few hundred requests per second; one DescribeRules per request would make
# the loop measure moto, not the route. 150 ms still sees a shift or a
# rollback within a fraction of a (compressed) bake.
DEFAULT_WEIGHTS_TTL_SECONDS = 0.15

# A path segment to stand for each "*" of a path pattern: a map tile
# (zoom/x/y), which is what the example routes carry.
_TILE = "{zoom}/{x}/{y}.png"


class NoTargetGroup(ValueError):
    """Every target group of the forward action has weight 0: nothing can be picked."""


# --- picking -----------------------------------------------------------------------


class WeightedPicker:
    """Picks target groups so that the picks follow the weights exactly, not just on average.

    Smooth weighted round-robin (the algorithm of nginx's ``upstream``): each
    group earns its weight on every pick, the richest group is picked and pays
    the total. Over any run of n picks with constant weights, group i is
    picked ``n * w_i / sum(w)`` times give or take one pick per group (for
    the two groups of a Strangler rule, give or take half a pick: the
    rounding); a group of weight 0 is never picked. A random pick would do
    the same on average, but a rehearsal bakes for seconds: at a 1 % stage a
    random split gives the canary zero requests in a short bake often enough
    to fail the controller's minimum-requests check at random. The twin wants
    the same answer every run.
    """

    def __init__(self) -> None:
        self._current: dict[str, int] = {}

    def pick(self, weights: Mapping[str, int]) -> str:
        """The target group (key of ``weights``) to send the next request to."""
        live = {key: int(weight) for key, weight in weights.items() if int(weight) > 0}
        if not live:
            raise NoTargetGroup(
                f"every target group has weight 0: {dict(weights)}; the ALB cannot forward"
            )
        # A group that left the action (or went to weight 0) loses its credit.
        self._current = {key: value for key, value in self._current.items() if key in live}
        total = sum(live.values())
        best: str | None = None
        for key, weight in live.items():
            self._current[key] = self._current.get(key, 0) + weight
            if best is None or self._current[key] > self._current[best]:
                best = key
        assert best is not None  # live is not empty
        self._current[best] -= total
        return best


def forward_weights(rule: Mapping[str, Any]) -> dict[str, int]:
    """``{target group ARN: weight}`` of the forward action of a DescribeRules rule.

    A weighted forward lists its groups in ``ForwardConfig.TargetGroups``; a
    plain forward may carry only ``TargetGroupArn`` (one group, all traffic).
    Raises ValueError when the rule has no forward action.
    """
    for action in rule.get("Actions") or []:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return {
                str(group["TargetGroupArn"]): int(group.get("Weight", DEFAULT_WEIGHT))
                for group in groups
            }
        if action.get("TargetGroupArn"):
            return {str(action["TargetGroupArn"]): DEFAULT_WEIGHT}
    raise ValueError(f"rule {rule.get('RuleArn')} has no forward action")


class RuleWeights:
    """The live weights of one listener rule, read with DescribeRules at most every ``ttl``.

    ``on_read`` is called with ``(monotonic time, weights)`` after every actual
    read, which is what the chart draws as the weight over time.
    """

    def __init__(
        self,
        elbv2: Any,
        rule_arn: str,
        *,
        ttl_seconds: float = DEFAULT_WEIGHTS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_read: Callable[[float, dict[str, int]], None] | None = None,
    ) -> None:
        self._elbv2 = elbv2
        self.rule_arn = rule_arn
        self._ttl = ttl_seconds
        self._clock = clock
        self._on_read = on_read
        self._cached: dict[str, int] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def read(self) -> dict[str, int]:
        """Read the rule now (no cache)."""
        rules = self._elbv2.describe_rules(RuleArns=[self.rule_arn])["Rules"]
        weights = forward_weights(rules[0])
        now = self._clock()
        with self._lock:
            self._cached = weights
            self._read_at = now
        if self._on_read is not None:
            self._on_read(now, weights)
        return weights

    def current(self) -> dict[str, int]:
        """The cached weights, re-read when older than the TTL."""
        with self._lock:
            cached = self._cached
            fresh = cached is not None and self._clock() - self._read_at < self._ttl
        if fresh and cached is not None:
            return cached
        return self.read()


# --- requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticRequest:
    """One request as the client sends it to the ALB."""

    method: str
    path: str
    host: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str:
        """The request target: path plus query string."""
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{key}={value}" for key, value in self.query)


def _concrete(pattern: str, fill: str) -> str:
    """A value matching an ALB wildcard pattern: ``*`` -> ``fill``, ``?`` -> ``x``."""
    return pattern.replace("*", fill).replace("?", "x")


def _condition_values(condition: Mapping[str, Any], config_key: str) -> list[str]:
    config = condition.get(config_key) or {}
    values = config.get("Values") or condition.get("Values") or []
    return [str(value) for value in values]


def request_for_rule(
    conditions: Sequence[Mapping[str, Any]], sequence: int, *, default_host: str
) -> SyntheticRequest:
    """A request that the rule's conditions match; ``sequence`` varies the tile it asks for.

    Reads the condition fields a Strangler route uses: ``path-pattern``,
    ``host-header``, ``http-request-method``, ``http-header`` and
    ``query-string`` (first value of each).
    """
    tile = _TILE.format(zoom=12, x=3638 + sequence % 64, y=1612 + (sequence // 64) % 64)
    method, path, host = "GET", "/", default_host
    headers: list[tuple[str, str]] = []
    query: list[tuple[str, str]] = []
    for condition in conditions:
        kind = condition.get("Field")
        if kind == "path-pattern":
            values = _condition_values(condition, "PathPatternConfig")
            if values:
                path = _concrete(values[0], tile)
        elif kind == "host-header":
            values = _condition_values(condition, "HostHeaderConfig")
            if values:
                host = _concrete(values[0], "www")
        elif kind == "http-request-method":
            values = _condition_values(condition, "HttpRequestMethodConfig")
            if values:
                method = values[0]
        elif kind == "http-header":
            config = condition.get("HttpHeaderConfig") or {}
            values = [str(v) for v in config.get("Values") or []]
            if config.get("HttpHeaderName") and values:
                headers.append((str(config["HttpHeaderName"]).lower(), _concrete(values[0], "x")))
        elif kind == "query-string":
            pairs = (condition.get("QueryStringConfig") or {}).get("Values") or []
            if pairs:
                query.append(
                    (str(pairs[0].get("Key") or "q"), _concrete(str(pairs[0]["Value"]), "x"))
                )
    return SyntheticRequest(
        method=method, path=path, host=host, query=tuple(query), headers=tuple(headers)
    )


def alb_event(
    request: SyntheticRequest,
    target_group_arn: str,
    *,
    multi_value_headers: bool,
    trace_id: str,
) -> dict[str, Any]:
    """The event an ALB sends a Lambda target for ``request``.

    The shape depends on the target group attribute
    ``lambda.multi_value_headers.enabled`` (ALB documentation, "Lambda
    functions as targets": with it, headers and query parameters come as
    ``multiValueHeaders`` / ``multiValueQueryStringParameters`` lists).
    """
    headers = {
        "accept": "image/png,image/*;q=0.8",
        "accept-encoding": "gzip",
        "host": request.host,
        "user-agent": "strangler-rehearsal",
        "x-amzn-trace-id": trace_id,
        "x-forwarded-for": "198.51.100.23",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **dict(request.headers),
    }
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": request.method,
        "path": request.path,
        "body": "",
        "isBase64Encoded": False,
    }
    if multi_value_headers:
        event["multiValueHeaders"] = {key: [value] for key, value in headers.items()}
        event["multiValueQueryStringParameters"] = {key: [value] for key, value in request.query}
    else:
        event["headers"] = headers
        event["queryStringParameters"] = dict(request.query)
    return event


# --- backends ----------------------------------------------------------------------


class Backend(Protocol):
    """Where a target group sends a request; answers the HTTP status code."""

    side: str

    def send(self, request: SyntheticRequest, sequence: int) -> int:
        """Serve one request; the status the client sees."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class VersionRouting(Protocol):
    """How a Lambda target's alias splits invocations between versions."""

    function: str

    def pick(self) -> str:
        """The version of the next invocation."""
        ...

    def record(self, version: str, error: bool) -> None:
        """One invocation of ``version`` ended."""
        ...


class LambdaBackend:
    """A Lambda target group: ``Invoke`` of the registered function with an ALB event.

    The invocation goes through the emulator's Lambda API, so it reaches the
    function the target group really has registered (resolved by the caller
    with DescribeTargetHealth), with the environment the program declared.
    A function error is a 502 at the ALB (ALB documentation: "If the Lambda
    function ... returns an error, the load balancer returns HTTP 502").
    """

    side = LAMBDA

    def __init__(
        self,
        lambda_client: Any,
        function_arn: str,
        target_group_arn: str,
        *,
        multi_value: bool,
        versions: VersionRouting | None = None,
    ) -> None:
        self._lambda = lambda_client
        self.function_arn = function_arn
        self.target_group_arn = target_group_arn
        self.multi_value = multi_value
        # The target is an alias: each invocation runs the version its weights pick.
        self.versions = versions

    def send(self, request: SyntheticRequest, sequence: int) -> int:
        """Invoke the function; its ALB response's ``statusCode`` (502 on a function error)."""
        trace_id = f"Root=1-{int(time.time()):08x}-{sequence:024x}"
        event = alb_event(
            request, self.target_group_arn, multi_value_headers=self.multi_value, trace_id=trace_id
        )
        if self.versions is None:
            response = self._lambda.invoke(
                FunctionName=self.function_arn, Payload=json.dumps(event)
            )
        else:
            version = self.versions.pick()
            response = self._lambda.invoke(
                FunctionName=self.versions.function, Qualifier=version, Payload=json.dumps(event)
            )
            self.versions.record(version, bool(response.get("FunctionError")))
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            return 502
        try:
            answer = json.loads(payload)
            return int(answer["statusCode"])
        except (ValueError, KeyError, TypeError):
            # The ALB answers 502 to a response it cannot parse.
            return 502

    def close(self) -> None:
        """Nothing to release: the client belongs to the emulator."""


class HttpBackend:
    """An ECS target group: HTTP/1.1 with keep-alive to the local stand-in server."""

    side = ECS

    def __init__(self, host: str, port: int, *, timeout_seconds: float = 5.0) -> None:
        self.host = host
        self.port = port
        self._timeout = timeout_seconds
        self._connection: http.client.HTTPConnection | None = None

    def send(self, request: SyntheticRequest, sequence: int) -> int:
        """One request; a connection failure is the ALB's 502."""
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(
                    request.method,
                    request.target,
                    headers={"Host": request.host, **dict(request.headers)},
                )
                response = connection.getresponse()
                response.read()
                return int(response.status)
            except (OSError, http.client.HTTPException):
                # A kept-alive connection the server closed: reconnect once.
                self.close()
                if attempt == 2:
                    return 502
        return 502  # pragma: no cover - the loop returns

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self._timeout
            )
        return self._connection

    def close(self) -> None:
        """Close the kept-alive connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# --- the loop ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One request: when (monotonic seconds), which side served it, the status."""

    at: float
    side: str
    status: int

    @property
    def error(self) -> bool:
        """A 5xx: what the error rate counts."""
        return self.status >= 500


@dataclass
class TrafficCounts:
    """Requests and 5xx answers per side."""

    requests: dict[str, int] = field(default_factory=lambda: {ECS: 0, LAMBDA: 0})
    errors: dict[str, int] = field(default_factory=lambda: {ECS: 0, LAMBDA: 0})


class RouteTraffic:
    """Sends requests through one route's rule at ``rate`` per second, in a thread.

    ``backends`` maps each target group ARN of the rule to its backend. A
    target group the rule forwards to but the twin has no backend for is a
    harness error, raised from :meth:`stop`. ``max_samples`` bounds the
    samples kept (the newest; the counters count every request).
    """

    def __init__(
        self,
        route: str,
        weights: RuleWeights,
        backends: Mapping[str, Backend],
        conditions: Sequence[Mapping[str, Any]],
        *,
        rate_per_second: float,
        default_host: str,
        clock: Callable[[], float] = time.monotonic,
        max_samples: int | None = None,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"route {route}: the request rate must be positive")
        self.route = route
        self._weights = weights
        self._backends = dict(backends)
        self._conditions = list(conditions)
        self._interval = 1.0 / rate_per_second
        self._default_host = default_host
        self._clock = clock
        self._picker = WeightedPicker()
        self._stop = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # A rehearsal keeps every sample (the chart); a served twin, up for hours, the last ones.
        self._samples: deque[Sample] = deque(maxlen=max_samples)
        self._counts = TrafficCounts()
        self.error: BaseException | None = None

    def start(self) -> None:
        """Start sending in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name=f"traffic-{self.route}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and wait for the thread; re-raises an error the loop hit (once)."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for backend in self._backends.values():
            backend.close()
        if self.error is not None:
            raise self.error

    def add_backend(self, target_group_arn: str, backend: Backend) -> None:
        """Serve ``target_group_arn`` with ``backend`` from now on (a group new to the rule).

        Added before the rule may forward to it; the loop reads the mapping
        without the lock, which a single dict assignment keeps consistent.
        """
        with self._lock:
            self._backends[target_group_arn] = backend

    def counts(self) -> TrafficCounts:
        """A copy of the counters so far."""
        with self._lock:
            return TrafficCounts(dict(self._counts.requests), dict(self._counts.errors))

    def samples(self) -> list[Sample]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._samples)

    def send_one(self, sequence: int) -> Sample:
        """Pick a target group by the live weights and serve one request there."""
        weights = self._weights.current()
        target_group = self._picker.pick(weights)
        backend = self._backends.get(target_group)
        if backend is None:
            raise LookupError(
                f"route {self.route}: rule {self._weights.rule_arn} forwards to target group "
                f"{target_group}, which the twin has no backend for "
                f"(known: {', '.join(sorted(self._backends))})"
            )
        request = request_for_rule(self._conditions, sequence, default_host=self._default_host)
        status = backend.send(request, sequence)
        sample = Sample(at=self._clock(), side=backend.side, status=status)
        with self._lock:
            self._samples.append(sample)
            self._counts.requests[sample.side] += 1
            if sample.error:
                self._counts.errors[sample.side] += 1
        return sample

    def _run(self) -> None:
        sequence = 0
        next_at = self._clock()
        try:
            while not self._stop.is_set():
                self.send_one(sequence)
                sequence += 1
                next_at += self._interval
                delay = next_at - self._clock()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -0.5:
                    # Far behind (a slow moment on a busy machine): do not burst
                    # to catch up; the rate is an upper bound, not a debt.
                    next_at = self._clock()
        except BaseException as error:  # surfaced by stop(): a dead loop must not pass silently
            self.error = error
