"""The rehearsal engine: canaries, traffic and faults on a stack applied to the emulator.

:func:`run_canaries` does steps 3-7 of ``python -m rehearsal run`` (see
rehearsal/run.py, which resolves the options and builds the twin):

- it brings the stack alive (rehearsal/scenario/live.py, shared with
  ``serve``): the real controller handler and the real route functions run
  behind moto's Lambda ``Invoke``, synthetic requests go through each route's
  rule, and the functions' EMF output becomes CloudWatch metric data, which
  the controller's Check counts;
- it starts each route's canary: the stack's state machine, with the
  route's (compressed) plan;
- it watches every route (its state in the table, the execution, the alarm)
  and injects the faults asked for (rehearsal/scenario/faults.py): the upstream
  fails and the alarms go off during the bake of the failing stage, the
  alarm event travels through the program's EventBridge rule, and
  ``failback_ms`` is measured from the alarm's state change to the rule
  reading back ECS 100 %; or the weights are changed by hand;
- it changes the stack under a running canary when asked: the program is
  re-applied with the route moved to a second ECS target group (a ``pulumi
  up`` mid-canary), and the "Parameter Store Change" event of the rewritten
  route record travels through the program's registry-sync rule to the
  controller, which points the rule at the new target group; or the rule's
  forward target groups are put in the reverse order by hand
  (rehearsal/scenario/stack_changes.py);
- it plays the autoscaler of a route's ECS service (``--scale-in``: after the
  promotion it scales the service in, within MinCapacity,
  rehearsal/scenario/autoscaler.py), fails a promoted route
  (``--fail-after-promotion``: the same alarm path as ``--fail-at-stage``,
  once the canary has promoted), and publishes each route function's
  ``ConcurrentExecutions`` as Lambda would (rehearsal/scenario/concurrency.py);
- it builds the report (rehearsal/report/timeline.py) from the controller's history
  and its own observations.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from controller.aws.alarms import CloudWatchAlarms
from controller.aws.registry import SsmRegistry
from controller.aws.state import DynamoState
from controller.core.contract import PlanRecord, RouteRecord, StackRecord, registry_path
from controller.core.lifecycle import Event, RouteState, Status
from controller.core.release_run import release_key
from controller.core.split import shares
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from rehearsal.errors import RehearsalError
from rehearsal.report.progress import ProgressPrinter, RouteSnapshot
from rehearsal.report.timeline import (
    SOURCE_TWIN,
    CapacityReport,
    RehearsalReport,
    RouteReport,
    RouteSeries,
    TimelineEvent,
    from_history,
    from_release_history,
    merge,
    outcome_of,
)
from rehearsal.scenario import faults, stack_changes, verify
from rehearsal.scenario import release as releases
from rehearsal.scenario.autoscaler import EcsAutoscaler
from rehearsal.scenario.emf import EmfPublisher
from rehearsal.scenario.live import LiveStack
from rehearsal.scenario.release import ReleaseOptions, ReleasePhase
from rehearsal.scenario.traffic import ECS, LAMBDA, RouteTraffic, RuleWeights, forward_weights
from rehearsal.world.ecs_standin import DIVERGENT_CACHE_CONTROL, StandinServer
from rehearsal.world.emulator import Emulator
from rehearsal.world.lambda_runtime import function_config

if TYPE_CHECKING:
    # Only a type here: the twin module imports Pulumi, which a run has loaded anyway.
    from rehearsal.world.changes import ResourceChange
    from rehearsal.world.twin import Redeployment

__all__ = ["Redeployer", "RoutePlan", "RunConfigError", "run_canaries"]

# When, within the bake of the chosen stage, the faults happen (fractions of
# the bake): the upstream fails first, the alarm follows, as CloudWatch needs
# failed datapoints before an alarm changes state.
UPSTREAM_FAILS_AT = 0.25
ALARM_AT = 0.5
DRIFT_AT = 0.5
# The redeploy comes early in the bake: the apply and the event delivery take
# a moment, and the stage's Check should find the rule already reconciled.
REDEPLOY_AT = 0.25
REORDER_AT = 0.5
# How often the monitor reads each route's state (for the fault triggers),
# its execution's status and its alarm (for the progress line). Every read is
# an API call on the same two cores as the rest of the twin.
MONITOR_INTERVAL_SECONDS = 0.1
EXECUTION_POLL_SECONDS = 0.25
EXECUTION_POLL_WHILE_PROGRESSING_SECONDS = 1.0
ALARM_POLL_SECONDS = 0.5
# An execution that ended while its route still reads progressing this long
# afterwards left the route behind (a failed Rollback): a harness error.
STRANDED_AFTER_SECONDS = 3.0
# Slack on top of the bakes before a route that never ends is a harness error.
RUN_TIMEOUT_SLACK_SECONDS = 60.0
PER_STAGE_SLACK_SECONDS = 10.0
# How long the failback poller waits for ECS 100 % before giving up.
FAILBACK_TIMEOUT_SECONDS = 30.0
# After a redeploy's registry event: how long, and how often, the rule is read
# until it forwards to the new ECS target group. EventBridge invokes the
# controller asynchronously, but the twin's delivery returns once it has run.
SYNC_TIMEOUT_SECONDS = 10.0
SYNC_POLL_SECONDS = 0.02

ACTOR = "operator:rehearsal"
TRIGGER = "operator"


class RunConfigError(RehearsalError):
    """The options do not fit the stack (unknown route, stage out of range...).

    ``messages`` holds every problem, each naming the option and the route.
    """

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class Redeployer(Protocol):
    """Re-applies the program during a run: the run's twin (rehearsal/world/twin.py)."""

    def new_ecs_target_group(self, route: str) -> str:
        """A second brownfield ECS target group for ``route``; its ARN."""
        ...

    def redeploy(self, route: str, ecs_target_group_arn: str) -> Redeployment:
        """Re-apply the program with ``route`` moved to ``ecs_target_group_arn``."""
        ...

    def redeploy_code(
        self, route: str, source: Path, release: Mapping[str, Any]
    ) -> tuple[ResourceChange, ...]:
        """Re-apply the program with ``route``'s function code from ``source``."""
        ...

    def function_source(self, route: str) -> Path:
        """The folder of ``route``'s function code."""
        ...


@dataclass(frozen=True)
class RoutePlan:
    """One route to rehearse: its registry record, the (compressed) plan, its faults.

    ``redeploy_at`` and ``reorder_at`` are the stages during whose bake the
    stack is re-applied with a new ECS target group, or the rule's forward
    target groups are reversed by hand.
    """

    record: RouteRecord
    plan: PlanRecord
    fail_at: int | None = None
    drift_at: int | None = None
    redeploy_at: int | None = None
    reorder_at: int | None = None
    release: ReleaseOptions | None = None
    fail_after_promotion: bool = False
    scale_in: bool = False
    diverge: bool = False


@dataclass
class _Route:
    """Everything the rehearsal keeps about one route while it runs."""

    record: RouteRecord
    plan: PlanRecord
    upstream: StandinServer
    weights: RuleWeights | None = None
    traffic: RouteTraffic | None = None
    fail_at: int | None = None
    drift_at: int | None = None
    redeploy_at: int | None = None
    reorder_at: int | None = None
    fail_after_promotion: bool = False
    scale_in: bool = False
    diverge: bool = False
    autoscaler: EcsAutoscaler | None = None
    desired_after_failback: int | None = None
    execution_arn: str | None = None
    events: list[TimelineEvent] = field(default_factory=list)
    weight_reads: list[tuple[float, Weights]] = field(default_factory=list)
    failing_started: bool = False
    drifted: bool = False
    alarm_at_ms: float | None = None
    failback_at_ms: float | None = None
    failback_ms: float | None = None
    manual_change_at_ms: float | None = None
    fault_thread: threading.Thread | None = None
    fault_error: BaseException | None = None
    ecs_target_group_arns: list[str] = field(default_factory=list)
    redeploy_thread: threading.Thread | None = None
    redeploy_error: BaseException | None = None
    redeploy_at_ms: float | None = None
    synced_at_ms: float | None = None
    reordered: bool = False
    reorder_at_ms: float | None = None
    execution_status: str = "RUNNING"
    execution_ended_at: float | None = None
    state: RouteState | None = None
    alarm: str = "OK"
    alarm_read_at: float = 0.0
    execution_read_at: float = 0.0
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: ReleasePhase | None = None

    def __post_init__(self) -> None:
        if not self.ecs_target_group_arns:
            self.ecs_target_group_arns = [self.record.ecs_target_group_arn]

    @property
    def name(self) -> str:
        return self.record.route

    @property
    def changing(self) -> bool:
        """A fault or a stack change is still being made in its own thread."""
        threads = (self.fault_thread, self.redeploy_thread)
        return any(thread is not None and thread.is_alive() for thread in threads)

    def watch_weights(self, elbv2: Any) -> None:
        """Read the rule through a cache that keeps every read (the chart's weight line)."""

        def on_read(at: float, by_group: dict[str, int]) -> None:
            # to_weights takes the lock itself (it is not re-entrant).
            weights = self.to_weights(by_group)
            with self.lock:
                self.weight_reads.append((at, weights))

        self.weights = RuleWeights(elbv2, self.record.rule_arn, on_read=on_read)

    def stage_weights(self, number: int) -> Weights:
        return Weights.from_percent(self.plan.stages[number - 1].weight)

    def to_weights(self, by_group: dict[str, int]) -> Weights:
        """The (ECS, Lambda) pair of a forward action read from the rule, by ARN.

        The ECS side is every ECS target group the route has had in this run:
        after a redeploy the rule forwards to the old one until the
        controller has reconciled it with the new record.
        """
        with self.lock:
            ecs_groups = set(self.ecs_target_group_arns)
        return Weights(
            ecs=sum(by_group.get(arn, 0) for arn in ecs_groups),
            lambda_=by_group.get(self.record.lambda_target_group_arn, 0),
        )


def _started(kind: str, route: _Route, target: Callable[..., None], *args: Any) -> threading.Thread:
    """A started daemon thread ``<kind>-<route>`` running ``target(route, *args)``."""
    thread = threading.Thread(
        target=target, args=(route, *args), name=f"{kind}-{route.name}", daemon=True
    )
    thread.start()
    return thread


class _Clock:
    """The rehearsal's time zero, on the wall clock (history) and the monotonic clock."""

    def __init__(self) -> None:
        self.wall = datetime.now(UTC)
        self.mono = time.monotonic()

    def ms(self, mono: float | None = None) -> float:
        """Milliseconds since time zero of a monotonic instant (default: now)."""
        return ((time.monotonic() if mono is None else mono) - self.mono) * 1000


# --- the run -----------------------------------------------------------------------------


def run_canaries(
    emulator: Emulator,
    stack: str,
    stack_record: StackRecord,
    plans: list[RoutePlan],
    *,
    rate: float,
    resources: int,
    printer: ProgressPrinter,
    redeployer: Redeployer | None = None,
    lambda_latency_ms: float = 0.0,
) -> RehearsalReport:
    """Rehearse ``plans`` on the stack applied to ``emulator``; see the module docstring.

    ``rate`` is the request rate per route; ``resources`` the number of
    resources the program declared (reported as is); ``redeployer``
    re-applies the program for the routes with ``redeploy_at``;
    ``lambda_latency_ms`` is how long each route function holds a request
    (counted in its ``ConcurrentExecutions``). Every route
    must be freshly deployed (idle, stage 0): :class:`RunConfigError`
    otherwise, and also when a redeploy is asked for without a redeployer.
    """
    if redeployer is None:
        waiting = [
            p.record.route for p in plans if p.redeploy_at is not None or p.release is not None
        ]
        if waiting:
            raise RunConfigError(
                [
                    f"route {name}: --redeploy-at-stage needs the program the rehearsal "
                    "applied (a twin to re-apply)"
                    for name in waiting
                ]
            )
    routes = []
    for plan in plans:
        route = _Route(
            record=plan.record,
            plan=plan.plan,
            upstream=StandinServer(f"upstream-{plan.record.route}"),
            fail_at=plan.fail_at,
            drift_at=plan.drift_at,
            redeploy_at=plan.redeploy_at,
            reorder_at=plan.reorder_at,
            release=ReleasePhase(plan.release) if plan.release is not None else None,
            fail_after_promotion=plan.fail_after_promotion,
            scale_in=plan.scale_in,
            diverge=plan.diverge,
        )
        if plan.record.capacity is not None:
            route.autoscaler = EcsAutoscaler(
                emulator.client("ecs"),
                emulator.client("application-autoscaling"),
                plan.record.capacity.cluster,
                plan.record.capacity.service,
            )
        route.watch_weights(emulator.client("elbv2"))
        routes.append(route)
    rehearsal = _Rehearsal(
        emulator, stack, stack_record, routes, rate, resources, printer, redeployer
    )
    rehearsal.lambda_latency_ms = lambda_latency_ms
    return rehearsal.run()


class _Rehearsal:
    """One rehearsal over a set of routes; :meth:`run` does it all and cleans up."""

    def __init__(
        self,
        emulator: Emulator,
        stack: str,
        stack_record: StackRecord,
        routes: list[_Route],
        rate: float,
        resources: int,
        printer: ProgressPrinter,
        redeployer: Redeployer | None = None,
    ) -> None:
        self.emulator = emulator
        self.redeployer = redeployer
        self.registry = SsmRegistry(emulator.client("ssm"), stack, registry_path(stack))
        self.stack = stack
        self.stack_record = stack_record
        self.routes = routes
        self.rate = rate
        self.resources = resources
        self.printer = printer
        self.state = DynamoState(emulator.client("dynamodb"), stack_record.table_name)
        self.alarms = CloudWatchAlarms(emulator.client("cloudwatch"))
        self.live: LiveStack | None = None
        self.emf: EmfPublisher | None = None
        self.clock = _Clock()
        self.lambda_latency_ms = 0.0

    # --- setup ---------------------------------------------------------------------------

    def _check_idle(self) -> None:
        problems = []
        for route in self.routes:
            state = self.state.load(route.name)
            if state.status is not Status.IDLE or state.stage != 0:
                problems.append(
                    f"route {route.name} is {state.status.value} after {state.stage} stage(s): "
                    "a rehearsal starts from a freshly deployed route (idle, stage 0)"
                )
        if problems:
            raise RunConfigError(problems)

    # --- run -----------------------------------------------------------------------------

    def run(self) -> RehearsalReport:
        """Run the whole rehearsal; the report once every route has ended."""
        self._check_idle()
        for route in self.routes:
            if route.diverge:
                self._diverge(route)
        with LiveStack(
            self.emulator,
            self.stack_record,
            self.routes,
            rate=self.rate,
            lambda_latency_ms=self.lambda_latency_ms,
        ) as live:
            self.live = live
            self.emf = live.emf
            self.clock = _Clock()
            for route in self.routes:
                if route.release is not None and route.release.options.from_promoted:
                    # Promoted before the first request: ECS gets no traffic at all.
                    answer = releases.promote_at_once(
                        self.emulator, self.stack_record.controller_function_name, route.name
                    )
                    route.execution_status = "SUCCEEDED"
                    self._event(route, "promote", None, ALL_LAMBDA, str(answer.get("message")))
            live.start_traffic()
            try:
                for route in self.routes:
                    self._start(route)
                self._monitor()
            finally:
                self._stop_executions()
                for route in self.routes:
                    if route.release is not None:
                        with suppress(Exception):
                            route.release.close()
            # The normal end: this raises what went wrong in the loops' threads.
            live.finish()
            return self._report()

    def _diverge(self, route: _Route) -> None:
        """``--diverge``: the function's upstream answers the first sample differently."""
        name = route.record.check_function_name
        if name is None:
            raise RunConfigError(
                [f"route {route.name}: --diverge needs routes[].verify in the stack config"]
            )
        config = function_config(self.emulator, name)
        path = verify.first_sample_path(config.environment)
        route.upstream.set_divergent(path)
        self._event(
            route,
            "diverge",
            None,
            None,
            f"the function's upstream answers {path} with another Cache-Control "
            f"({DIVERGENT_CACHE_CONTROL}); ECS does not",
        )

    def _start(self, route: _Route) -> None:
        if route.release is not None and route.release.options.from_promoted:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        # Execution names: 1-80 characters (StartExecution API reference).
        name = f"rehearsal-{route.name}-{stamp}"[:80]
        payload = {
            "route": route.name,
            "trigger": TRIGGER,
            "actor": ACTOR,
            "plan": route.plan.to_input(),
        }
        started = self.emulator.client("stepfunctions").start_execution(
            stateMachineArn=self.stack_record.state_machine_arn,
            name=name,
            input=json.dumps(payload),
        )
        route.execution_arn = str(started["executionArn"])
        plan = ", ".join(f"{s.weight:g}% {s.bake_seconds}s" for s in route.plan.stages)
        self._event(route, "start", None, ALL_ECS, f"execution {name}; stages {plan}")

    def _event(
        self,
        route: _Route,
        event: str,
        stage: int | None,
        weights: Weights | None,
        reason: str,
        *,
        at_ms: float | None = None,
    ) -> None:
        at = self.clock.ms() if at_ms is None else at_ms
        with route.lock:
            route.events.append(TimelineEvent(at, event, stage, weights, SOURCE_TWIN, reason))

    def _deadline(self) -> float:
        longest = max(
            sum(s.bake_seconds for s in r.plan.stages)
            + PER_STAGE_SLACK_SECONDS * len(r.plan.stages)
            + (self._release_seconds(r) if r.release is not None else 0)
            for r in self.routes
        )
        return time.monotonic() + longest + RUN_TIMEOUT_SLACK_SECONDS

    def _monitor(self) -> None:
        """Watch every route until each has ended; inject the faults on the way."""
        deadline = self._deadline()
        sfn = self.emulator.client("stepfunctions")
        while not all(route.done for route in self.routes):
            if time.monotonic() > deadline:
                waiting = [r.name for r in self.routes if not r.done]
                raise RehearsalError(
                    f"routes {', '.join(waiting)} did not end in time: "
                    + "; ".join(self._describe(r) for r in self.routes if not r.done)
                )
            for route in self.routes:
                if route.done:
                    continue
                self._check_route(route, sfn)
            time.sleep(MONITOR_INTERVAL_SECONDS)

    def _describe(self, route: _Route) -> str:
        state = route.state
        status = state.status.value if state else "unknown"
        return f"{route.name}: status {status}, execution {route.execution_status}"

    def _check_route(self, route: _Route, sfn: Any) -> None:
        state = self.state.load(route.name)
        route.state = state
        self._maybe_fail(route, state)
        self._maybe_drift(route, state)
        self._maybe_redeploy(route, state)
        self._maybe_reorder(route, state)
        self._maybe_after_promotion(route, state)
        now = time.monotonic()
        if now - route.alarm_read_at >= ALARM_POLL_SECONDS:
            route.alarm = self.alarms.alarm_status(route.record).composite_state
            route.alarm_read_at = now
        # The execution normally ends only after the route has left progressing:
        # ask often then, seldom before.
        interval = (
            EXECUTION_POLL_WHILE_PROGRESSING_SECONDS
            if state.status is Status.PROGRESSING
            else EXECUTION_POLL_SECONDS
        )
        if route.execution_status == "RUNNING" and now - route.execution_read_at >= interval:
            route.execution_read_at = now
            described = sfn.describe_execution(executionArn=route.execution_arn)
            if described["status"] != "RUNNING":
                route.execution_status = str(described["status"])
                route.execution_ended_at = now
                cause = described.get("cause") or described.get("error") or ""
                detail = f"execution {route.execution_status} {cause}".strip()
                self._event(route, "end", None, None, detail)
        if (
            state.status is Status.PROGRESSING
            and route.execution_ended_at is not None
            and now - route.execution_ended_at > STRANDED_AFTER_SECONDS
        ):
            raise RehearsalError(
                f"route {route.name}: its execution ended {route.execution_status} but the "
                f"route is still progressing ({state.reason})"
            )
        if route.traffic is not None and route.traffic.error is not None:
            raise RehearsalError(
                f"route {route.name}: the request loop failed: {route.traffic.error}"
            ) from route.traffic.error
        if self.emf is not None and self.emf.error is not None:
            raise RehearsalError(
                f"publishing the functions' EMF metrics failed: {self.emf.error}"
            ) from self.emf.error
        if route.fault_error is not None:
            raise RehearsalError(
                f"route {route.name}: fault injection failed: {route.fault_error}"
            ) from route.fault_error
        if route.redeploy_error is not None:
            raise RehearsalError(
                f"route {route.name}: the redeploy failed: {route.redeploy_error}"
            ) from route.redeploy_error
        ended = route.execution_status != "RUNNING" and state.status is not Status.PROGRESSING
        releasing = route.release is not None and state.status is Status.PROMOTED
        if ended and not route.changing and releasing:
            self._release_tick(route)
            self._progress(route, state)
            return
        if ended and not route.changing:
            if route.fail_after_promotion and route.fault_thread is None:
                raise RehearsalError(
                    f"route {route.name} ended {state.status.value} ({state.reason}) without "
                    "being promoted: --fail-after-promotion had nothing to fail"
                )
            if outcome_of(state.status) is None:
                raise RehearsalError(
                    f"route {route.name}: the execution ended {route.execution_status} but the "
                    f"route is {state.status.value} ({state.reason})"
                )
            route.done = True
        self._progress(route, state)

    def _progress(self, route: _Route, state: RouteState) -> None:
        counts = route.traffic.counts() if route.traffic else None
        with route.lock:
            weights = route.weight_reads[-1][1] if route.weight_reads else None
        stage = state.stage
        if state.status is Status.PROGRESSING:
            holding = _stage_holding(route.plan, weights, passed=state.stage)
            if holding is None:
                # The rule holds no stage's weights while the state still says
                # progressing: a rollback's write, its record not yet made. The
                # line for the state it leads to follows.
                return
            stage = holding
        self.printer.update(
            RouteSnapshot(
                route=route.name,
                stage=min(stage, len(route.plan.stages)),
                stages=len(route.plan.stages),
                weights=weights,
                requests_ecs=counts.requests[ECS] if counts else 0,
                requests_lambda=counts.requests[LAMBDA] if counts else 0,
                errors_lambda=counts.errors[LAMBDA] if counts else 0,
                alarm=route.alarm,
                status=state.status.value,
                cause=_rollback_cause(state),
            )
        )

    def _baking(self, route: _Route, state: RouteState, number: int, fraction: float) -> bool:
        """True once stage ``number`` has baked for ``fraction`` of its bake."""
        if state.status is not Status.PROGRESSING or state.stage != number - 1:
            return False
        if state.stage_started_at is None or state.last_written != route.stage_weights(number):
            return False
        bake = route.plan.stages[number - 1].bake_seconds
        elapsed = (datetime.now(UTC) - state.stage_started_at).total_seconds()
        return elapsed >= bake * fraction

    @staticmethod
    def _missed(route: _Route, state: RouteState, stage: int, injected: bool, flag: str) -> None:
        """Refuse to report a run whose fault never happened (the stage passed too fast)."""
        if not injected and state.stage >= stage:
            raise RehearsalError(
                f"route {route.name}: stage {stage} passed before the {flag} fault could be "
                "injected; the machine is too busy for this bake, try a longer --bake-seconds"
            )

    def _maybe_fail(self, route: _Route, state: RouteState) -> None:
        stage = route.fail_at
        if stage is None:
            return
        self._missed(route, state, stage, route.fault_thread is not None, "--fail-at-stage")
        if not route.failing_started and self._baking(route, state, stage, UPSTREAM_FAILS_AT):
            self._upstream_fails(route, stage)
        if route.fault_thread is None and self._baking(route, state, stage, ALARM_AT):
            route.fault_thread = _started("fault", route, self._alarm_and_failback, stage)

    def _upstream_fails(self, route: _Route, stage: int) -> None:
        """From now on the route's upstream stand-in answers 503, so the function returns 502."""
        route.failing_started = True
        route.upstream.set_failing(True)
        self._event(
            route,
            "upstream_failing",
            stage,
            None,
            "the map delivery stand-in answers 503 from now on: the function returns 502",
        )

    def _alarm_and_failback(self, route: _Route, stage: int) -> None:
        """The alarm, its event through the program's rule, then poll the rule for ECS 100 %."""
        try:
            self._inject_alarm(route, stage)
        except BaseException as error:  # surfaced by the monitor
            route.fault_error = error

    def _maybe_after_promotion(self, route: _Route, state: RouteState) -> None:
        """Once promoted: the autoscaler scales in (``--scale-in``), then the alarm fires
        (``--fail-after-promotion``), in a thread of their own."""
        if not (route.fail_after_promotion or route.scale_in) or route.fault_thread is not None:
            return
        if state.status is not Status.PROMOTED:
            return
        route.fault_thread = _started("promoted", route, self._after_promotion)

    def _after_promotion(self, route: _Route) -> None:
        try:
            stage = len(route.plan.stages)
            if route.scale_in:
                if route.autoscaler is None:
                    self._event(
                        route, "scale_in", stage, None, "no ecsService: nothing to scale in"
                    )
                else:
                    scaled = route.autoscaler.scale_in()
                    self._event(route, "scale_in", stage, None, scaled.describe())
            if not route.fail_after_promotion:
                return
            self._upstream_fails(route, stage)
            self._inject_alarm(route, None)
        except BaseException as error:  # surfaced by the monitor
            route.fault_error = error

    def _inject_alarm(self, route: _Route, stage: int | None) -> None:
        """The alarm during stage ``stage``'s bake, or (None) after the promotion."""
        record = route.record
        if stage is None:
            reason = (
                f"rehearsal: route {record.route} fails after its promotion "
                "(--fail-after-promotion)"
            )
        else:
            reason = f"rehearsal: stage {stage} of route {record.route} fails (--fail-at-stage)"
        shown = stage if stage is not None else len(route.plan.stages)
        fired = faults.fire_alarm(
            self.emulator,
            record,
            reason=reason,
            event_id=f"rehearsal-{record.route}-{int(time.time() * 1000)}",
        )
        route.alarm_at_ms = self.clock.ms(fired.changed_mono)
        targets = ", ".join(rule.name for rule in fired.rules) or "none"
        self._event(
            route,
            "alarm",
            shown,
            None,
            f"{record.composite_alarm_name} ALARM; event delivered through rule(s) {targets}",
            at_ms=route.alarm_at_ms,
        )
        elbv2 = self.emulator.client("elbv2")

        def read() -> Weights:
            rule = elbv2.describe_rules(RuleArns=[record.rule_arn])["Rules"][0]
            return route.to_weights(forward_weights(rule))

        back = faults.wait_for_all_ecs(
            read, since=fired.changed, timeout_seconds=FAILBACK_TIMEOUT_SECONDS
        )
        if back is not None:
            route.failback_ms = (back - fired.changed) * 1000
            back_mono = fired.changed_mono + (back - fired.changed)
            route.failback_at_ms = self.clock.ms(back_mono)
            with route.lock:
                route.weight_reads.append((back_mono, ALL_ECS))
            self._event(
                route,
                "failback",
                shown,
                ALL_ECS,
                f"the rule reads back ECS 100 % {route.failback_ms:.1f} ms after the alarm",
                at_ms=route.failback_at_ms,
            )
        fired.join(timeout=FAILBACK_TIMEOUT_SECONDS)
        if route.failback_ms is None:
            raise RehearsalError(
                f"route {record.route}: the rule did not read back ECS 100 % within "
                f"{FAILBACK_TIMEOUT_SECONDS:.0f} s of the alarm"
            )
        if route.autoscaler is not None:
            # The controller's rollback has returned (the delivery is joined):
            # its capacity step is done too.
            route.desired_after_failback = route.autoscaler.desired_count()
            self._event(
                route,
                "capacity",
                shown,
                None,
                f"the ECS service has {route.desired_after_failback} desired tasks after the "
                "failback",
            )

    def _maybe_drift(self, route: _Route, state: RouteState) -> None:
        stage = route.drift_at
        if stage is None:
            return
        self._missed(route, state, stage, route.drifted, "--drift-at-stage")
        if route.drifted or not self._baking(route, state, stage, DRIFT_AT):
            return
        route.drifted = True
        weights = faults.drift_weights(route.stage_weights(stage))
        faults.change_weights_by_hand(self.emulator.client("elbv2"), route.record, weights)
        route.manual_change_at_ms = self.clock.ms()
        self._event(
            route,
            "manual_change",
            stage,
            weights,
            "weights changed by hand (ModifyRule outside the controller, --drift-at-stage)",
        )

    def _maybe_redeploy(self, route: _Route, state: RouteState) -> None:
        stage = route.redeploy_at
        if stage is None:
            return
        injected = route.redeploy_thread is not None
        self._missed(route, state, stage, injected, "--redeploy-at-stage")
        if injected or not self._baking(route, state, stage, REDEPLOY_AT):
            return
        route.redeploy_thread = _started("redeploy", route, self._redeploy, stage)

    def _redeploy(self, route: _Route, stage: int) -> None:
        """The redeploy and its registry event, in a thread; its error is raised by the monitor."""
        try:
            self._redeploy_and_sync(route, stage)
        except BaseException as error:  # surfaced by the monitor
            route.redeploy_error = error

    def _redeploy_and_sync(self, route: _Route, stage: int) -> None:
        """A ``pulumi up`` moving the route to a new ECS target group, then wait for the sync.

        The new target group gets its stand-in before the apply, so that
        traffic can follow the rule to it whenever the rule changes. The
        weights are read right after the apply (the ``redeploy`` event), and
        the rule is read until it forwards to the new target group and no
        longer to the old one; the controller's history shows the ``sync``.
        """
        redeployer = self.redeployer
        assert redeployer is not None and route.traffic is not None and route.weights is not None
        emulator = self.emulator
        previous = route.record.ecs_target_group_arn
        new_arn = redeployer.new_ecs_target_group(route.name)
        assert self.live is not None
        route.traffic.add_backend(new_arn, self.live.ecs_backend(new_arn))
        with route.lock:
            route.ecs_target_group_arns.append(new_arn)
        started = self.clock.ms()
        redeployment = redeployer.redeploy(route.name, new_arn)
        route.redeploy_at_ms = started
        after = route.to_weights(route.weights.read())
        route.record = self.registry.route(route.name)
        parameters, rules = stack_changes.deliver_route_records(
            emulator,
            self.stack,
            redeployment.changes,
            event_id_prefix=f"rehearsal-redeploy-{route.name}",
        )
        changed = "; ".join(change.describe() for change in redeployment.changes) or "nothing"
        records = ", ".join(parameters) or "no route record"
        self._event(
            route,
            "redeploy",
            stage,
            after,
            f"pulumi up with ecsTargetGroupArn {_target_group_name(previous)} -> "
            f"{_target_group_name(new_arn)} (--redeploy-at-stage): {changed}; "
            f"Parameter Store Change of {records} delivered through rule(s) "
            f"{', '.join(rules) or 'none'}",
            at_ms=started,
        )
        if not parameters:
            return
        deadline = time.monotonic() + SYNC_TIMEOUT_SECONDS
        while True:
            groups = route.weights.read()
            if new_arn in groups and previous not in groups:
                route.synced_at_ms = self.clock.ms()
                return
            if time.monotonic() > deadline:
                self._event(
                    route,
                    "sync_missing",
                    stage,
                    route.to_weights(groups),
                    f"the rule still forwards to {', '.join(sorted(groups))} "
                    f"{SYNC_TIMEOUT_SECONDS:.0f} s after the registry event: the controller "
                    "did not reconcile it with the route record",
                )
                return
            time.sleep(SYNC_POLL_SECONDS)

    def _maybe_reorder(self, route: _Route, state: RouteState) -> None:
        stage = route.reorder_at
        if stage is None:
            return
        self._missed(route, state, stage, route.reordered, "--reorder-at-stage")
        if route.reordered or not self._baking(route, state, stage, REORDER_AT):
            return
        route.reordered = True
        assert route.weights is not None
        order = stack_changes.reverse_forward_order(
            self.emulator.client("elbv2"), route.record.rule_arn
        )
        route.reorder_at_ms = self.clock.ms()
        after = route.to_weights(route.weights.read())
        self._event(
            route,
            "reorder",
            stage,
            after,
            "forward target groups put in the reverse order by hand, weights kept (ModifyRule, "
            f"--reorder-at-stage): {', '.join(_target_group_name(arn) for arn in order)}",
        )

    # --- release ---------------------------------------------------------------------------

    @staticmethod
    def _release_seconds(route: _Route) -> float:
        """The longest a release may take: every baked stage checked "not yet" to the limit."""
        assert route.release is not None
        baked = len(releases.REHEARSAL_STAGES) - 1
        bake = route.release.options.bake_seconds
        return baked * (bake * 3 + PER_STAGE_SLACK_SECONDS) + PER_STAGE_SLACK_SECONDS

    def _release_tick(self, route: _Route) -> None:
        """The route is promoted: redeploy new code once, then follow the release run."""
        phase = route.release
        assert phase is not None and route.traffic is not None
        if phase.error is not None:
            raise RehearsalError(
                f"route {route.name}: the release rehearsal failed: {phase.error}"
            ) from phase.error
        if not phase.started:
            phase.started = True
            phase.started_at_ms = self.clock.ms()
            phase.ecs_requests_at_start = route.traffic.counts().requests[ECS]
            phase.thread = _started("release", route, self._release_guarded, self._release_redeploy)
            return
        if phase.thread is not None and phase.thread.is_alive():
            return
        state = releases.release_state(self.state, route.name)
        if state.lock is not None and phase.execution_arn is None:
            phase.execution_arn = state.lock.execution_arn
        self._release_fault(route, phase, state)
        if phase.execution_arn is None or phase.busy:
            return
        if state.status not in (Status.PROMOTED, Status.ROLLED_BACK) or state.lock is not None:
            return
        described = self.emulator.client("stepfunctions").describe_execution(
            executionArn=phase.execution_arn
        )
        if described["status"] == "RUNNING":
            return
        phase.final_split = releases.read_split(self.emulator, route.record)
        phase.outcome = state.status.value
        phase.ecs_requests_at_end = route.traffic.counts().requests[ECS]
        self._event(
            route,
            "release_end",
            None,
            None,
            f"release {phase.outcome}: live serves {phase.final_split.describe()}; "
            f"execution {described['status']}",
        )
        route.done = True

    def _release_guarded(self, route: _Route, step: Callable[[_Route], None]) -> None:
        try:
            step(route)
        except BaseException as error:  # surfaced by the monitor
            assert route.release is not None
            route.release.error = error

    def _release_redeploy(self, route: _Route) -> None:
        """``pulumi up`` with new code: version 2 gets a worker, the registry event is delivered."""
        phase = route.release
        redeployer = self.redeployer
        assert phase is not None and redeployer is not None
        emulator = self.emulator
        phase.from_version = releases.read_split(emulator, route.record).version
        source = releases.changed_source(
            redeployer.function_source(route.name), f"release of {route.name}"
        )
        phase.temp_dirs.append(source)
        started = self.clock.ms()
        changes = redeployer.redeploy_code(
            route.name, source, releases.release_block(phase.options.bake_seconds)
        )
        route.record = self.registry.route(route.name)
        phase.to_version = route.record.function_version
        if phase.to_version is None or phase.to_version == phase.from_version:
            raise RehearsalError(
                f"route {route.name}: the redeploy published no new version "
                f"(registry: {phase.to_version}, live: {phase.from_version})"
            )
        # The new version runs its own code, in its own worker, behind its own upstream.
        assert self.live is not None
        self.live.add_version_worker(route.record.function_name, phase.to_version, phase.upstream)
        records, rules = releases.deliver_route_records(emulator, self.stack, changes, route.name)
        self._event(
            route,
            "redeploy",
            None,
            None,
            f"pulumi up with new function code: v{phase.to_version} published; Parameter Store "
            f"Change of {', '.join(records) or 'no record'} delivered through rule(s) "
            f"{', '.join(rules) or 'none'}",
            at_ms=started,
        )

    def _release_fault(self, route: _Route, phase: ReleasePhase, state: RouteState) -> None:
        stage = phase.options.fail_at
        if stage is None:
            return
        if phase.alarm_thread is None and state.stage >= stage and phase.execution_arn:
            raise RehearsalError(
                f"route {route.name}: release stage {stage} passed before the fault could be "
                "injected; the machine is too busy for this bake, try a longer --bake-seconds"
            )
        if state.status is not Status.PROGRESSING or state.stage != stage - 1:
            return
        if state.stage_started_at is None:
            return
        elapsed = (datetime.now(UTC) - state.stage_started_at).total_seconds()
        bake = phase.options.bake_seconds
        if not phase.failing and elapsed >= bake * releases.NEW_VERSION_FAILS_AT:
            phase.failing = True
            phase.upstream.set_failing(True)
            self._event(
                route,
                "new_version_failing",
                stage,
                None,
                f"v{phase.to_version}'s upstream answers 503 from now on: it returns 502",
            )
        if phase.alarm_thread is None and elapsed >= bake * releases.ALARM_AT:
            phase.alarm_thread = _started(
                "release-fault",
                route,
                self._release_guarded,
                lambda r: self._release_alarm(r, stage),
            )

    def _release_alarm(self, route: _Route, stage: int) -> None:
        """The alarm through the failback rule; then the alias polled for the old version alone."""
        phase = route.release
        assert phase is not None and phase.from_version is not None
        mono = time.monotonic()
        changed, rules = releases.inject_alarm(self.emulator, route.record, stage)
        route.alarm_at_ms = self.clock.ms(mono)
        self._event(
            route,
            "alarm",
            stage,
            None,
            f"{route.record.composite_alarm_name} ALARM during release stage {stage}; event "
            f"delivered through rule(s) {', '.join(rules) or 'none'}",
            at_ms=route.alarm_at_ms,
        )
        phase.failback_ms = releases.wait_single(
            self.emulator, route.record, phase.from_version, changed
        )
        route.failback_ms = phase.failback_ms
        route.failback_at_ms = route.alarm_at_ms + phase.failback_ms
        self._event(
            route,
            "failback",
            stage,
            None,
            f"the alias reads back v{phase.from_version} alone {phase.failback_ms:.1f} ms after "
            "the alarm; the rule's weights untouched",
            at_ms=route.failback_at_ms,
        )

    # --- cleanup -------------------------------------------------------------------------

    def _stop_executions(self) -> None:
        """Leave no execution running (a harness error mid-run): its tasks would outlive moto."""
        sfn = self.emulator.client("stepfunctions")
        for route in self.routes:
            if route.execution_arn and route.execution_status == "RUNNING":
                # Best effort: the original error, if any, matters more.
                with suppress(Exception):
                    sfn.stop_execution(executionArn=route.execution_arn, cause="rehearsal ended")

    # --- report --------------------------------------------------------------------------

    def _report(self) -> RehearsalReport:
        reports = [self._route_report(route) for route in self.routes]
        return RehearsalReport(
            stack=self.stack,
            routes=reports,
            resources=self.resources,
            duration_ms=self.clock.ms(),
        )

    def _route_report(self, route: _Route) -> RouteReport:
        state = self.state.load(route.name)
        outcome = outcome_of(state.status)
        if outcome is None:
            raise RehearsalError(f"route {route.name} ended {state.status.value}")
        assert route.weights is not None
        final = route.to_weights(route.weights.read())
        history = [
            from_history(entry, started=self.clock.wall, stages_total=len(route.plan.stages))
            for entry in reversed(self.state.history(route.name, limit=500))
            if entry.at >= self.clock.wall
        ]
        if route.release is not None:
            # The release run's entries (stages, checks with their figures, failback).
            key = release_key(route.name)
            history += from_release_history(
                (
                    entry
                    for entry in reversed(self.state.history(key, limit=500))
                    if entry.at >= self.clock.wall
                ),
                started=self.clock.wall,
                stages_total=self.state.load(key).stages_total,
            )
        assert route.traffic is not None
        counts = route.traffic.counts()
        samples = route.traffic.samples()
        series = RouteSeries(
            weights=[(self.clock.ms(at), _lambda_share(w)) for at, w in route.weight_reads],
            requests=[(self.clock.ms(s.at), s.side, s.status) for s in samples],
            stage_starts=[(e.at_ms, e.stage or 0) for e in history if e.event == Event.SHIFT.value],
            alarm_at_ms=route.alarm_at_ms,
            failback_at_ms=route.failback_at_ms,
            manual_change_at_ms=route.manual_change_at_ms,
            redeploy_at_ms=route.redeploy_at_ms,
            synced_at_ms=route.synced_at_ms,
            reorder_at_ms=route.reorder_at_ms,
        )
        capacity = None
        if route.record.capacity is not None:
            guard = state.capacity
            capacity = CapacityReport(
                baseline_desired=guard.baseline_desired if guard else None,
                min_pinned=guard.pinned_min if guard else None,
                desired_after_failback=route.desired_after_failback,
            )
        return RouteReport(
            route=route.name,
            outcome=outcome,
            capacity=capacity,
            final_weights=final,
            requests=dict(counts.requests),
            errors=dict(counts.errors),
            failback_ms=route.failback_ms,
            timeline=merge(history, route.events),
            reason=state.reason,
            plan=[(s.weight, float(s.bake_seconds)) for s in route.plan.stages],
            min_requests=route.plan.min_requests,
            series=series,
            release=(
                {**route.release.to_json(), "started_at_ms": route.release.started_at_ms}
                if route.release is not None
                else None
            ),
        )


def _target_group_name(arn: str) -> str:
    """``map-ecs`` of ``arn:...:targetgroup/map-ecs/6d0e...``: short enough for a timeline line."""
    return arn.split(":targetgroup/")[-1].split("/")[0]


def _stage_holding(plan: PlanRecord, weights: Weights | None, *, passed: int) -> int | None:
    """The stage (1-based) whose weights the rule holds, for a progressing route.

    The stored stage moves on when a check passes, before the next shift
    writes the next stage's weights; a progress line must not show the next
    stage beside the previous stage's weights. Before the first shift the
    rule is at ECS 100 %: 0 (no stage passed). None when the rule holds no
    weights the run has written (a rollback's write not recorded yet).
    """
    if weights is None or (passed == 0 and weights == ALL_ECS):
        return 0
    for number in range(min(passed + 1, len(plan.stages)), 0, -1):
        if Weights.from_percent(plan.stages[number - 1].weight) == weights:
            return number
    return None


def _rollback_cause(state: RouteState) -> str | None:
    """The alarm (or failed check) that rolled the route back, for its last progress line.

    The alarm's state is polled; by the time the rule reads back ECS 100 % the
    rehearsal may already have reset it, so the line names the cause instead.
    """
    if state.status is not Status.ROLLED_BACK or not state.reason:
        return None
    reason = state.reason
    if reason.startswith("alarm "):
        return reason.split(": ", 1)[0]
    return reason


def _lambda_share(weights: Weights) -> float:
    """The Lambda share in percent of the pair, as every report shows it (0 when undefined)."""
    pair = shares(weights)
    return 0.0 if pair is None else pair[1]
