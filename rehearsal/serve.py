"""``serve``: the stack alive on a moto server on 127.0.0.1, kept up until Ctrl-C or SIGTERM.

Other processes (the operator CLI, boto3, the AWS CLI) use the emulated stack
through ``--endpoint-url``, and it behaves as the stack would in AWS:

- the stack is applied as ``run`` applies it (rehearsal/world/twin.py);
- its route records in the registry (SSM ``/strangler/<stack>/routes/<route>``)
  are rewritten with the compressed plan ``run`` uses (:func:`rehearsal.run.rehearsal_plan`:
  every bake ``--bake-seconds``, stretched for tiny canary shares; minRequests
  at most 1), so a run started by ``python -m controller start`` bakes for
  seconds, not minutes;
- the stack is live (rehearsal/scenario/live.py, as in ``run``): every Lambda
  invocation, from Step Functions' tasks, EventBridge deliveries or a direct
  ``Invoke``, runs the real controller handler or the real route function;
  synthetic requests go through each route's rule at ``--rate`` per second,
  split by the live weights, and their metrics reach CloudWatch (``--rate 0``:
  no requests);
- ``python -m rehearsal fault`` reaches it at ``{endpoint}/strangler-twin/fault``
  (rehearsal/scenario/live_faults.py).

``--account-concurrency`` sets the account's Lambda concurrency limit that
``GetAccountSettings`` reports (rehearsal/world/moto_patches.py), for checks
that read it. On the way out, running executions are stopped first, so no
task outlives the controller.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from controller.aws.registry import SsmRegistry
from controller.core.contract import (
    PlanRecord,
    RouteRecord,
    StackRecord,
    registry_path,
    route_parameter_name,
)
from rehearsal.errors import RehearsalError
from rehearsal.run import DEFAULT_BAKE_SECONDS, DEFAULT_RATE, MAX_TOTAL_RATE, rehearsal_plan
from rehearsal.scenario.traffic import RouteTraffic, RuleWeights
from rehearsal.world import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    Emulator,
    Twin,
    build_twin,
    effective_config,
    server,
    set_account_concurrency,
    stack_region,
)
from rehearsal.world.control import ControlEndpoint
from rehearsal.world.ecs_standin import StandinServer

if TYPE_CHECKING:
    from rehearsal.scenario.live import LiveStack

DEFAULT_PORT = 4566
# Used only when the stack sets no aws:region (the program then rejects it).
FALLBACK_REGION = "us-east-1"
# The control endpoint ``python -m rehearsal fault`` posts to.
FAULT_ENDPOINT = "fault"
# Requests kept per route for nothing but the newest samples: a served twin
# stays up for hours; the counters count every request.
SAMPLES_KEPT = 10_000
# How often the waiting loop looks for a failed request loop.
WATCH_SECONDS = 0.5
# How long the way out waits for handlers still running.
STOP_TIMEOUT_SECONDS = 30.0


@dataclass
class ServedRoute:
    """One route of the served stack (a :class:`rehearsal.scenario.live.LiveRoute`)."""

    record: RouteRecord
    upstream: StandinServer
    weights: RuleWeights | None = None
    traffic: RouteTraffic | None = None


def describe(
    twin: Twin,
    stack: str,
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
    *,
    routes: list[RouteRecord] | None = None,
    rate: float | None = None,
) -> list[str]:
    """The lines ``serve`` prints once the twin is up.

    ``routes`` are the records as served (their compressed plans), ``rate``
    the request rate per route (0: none; None: not live).
    """
    emulator = twin.emulator
    endpoint = emulator.endpoint_url or "(in-process)"
    names = ", ".join(twin.route_names) or "(none)"
    region = emulator.region
    lines = [
        f"Strangler twin of stack {stack} is up: {endpoint} (region {region})",
        f"routes: {names}",
        f"resources: {len(twin.applied.custom_resources)} AWS resources in the emulator",
        f"listener: {twin.brownfield.listener_arn}",
        f"Lambda account concurrency limit: {account_concurrency} (GetAccountSettings)",
    ]
    for record in routes or []:
        plan = ", ".join(f"{s.weight:g}% {s.bake_seconds}s" for s in record.plan.stages)
        minimum = record.plan.min_requests
        lines.append(f"route {record.route}: stages as served {plan} (minRequests {minimum})")
    if rate is not None:
        lines.append(
            f"traffic: {rate:g} requests/s per route through each rule, split by its live weights"
            if rate > 0
            else "traffic: none (--rate 0)"
        )
    first = routes[0].route if routes else (twin.route_names or ["ROUTE"])[0]
    common = f"--stack {stack} --region {region} --endpoint-url {endpoint}"
    lines += [
        "try it (the emulator accepts any credentials):",
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        f"  python -m controller status {common}",
    ]
    if rate is not None:
        lines += [
            f"  python -m controller start --route {first} {common}",
            f"  python -m rehearsal fault --endpoint-url {endpoint} --route {first} --kind alarm",
        ]
    lines.append("Ctrl-C to stop.")
    return lines


def serve(
    stack: str,
    project_dir: Path,
    *,
    port: int = DEFAULT_PORT,
    stack_file: Path | None = None,
    main_path: Path | None = None,
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
    bake_seconds: int = DEFAULT_BAKE_SECONDS,
    rate: float = DEFAULT_RATE,
    out: TextIO,
    stop: threading.Event | None = None,
    on_ready: Callable[[Twin], None] | None = None,
) -> None:
    """Start the server, build the twin, bring it alive, print where it is, wait.

    Waits for ``stop``, SIGTERM or SIGINT (Ctrl-C). ``stop`` and ``on_ready``
    let a caller (a test) run it in a thread; ``stack_file`` and
    ``main_path`` replace the stack file and the program;
    ``account_concurrency`` is the Lambda concurrency limit of the emulated
    account while the server is up (ValueError below 1); ``bake_seconds``
    and ``rate`` as in ``run`` (ValueError for a bake below 1 or a negative
    rate; a rate of 0 sends no requests).
    """
    if bake_seconds < 1:
        raise ValueError(f"--bake-seconds: {bake_seconds} must be at least 1")
    if not rate >= 0:
        raise ValueError(f"--rate: {rate} must be 0 or more")
    # Imported on use: the live stack starts workers and imports the controller.
    from rehearsal.scenario.live import LiveStack
    from rehearsal.scenario.live_faults import LiveFaults

    stop = stop or threading.Event()
    region = stack_region(effective_config(project_dir, stack, None, stack_file))
    previous_limit = set_account_concurrency(account_concurrency)
    printed = threading.Lock()

    def say(line: str) -> None:
        with printed:
            print(line, file=out, flush=True)

    try:
        with server(region or FALLBACK_REGION, port=port) as emulator:
            twin = build_twin(
                stack, project_dir, emulator, stack_file=stack_file, main_path=main_path
            )
            routes_rate = min(rate, MAX_TOTAL_RATE / max(1, len(twin.route_names)))
            stack_record, records = compress_registry(
                emulator, stack, bake_seconds=bake_seconds, rate=routes_rate
            )
            routes = [_served_route(emulator, record) for record in records]
            live = LiveStack(
                emulator, stack_record, routes, rate=routes_rate, max_samples=SAMPLES_KEPT
            )
            with live, _control(emulator, LiveFaults(emulator, routes, say=say).endpoint):
                try:
                    live.start_traffic()
                    for line in describe(
                        twin, stack, account_concurrency, routes=records, rate=routes_rate
                    ):
                        say(line)
                    if on_ready is not None:
                        on_ready(twin)
                    _wait(stop, live, say)
                finally:
                    _stop_executions(emulator, stack_record)
                    if live.router is not None:
                        with suppress(TimeoutError):
                            live.router.wait_idle(timeout=STOP_TIMEOUT_SECONDS)
    finally:
        # The limit is process-wide (moto's backends are): put it back.
        set_account_concurrency(previous_limit)


def compress_registry(
    emulator: Emulator, stack: str, *, bake_seconds: int, rate: float
) -> tuple[StackRecord, list[RouteRecord]]:
    """Rewrite each route record of the registry with its compressed plan; the records.

    The plan is ``run``'s (:func:`rehearsal.run.rehearsal_plan`); everything
    else of the record stays as the deploy wrote it.
    """
    registry = SsmRegistry(emulator.client("ssm"), stack, registry_path(stack))
    try:
        stack_record, records = registry.stack(), registry.routes()
    except Exception as error:
        raise RehearsalError(
            f"cannot read the registry of stack {stack} at {registry_path(stack)} "
            f"({error}); does the program declare the canary controller?"
        ) from error
    ssm = emulator.client("ssm")
    compressed = []
    for record in records:
        plan = rehearsal_plan(record.plan, bake_seconds=bake_seconds, rate_per_second=rate)
        served = _with_plan(record, plan)
        ssm.put_parameter(
            Name=route_parameter_name(stack, record.route),
            Value=served.to_json(),
            Type="String",
            Overwrite=True,
        )
        compressed.append(served)
    return stack_record, compressed


def _with_plan(record: RouteRecord, plan: PlanRecord) -> RouteRecord:
    return dataclasses.replace(record, plan=plan)


def _served_route(emulator: Emulator, record: RouteRecord) -> ServedRoute:
    return ServedRoute(
        record=record,
        upstream=StandinServer(f"upstream-{record.route}"),
        weights=RuleWeights(emulator.client("elbv2"), record.rule_arn),
    )


@contextmanager
def _control(emulator: Emulator, endpoint: ControlEndpoint) -> Iterator[None]:
    """The fault endpoint on the server while the block runs."""
    if emulator.control is None:
        raise RehearsalError("the emulator has no control endpoint (not a server)")
    emulator.control.register(FAULT_ENDPOINT, endpoint)
    try:
        yield
    finally:
        emulator.control.unregister(FAULT_ENDPOINT)


def _wait(stop: threading.Event, live: LiveStack, say: Callable[[str], None]) -> None:
    """Until ``stop``, SIGTERM or SIGINT; says once when a request loop or the metrics fail."""
    restore = _stop_on_signals(stop)
    reported: set[int] = set()
    try:
        while not stop.wait(timeout=WATCH_SECONDS):
            for route, error in live.problems():
                if id(error) in reported:
                    continue
                reported.add(id(error))
                what = (
                    f"route {route.record.route}: the request loop stopped"
                    if route is not None
                    else "publishing the functions' metrics stopped"
                )
                say(f"{what}: {error}")
        say("stopping")
    except KeyboardInterrupt:
        say("stopping")
    finally:
        restore()


def _stop_executions(emulator: Emulator, stack_record: StackRecord) -> None:
    """Stop every running execution of the stack's state machine (best effort)."""
    sfn = emulator.client("stepfunctions")
    with suppress(Exception):
        running = sfn.list_executions(
            stateMachineArn=stack_record.state_machine_arn, statusFilter="RUNNING"
        ).get("executions", [])
        for execution in running:
            with suppress(Exception):
                sfn.stop_execution(executionArn=execution["executionArn"], cause="serve stopped")


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGTERM and SIGINT stop the server cleanly (main thread only); returns an undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        number: signal.signal(number, handler) for number in (signal.SIGTERM, signal.SIGINT)
    }

    def restore() -> None:
        for number, before in previous.items():
            signal.signal(number, before)

    return restore
