"""In-memory fakes of the controller's ports (controller/core/ports.py), for the unit tier.

One fake per Protocol, each keeping the state the real adapter would find in
AWS, plus what tests need around them:

- :class:`CallLog`: every port call, in order, across all ports (a no-op can
  be shown to write nothing, a change to write exactly once, a rollback to
  write in its fixed order);
- :class:`Faults`: make the Nth call of one port method raise (throttling,
  a failing write), counted from when the fault is planned;
- :class:`FakeClock`: the service's ``clock`` and ``sleep``; time moves only
  when a test (or the service's own sleep) moves it;
- :class:`FakeState`: a versioned store that raises
  :class:`~controller.core.errors.ConcurrentUpdate` on a stale version exactly
  like :class:`controller.aws.state.DynamoState` (tests/aws/test_aws_state.py
  runs the same contract against both).

:func:`fake_world` builds a stack of routes with every fake wired into one
:class:`~controller.core.ports.Ports`. The helpers that act the way a human or
AWS would (a change by hand, an alarm, published requests) are not port calls
and are not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.core.capacity import CapacityReading
from controller.core.contract import (
    CapacityRecord,
    PlanRecord,
    RouteRecord,
    StackRecord,
    StagePlanRecord,
)
from controller.core.errors import AwsCallFailed, ConcurrentUpdate, DriftDetected, UnknownRoute
from controller.core.lifecycle import HistoryEntry, RouteState, Transition, initial_state
from controller.core.ports import ALARM, OK, AlarmStatus, Ports
from controller.core.release import AliasSplit, VersionCounts
from controller.core.sync import TargetGroupWeight, same_groups
from controller.core.verify import SampleCheck, VerifyDifference, VerifyReport
from controller.core.weights import ALL_ECS, Weights
from controller.service import CanaryService, RunContext

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_PLAN",
    "REGION",
    "START",
    "Call",
    "CallLog",
    "FakeAlarms",
    "FakeCapacity",
    "FakeClock",
    "FakeConcurrency",
    "FakeExecutions",
    "FakeMetrics",
    "FakeNotify",
    "FakeRegistry",
    "FakeState",
    "FakeTraffic",
    "FakeWorld",
    "Faults",
    "fake_world",
    "route_record",
    "throttled",
]

REGION = "ap-northeast-1"
ACCOUNT_ID = "123456789012"
# A fixed, timezone-aware start for every fake clock: no test reads the wall clock.
START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)

# Three short stages (the bakes only matter to the request-count window).
DEFAULT_PLAN = PlanRecord(
    stages=(
        StagePlanRecord(weight=10.0, bake_seconds=1),
        StagePlanRecord(weight=50.0, bake_seconds=1),
        StagePlanRecord(weight=100.0, bake_seconds=1),
    ),
)

# The port methods that change something in AWS; everything else only reads.
WRITES = frozenset(
    {
        "traffic.write_weights",
        "traffic.write_forward",
        "metrics.put_canary_weight",
        "state.save",
        "executions.start",
        "executions.stop",
        "notify.notify",
        "capacity.set_desired_count",
        "capacity.set_min_capacity",
    }
)

# --- calls and faults ---------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One call of a port method: ``name`` is ``"<port>.<method>"``."""

    name: str
    args: tuple[Any, ...]


class CallLog:
    """Every port call of every fake of one world, in the order they were made."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def record(self, name: str, args: tuple[Any, ...]) -> None:
        """Append one call (the fakes call this first thing in every port method)."""
        self.calls.append(Call(name, args))

    def names(self) -> list[str]:
        """The names of the calls, in order."""
        return [call.name for call in self.calls]

    def count(self, name: str) -> int:
        """How many calls of ``name`` (e.g. ``"traffic.write_weights"``) were made."""
        return sum(1 for call in self.calls if call.name == name)

    def writes(self) -> list[str]:
        """The names of the calls that change something (see :data:`WRITES`), in order."""
        return [call.name for call in self.calls if call.name in WRITES]

    def args_of(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of every call of ``name``, in order."""
        return [call.args for call in self.calls if call.name == name]

    def clear(self) -> None:
        """Forget the calls so far (a test then looks at what one operation does)."""
        self.calls.clear()


ErrorFactory = Callable[[], BaseException]


@dataclass
class _Fault:
    name: str
    error: ErrorFactory
    skip: int
    times: int


class Faults:
    """Planned failures of port methods, injected by the fakes before they act.

    ``fail("traffic.write_weights", error, nth=2, times=1)``: the 2nd call of
    the method after this line raises ``error()``; the calls before it and
    after it behave normally. ``times=None`` fails every call from the Nth on.
    A failing call is still recorded in the :class:`CallLog`, as a real call
    that reached AWS and failed would be.
    """

    def __init__(self) -> None:
        self._planned: list[_Fault] = []

    def fail(
        self,
        name: str,
        error: BaseException | ErrorFactory,
        *,
        nth: int = 1,
        times: int | None = 1,
    ) -> None:
        """Make the ``nth`` call of ``name`` from now (and ``times - 1`` more) raise ``error``."""
        if nth < 1:
            raise ValueError(f"nth counts from 1, got {nth}")
        factory: ErrorFactory = error if callable(error) else _raiser(error)
        self._planned.append(_Fault(name, factory, nth - 1, -1 if times is None else times))

    def throttle(self, name: str, *, nth: int = 1, times: int | None = 1) -> None:
        """Make calls of ``name`` fail like AWS throttling (transient, code Throttling)."""
        self.fail(name, lambda: throttled(name), nth=nth, times=times)

    def check(self, name: str) -> None:
        """Raise the planned error of this call of ``name``, if one is due."""
        for fault in self._planned:
            if fault.name != name or fault.times == 0:
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            if fault.times > 0:
                fault.times -= 1
            raise fault.error()

    def clear(self) -> None:
        """Drop every planned failure."""
        self._planned.clear()


def _raiser(error: BaseException) -> ErrorFactory:
    def make() -> BaseException:
        return error

    return make


def throttled(name: str) -> AwsCallFailed:
    """The error an adapter raises when AWS throttles ``name`` (after botocore's retries)."""
    return AwsCallFailed(
        "Throttling: Rate exceeded",
        api_call=name,
        transient=True,
        error_code="Throttling",
    )


class _Port:
    """Recording and fault injection shared by the fakes."""

    port = ""

    def __init__(self, log: CallLog, faults: Faults) -> None:
        self._log = log
        self._faults = faults

    def _call(self, method: str, *args: Any) -> None:
        name = f"{self.port}.{method}"
        self._log.record(name, args)
        self._faults.check(name)


# --- the clock ----------------------------------------------------------------------


class FakeClock:
    """``now()`` for the service's ``clock`` and ``sleep()`` for its ``sleep``.

    Time starts at :data:`START` and moves only through :meth:`advance` and
    :meth:`sleep` (which also records how long the service slept).
    """

    def __init__(self, start: datetime = START) -> None:
        if start.tzinfo is None:
            raise ValueError("the fake clock needs a timezone-aware start")
        self._now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self._now

    def now(self) -> datetime:
        """The current fake time."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time forward by ``seconds``; returns the new time."""
        if seconds < 0:
            raise ValueError(f"time does not go backwards ({seconds} s)")
        self._now += timedelta(seconds=seconds)
        return self._now

    def sleep(self, seconds: float) -> None:
        """The service's sleep: time moves on at once, and the sleep is recorded."""
        self.sleeps.append(seconds)
        self.advance(seconds)


# --- the ports ----------------------------------------------------------------------


class FakeRegistry(_Port):
    """:class:`~controller.core.ports.RegistryPort` over records held in memory."""

    port = "registry"

    def __init__(
        self, log: CallLog, faults: Faults, stack: StackRecord, routes: Iterable[RouteRecord]
    ) -> None:
        super().__init__(log, faults)
        self._stack = stack
        self.records: dict[str, RouteRecord] = {r.route: r for r in routes}

    def stack(self) -> StackRecord:
        self._call("stack")
        return self._stack

    def route(self, name: str) -> RouteRecord:
        self._call("route", name)
        record = self.records.get(name)
        if record is None:
            raise UnknownRoute(name, known=sorted(self.records))
        return record

    def routes(self) -> list[RouteRecord]:
        self._call("routes")
        return [self.records[name] for name in sorted(self.records)]

    # --- the sync's addition: a re-read of the registry, and a deploy rewriting a record

    def reload(self) -> None:
        self._call("reload")

    def redeploy(self, name: str, **changes: Any) -> RouteRecord:
        """A deploy rewrites route ``name``'s record with ``changes`` (not a port call)."""
        self.records[name] = replace(self.records[name], **changes)
        return self.records[name]


class FakeTraffic(_Port):
    """:class:`~controller.core.ports.TrafficPort` over one weighted rule per route.

    ``apply_writes=False`` makes ModifyRule "succeed" without changing the
    rule (what a read-back verification must catch); ``before_write`` runs
    before each write is applied (a rollback racing a shift, for instance).
    """

    port = "traffic"

    def __init__(self, log: CallLog, faults: Faults, routes: Iterable[str]) -> None:
        super().__init__(log, faults)
        self.rules: dict[str, Weights] = {route: ALL_ECS for route in routes}
        self.apply_writes = True
        self.before_write: Callable[[RouteRecord, Weights], None] | None = None
        # The sync's addition (see the end of the class): the ARNs in the rule.
        self.target_groups: dict[str, tuple[str, str]] = {}
        self.reversed_order: set[str] = set()
        self.before_forward_write: Callable[[RouteRecord], None] | None = None

    def read_weights(self, route: RouteRecord) -> Weights:
        self._call("read_weights", route.route)
        return self._weights_by_arn(route)

    def write_weights(self, route: RouteRecord, weights: Weights) -> None:
        self._call("write_weights", route.route, weights)
        self._weights_by_arn(route)  # a rule without the registry's groups is not written
        if self.before_write is not None:
            self.before_write(route, weights)
        if self.apply_writes:
            self.rules[route.route] = weights

    def live(self, route: str) -> Weights:
        """The rule's weights now (not a port call)."""
        return self.rules[route]

    def set_by_hand(self, route: str, weights: Weights) -> None:
        """A human changes the rule in the console (not a port call)."""
        self.rules[route] = weights

    # --- the sync's addition: the forward action's target group ARNs ---------------------
    # The fake rule has two slots, the ECS one and the Lambda one; ``rules`` holds
    # their weights and ``target_groups`` their ARNs (ECS slot first), taken from
    # the registry record on first use, as the deploy created the rule from it.
    # ``reversed_order`` lists the routes whose rule reports the Lambda slot first.

    def read_forward(self, route: RouteRecord) -> tuple[TargetGroupWeight, ...]:
        self._call("read_forward", route.route)
        return self._forward(route)

    def write_forward(
        self,
        route: RouteRecord,
        groups: tuple[TargetGroupWeight, ...],
        expected: tuple[TargetGroupWeight, ...],
    ) -> None:
        self._call("write_forward", route.route, groups, expected)
        if self.before_forward_write is not None:
            self.before_forward_write(route)
        live = self._forward(route)
        if same_groups(live, groups):
            return
        if not same_groups(live, expected):
            raise ConcurrentUpdate(
                f"the rule's target groups changed after they were read: found {live}",
                route=route.route,
                arn=route.rule_arn,
                api_call="elasticloadbalancing:DescribeRules",
            )
        if len(groups) != 2:
            raise AssertionError(f"the fake rule holds exactly two target groups, got {groups}")
        if not self.apply_writes:
            return
        # The groups are in the rule's order, as the sync keeps it: map them to the slots.
        by_slot = dict(zip(self._slot_order(route.route), groups, strict=True))
        self.target_groups[route.route] = (by_slot["ecs"].arn, by_slot["lambda"].arn)
        self.rules[route.route] = Weights(
            ecs=by_slot["ecs"].weight, lambda_=by_slot["lambda"].weight
        )

    def set_target_groups(self, route: str, ecs_arn: str, lambda_arn: str) -> None:
        """The ARNs of the rule's ECS and Lambda slots (the deploy, or a human; not a port call)."""
        self.target_groups[route] = (ecs_arn, lambda_arn)

    def reverse_order(self, route: str) -> None:
        """The rule reports its target groups in the other order from now on (not a port call)."""
        self.reversed_order ^= {route}

    def forward(self, route: str) -> tuple[TargetGroupWeight, ...]:
        """The rule's target groups now, in its order (not a port call; ARNs must be set)."""
        ecs_arn, lambda_arn = self.target_groups[route]
        weights = self.rules[route]
        groups = (
            TargetGroupWeight(ecs_arn, weights.ecs),
            TargetGroupWeight(lambda_arn, weights.lambda_),
        )
        return groups[::-1] if route in self.reversed_order else groups

    def _slot_order(self, route: str) -> tuple[str, str]:
        return ("lambda", "ecs") if route in self.reversed_order else ("ecs", "lambda")

    def _forward(self, route: RouteRecord) -> tuple[TargetGroupWeight, ...]:
        self.target_groups.setdefault(
            route.route, (route.ecs_target_group_arn, route.lambda_target_group_arn)
        )
        return self.forward(route.route)

    def _weights_by_arn(self, route: RouteRecord) -> Weights:
        """The weights of the registry's two ARNs in the rule; DriftDetected names a missing one."""
        groups = self._forward(route)
        by_arn = {group.arn: group.weight for group in groups}
        for side, arn in (
            ("ECS", route.ecs_target_group_arn),
            ("Lambda", route.lambda_target_group_arn),
        ):
            if arn not in by_arn:
                raise DriftDetected(
                    f"the forward action has lost the {side} target group {arn} "
                    f"(target groups found: {', '.join(g.arn for g in groups)})",
                    route=route.route,
                    arn=route.rule_arn,
                    api_call="elasticloadbalancing:DescribeRules",
                )
        return Weights(
            ecs=by_arn[route.ecs_target_group_arn], lambda_=by_arn[route.lambda_target_group_arn]
        )


class FakeAlarms(_Port):
    """:class:`~controller.core.ports.AlarmPort`: each route's composite and its children."""

    port = "alarms"

    def __init__(self, log: CallLog, faults: Faults, routes: Iterable[str]) -> None:
        super().__init__(log, faults)
        self.composites: dict[str, str] = {route: OK for route in routes}
        self.children: dict[str, tuple[str, ...]] = {route: () for route in routes}

    def alarm_status(self, route: RouteRecord) -> AlarmStatus:
        self._call("alarm_status", route.route)
        return AlarmStatus(self.composites[route.route], self.children[route.route])

    def set_alarm(self, route: str, state: str = ALARM, children: Sequence[str] = ()) -> None:
        """Move the composite to ``state`` with ``children`` (alarm names) in ALARM."""
        self.composites[route] = state
        self.children[route] = tuple(children)


class FakeMetrics(_Port):
    """:class:`~controller.core.ports.MetricsPort`: timestamped request counts, weights emitted.

    A request datapoint at ``at`` counts in a window ``start <= at < end``.
    """

    port = "metrics"

    def __init__(self, log: CallLog, faults: Faults) -> None:
        super().__init__(log, faults)
        self.requests: list[tuple[str, datetime, int]] = []
        self.canary_weights: list[tuple[str, float]] = []

    def request_count(self, route: str, start: datetime, end: datetime) -> int:
        self._call("request_count", route, start, end)
        return sum(n for r, at, n in self.requests if r == route and start <= at < end)

    def put_canary_weight(self, route: str, lambda_percent: float) -> None:
        self._call("put_canary_weight", route, lambda_percent)
        self.canary_weights.append((route, lambda_percent))

    def put_requests(self, route: str, count: int, at: datetime) -> None:
        """The route's function served ``count`` requests at ``at`` (its EMF metric)."""
        self.requests.append((route, at, count))


class FakeState(_Port):
    """:class:`~controller.core.ports.StatePort`: versioned states and append-only histories.

    :meth:`save` is a compare-and-swap on the stored version, as the DynamoDB
    adapter's conditional transaction is: a stale ``previous_version`` raises
    :class:`ConcurrentUpdate` and writes nothing, and a transition without a
    history entry writes nothing at all. ``before_save`` runs before the
    condition is checked (another writer landing between a load and a save).
    """

    port = "state"
    table_name = "strangler-fake-state"

    def __init__(self, log: CallLog, faults: Faults) -> None:
        super().__init__(log, faults)
        self.states: dict[str, RouteState] = {}
        self.histories: dict[str, list[tuple[int, HistoryEntry]]] = {}
        self.before_save: Callable[[int, Transition], None] | None = None

    def load(self, route: str) -> RouteState:
        self._call("load", route)
        return self.states.get(route) or initial_state(route)

    def save(self, previous_version: int, transition: Transition) -> None:
        self._call("save", previous_version, transition)
        entry = transition.entry
        if entry is None:
            return
        if self.before_save is not None:
            self.before_save(previous_version, transition)
        state = transition.state
        if state.version <= previous_version:
            raise ValueError(
                f"route {state.route}: new version {state.version} must be greater than "
                f"the version it replaces ({previous_version})"
            )
        stored = self.states.get(state.route)
        stored_version = stored.version if stored is not None else 0
        if stored_version != previous_version:
            expected = "no stored state" if previous_version == 0 else f"version {previous_version}"
            raise ConcurrentUpdate(
                f"state changed by another writer: expected {expected}, could not write "
                f"version {state.version} (ConditionalCheckFailed); reload the state and "
                "decide again",
                route=state.route,
                arn=self.table_name,
                api_call="dynamodb:PutItem (TransactWriteItems)",
                expected_version=previous_version,
            )
        self.states[state.route] = state
        self.histories.setdefault(state.route, []).append((state.version, entry))

    def history(self, route: str, limit: int) -> list[HistoryEntry]:
        self._call("history", route, limit)
        if limit <= 0:
            return []
        entries = sorted(
            self.histories.get(route, []), key=lambda item: (item[1].at, item[0]), reverse=True
        )
        return [entry for _, entry in entries[:limit]]

    def put(self, state: RouteState) -> None:
        """Store a state directly, as another writer would (not a port call)."""
        self.states[state.route] = state


@dataclass
class Execution:
    """One execution of the fake state machine."""

    arn: str
    name: str
    payload: dict[str, Any]
    status: str = "RUNNING"
    cause: str | None = None


class FakeExecutions(_Port):
    """:class:`~controller.core.ports.ExecutionPort`: executions that stay RUNNING until stopped."""

    port = "executions"

    def __init__(self, log: CallLog, faults: Faults, state_machine_arn: str) -> None:
        super().__init__(log, faults)
        self.state_machine_arn = state_machine_arn
        self.executions: dict[str, Execution] = {}

    def start(self, name: str, payload: dict[str, Any]) -> str:
        self._call("start", name, payload)
        machine = self.state_machine_arn.split(":stateMachine:")[-1]
        arn = self.state_machine_arn.split(":stateMachine:")[0] + f":execution:{machine}:{name}"
        if arn in self.executions:
            raise AwsCallFailed(
                f"ExecutionAlreadyExists: Execution Already Exists: '{arn}'",
                api_call="states:StartExecution",
                arn=self.state_machine_arn,
                error_code="ExecutionAlreadyExists",
            )
        self.executions[arn] = Execution(arn, name, dict(payload))
        return arn

    def stop(self, execution_arn: str, cause: str) -> None:
        self._call("stop", execution_arn, cause)
        execution = self.executions.get(execution_arn)
        if execution is not None and execution.status == "RUNNING":
            execution.status = "ABORTED"
            execution.cause = cause

    def is_running(self, execution_arn: str) -> bool:
        self._call("is_running", execution_arn)
        execution = self.executions.get(execution_arn)
        return execution is not None and execution.status == "RUNNING"

    def status(self, execution_arn: str) -> str:
        """The execution's status (not a port call)."""
        return self.executions[execution_arn].status

    def started(self, name: str, payload: dict[str, Any] | None = None) -> str:
        """An execution started by someone else (the schedule), RUNNING (not a port call)."""
        machine = self.state_machine_arn.split(":stateMachine:")[-1]
        arn = self.state_machine_arn.split(":stateMachine:")[0] + f":execution:{machine}:{name}"
        self.executions[arn] = Execution(arn, name, dict(payload or {}))
        return arn

    def end(self, execution_arn: str, status: str = "SUCCEEDED") -> None:
        """The execution ends on its own (not a port call)."""
        self.executions[execution_arn].status = status


class FakeNotify(_Port):
    """:class:`~controller.core.ports.NotifyPort`: the published notifications, in order."""

    port = "notify"

    def __init__(self, log: CallLog, faults: Faults) -> None:
        super().__init__(log, faults)
        self.sent: list[dict[str, Any]] = []
        self._read = 0

    def notify(self, subject: str, message: dict[str, Any]) -> None:
        self._call("notify", subject, message)
        self.sent.append({"subject": subject, "message": message})

    def take(self) -> list[dict[str, Any]]:
        """The notifications published since the last ``take`` (like reading a queue)."""
        new = self.sent[self._read :]
        self._read = len(self.sent)
        return new


class FakeVerify(_Port):
    """:class:`~controller.core.ports.VerifyPort`: every route answers the same, unless told.

    :meth:`differ` makes a route's next checks report differences; the
    checks asked are in ``checked`` (route names, in order).
    """

    port = "verify"
    SAMPLES = ("#1 GET /map/v1/tile/1/2/3.png", "#2 HEAD /map/v1/tile/1/2/4.png")

    def __init__(self, log: CallLog, faults: Faults) -> None:
        super().__init__(log, faults)
        self.checked: list[str] = []
        self._differences: dict[str, tuple[VerifyDifference, ...]] = {}

    def differ(self, route: str, *differences: VerifyDifference) -> None:
        """From now on the route's check reports ``differences`` (none: it passes again)."""
        self._differences[route] = tuple(differences)

    def run_check(self, route: RouteRecord) -> VerifyReport:
        self._call("run_check", route.route)
        self.checked.append(route.route)
        differences = self._differences.get(route.route, ())
        differing = {d.sample for d in differences}
        return VerifyReport(
            route=route.route,
            mode="exact",
            samples=tuple(
                SampleCheck(sample, "200", "200", "120", "120", int(sample in differing))
                for sample in self.SAMPLES
            ),
            differences=differences,
        )


@dataclass
class FakeService:
    """One ECS service and its scalable target (``min_capacity`` None: no target)."""

    desired_count: int
    min_capacity: int | None = None
    max_capacity: int | None = None


class FakeCapacity(_Port):
    """:class:`~controller.core.ports.CapacityPort` over services held in memory.

    :meth:`scale_in` plays the autoscaler: it lowers the desired count, never
    below ``MinCapacity``, as Application Auto Scaling does.
    """

    port = "capacity"

    def __init__(self, log: CallLog, faults: Faults) -> None:
        super().__init__(log, faults)
        self.services: dict[tuple[str, str], FakeService] = {}

    def add(
        self,
        ref: CapacityRecord,
        desired_count: int,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
    ) -> None:
        """A service exists with these counts (not a port call)."""
        self.services[(ref.cluster, ref.service)] = FakeService(
            desired_count, min_capacity, max_capacity
        )

    def service(self, ref: CapacityRecord) -> FakeService:
        """The service now (not a port call)."""
        return self.services[(ref.cluster, ref.service)]

    def scale_in(self, ref: CapacityRecord, to: int) -> int:
        """The autoscaler scales in towards ``to``, respecting MinCapacity (not a port call)."""
        found = self.service(ref)
        floor = found.min_capacity if found.min_capacity is not None else 0
        found.desired_count = max(to, floor)
        return found.desired_count

    def read_capacity(self, service: CapacityRecord) -> CapacityReading:
        self._call("read_capacity", service.service)
        found = self.service(service)
        return CapacityReading(
            desired_count=found.desired_count,
            running_count=found.desired_count,
            min_capacity=found.min_capacity,
            max_capacity=found.max_capacity,
        )

    def set_desired_count(self, service: CapacityRecord, desired_count: int) -> None:
        self._call("set_desired_count", service.service, desired_count)
        self.service(service).desired_count = desired_count

    def set_min_capacity(self, service: CapacityRecord, min_capacity: int) -> None:
        self._call("set_min_capacity", service.service, min_capacity)
        found = self.service(service)
        found.min_capacity = min_capacity
        # Application Auto Scaling raises the desired count to a new minimum.
        found.desired_count = max(found.desired_count, min_capacity)


class FakeConcurrency(_Port):
    """:class:`~controller.core.ports.ConcurrencyPort`: timestamped ConcurrentExecutions."""

    port = "concurrency"

    def __init__(self, log: CallLog, faults: Faults) -> None:
        super().__init__(log, faults)
        self.points: list[tuple[str, datetime, float]] = []

    def peak_concurrency(self, function_name: str, start: datetime, end: datetime) -> float | None:
        self._call("peak_concurrency", function_name, start, end)
        values = [v for f, at, v in self.points if f == function_name and start <= at <= end]
        return max(values) if values else None

    def publish(self, function_name: str, value: float, at: datetime) -> None:
        """Lambda reports ``value`` concurrent executions at ``at`` (not a port call)."""
        self.points.append((function_name, at, value))


# --- a whole stack --------------------------------------------------------------------


def route_record(name: str, plan: PlanRecord = DEFAULT_PLAN, stack: str = "test") -> RouteRecord:
    """A registry record of route ``name`` shaped like the deploy's (7 child alarms)."""
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}"
    kinds = (
        "errors",
        "throttles",
        "app-errors",
        "target-5xx",
        "lambda-user-errors",
        "healthy-hosts",
        "p99-latency",
    )
    prefix = f"strangler-{stack}-{name}"
    return RouteRecord(
        route=name,
        listener_arn=f"{elb}:listener/app/monolith/0123456789abcdef/0123456789abcdef",
        rule_arn=f"{elb}:listener-rule/app/monolith/0123456789abcdef/0123456789abcdef/{name}",
        ecs_target_group_arn=f"{elb}:targetgroup/{name}-ecs/0123456789abcdef",
        lambda_target_group_arn=f"{elb}:targetgroup/{name}-lambda/0123456789abcdef",
        function_name=prefix,
        composite_alarm_name=f"{prefix}-composite",
        composite_alarm_arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{prefix}-composite",
        alarm_names=tuple(f"{prefix}-{kind}" for kind in kinds),
        plan=plan,
        check_function_name=f"{prefix}-check",
    )


class FakeRelease(_Port):
    """:class:`~controller.core.ports.ReleasePort`: one alias per route, per-version counts.

    Every alias starts on version ``1``. ``apply_writes=False`` makes
    UpdateAlias "succeed" without changing the alias (the read-back catches it).
    A count datapoint at ``at`` counts in a window ``start <= at < end``.
    """

    port = "release"

    def __init__(self, log: CallLog, faults: Faults, routes: Iterable[str]) -> None:
        super().__init__(log, faults)
        self.aliases: dict[str, AliasSplit] = {name: AliasSplit("1") for name in routes}
        self.writes: list[tuple[str, AliasSplit]] = []
        self.points: list[tuple[str, str, datetime, int, int]] = []
        self.apply_writes = True

    def read_alias(self, route: RouteRecord) -> AliasSplit:
        self._call("read_alias", route.route)
        return self.aliases[route.route]

    def write_alias(self, route: RouteRecord, split: AliasSplit) -> None:
        self._call("write_alias", route.route, split)
        self.writes.append((route.route, split))
        if self.apply_writes:
            self.aliases[route.route] = split

    def version_counts(
        self, route: RouteRecord, versions: tuple[str, ...], start: datetime, end: datetime
    ) -> dict[str, VersionCounts]:
        self._call("version_counts", route.route, versions, start, end)
        found: dict[str, VersionCounts] = {}
        for version in versions:
            inside = [
                (inv, err)
                for r, v, at, inv, err in self.points
                if r == route.route and v == version and start <= at < end
            ]
            found[version] = VersionCounts(
                version, sum(i for i, _ in inside), sum(e for _, e in inside)
            )
        return found

    def put_counts(
        self, route: str, version: str, invocations: int, errors: int, at: datetime
    ) -> None:
        """Version ``version`` served ``invocations`` (``errors`` failed) at ``at``."""
        self.points.append((route, version, at, invocations, errors))


@dataclass
class FakeWorld:
    """A stack of fake ports sharing one call log, one fault plan and one clock."""

    stack: StackRecord
    log: CallLog
    faults: Faults
    clock: FakeClock
    registry: FakeRegistry
    traffic: FakeTraffic
    alarms: FakeAlarms
    metrics: FakeMetrics
    state: FakeState
    executions: FakeExecutions
    notify: FakeNotify
    verify: FakeVerify
    release: FakeRelease
    capacity: FakeCapacity
    concurrency: FakeConcurrency
    _ports: Ports | None = field(default=None, repr=False)

    def ports(self) -> Ports:
        """Every fake as the service's :class:`Ports` (the same object on every call)."""
        if self._ports is None:
            self._ports = Ports(
                registry=self.registry,
                traffic=self.traffic,
                alarms=self.alarms,
                metrics=self.metrics,
                state=self.state,
                executions=self.executions,
                notify=self.notify,
                verify=self.verify,
                release=self.release,
                capacity=self.capacity,
                concurrency=self.concurrency,
            )
        return self._ports

    def service(self, ports: Ports | None = None) -> CanaryService:
        """A :class:`CanaryService` on these fakes, its time and sleeps on the fake clock."""
        return CanaryService(ports or self.ports(), clock=self.clock, sleep=self.clock.sleep)


def fake_world(
    routes: Sequence[RouteRecord] | None = None, *, stack: str = "test", start: datetime = START
) -> FakeWorld:
    """A deployed stack of fakes: every rule at ECS, every alarm OK, no state, no execution."""
    records = list(routes) if routes is not None else [route_record("map-tile", stack=stack)]
    names = [r.route for r in records]
    record = StackRecord(
        stack=stack,
        table_name=FakeState.table_name,
        state_machine_arn=f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:strangler-{stack}-canary",
        topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:strangler-{stack}-alerts",
        controller_function_name=f"strangler-{stack}-controller",
        dashboard_name=f"strangler-{stack}",
        routes=tuple(sorted(names)),
    )
    log = CallLog()
    faults = Faults()
    return FakeWorld(
        stack=record,
        log=log,
        faults=faults,
        clock=FakeClock(start),
        registry=FakeRegistry(log, faults, record, records),
        traffic=FakeTraffic(log, faults, names),
        alarms=FakeAlarms(log, faults, names),
        metrics=FakeMetrics(log, faults),
        state=FakeState(log, faults),
        executions=FakeExecutions(log, faults, record.state_machine_arn),
        notify=FakeNotify(log, faults),
        verify=FakeVerify(log, faults),
        release=FakeRelease(log, faults, names),
        capacity=FakeCapacity(log, faults),
        concurrency=FakeConcurrency(log, faults),
    )


def operator_run(
    route: str, execution_arn: str, plan: PlanRecord, stage_index: int | None = None
) -> RunContext:
    """The context of a run an operator started (``actor`` ``operator:test``)."""
    return RunContext(
        route=route,
        execution_arn=execution_arn,
        trigger="operator",
        actor="operator:test",
        plan=plan,
        stage_index=stage_index,
    )
