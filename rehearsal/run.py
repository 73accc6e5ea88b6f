"""``python -m rehearsal run``: rehearse the canaries of a stack end to end on the twin.

What one run does (issue 5):

1. start moto (in-process ``mock_aws``, or a ``ThreadedMotoServer`` with
   ``--moto-server``), create the brownfield and apply the real program
   (rehearsal/twin.py);
2. find everything from the registry the deploy wrote, as the controller and
   the operator CLI do (SSM ``/strangler/{stack}``);
3. run the deployed functions (rehearsal/lambda_runtime.py): moto's Lambda
   ``Invoke`` is routed (rehearsal/moto_lambda.py) to the real controller
   handler in-process and to the real route function in a process of its
   own, each with the handler and environment the program declared (read
   back from moto); the route function's ``UPSTREAM_URL`` host is the local
   stand-in of the map delivery service (the twin's DNS);
4. send synthetic requests through each route's rule (rehearsal/traffic.py):
   a target group picked by the rule's live weights, a Lambda pick invokes
   the function with an ALB event, an ECS pick goes to the stand-in of the
   ECS service; the function's EMF output becomes CloudWatch metric data
   (rehearsal/emf.py), which the controller's Check counts;
5. start each route's canary: the stack's state machine with the route's
   plan from the registry, bakes compressed to seconds (:func:`rehearsal_plan`);
6. inject the faults asked for (rehearsal/faults.py): with
   ``--fail-at-stage N`` the route's upstream starts failing and its alarms
   go to ALARM during the bake of stage N, and the alarm event is delivered
   through the EventBridge rule the program declared; ``failback_ms`` is the
   time from the alarm's state change until the rule reads back ECS 100 %.
   With ``--drift-at-stage N`` the weights are changed by hand during stage N;
7. print a progress line per route while it runs, then the report
   (rehearsal/timeline.py), as text or one JSON document, and the chart
   (rehearsal/chart.py).

Exit codes: 0 when the rehearsal ran, whatever the outcome; 2 for a bad
stack config or bad options (every problem printed); 1 when the harness
failed (the twin could not do its job).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from controller.aws_alarms import CloudWatchAlarms
from controller.aws_state import DynamoState
from controller.contract import (
    PlanRecord,
    RouteRecord,
    StackRecord,
    StagePlanRecord,
    registry_path,
)
from controller.lifecycle import Event, RouteState, Status
from controller.registry import SsmRegistry
from controller.weights import ALL_ECS, Weights
from rehearsal import emulator as emulators
from rehearsal import faults
from rehearsal.chart import write_chart
from rehearsal.ecs_standin import StandinServer
from rehearsal.emf import EmfPublisher
from rehearsal.emulator import Emulator
from rehearsal.errors import ConfigRejected, RehearsalError, StackConfigError
from rehearsal.lambda_runtime import (
    InProcessFunction,
    LambdaRuntimeError,
    OutputRouter,
    WorkerFunction,
    deployed_package,
    function_config,
    function_environment,
    in_process_environment,
    routed_stdout,
)
from rehearsal.moto_lambda import LambdaRouter, route_lambda_invocations
from rehearsal.progress import ProgressPrinter, RouteSnapshot
from rehearsal.timeline import (
    SOURCE_TWIN,
    RehearsalReport,
    RouteReport,
    RouteSeries,
    TimelineEvent,
    from_history,
    merge,
    outcome_of,
    render_text,
)
from rehearsal.traffic import (
    ECS,
    LAMBDA,
    Backend,
    HttpBackend,
    LambdaBackend,
    RouteTraffic,
    RuleWeights,
    forward_weights,
)

__all__ = [
    "DEFAULT_BAKE_SECONDS",
    "DEFAULT_RATE",
    "MAX_TOTAL_RATE",
    "RunConfigError",
    "RunOptions",
    "add_run_arguments",
    "main_run",
    "rehearsal_plan",
    "rehearse",
    "run_rehearsal",
]

DEFAULT_STACK = "prod"
PROJECT_DIR = Path(__file__).resolve().parent.parent
# Used only when the stack sets no aws:region (the program then rejects it).
FALLBACK_REGION = "us-east-1"

EXIT_OK = 0
EXIT_HARNESS = 1
EXIT_CONFIG = 2

# Each baked stage bakes this long in the rehearsal (Step Functions' Wait
# takes whole seconds through SecondsPath; moto's Wait sleeps for real).
DEFAULT_BAKE_SECONDS = 2
# Requests per second per route, and in total: enough for a 1 % stage to see
# requests within seconds, little enough for a shared 2-core machine.
DEFAULT_RATE = 100.0
MAX_TOTAL_RATE = 200.0
# The minimum number of canary requests the compressed Check demands (never
# more than the plan's own). At least one: the count comes through the whole
# metrics path (function EMF -> PutMetricData -> GetMetricData), so a broken
# path still fails the Check.
REHEARSAL_MIN_REQUESTS = 1
# A stage's bake is stretched until this many more requests than the minimum
# are expected on the canary side, so the Check passes on evidence, not luck.
EVIDENCE_MARGIN = 2
# Part of a bake that may not count: the weights cache (150 ms) before the
# traffic follows a shift, and the EMF flush (100 ms) before a count shows.
WINDOW_SLACK_SECONDS = 0.5
# When, within the bake of the chosen stage, the faults happen (fractions of
# the bake): the upstream fails first, the alarm follows, as CloudWatch needs
# failed datapoints before an alarm changes state.
UPSTREAM_FAILS_AT = 0.25
ALARM_AT = 0.5
DRIFT_AT = 0.5
# How often the monitor reads each route's state (for the fault triggers),
# its execution's status and its alarm (for the progress line). Every read is
# an API call on the same two cores as the rest of the twin.
MONITOR_INTERVAL_SECONDS = 0.1
EXECUTION_POLL_SECONDS = 0.25
ALARM_POLL_SECONDS = 0.5
# How often the failback poller reads the rule (DescribeRules) after the alarm.
FAILBACK_POLL_SECONDS = 0.002
# Slack on top of the bakes before a route that never ends is a harness error.
RUN_TIMEOUT_SLACK_SECONDS = 60.0
PER_STAGE_SLACK_SECONDS = 10.0
# How long the failback poller waits for ECS 100 % before giving up.
FAILBACK_TIMEOUT_SECONDS = 30.0

ACTOR = "operator:rehearsal"
TRIGGER = "operator"


class RunConfigError(RehearsalError):
    """The options do not fit the stack (unknown route, stage out of range...).

    ``messages`` holds every problem, each naming the option and the route.
    """

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class RunOptions:
    """The options of ``python -m rehearsal run`` (see :func:`add_run_arguments`)."""

    stack: str = DEFAULT_STACK
    project_dir: Path = PROJECT_DIR
    stack_file: Path | None = None
    main_path: Path | None = None
    routes: tuple[str, ...] = ()
    fail_at_stage: int | None = None
    fail_routes: tuple[str, ...] = ()
    drift_at_stage: int | None = None
    drift_routes: tuple[str, ...] = ()
    bake_seconds: int = DEFAULT_BAKE_SECONDS
    rate: float = DEFAULT_RATE
    json: bool = False
    chart: Path | None = None
    moto_server: bool = False
    quiet: bool = False

    def problems(self) -> list[str]:
        """What is wrong with the options on their own (before the stack is known)."""
        found = []
        if self.bake_seconds < 1:
            found.append(f"--bake-seconds: {self.bake_seconds} must be at least 1")
        if not self.rate > 0:
            found.append(f"--rate: {self.rate} must be positive")
        for flag, stage in (
            ("--fail-at-stage", self.fail_at_stage),
            ("--drift-at-stage", self.drift_at_stage),
        ):
            if stage is not None and stage < 1:
                found.append(f"{flag}: {stage} must be 1 or more (stages are numbered from 1)")
        if self.fail_routes and self.fail_at_stage is None:
            found.append("--fail-route needs --fail-at-stage")
        if self.drift_routes and self.drift_at_stage is None:
            found.append("--drift-route needs --drift-at-stage")
        return found


# --- the compressed plan ---------------------------------------------------------------


def rehearsal_plan(plan: PlanRecord, *, bake_seconds: int, rate_per_second: float) -> PlanRecord:
    """The plan the rehearsal runs: the same stages, bakes of seconds instead of minutes.

    Every baked stage bakes ``bake_seconds``, stretched where the canary share
    is so small that the stage would not see ``min_requests`` plus a margin
    at ``rate_per_second``. ``min_requests`` shrinks to
    :data:`REHEARSAL_MIN_REQUESTS` (0 stays 0: the plan asks for no evidence).
    Stages without a bake (the final 100 %) keep none.
    """
    min_requests = min(plan.min_requests, REHEARSAL_MIN_REQUESTS)
    stages = []
    for stage in plan.stages:
        bake = 0
        if stage.bake_seconds > 0:
            bake = bake_seconds
            share = rate_per_second * stage.weight / 100
            if min_requests > 0 and share > 0:
                needed = (min_requests + EVIDENCE_MARGIN) / share + WINDOW_SLACK_SECONDS
                bake = max(bake, math.ceil(needed))
        stages.append(StagePlanRecord(weight=stage.weight, bake_seconds=bake))
    return PlanRecord(
        stages=tuple(stages), stages_per_run=plan.stages_per_run, min_requests=min_requests
    )


def _stage_problem(flag: str, stage: int, route: str, plan: PlanRecord) -> str | None:
    total = len(plan.stages)
    if stage > total:
        return f"{flag} {stage}: route {route} has {total} stages"
    if plan.stages[stage - 1].bake_seconds <= 0:
        baked = [str(i + 1) for i, s in enumerate(plan.stages) if s.bake_seconds > 0]
        return (
            f"{flag} {stage}: stage {stage} of route {route} has no bake "
            f"(stages with a bake: {', '.join(baked) or 'none'})"
        )
    if plan.stages_per_run and stage > plan.stages_per_run:
        return (
            f"{flag} {stage}: route {route} runs {plan.stages_per_run} stage(s) per run "
            "(stagesPerRun), so a run never reaches that stage"
        )
    return None


# --- per route ---------------------------------------------------------------------------


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
    execution_status: str = "RUNNING"
    state: RouteState | None = None
    alarm: str = "OK"
    alarm_read_at: float = 0.0
    execution_read_at: float = 0.0
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.record.route

    def watch_weights(self, elbv2: Any) -> None:
        """Read the rule through a cache that keeps every read (the chart's weight line)."""

        def on_read(at: float, by_group: dict[str, int]) -> None:
            with self.lock:
                self.weight_reads.append((at, self.to_weights(by_group)))

        self.weights = RuleWeights(elbv2, self.record.rule_arn, on_read=on_read)

    def stage_weights(self, number: int) -> Weights:
        return Weights.from_percent(self.plan.stages[number - 1].weight)

    def to_weights(self, by_group: dict[str, int]) -> Weights:
        """The (ECS, Lambda) pair of a forward action read from the rule."""
        return Weights(
            ecs=by_group.get(self.record.ecs_target_group_arn, 0),
            lambda_=by_group.get(self.record.lambda_target_group_arn, 0),
        )


class _Clock:
    """The rehearsal's time zero, on the wall clock (history) and the monotonic clock."""

    def __init__(self) -> None:
        self.wall = datetime.now(UTC)
        self.mono = time.monotonic()

    def ms(self, mono: float | None = None) -> float:
        """Milliseconds since time zero of a monotonic instant (default: now)."""
        return ((time.monotonic() if mono is None else mono) - self.mono) * 1000


# --- the run -----------------------------------------------------------------------------


def run_rehearsal(options: RunOptions, *, progress: TextIO | None = None) -> RehearsalReport:
    """Start the emulator, build the twin, rehearse; see the module docstring.

    ``progress`` receives the live lines (None: no progress). Raises
    :class:`RunConfigError`, ``ConfigRejected`` or ``StackConfigError`` for
    bad options or config, and :class:`RehearsalError` when the harness fails.
    """
    problems = options.problems()
    if problems:
        raise RunConfigError(problems)
    from rehearsal.apply import effective_config
    from rehearsal.stack_files import stack_region
    from rehearsal.twin import build_twin

    config = effective_config(options.project_dir, options.stack, None, options.stack_file)
    region = stack_region(config) or FALLBACK_REGION
    printer = ProgressPrinter(progress)
    with ExitStack() as stack:
        if options.moto_server:
            emulator = stack.enter_context(emulators.server(region, port=0))
        else:
            emulator = stack.enter_context(emulators.in_process(region))
        printer.say(f"applying stack {options.stack} to the emulator ({region})...")
        build: dict[str, Any] = {"stack_file": options.stack_file}
        if options.main_path is not None:
            build["main_path"] = options.main_path
        twin = build_twin(options.stack, options.project_dir, emulator, **build)
        resources = len(twin.applied.resources)
        printer.say(
            f"applied: {resources} resources ({len(twin.applied.custom_resources)} in AWS), "
            f"routes {', '.join(twin.route_names) or '(none)'}"
        )
        return rehearse(emulator, options, resources=resources, printer=printer)


def _read_registry(emulator: Emulator, stack: str) -> tuple[StackRecord, list[RouteRecord]]:
    registry = SsmRegistry(emulator.client("ssm"), stack, registry_path(stack))
    try:
        return registry.stack(), registry.routes()
    except Exception as error:
        raise RehearsalError(
            f"cannot read the registry of stack {stack} at {registry_path(stack)} "
            f"({error}); does the program declare the canary controller?"
        ) from error


def _select(
    options: RunOptions, records: list[RouteRecord]
) -> tuple[list[RouteRecord], set[str], set[str]]:
    """The routes to rehearse, and those to fail and to drift; RunConfigError on a mismatch."""
    known = [r.route for r in records]
    problems = []
    for flag, names in (
        ("--route", options.routes),
        ("--fail-route", options.fail_routes),
        ("--drift-route", options.drift_routes),
    ):
        for name in names:
            if name not in known:
                problems.append(f"{flag} {name}: no such route; routes: {', '.join(known)}")
    if problems:
        raise RunConfigError(problems)
    selected = [r for r in records if not options.routes or r.route in options.routes]
    selected_names = [r.route for r in selected]
    failing: set[str] = set()
    drifting: set[str] = set()
    if options.fail_at_stage is not None:
        failing = set(options.fail_routes or selected_names)
    if options.drift_at_stage is not None:
        drifting = set(options.drift_routes or selected_names)
    for name in sorted((failing | drifting) - set(selected_names)):
        problems.append(f"route {name} is not rehearsed (see --route)")
    for name in sorted(failing & drifting):
        problems.append(
            f"route {name}: --fail-at-stage and --drift-at-stage both apply; "
            "use --fail-route / --drift-route to give each fault its own route"
        )
    if problems:
        raise RunConfigError(problems)
    return selected, failing, drifting


def rehearse(
    emulator: Emulator,
    options: RunOptions,
    *,
    resources: int,
    printer: ProgressPrinter | None = None,
) -> RehearsalReport:
    """Rehearse the canaries of the stack already applied to ``emulator``.

    Everything is found from the stack's registry, so this also runs on any
    stack deployed to the emulator by other means (tests use it on a shared
    twin). Every route selected by ``options`` must be idle.
    """
    printer = printer or ProgressPrinter(None)
    problems = options.problems()
    if problems:
        raise RunConfigError(problems)
    stack_record, records = _read_registry(emulator, options.stack)
    selected, failing, drifting = _select(options, records)
    if not selected:
        raise RunConfigError([f"stack {options.stack} has no routes to rehearse"])
    rate = min(options.rate, MAX_TOTAL_RATE / len(selected))
    routes: list[_Route] = []
    problems = []
    for record in selected:
        plan = rehearsal_plan(record.plan, bake_seconds=options.bake_seconds, rate_per_second=rate)
        route = _Route(
            record=record,
            plan=plan,
            upstream=StandinServer(f"upstream-{record.route}"),
            fail_at=options.fail_at_stage if record.route in failing else None,
            drift_at=options.drift_at_stage if record.route in drifting else None,
        )
        route.watch_weights(emulator.client("elbv2"))
        for flag, stage in (
            ("--fail-at-stage", route.fail_at),
            ("--drift-at-stage", route.drift_at),
        ):
            if stage is not None:
                problem = _stage_problem(flag, stage, record.route, plan)
                if problem:
                    problems.append(problem)
        routes.append(route)
    if problems:
        raise RunConfigError(problems)
    return _Rehearsal(emulator, options, stack_record, routes, rate, resources, printer).run()


class _Rehearsal:
    """One rehearsal over a set of routes; :meth:`run` does it all and cleans up."""

    def __init__(
        self,
        emulator: Emulator,
        options: RunOptions,
        stack_record: StackRecord,
        routes: list[_Route],
        rate: float,
        resources: int,
        printer: ProgressPrinter,
    ) -> None:
        self.emulator = emulator
        self.options = options
        self.stack_record = stack_record
        self.routes = routes
        self.rate = rate
        self.resources = resources
        self.printer = printer
        self.state = DynamoState(emulator.client("dynamodb"), stack_record.table_name)
        self.alarms = CloudWatchAlarms(emulator.client("cloudwatch"))
        self.emf = EmfPublisher(emulator.client("cloudwatch"))
        self.monoliths: dict[str, StandinServer] = {}
        self.clock = _Clock()

    # --- setup ---------------------------------------------------------------------------

    @contextmanager
    def _functions(self, router_out: OutputRouter) -> Iterator[LambdaRouter]:
        """The controller in-process and each route function in its worker, routed from moto."""
        emulator = self.emulator
        controller_config = function_config(emulator, self.stack_record.controller_function_name)
        controller = InProcessFunction(
            controller_config,
            deployed_package(emulator, controller_config),
            router_out,
            self._output,
        )
        environment = in_process_environment(
            controller_config, emulator.region, emulator.endpoint_url
        )
        environment.setdefault("AWS_ACCESS_KEY_ID", emulators.FAKE_ACCESS_KEY)
        environment.setdefault("AWS_SECRET_ACCESS_KEY", emulators.FAKE_SECRET_KEY)

        def start_worker(route: _Route) -> WorkerFunction:
            config = function_config(emulator, route.record.function_name)
            upstream = config.environment.get("UPSTREAM_URL")
            overrides = {"UPSTREAM_URL": _via_standin(upstream, route.upstream)} if upstream else {}
            return WorkerFunction(
                config,
                deployed_package(emulator, config),
                region=emulator.region,
                on_output=self._output,
                environment_overrides=overrides,
            )

        workers: list[WorkerFunction] = []
        try:
            with ThreadPoolExecutor(max_workers=len(self.routes)) as pool:
                futures = [pool.submit(start_worker, route) for route in self.routes]
                errors = []
                for future in futures:
                    try:
                        workers.append(future.result())
                    except Exception as error:
                        errors.append(error)
                if errors:
                    raise errors[0]
            handlers: dict[str, Any] = {controller_config.name: controller}
            handlers.update({worker.config.name: worker for worker in workers})
            with function_environment(environment), route_lambda_invocations(handlers) as router:
                yield router
        finally:
            for worker in workers:
                worker.close()
            controller.close()

    def _output(self, function: str, line: str) -> None:
        """A line a function printed: its EMF metrics go to CloudWatch (like Lambda's logs)."""
        self.emf.feed(line)

    def _backends(self, route: _Route) -> tuple[dict[str, Backend], list[dict[str, Any]]]:
        """A backend per target group of the route's rule, and the rule's conditions."""
        elbv2 = self.emulator.client("elbv2")
        rule = elbv2.describe_rules(RuleArns=[route.record.rule_arn])["Rules"][0]
        groups = list(forward_weights(rule))
        described = elbv2.describe_target_groups(TargetGroupArns=groups)["TargetGroups"]
        backends: dict[str, Backend] = {}
        for group in described:
            arn = group["TargetGroupArn"]
            if group.get("TargetType") == "lambda":
                backends[arn] = self._lambda_backend(route, arn)
            else:
                monolith = self.monoliths.get(arn)
                if monolith is None:
                    name = arn.split(":targetgroup/")[-1].split("/")[0]
                    monolith = StandinServer(f"ecs-{name}").start()
                    self.monoliths[arn] = monolith
                backends[arn] = HttpBackend(monolith.host, monolith.port)
        return backends, list(rule.get("Conditions") or [])

    def _lambda_backend(self, route: _Route, target_group_arn: str) -> LambdaBackend:
        elbv2 = self.emulator.client("elbv2")
        health = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
        targets = [d["Target"]["Id"] for d in health.get("TargetHealthDescriptions", [])]
        if len(targets) != 1:
            raise RehearsalError(
                f"route {route.name}: Lambda target group {target_group_arn} has "
                f"{len(targets)} registered targets ({targets}); a Lambda target group "
                "holds exactly one function"
            )
        function_arn = targets[0]
        if function_arn.split(":function:")[-1].split(":")[0] != route.record.function_name:
            raise RehearsalError(
                f"route {route.name}: its Lambda target group forwards to {function_arn}, "
                f"but the registry names function {route.record.function_name}"
            )
        attributes = elbv2.describe_target_group_attributes(TargetGroupArn=target_group_arn)
        multi = any(
            a.get("Key") == "lambda.multi_value_headers.enabled" and a.get("Value") == "true"
            for a in attributes.get("Attributes", [])
        )
        return LambdaBackend(
            self.emulator.client("lambda"), function_arn, target_group_arn, multi_value=multi
        )

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
        with ExitStack() as cleanup:
            router_out = cleanup.enter_context(routed_stdout())
            # The controller's Metrics warns on every invocation without a metric
            # (Powertools 3.x); in Lambda that goes to its log, here it would
            # flood the rehearsal's stderr.
            cleanup.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            for route in self.routes:
                route.upstream.start()
                cleanup.callback(route.upstream.stop)
            cleanup.callback(self._stop_monoliths)
            router = cleanup.enter_context(self._functions(router_out))
            self.emf.start()
            cleanup.callback(self._close_emf)
            for route in self.routes:
                backends, conditions = self._backends(route)
                assert route.weights is not None
                route.traffic = RouteTraffic(
                    route.name,
                    route.weights,
                    backends,
                    conditions,
                    rate_per_second=self.rate,
                    default_host="www.example.com",
                )
            self.clock = _Clock()
            for route in self.routes:
                assert route.traffic is not None
                route.traffic.start()
                cleanup.callback(self._stop_traffic, route)
            cleanup.callback(self._stop_executions)
            for route in self.routes:
                self._start(route)
            self._monitor()
            for route in self.routes:
                self._stop_traffic(route)
            wait_idle = getattr(router, "wait_idle", None)
            if callable(wait_idle):
                wait_idle(timeout=30.0)
            self._close_emf()
            return self._report()

    def _start(self, route: _Route) -> None:
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
        now = time.monotonic()
        if now - route.alarm_read_at >= ALARM_POLL_SECONDS:
            route.alarm = self.alarms.alarm_status(route.record).composite_state
            route.alarm_read_at = now
        # The execution only ends after the route's state has left progressing
        # (or with an error): no need to ask for it before.
        if state.status is not Status.PROGRESSING and (
            now - route.execution_read_at >= EXECUTION_POLL_SECONDS
        ):
            route.execution_read_at = now
            described = sfn.describe_execution(executionArn=route.execution_arn)
            if described["status"] != route.execution_status:
                route.execution_status = str(described["status"])
                if route.execution_status != "RUNNING":
                    cause = described.get("cause") or described.get("error") or ""
                    detail = f"execution {route.execution_status} {cause}".strip()
                    self._event(route, "end", None, None, detail)
        if route.fault_error is not None:
            raise RehearsalError(
                f"route {route.name}: fault injection failed: {route.fault_error}"
            ) from route.fault_error
        fault_running = route.fault_thread is not None and route.fault_thread.is_alive()
        ended = route.execution_status != "RUNNING" and state.status is not Status.PROGRESSING
        if ended and not fault_running:
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
        stage = state.stage + (1 if state.status is Status.PROGRESSING else 0)
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
            route.failing_started = True
            route.upstream.set_failing(True)
            self._event(
                route,
                "upstream_failing",
                stage,
                None,
                "the map delivery stand-in answers 503 from now on: the function returns 502",
            )
        if route.fault_thread is None and self._baking(route, state, stage, ALARM_AT):
            route.fault_thread = threading.Thread(
                target=self._alarm_and_failback,
                args=(route, stage),
                name=f"fault-{route.name}",
                daemon=True,
            )
            route.fault_thread.start()

    def _alarm_and_failback(self, route: _Route, stage: int) -> None:
        """The alarm, its event through the program's rule, then poll the rule for ECS 100 %."""
        try:
            self._inject_alarm(route, stage)
        except BaseException as error:  # surfaced by the monitor
            route.fault_error = error

    def _inject_alarm(self, route: _Route, stage: int) -> None:
        record = route.record
        emulator = self.emulator
        reason = f"rehearsal: stage {stage} of route {record.route} fails (--fail-at-stage)"
        composite = faults.set_route_alarms(
            emulator.client("cloudwatch"), record, state="ALARM", reason=reason
        )
        changed = time.perf_counter()
        changed_mono = time.monotonic()
        route.alarm_at_ms = self.clock.ms(changed_mono)
        event = faults.alarm_state_change_event(
            composite,
            state="ALARM",
            previous_state=str(composite.get("StateValue", "OK")),
            reason=reason,
            at=datetime.now(UTC),
            region=emulator.region,
            account_id=emulator.account_id,
            event_id=f"rehearsal-{record.route}-{int(time.time() * 1000)}",
        )
        rules = faults.matching_rules(emulator.client("events"), event)
        delivered: list[BaseException] = []

        def deliver() -> None:
            try:
                faults.deliver(
                    emulator.client("events"), emulator.client("lambda"), event, rules=rules
                )
            except BaseException as error:
                delivered.append(error)

        # EventBridge invokes the target asynchronously: the poller below must
        # see the weights change while the delivery is still in flight.
        sender = threading.Thread(target=deliver, name=f"eventbridge-{record.route}", daemon=True)
        sender.start()
        targets = ", ".join(rule.name for rule in rules) or "none"
        self._event(
            route,
            "alarm",
            stage,
            None,
            f"{record.composite_alarm_name} ALARM; event delivered through rule(s) {targets}",
            at_ms=route.alarm_at_ms,
        )
        elbv2 = emulator.client("elbv2")
        deadline = changed + FAILBACK_TIMEOUT_SECONDS
        while time.perf_counter() < deadline:
            rule = elbv2.describe_rules(RuleArns=[record.rule_arn])["Rules"][0]
            if route.to_weights(forward_weights(rule)) == ALL_ECS:
                now = time.perf_counter()
                route.failback_ms = (now - changed) * 1000
                route.failback_at_ms = self.clock.ms(changed_mono + (now - changed))
                with route.lock:
                    route.weight_reads.append((changed_mono + (now - changed), ALL_ECS))
                self._event(
                    route,
                    "failback",
                    stage,
                    ALL_ECS,
                    f"the rule reads back ECS 100 % {route.failback_ms:.1f} ms after the alarm",
                    at_ms=route.failback_at_ms,
                )
                break
            time.sleep(FAILBACK_POLL_SECONDS)
        sender.join(timeout=FAILBACK_TIMEOUT_SECONDS)
        if delivered:
            raise delivered[0]
        if route.failback_ms is None:
            raise RehearsalError(
                f"route {record.route}: the rule did not read back ECS 100 % within "
                f"{FAILBACK_TIMEOUT_SECONDS:.0f} s of the alarm"
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

    # --- cleanup -------------------------------------------------------------------------

    def _stop_traffic(self, route: _Route) -> None:
        if route.traffic is not None:
            route.traffic.stop()

    def _stop_monoliths(self) -> None:
        for monolith in self.monoliths.values():
            monolith.stop()

    def _close_emf(self) -> None:
        self.emf.close()

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
            stack=self.options.stack,
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
        assert route.traffic is not None
        counts = route.traffic.counts()
        samples = route.traffic.samples()
        series = RouteSeries(
            weights=[(self.clock.ms(at), w.lambda_percent) for at, w in route.weight_reads],
            requests=[(self.clock.ms(s.at), s.side, s.status) for s in samples],
            stage_starts=[(e.at_ms, e.stage or 0) for e in history if e.event == Event.SHIFT.value],
            alarm_at_ms=route.alarm_at_ms,
            failback_at_ms=route.failback_at_ms,
            manual_change_at_ms=route.manual_change_at_ms,
        )
        return RouteReport(
            route=route.name,
            outcome=outcome,
            final_weights=final,
            requests=dict(counts.requests),
            errors=dict(counts.errors),
            failback_ms=route.failback_ms,
            timeline=merge(history, route.events),
            reason=state.reason,
            plan=[(s.weight, float(s.bake_seconds)) for s in route.plan.stages],
            min_requests=route.plan.min_requests,
            series=series,
        )


def _via_standin(declared: str, standin: StandinServer) -> str:
    """``declared`` with its scheme and host replaced by the stand-in's (the twin's DNS)."""
    parts = urlsplit(declared)
    return urlunsplit(("http", f"{standin.host}:{standin.port}", parts.path, parts.query, ""))


# --- command line --------------------------------------------------------------------------


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``run`` to ``parser`` (``--stack``, ``--project-dir`` and
    ``--stack-file`` are the CLI's common options, added only when missing)."""
    # argparse has no public way to list a parser's options.
    existing = {action.dest for action in parser._actions}
    if "stack" not in existing:
        parser.add_argument(
            "--stack", help=f"stack name: reads Pulumi.<stack>.yaml (default: {DEFAULT_STACK})"
        )
    if "project_dir" not in existing:
        parser.add_argument(
            "--project-dir", type=Path, default=PROJECT_DIR, help="the Pulumi project"
        )
    if "stack_file" not in existing:
        parser.add_argument("--stack-file", type=Path, help="read the config from this file")
    parser.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="NAME",
        help="rehearse only this route (repeatable; default: every route)",
    )
    parser.add_argument(
        "--fail-at-stage",
        type=int,
        metavar="N",
        help="during the bake of stage N (1-based) the upstream fails and the route's alarms "
        "go to ALARM; the alarm event is delivered through the program's EventBridge rule",
    )
    parser.add_argument(
        "--fail-route",
        action="append",
        default=[],
        metavar="NAME",
        help="fail only this route (repeatable; default: every rehearsed route)",
    )
    parser.add_argument(
        "--drift-at-stage",
        type=int,
        metavar="N",
        help="during the bake of stage N the weights are changed by hand (ModifyRule)",
    )
    parser.add_argument(
        "--drift-route",
        action="append",
        default=[],
        metavar="NAME",
        help="drift only this route (repeatable; default: every rehearsed route)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--chart", type=Path, metavar="PATH", help="write a PNG chart to PATH")
    parser.add_argument(
        "--bake-seconds",
        type=int,
        default=DEFAULT_BAKE_SECONDS,
        metavar="S",
        help="bake of each baked stage, stretched for tiny canary shares "
        f"(default: {DEFAULT_BAKE_SECONDS})",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        metavar="RPS",
        help=f"requests per second per route, at most {MAX_TOTAL_RATE:g} in total "
        f"(default: {DEFAULT_RATE:g})",
    )
    parser.add_argument(
        "--moto-server",
        action="store_true",
        help="run moto as a server on 127.0.0.1 (default: in-process)",
    )
    if "main_path" not in existing:
        parser.add_argument("--program", dest="main_path", type=Path, help=argparse.SUPPRESS)


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """:class:`RunOptions` from parsed arguments (see :func:`add_run_arguments`)."""
    stack_file = getattr(args, "stack_file", None)
    stack = getattr(args, "stack", None)
    if not stack and stack_file is not None:
        from rehearsal.stack_files import stack_name_of

        stack = stack_name_of(stack_file)
    return RunOptions(
        stack=stack or DEFAULT_STACK,
        project_dir=getattr(args, "project_dir", None) or PROJECT_DIR,
        stack_file=stack_file,
        main_path=getattr(args, "main_path", None),
        routes=tuple(args.route or ()),
        fail_at_stage=args.fail_at_stage,
        fail_routes=tuple(args.fail_route or ()),
        drift_at_stage=args.drift_at_stage,
        drift_routes=tuple(args.drift_route or ()),
        bake_seconds=args.bake_seconds,
        rate=args.rate,
        json=bool(args.json),
        chart=args.chart,
        moto_server=bool(args.moto_server),
    )


def main_run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``python -m rehearsal run``; returns the exit code (see the module docstring)."""
    out = out or sys.stdout
    err = err or sys.stderr
    options = options_from_args(args)
    try:
        report = run_rehearsal(options, progress=err if options.json else out)
        if options.chart is not None:
            write_chart(report, options.chart)
        if options.json:
            json.dump(report.to_json(), out, indent=2)
            out.write("\n")
        else:
            out.write("\n" + render_text(report) + "\n")
            if options.chart is not None:
                out.write(f"\nchart: {options.chart}\n")
        out.flush()
        return EXIT_OK
    except (RunConfigError, ConfigRejected) as error:
        print(f"rehearsal run: invalid options or config for stack {options.stack}:", file=err)
        for message in error.messages:
            print(f"  {message}", file=err)
        return EXIT_CONFIG
    except StackConfigError as error:
        print(f"rehearsal run: {error}", file=err)
        return EXIT_CONFIG
    except LambdaRuntimeError as error:
        print(f"rehearsal run failed: a deployed function could not run: {error}", file=err)
        return EXIT_HARNESS
    except RehearsalError as error:
        print(f"rehearsal run failed: {error}", file=err)
        return EXIT_HARNESS


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m rehearsal.run [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m rehearsal run", description=__doc__.split("\n")[0]
    )
    add_run_arguments(parser)
    return main_run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
