"""Names shared by the Pulumi program, the controller and the operator CLI.

Everything here is a contract between code that runs in different places: the
deploy (Pulumi) writes these names and records, the controller Lambda and the
operator CLI read them. Pure data, no AWS calls.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from controller.core.json_form import fields_dict
from controller.core.release import ReleasePlanRecord

# Custom metrics. The route functions emit Requests/AppErrors/UpstreamLatency
# (EMF, high resolution); the controller emits CanaryWeight. The alarms and the
# dashboard read them with exactly one dimension: route.
METRIC_NAMESPACE = "Strangler"
ROUTE_DIMENSION = "route"
METRIC_REQUESTS = "Requests"
METRIC_APP_ERRORS = "AppErrors"
METRIC_UPSTREAM_LATENCY = "UpstreamLatency"
METRIC_CANARY_WEIGHT = "CanaryWeight"

# The controller's service name (its POWERTOOLS_SERVICE_NAME): Powertools puts
# it on every EMF metric as the "service" dimension.
CONTROLLER_SERVICE = "strangler-controller"
SERVICE_DIMENSION = "service"
# Rollbacks the controller handled (alarm, operator or the state machine's
# Rollback task), counted per route; the dashboard graphs it.
METRIC_ROLLBACKS = "Rollbacks"


def rollback_dimensions(route: str) -> dict[str, str]:
    """The whole dimension set of a ``Rollbacks`` datapoint, in the dashboard's order.

    A CloudWatch metric is identified by its exact dimension set: the handler
    emits exactly these and the dashboard asks for exactly these, so the two
    cannot drift apart.
    """
    return {ROUTE_DIMENSION: route, SERVICE_DIMENSION: CONTROLLER_SERVICE}


# Environment of the controller Lambda.
ENV_STACK = "STRANGLER_STACK"
ENV_REGISTRY_PATH = "STRANGLER_REGISTRY_PATH"

# Environment of every route function.
ENV_ROUTE_NAME = "ROUTE_NAME"
ENV_HEALTH_CHECK_PATH = "HEALTH_CHECK_PATH"
# The route's `function.forwardHeaders`, comma-separated: request headers the
# function forwards to its upstream on top of its own safe default.
ENV_FORWARD_HEADERS = "FORWARD_HEADERS"
# Request headers a route function never forwards, whatever forwardHeaders
# says: the hop-by-hop ones (RFC 9110 section 7.6.1; RFC 2616 section 13.5.1)
# and the framing its upstream connection sets itself (Host, Content-Length).
# functions/map_proxy/proxy_constants.py keeps its own copy (a function
# imports nothing of this project); a test keeps the two equal.
NEVER_FORWARDED_HEADERS = frozenset(
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


def registry_path(stack: str) -> str:
    """SSM path under which the deploy writes the stack's registry."""
    return f"/strangler/{stack}"


def stack_parameter_name(stack: str) -> str:
    """SSM parameter holding the :class:`StackRecord` of ``stack``."""
    return f"{registry_path(stack)}/stack"


def route_parameter_name(stack: str, route: str) -> str:
    """SSM parameter holding the :class:`RouteRecord` of one route.

    One parameter per route keeps each value far below the 4 KB limit of a
    standard SSM parameter, however many routes a stack has.
    """
    return f"{registry_path(stack)}/routes/{route}"


def route_of_parameter(stack: str, name: str) -> str | None:
    """The route whose record ``name`` is: the inverse of :func:`route_parameter_name`.

    None for any other parameter: another stack's (a stack whose name
    extends this one's, like ``prod-eu`` for ``prod``, included), the stack
    record, or a name below a route record.
    """
    prefix = route_parameter_name(stack, "")
    if not name.startswith(prefix):
        return None
    route = name[len(prefix) :]
    if not route or "/" in route:
        return None
    return route


@dataclass(frozen=True)
class StagePlanRecord:
    """One stage: the Lambda share in percent (0.1 steps) and its bake time."""

    weight: float
    bake_seconds: int = 0


@dataclass(frozen=True)
class PlanRecord:
    """The canary plan of a route, as the deploy resolved it from the config."""

    stages: tuple[StagePlanRecord, ...]
    stages_per_run: int = 0
    min_requests: int = 0

    def to_input(self) -> dict[str, Any]:
        """The ``plan`` object of a state machine execution input (camelCase)."""
        return {
            "stages": [{"weight": s.weight, "bakeSeconds": s.bake_seconds} for s in self.stages],
            "stagesPerRun": self.stages_per_run,
            "minRequests": self.min_requests,
        }

    @staticmethod
    def from_input(data: dict[str, Any]) -> PlanRecord:
        """Inverse of :meth:`to_input`."""
        return PlanRecord(
            stages=tuple(
                StagePlanRecord(
                    weight=float(s["weight"]), bake_seconds=int(s.get("bakeSeconds", 0))
                )
                for s in data["stages"]
            ),
            stages_per_run=int(data.get("stagesPerRun", 0)),
            min_requests=int(data.get("minRequests", 0)),
        )


@dataclass(frozen=True)
class CapacityRecord:
    """The route's capacity guard: the ECS service that takes the route back, and the hold.

    Absent from a record when the route has no ``ecsService``: the guard is off.
    """

    cluster: str
    service: str
    hold_hours: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (camelCase, as in the config)."""
        return {"cluster": self.cluster, "service": self.service, "holdHours": self.hold_hours}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CapacityRecord:
        """Inverse of :meth:`to_dict`."""
        return CapacityRecord(
            cluster=str(data["cluster"]),
            service=str(data["service"]),
            hold_hours=float(data.get("holdHours", 0.0)),
        )


@dataclass(frozen=True)
class GateRecord:
    """The route's concurrency gate: the cap, the headroom kept below it, the first-stage guess.

    Absent from a record when the route has no ``canary.concurrencyHeadroomPercent``.
    """

    headroom_percent: float
    reserved_concurrency: int
    timeout_seconds: int
    expected_peak_rps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (camelCase)."""
        return fields_dict(self, camel=True)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> GateRecord:
        """Inverse of :meth:`to_dict`."""
        rps = data.get("expectedPeakRps")
        return GateRecord(
            headroom_percent=float(data["headroomPercent"]),
            reserved_concurrency=int(data["reservedConcurrency"]),
            timeout_seconds=int(data["timeoutSeconds"]),
            expected_peak_rps=None if rps is None else float(rps),
        )


@dataclass(frozen=True)
class RouteRecord:
    """Everything the controller and the CLI need to know about one route."""

    route: str
    listener_arn: str
    rule_arn: str
    ecs_target_group_arn: str
    lambda_target_group_arn: str
    function_name: str
    composite_alarm_name: str
    composite_alarm_arn: str
    alarm_names: tuple[str, ...]
    plan: PlanRecord
    schedule_name: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    check_function_name: str | None = None
    """The route's equivalence checker (functions/traffic_check); None: no ``verify``."""
    # The newest published version of the route function (each deploy that
    # changes its code or configuration publishes one), the alias the Lambda
    # target group invokes, and how a new version goes live behind it.
    function_version: str | None = None
    alias_name: str | None = None
    release: ReleasePlanRecord | None = None
    capacity: CapacityRecord | None = None
    gate: GateRecord | None = None

    def to_json(self) -> str:
        """Serialise for the SSM parameter (stable key order)."""
        data = asdict(self)
        data["plan"] = self.plan.to_input()
        data["release"] = self.release.to_input() if self.release else None
        data["capacity"] = self.capacity.to_dict() if self.capacity else None
        data["gate"] = self.gate.to_dict() if self.gate else None
        return json.dumps(data, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> RouteRecord:
        """Parse what :meth:`to_json` wrote (a record written before a key existed lacks it)."""
        data = json.loads(text)
        data["plan"] = PlanRecord.from_input(data["plan"])
        data["alarm_names"] = tuple(data["alarm_names"])
        if data.get("release") is not None:
            data["release"] = ReleasePlanRecord.from_input(data["release"])
        capacity = data.get("capacity")
        data["capacity"] = CapacityRecord.from_dict(capacity) if capacity else None
        gate = data.get("gate")
        data["gate"] = GateRecord.from_dict(gate) if gate else None
        return RouteRecord(**data)


@dataclass(frozen=True)
class StackRecord:
    """Stack-wide resources of the controller."""

    stack: str
    table_name: str
    state_machine_arn: str
    topic_arn: str
    controller_function_name: str
    dashboard_name: str
    routes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        """Serialise for the SSM parameter (stable key order)."""
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> StackRecord:
        """Parse what :meth:`to_json` wrote."""
        data = json.loads(text)
        data["routes"] = tuple(data["routes"])
        return StackRecord(**data)
