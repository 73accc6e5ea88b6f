"""The narrow interfaces between the controller's logic and AWS.

Each port is a :class:`typing.Protocol` of domain methods that take and return
our dataclasses, never boto3 dicts. The boto3 implementations live in
``controller/aws/*.py`` and ``controller/aws/registry.py`` and are tested on moto;
tests of the logic may use a fake of a port for fault injection.

Pure module: no boto3 import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from controller.core.capacity import CapacityReading
from controller.core.contract import CapacityRecord, RouteRecord, StackRecord
from controller.core.lifecycle import HistoryEntry, RouteState, Transition
from controller.core.release import AliasSplit, VersionCounts
from controller.core.sync import TargetGroupWeight
from controller.core.verify import VerifyReport
from controller.core.weights import Weights

__all__ = [
    "ALARM",
    "INSUFFICIENT_DATA",
    "OK",
    "AlarmPort",
    "AlarmStatus",
    "CapacityPort",
    "ConcurrencyPort",
    "ExecutionPort",
    "MetricsPort",
    "NotifyPort",
    "Ports",
    "RegistryPort",
    "ReleasePort",
    "StatePort",
    "TrafficPort",
    "VerifyPort",
]

# CloudWatch alarm states (StateValue).
OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class AlarmStatus:
    """The state of a route's composite alarm and which child alarms are in ALARM."""

    composite_state: str
    children_in_alarm: tuple[str, ...] = ()

    @property
    def in_alarm(self) -> bool:
        """True when the composite or any child alarm is in ALARM: the check fails."""
        return self.composite_state == ALARM or bool(self.children_in_alarm)

    def describe(self) -> str:
        """One line for a history reason or a notification."""
        if not self.children_in_alarm:
            return f"composite alarm {self.composite_state}"
        children = ", ".join(self.children_in_alarm)
        return f"composite alarm {self.composite_state}; in ALARM: {children}"


class TrafficPort(Protocol):
    """The route's listener rule: its ECS and Lambda target groups and their weights."""

    def read_weights(self, route: RouteRecord) -> Weights:
        """The live weights of the rule's forward action (DescribeRules), found by ARN.

        Raises :class:`~controller.core.errors.DriftDetected` naming the ARN
        when either of the registry's target groups is not in the rule.
        """
        ...

    def read_forward(self, route: RouteRecord) -> tuple[TargetGroupWeight, ...]:
        """Every target group of the rule's forward action with its weight, in the rule's order.

        One DescribeRules; no registry ARN needs to be in the rule (the sync
        reads the rule exactly when one is not).
        """
        ...

    def write_forward(
        self,
        route: RouteRecord,
        groups: tuple[TargetGroupWeight, ...],
        expected: tuple[TargetGroupWeight, ...],
    ) -> None:
        """Set the forward action's target groups to ``groups`` in ONE ModifyRule call.

        Reads the rule right before the write and writes only when it still
        holds ``expected`` (in any order); otherwise raises
        :class:`~controller.core.errors.ConcurrentUpdate` and writes nothing.
        Writes nothing when the rule already holds ``groups``. Does not
        verify: the caller reads back with :meth:`read_forward`.
        """
        ...

    def write_weights(self, route: RouteRecord, weights: Weights) -> None:
        """Set both weights in ONE ModifyRule call; both target groups stay in the action.

        Does not verify: the caller reads back with :meth:`read_weights` and
        compares (a shift is done only when the read-back matches).
        """
        ...


class AlarmPort(Protocol):
    """The route's composite alarm."""

    def alarm_status(self, route: RouteRecord) -> AlarmStatus:
        """The composite's state and the children in ALARM.

        Filters on StateValue itself: moto ignores StateValue when AlarmNames
        is given.
        """
        ...


class MetricsPort(Protocol):
    """CloudWatch metrics of the route."""

    def request_count(self, route: str, start: datetime, end: datetime) -> int:
        """The number of canary requests (metric Requests) between ``start`` and ``end``."""
        ...

    def put_canary_weight(self, route: str, lambda_percent: float) -> None:
        """Emit the CanaryWeight metric so the dashboard shows the weight over time."""
        ...


class StatePort(Protocol):
    """The route's state and history in the state table."""

    def load(self, route: str) -> RouteState:
        """The stored state; a fresh idle state (version 0) when the route has none."""
        ...

    def save(self, previous_version: int, transition: Transition) -> None:
        """Write ``transition.state`` and append ``transition.entry`` in ONE transaction.

        Conditional on the stored version being ``previous_version`` (absent
        when it is 0). Raises :class:`~controller.core.errors.ConcurrentUpdate`
        when the condition fails. A transition with ``changed=False`` is not
        saved by callers.
        """
        ...

    def history(self, route: str, limit: int) -> list[HistoryEntry]:
        """The route's history, newest first, at most ``limit`` entries."""
        ...


class ExecutionPort(Protocol):
    """Step Functions executions of the stack's state machine."""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution named ``name`` with input ``payload``; returns its ARN."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop an execution; an execution that already stopped is fine."""
        ...

    def is_running(self, execution_arn: str) -> bool:
        """True while the execution is RUNNING."""
        ...


class NotifyPort(Protocol):
    """The stack's alert topic."""

    def notify(self, subject: str, message: dict[str, Any]) -> None:
        """Publish ``message`` (as JSON) with ``subject``."""
        ...


class RegistryPort(Protocol):
    """The stack's registry, written by the deploy."""

    def stack(self) -> StackRecord:
        """The stack-wide record."""
        ...

    def route(self, name: str) -> RouteRecord:
        """One route's record; :class:`~controller.core.errors.UnknownRoute` lists the others."""
        ...

    def routes(self) -> list[RouteRecord]:
        """Every route of the stack."""
        ...

    def reload(self) -> None:
        """Forget the route records read so far: the next read sees the latest deploy.

        The sync calls it first: a record cached before a deploy would name
        the target groups the deploy just replaced.
        """
        ...


class VerifyPort(Protocol):
    """The route's equivalence check (functions/traffic_check), run before a run's first shift."""

    def run_check(self, route: RouteRecord) -> VerifyReport:
        """Send the route's samples to both sides through the ALB and report what differs."""


class ReleasePort(Protocol):
    """The route function's alias ``live`` and the per-version metrics under it."""

    def read_alias(self, route: RouteRecord) -> AliasSplit:
        """Where the alias points now (GetAlias): its version and routing config."""
        ...

    def write_alias(self, route: RouteRecord, split: AliasSplit) -> None:
        """Point the alias at ``split`` in ONE UpdateAlias call (an empty routing config
        removes the additional version). Does not verify: the caller reads back."""
        ...

    def version_counts(
        self, route: RouteRecord, versions: tuple[str, ...], start: datetime, end: datetime
    ) -> dict[str, VersionCounts]:
        """AWS/Lambda Invocations and Errors of each version executed under the alias."""


class CapacityPort(Protocol):
    """The route's ECS service and its Application Auto Scaling scalable target."""

    def read_capacity(self, service: CapacityRecord) -> CapacityReading:
        """The service's desired and running count (DescribeServices) and, if it has a
        scalable target, its MinCapacity and MaxCapacity (DescribeScalableTargets)."""
        ...

    def set_desired_count(self, service: CapacityRecord, desired_count: int) -> None:
        """Set the service's desiredCount (UpdateService)."""
        ...

    def set_min_capacity(self, service: CapacityRecord, min_capacity: int) -> None:
        """Set the scalable target's MinCapacity (RegisterScalableTarget on the existing target;
        MaxCapacity is left as it is)."""
        ...


class ConcurrencyPort(Protocol):
    """The route function's concurrency as Lambda reports it."""

    def peak_concurrency(self, function_name: str, start: datetime, end: datetime) -> float | None:
        """The highest ``AWS/Lambda ConcurrentExecutions`` (per function) between ``start``
        and ``end``; None when Lambda published no datapoint in that window."""
        ...


@dataclass(frozen=True)
class Ports:
    """Every port the service needs.

    The boto3 adapters in real use, wired by :func:`controller.aws.wiring.aws_ports`;
    tests replace one port with a fake for fault injection.
    """

    registry: RegistryPort
    traffic: TrafficPort
    alarms: AlarmPort
    metrics: MetricsPort
    state: StatePort
    executions: ExecutionPort
    notify: NotifyPort
    verify: VerifyPort
    # Release runs; None where no function publishes versions (nothing to release).
    release: ReleasePort | None = None
    # The capacity guard and the concurrency gate; a route that uses them while
    # its port is missing is refused with a clear error.
    capacity: CapacityPort | None = None
    concurrency: ConcurrencyPort | None = None
