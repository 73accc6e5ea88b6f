"""``python -m rehearsal run``: rehearse the canaries of a stack end to end on the twin.

What one run does (issue 5):

1. start moto (in-process ``mock_aws``, or a ``ThreadedMotoServer`` with
   ``--moto-server``), create the brownfield and apply the real program
   (rehearsal/world/twin.py);
2. find everything from the registry the deploy wrote, as the controller and
   the operator CLI do (SSM ``/strangler/{stack}``);
3. run the deployed functions (rehearsal/world/lambda_runtime.py): moto's Lambda
   ``Invoke`` is routed (rehearsal/world/moto_lambda.py) to the real controller
   handler in-process and to the real route function in a process of its
   own, each with the handler and environment the program declared (read
   back from moto); the route function's ``UPSTREAM_URL`` host is the local
   stand-in of the map delivery service (the twin's DNS);

Steps 3 to 7 are rehearsal/scenario/engine.py; this module resolves the options,
checks them against the stack, compresses the plans and builds the twin.

4. send synthetic requests through each route's rule (rehearsal/scenario/traffic.py):
   a target group picked by the rule's live weights, a Lambda pick invokes
   the function with an ALB event, an ECS pick goes to the stand-in of the
   ECS service; the function's EMF output becomes CloudWatch metric data
   (rehearsal/scenario/emf.py), which the controller's Check counts;
5. start each route's canary: the stack's state machine with the route's
   plan from the registry, bakes compressed to seconds (:func:`rehearsal_plan`);
6. inject the faults asked for (rehearsal/scenario/faults.py): with
   ``--fail-at-stage N`` the route's upstream starts failing and its alarms
   go to ALARM during the bake of stage N, and the alarm event is delivered
   through the EventBridge rule the program declared; ``failback_ms`` is the
   time from the alarm's state change until the rule reads back ECS 100 %.
   With ``--drift-at-stage N`` the weights are changed by hand during stage N.
   With ``--redeploy-at-stage N`` the program is re-applied during stage N
   with the route moved to a second ECS target group (a ``pulumi up``
   mid-canary), and the "Parameter Store Change" event of its route record
   is delivered through the program's registry-sync rule: the controller
   points the rule at the new target group and keeps the split. With
   ``--reorder-at-stage N`` the rule's forward target groups are reversed by
   hand during stage N, weights kept. With ``--diverge`` the function's
   upstream answers the first verify sample with another Cache-Control, so
   the run's equivalence check pauses the route before stage 1. With
   ``--fail-after-promotion`` the
   alarm fires once the canary has promoted (no run in flight), and with
   ``--scale-in`` the twin's autoscaler scales the route's ECS service in
   after the promotion, within its MinCapacity. ``--lambda-latency-ms L``
   makes each route function hold a request for L ms in its
   ``ConcurrentExecutions``, which the concurrency gate reads;
7. print a progress line per route while it runs, then the report
   (rehearsal/report/timeline.py), as text or one JSON document, and the chart
   (rehearsal/report/chart.py).

Exit codes: 0 when the rehearsal ran, whatever the outcome; 2 for a bad
stack config or bad options (every problem printed); 1 when the harness
failed (the twin could not do its job).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from controller.aws.registry import SsmRegistry
from controller.core.contract import (
    PlanRecord,
    RouteRecord,
    StackRecord,
    StagePlanRecord,
    registry_path,
)
from rehearsal.errors import ConfigRejected, RehearsalError, StackConfigError
from rehearsal.report import ProgressPrinter, RehearsalReport, render_text
from rehearsal.run_checks import chart_problem, stack_plans
from rehearsal.scenario import (
    ReleaseOptions,
    RoutePlan,
    RunConfigError,
    release_stage_problem,
    run_canaries,
)
from rehearsal.world import Emulator, LambdaRuntimeError, in_process, server

if TYPE_CHECKING:
    from rehearsal.world import Twin

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


FAIL_FLAG = "--fail-at-stage"
# The rehearsal's way to fail a route once its last stage has passed: what a
# --fail-at-stage on the final (unbaked) stage is usually after.
FAIL_AFTER_PROMOTION_FLAG = "--fail-after-promotion"
DRIFT_FLAG = "--drift-at-stage"
REDEPLOY_FLAG = "--redeploy-at-stage"
REORDER_FLAG = "--reorder-at-stage"
# The faults that end a route's canary at their stage (rolled back, paused):
# a stack change on the same route must come at an earlier stage to happen.
ENDING_FLAGS = (FAIL_FLAG, DRIFT_FLAG)
CHANGE_FLAGS = (REDEPLOY_FLAG, REORDER_FLAG)


@dataclass(frozen=True)
class RunOptions:
    """The options of ``python -m rehearsal run`` (see :func:`add_run_arguments`).

    ``main_path`` replaces the project's ``__main__.py`` (a variant of the
    program, as ``serve`` allows).
    """

    stack: str = DEFAULT_STACK
    project_dir: Path = PROJECT_DIR
    stack_file: Path | None = None
    main_path: Path | None = None
    routes: tuple[str, ...] = ()
    fail_at_stage: int | None = None
    fail_routes: tuple[str, ...] = ()
    drift_at_stage: int | None = None
    drift_routes: tuple[str, ...] = ()
    redeploy_at_stage: int | None = None
    redeploy_routes: tuple[str, ...] = ()
    reorder_at_stage: int | None = None
    reorder_routes: tuple[str, ...] = ()
    diverge: bool = False
    bake_seconds: int = DEFAULT_BAKE_SECONDS
    rate: float = DEFAULT_RATE
    fail_after_promotion: bool = False
    scale_in: bool = False
    lambda_latency_ms: float = 0.0
    json: bool = False
    chart: Path | None = None
    moto_server: bool = False
    release: bool = False
    from_promoted: bool = False

    def problems(self) -> list[str]:
        """What is wrong with the options on their own (before the stack is known)."""
        found = []
        if self.bake_seconds < 1:
            found.append(f"--bake-seconds: {self.bake_seconds} must be at least 1")
        if not self.rate > 0:
            found.append(f"--rate: {self.rate} must be positive")
        if self.lambda_latency_ms < 0:
            found.append(f"--lambda-latency-ms: {self.lambda_latency_ms:g} must not be negative")
        if self.fail_after_promotion:
            for flag in ENDING_FLAGS:
                if self.stages()[flag] is not None:
                    found.append(
                        f"{FAIL_AFTER_PROMOTION_FLAG} and {flag}: {flag} ends the canary "
                        "before it can be promoted"
                    )
        for flag, stage in self.stages().items():
            if stage is not None and stage < 1:
                found.append(f"{flag}: {stage} must be 1 or more (stages are numbered from 1)")
        for (flag, stage), (route_flag, routes) in zip(
            self.stages().items(), self.route_choices().items(), strict=True
        ):
            if routes and stage is None:
                found.append(f"{route_flag} needs {flag}")
        if self.from_promoted and not self.release:
            found.append("--from-promoted needs --release")
        return found

    def stages(self) -> dict[str, int | None]:
        """Each fault's or change's stage option, under its flag (in a fixed order)."""
        return {
            FAIL_FLAG: self.fail_at_stage,
            DRIFT_FLAG: self.drift_at_stage,
            REDEPLOY_FLAG: self.redeploy_at_stage,
            REORDER_FLAG: self.reorder_at_stage,
        }

    def route_choices(self) -> dict[str, tuple[str, ...]]:
        """Each fault's or change's route option, under its flag (the order of :meth:`stages`)."""
        return {
            "--fail-route": self.fail_routes,
            "--drift-route": self.drift_routes,
            "--redeploy-route": self.redeploy_routes,
            "--reorder-route": self.reorder_routes,
        }


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
        problem = (
            f"{flag} {stage}: stage {stage} of route {route} has no bake "
            f"(stages with a bake: {', '.join(baked) or 'none'})"
        )
        if flag == FAIL_FLAG:
            # A fault lands during a bake; a stage without one passes at once.
            problem += (
                f"; a fault needs a bake to land in. To fail the route once it is promoted "
                f"(its last stage passed), use {FAIL_AFTER_PROMOTION_FLAG}"
            )
        return problem
    if plan.stages_per_run and stage > plan.stages_per_run:
        return (
            f"{flag} {stage}: route {route} runs {plan.stages_per_run} stage(s) per run "
            "(stagesPerRun), so a run never reaches that stage"
        )
    return None


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
    # Imported on use: importing this module does not need Pulumi, only a run does.
    from rehearsal.world import build_twin, effective_config, stack_region

    config = effective_config(options.project_dir, options.stack, None, options.stack_file)
    check_before_apply(options, config)
    region = stack_region(config) or FALLBACK_REGION
    printer = ProgressPrinter(progress)
    with ExitStack() as stack:
        if options.moto_server:
            emulator = stack.enter_context(server(region, port=0))
        else:
            emulator = stack.enter_context(in_process(region))
        printer.say(f"applying stack {options.stack} to the emulator ({region})...")
        apply_started = time.monotonic()
        twin = build_twin(
            options.stack,
            options.project_dir,
            emulator,
            stack_file=options.stack_file,
            main_path=options.main_path,
        )
        resources = len(twin.applied.resources)
        printer.say(
            f"applied: {resources} resources ({len(twin.applied.custom_resources)} in AWS), "
            f"routes {', '.join(twin.route_names) or '(none)'}"
        )
        apply_ms = (time.monotonic() - apply_started) * 1000
        report = rehearse(emulator, options, resources=resources, printer=printer, twin=twin)
        # The run time an operator waited for: applying the stack, then the canaries.
        report.apply_ms = apply_ms
        report.duration_ms += apply_ms
        return report


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
) -> tuple[list[RouteRecord], dict[str, set[str]]]:
    """The routes to rehearse, and per stage flag the routes it applies to.

    RunConfigError for an unknown route, and for faults and changes that
    cannot both happen on one route (see :func:`_conflicts`).
    """
    names, applies = _select_names(options, [r.route for r in records])
    return [r for r in records if r.route in names], applies


def _select_names(options: RunOptions, known: list[str]) -> tuple[list[str], dict[str, set[str]]]:
    """:func:`_select` over route names: the names to rehearse, and the routes per flag."""
    problems = []
    for flag, names in (("--route", options.routes), *options.route_choices().items()):
        for name in names:
            if name not in known:
                problems.append(f"{flag} {name}: no such route; routes: {', '.join(known)}")
    if problems:
        raise RunConfigError(problems)
    selected_names = [name for name in known if not options.routes or name in options.routes]
    applies: dict[str, set[str]] = {}
    for (flag, stage), routes in zip(
        options.stages().items(), options.route_choices().values(), strict=True
    ):
        applies[flag] = set(routes or selected_names) if stage is not None else set()
    every = set().union(*applies.values())
    for name in sorted(every - set(selected_names)):
        problems.append(f"route {name} is not rehearsed (see --route)")
    problems += _conflicts(options, applies)
    if problems:
        raise RunConfigError(problems)
    return selected_names, applies


def check_before_apply(options: RunOptions, config: dict[str, Any]) -> None:
    """Refuse bad options and config before the stack is applied (at ``plan`` speed).

    The same checks the run makes once the registry is read (routes, stages,
    conflicts), made on the stack file's config, which is validated as the
    program validates it; and the ``--chart`` path. A variant program
    (``main_path``) may read its config otherwise: then only the chart is checked.
    """
    problems = []
    if options.chart is not None:
        problem = chart_problem(options.chart)
        if problem:
            problems.append(problem)
    if options.main_path is None:
        plans = stack_plans(config, project_dir=options.project_dir, stack=options.stack)
        try:
            selected, applies = _select_names(options, list(plans))
        except RunConfigError as error:
            problems += error.messages
            selected, applies = [], {}
        for name in selected:
            for flag, stage in options.stages().items():
                if stage is not None and name in applies[flag]:
                    problem = _stage_problem(flag, stage, name, plans[name])
                    if problem:
                        problems.append(problem)
    if problems:
        raise RunConfigError(problems)


def _conflicts(options: RunOptions, applies: dict[str, set[str]]) -> list[str]:
    """Faults and changes that cannot both happen on one route.

    A failure and a drift both end the canary; a stack change (redeploy,
    reorder) must come at an earlier stage than either to happen at all; a
    redeploy and a reorder in the same bake would race for the rule.
    """
    stages = options.stages()
    problems = []
    for name in sorted(applies[FAIL_FLAG] & applies[DRIFT_FLAG]):
        problems.append(
            f"route {name}: {FAIL_FLAG} and {DRIFT_FLAG} both apply; "
            "use --fail-route / --drift-route to give each fault its own route"
        )
    for change in CHANGE_FLAGS:
        for ending in ENDING_FLAGS:
            change_stage, ending_stage = stages[change], stages[ending]
            if change_stage is None or ending_stage is None or change_stage < ending_stage:
                continue
            for name in sorted(applies[change] & applies[ending]):
                problems.append(
                    f"route {name}: {change} {change_stage} does not come before "
                    f"{ending} {ending_stage}, which ends the canary first; give the change an "
                    "earlier stage or another route"
                )
    if stages[REDEPLOY_FLAG] is not None and stages[REDEPLOY_FLAG] == stages[REORDER_FLAG]:
        for name in sorted(applies[REDEPLOY_FLAG] & applies[REORDER_FLAG]):
            problems.append(
                f"route {name}: {REDEPLOY_FLAG} and {REORDER_FLAG} are both at stage "
                f"{stages[REDEPLOY_FLAG]}; give them different stages or routes"
            )
    return problems


def rehearse(
    emulator: Emulator,
    options: RunOptions,
    *,
    resources: int,
    printer: ProgressPrinter | None = None,
    twin: Twin | None = None,
) -> RehearsalReport:
    """Rehearse the canaries of the stack already applied to ``emulator``.

    Everything is found from the stack's registry, so this also runs on any
    stack deployed to the emulator by other means (tests use it on a shared
    twin). Every route selected by ``options`` must be idle. ``--redeploy-at-stage``
    needs ``twin``, the applied program to re-apply (RunConfigError without).
    """
    printer = printer or ProgressPrinter(None)
    problems = options.problems()
    if problems:
        raise RunConfigError(problems)
    stack_record, records = _read_registry(emulator, options.stack)
    selected, applies = _select(options, records)
    if not selected:
        raise RunConfigError([f"stack {options.stack} has no routes to rehearse"])
    rate = min(options.rate, MAX_TOTAL_RATE / len(selected))
    stages = options.stages()
    plans: list[RoutePlan] = []
    problems = []
    for record in selected:
        at = {
            flag: stage if record.route in applies[flag] else None for flag, stage in stages.items()
        }
        release = None
        if options.release:
            # With --release, --fail-at-stage names a stage of the release, not of the canary.
            release = ReleaseOptions(
                from_promoted=options.from_promoted,
                fail_at=at[FAIL_FLAG],
                bake_seconds=options.bake_seconds,
                project_dir=options.project_dir,
            )
            problem = release_stage_problem(at[FAIL_FLAG], record.route)
            if problem:
                problems.append(problem)
            at[FAIL_FLAG] = None
        plan = RoutePlan(
            record=record,
            plan=rehearsal_plan(
                record.plan, bake_seconds=options.bake_seconds, rate_per_second=rate
            ),
            fail_at=at[FAIL_FLAG],
            drift_at=at[DRIFT_FLAG],
            redeploy_at=at[REDEPLOY_FLAG],
            reorder_at=at[REORDER_FLAG],
            diverge=options.diverge,
            release=release,
            fail_after_promotion=options.fail_after_promotion,
            scale_in=options.scale_in,
        )
        for flag, stage in at.items():
            if stage is not None:
                problem = _stage_problem(flag, stage, record.route, plan.plan)
                if problem:
                    problems.append(problem)
        plans.append(plan)
    if problems:
        raise RunConfigError(problems)
    redeployer = None
    if twin is not None:
        from rehearsal.world import TwinRedeployer

        redeployer = TwinRedeployer(twin)
    return run_canaries(
        emulator,
        options.stack,
        stack_record,
        plans,
        rate=rate,
        resources=resources,
        printer=printer,
        redeployer=redeployer,
        lambda_latency_ms=options.lambda_latency_ms,
    )


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
    parser.add_argument(
        "--redeploy-at-stage",
        type=int,
        metavar="N",
        help="during the bake of stage N the program is re-applied (pulumi up) with the route "
        "moved to a second ECS target group; the route record's Parameter Store Change event "
        "is delivered through the program's EventBridge rule, and the controller points the "
        "rule at the new target group, weights kept",
    )
    parser.add_argument(
        "--redeploy-route",
        action="append",
        default=[],
        metavar="NAME",
        help="redeploy only this route (repeatable; default: every rehearsed route)",
    )
    parser.add_argument(
        "--reorder-at-stage",
        type=int,
        metavar="N",
        help="during the bake of stage N the rule's forward target groups are put in the "
        "reverse order by hand (ModifyRule), weights kept",
    )
    parser.add_argument(
        "--reorder-route",
        action="append",
        default=[],
        metavar="NAME",
        help="reorder only this route's rule (repeatable; default: every rehearsed route)",
    )
    parser.add_argument(
        "--diverge",
        action="store_true",
        help="the function answers the first verify sample with another Cache-Control: the "
        "check before stage 1 pauses the route",
    )
    parser.add_argument(
        "--release",
        action="store_true",
        help="once the route is promoted, redeploy it with new function code (a new version) "
        "and rehearse the release run that moves the alias live to it in stages; "
        "--fail-at-stage N then fails the new version during release stage N",
    )
    parser.add_argument(
        "--from-promoted",
        action="store_true",
        help="with --release: promote the route at once (promote --full) instead of by a canary",
    )
    parser.add_argument(
        FAIL_AFTER_PROMOTION_FLAG,
        action="store_true",
        help="once a route is promoted (no run in flight) its upstream fails and its alarms go "
        "to ALARM; the alarm event is delivered through the program's EventBridge rule",
    )
    parser.add_argument(
        "--scale-in",
        action="store_true",
        help="once a route is promoted the twin's autoscaler scales its ECS service in, "
        "never below the scalable target's MinCapacity",
    )
    parser.add_argument(
        "--lambda-latency-ms",
        type=float,
        default=0.0,
        metavar="L",
        help="each route function holds a request for L ms, as counted in its "
        "AWS/Lambda ConcurrentExecutions (default: its own duration)",
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


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """:class:`RunOptions` from parsed arguments (see :func:`add_run_arguments`)."""
    stack_file = getattr(args, "stack_file", None)
    stack = getattr(args, "stack", None)
    if not stack and stack_file is not None:
        from rehearsal.world import stack_name_of

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
        redeploy_at_stage=args.redeploy_at_stage,
        redeploy_routes=tuple(args.redeploy_route or ()),
        reorder_at_stage=args.reorder_at_stage,
        reorder_routes=tuple(args.reorder_route or ()),
        diverge=bool(getattr(args, "diverge", False)),
        bake_seconds=args.bake_seconds,
        rate=args.rate,
        fail_after_promotion=bool(getattr(args, "fail_after_promotion", False)),
        scale_in=bool(getattr(args, "scale_in", False)),
        lambda_latency_ms=float(getattr(args, "lambda_latency_ms", 0.0) or 0.0),
        json=bool(args.json),
        chart=args.chart,
        moto_server=bool(args.moto_server),
        release=bool(getattr(args, "release", False)),
        from_promoted=bool(getattr(args, "from_promoted", False)),
    )


def main_run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``python -m rehearsal run``; returns the exit code (see the module docstring)."""
    out = out or sys.stdout
    err = err or sys.stderr
    options = options_from_args(args)
    try:
        report = run_rehearsal(options, progress=err if options.json else out)
        if options.json:
            json.dump(report.to_json(), out, indent=2)
            out.write("\n")
        else:
            out.write("\n" + render_text(report) + "\n")
        out.flush()
        if options.chart is not None:
            return _write_chart(report, options.chart, out=None if options.json else out, err=err)
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


def _write_chart(report: RehearsalReport, path: Path, *, out: TextIO | None, err: TextIO) -> int:
    """Write the chart after the summary, so that a failed write never loses the summary."""
    # matplotlib is imported only when a chart is asked for.
    from rehearsal.report import write_chart

    try:
        write_chart(report, path)
    except OSError as error:
        print(f"rehearsal run: --chart {path}: not written: {error.strerror or error}", file=err)
        return EXIT_HARNESS
    if out is not None:
        out.write(f"\nchart: {path}\n")
        out.flush()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m rehearsal.run [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m rehearsal run", description=__doc__.split("\n")[0]
    )
    add_run_arguments(parser)
    return main_run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
