"""The twin's ALB listener: real HTTP in, the listener's rules as moto holds them, a target out.

The rehearsal's synthetic traffic picks target groups itself
(rehearsal/scenario/traffic.py); what calls the ALB over HTTP, the route's
equivalence checker (functions/traffic_check), needs a listener to call. This
server is that listener on 127.0.0.1: for each request it reads the listener's
rules from the emulator (DescribeRules), takes the first rule by priority
whose conditions all match (path pattern, host header, method, HTTP header;
the default action otherwise), picks a target group by the rule's weights,
and answers with what the target answers:

- a Lambda target group: ``Invoke`` of its registered function with the ALB
  event (the same event the synthetic traffic sends), its response turned
  back into HTTP (Base64 bodies decoded, multi-value headers joined);
- any other target group: the request relayed to that target group's ECS
  stand-in.

So a request with ``X-Strangler-Preview: <route>`` reaches the function
through the preview rule, and one without it reaches ECS through the weighted
rule, exactly as the rules say.
"""

from __future__ import annotations

import base64
import fnmatch
import http.client
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rehearsal.scenario.traffic import SyntheticRequest, WeightedPicker, alb_event, forward_weights
from rehearsal.world.serving import (
    LOOPBACK,
    LoopbackServer,
    QuietHandler,
    serve_in_thread,
    stop_serving,
)

__all__ = ["AlbRequest", "TwinAlb", "rule_matches", "select_rule"]

# The ALB answers 502 when a target cannot be reached or answers nonsense.
BAD_GATEWAY = 502
# Headers that describe one hop, never relayed (RFC 9110, section 7.6.1).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer",
     "proxy-connection", "content-length"}
)  # fmt: skip


@dataclass(frozen=True)
class AlbRequest:
    """What the listener matches on: method, path, host and headers (names lower-case)."""

    method: str
    path: str
    host: str
    headers: Mapping[str, str]


def _values(condition: Mapping[str, Any], config_key: str) -> list[str]:
    config = condition.get(config_key) or {}
    return [str(v) for v in config.get("Values") or condition.get("Values") or []]


def _any_match(values: Sequence[str], actual: str, *, case_sensitive: bool) -> bool:
    """ALB wildcards: ``*`` any characters, ``?`` exactly one."""
    if case_sensitive:
        return any(fnmatch.fnmatchcase(actual, value) for value in values)
    return any(fnmatch.fnmatchcase(actual.lower(), value.lower()) for value in values)


def rule_matches(conditions: Sequence[Mapping[str, Any]], request: AlbRequest) -> bool:
    """True when every condition matches (values of one condition are ORed).

    Path patterns are case-sensitive; host headers and HTTP header values are
    not (ELB guide, "Listener rules": condition types). An unknown condition
    type never matches, so a rule the twin cannot read sends nothing astray.
    """
    for condition in conditions:
        kind = condition.get("Field")
        if kind == "path-pattern":
            ok = _any_match(
                _values(condition, "PathPatternConfig"), request.path, case_sensitive=True
            )
        elif kind == "host-header":
            host = request.host.split(":", 1)[0]
            ok = _any_match(_values(condition, "HostHeaderConfig"), host, case_sensitive=False)
        elif kind == "http-request-method":
            ok = request.method in _values(condition, "HttpRequestMethodConfig")
        elif kind == "http-header":
            config = condition.get("HttpHeaderConfig") or {}
            actual = request.headers.get(str(config.get("HttpHeaderName", "")).lower())
            values = [str(v) for v in config.get("Values") or []]
            ok = actual is not None and _any_match(values, actual, case_sensitive=False)
        else:
            ok = False
        if not ok:
            return False
    return True


def select_rule(rules: Sequence[Mapping[str, Any]], request: AlbRequest) -> Mapping[str, Any]:
    """The rule that serves ``request``: the lowest priority number that matches, else default."""
    default: Mapping[str, Any] | None = None
    numbered = []
    for rule in rules:
        if rule.get("IsDefault") or rule.get("Priority") == "default":
            default = rule
        else:
            numbered.append(rule)
    for rule in sorted(numbered, key=lambda r: int(r["Priority"])):
        if rule_matches(rule.get("Conditions") or [], request):
            return rule
    if default is None:
        raise LookupError("the listener has no default rule")
    return default


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class _Handler(QuietHandler):
    server: LoopbackServer[TwinAlb]

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        request = AlbRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            host=self.headers.get("Host", ""),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        try:
            answer = self.server.owner.answer(request, self.path)
        except Exception as error:  # the twin's own failure: a 502, with the reason
            answer = _Answer(BAD_GATEWAY, [("Content-Type", "text/plain")], str(error).encode())
        self.send_response(answer.status)
        for key, value in answer.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD" and answer.body:
            self.wfile.write(answer.body)


class TwinAlb:
    """The listener ``listener_arn`` of the emulator, served on 127.0.0.1 (module docstring).

    ``ecs_address`` gives the (host, port) of the stand-in behind an ECS
    target group; ``served`` counts the requests per target group ARN.
    """

    def __init__(
        self,
        elbv2: Any,
        lambda_client: Any,
        listener_arn: str,
        ecs_address: Callable[[str], tuple[str, int]],
    ) -> None:
        self._elbv2 = elbv2
        self._lambda = lambda_client
        self.listener_arn = listener_arn
        self._ecs_address = ecs_address
        self._lock = threading.Lock()
        self._pickers: dict[str, WeightedPicker] = {}
        self.served: dict[str, int] = {}
        self._server: LoopbackServer[TwinAlb] | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("the twin ALB is not started")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> TwinAlb:
        """Bind a free port and serve in a daemon thread; returns self."""
        self._server = LoopbackServer(self, _Handler)
        self._thread = serve_in_thread(self._server, "twin-alb")
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        stop_serving(self._server, self._thread)
        self._server = None
        self._thread = None

    def answer(self, request: AlbRequest, target: str) -> _Answer:
        """Serve one request as the listener's rules say."""
        rules = self._elbv2.describe_rules(ListenerArn=self.listener_arn)["Rules"]
        rule = select_rule(rules, request)
        weights = forward_weights(rule)
        with self._lock:
            picker = self._pickers.setdefault(str(rule.get("RuleArn")), WeightedPicker())
            group = picker.pick(weights)
            self.served[group] = self.served.get(group, 0) + 1
        described = self._elbv2.describe_target_groups(TargetGroupArns=[group])["TargetGroups"][0]
        if described.get("TargetType") == "lambda":
            return self._invoke(group, request)
        host, port = self._ecs_address(group)
        return _relay(host, port, request, target)

    def _invoke(self, group: str, request: AlbRequest) -> _Answer:
        health = self._elbv2.describe_target_health(TargetGroupArn=group)
        targets = [d["Target"]["Id"] for d in health.get("TargetHealthDescriptions", [])]
        if len(targets) != 1:
            return _Answer(BAD_GATEWAY, [], b"")
        attributes = self._elbv2.describe_target_group_attributes(TargetGroupArn=group)
        multi = any(
            a.get("Key") == "lambda.multi_value_headers.enabled" and a.get("Value") == "true"
            for a in attributes.get("Attributes", [])
        )
        synthetic = SyntheticRequest(
            method=request.method,
            path=request.path,
            host=request.host,
            headers=tuple(request.headers.items()),
        )
        trace = f"Root=1-{int(time.time()):08x}-{'0' * 24}"
        event = alb_event(synthetic, group, multi_value_headers=multi, trace_id=trace)
        response = self._lambda.invoke(FunctionName=targets[0], Payload=json.dumps(event))
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            return _Answer(BAD_GATEWAY, [], b"")
        return lambda_answer(json.loads(payload))


def lambda_answer(answer: Mapping[str, Any]) -> _Answer:
    """An ALB Lambda response as HTTP: status, headers (multi-value joined), decoded body."""
    headers: list[tuple[str, str]] = []
    for key, values in (answer.get("multiValueHeaders") or {}).items():
        headers.extend((str(key), str(value)) for value in values)
    for key, value in (answer.get("headers") or {}).items():
        headers.append((str(key), str(value)))
    body = answer.get("body") or ""
    raw = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
    return _Answer(int(answer["statusCode"]), headers, raw)


def _relay(host: str, port: int, request: AlbRequest, target: str) -> _Answer:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        headers = {k: v for k, v in request.headers.items() if k not in _HOP_BY_HOP}
        connection.request(request.method, target, headers=headers)
        response = connection.getresponse()
        body = response.read()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        return _Answer(response.status, kept, body)
    except (OSError, http.client.HTTPException):
        return _Answer(BAD_GATEWAY, [], b"")
    finally:
        connection.close()
