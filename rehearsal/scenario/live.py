"""The live stack: the deployed functions running, and synthetic traffic through the rules.

What both ``rehearsal run`` (rehearsal/scenario/engine.py) and ``rehearsal
serve`` (rehearsal/serve.py) need while a stack applied to the emulator is
alive, in one place:

- the deployed functions run (rehearsal/world/lambda_runtime.py): moto's
  Lambda ``Invoke`` is routed (rehearsal/world/moto_lambda.py) to the real
  controller handler in this process and to the real route function in a
  process of its own, each with the handler and environment the program
  declared (read back from moto); the route function's ``UPSTREAM_URL`` host
  is the route's local stand-in of its upstream (the twin's DNS). This
  covers every invocation: Step Functions' tasks, EventBridge's deliveries
  and direct ``Invoke`` calls from any process that reaches the emulator;
- every ECS target group a rule forwards to is a local stand-in server;
- the listener itself is served over HTTP on 127.0.0.1 (rehearsal/world/alb.py)
  for the routes' equivalence checkers (functions/traffic_check), which run
  in a worker each, with the program's ``STRANGLER_CHECK`` pointed at it
  (rehearsal/scenario/verify.py);
- the functions' output goes to the twin's CloudWatch: their EMF lines
  become metric data (rehearsal/scenario/emf.py), which the controller's
  Check counts;
- each route gets a request loop through its rule
  (rehearsal/scenario/traffic.py), split by the rule's live weights; it
  starts with :meth:`LiveStack.start_traffic`.

Leaving the block stops everything in the reverse order.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from controller.core.contract import RouteRecord, StackRecord
from rehearsal.errors import RehearsalError
from rehearsal.scenario import verify
from rehearsal.scenario.alias_routing import AliasVersions
from rehearsal.scenario.concurrency import ConcurrencyMeter, MeteredBackend
from rehearsal.scenario.emf import EmfPublisher
from rehearsal.scenario.traffic import (
    Backend,
    HttpBackend,
    LambdaBackend,
    RouteTraffic,
    RuleWeights,
    forward_weights,
)
from rehearsal.world import emulator as emulators
from rehearsal.world.alb import TwinAlb
from rehearsal.world.ecs_standin import StandinServer
from rehearsal.world.emulator import Emulator
from rehearsal.world.lambda_runtime import (
    InProcessFunction,
    OutputRouter,
    WorkerFunction,
    deployed_package,
    function_config,
    function_environment,
    in_process_environment,
    routed_stdout,
)
from rehearsal.world.moto_lambda import LambdaRouter, route_lambda_invocations

__all__ = ["LiveRoute", "LiveStack"]

# The Host header of a synthetic request whose rule has no host condition.
DEFAULT_HOST = "www.example.com"
# How long leaving the block waits for handlers still running.
IDLE_TIMEOUT_SECONDS = 30.0


class LiveRoute(Protocol):
    """What the live stack needs of a route, and fills in (``traffic``).

    ``upstream`` is the stand-in of the route function's upstream;
    ``weights`` reads the route's rule.
    """

    record: RouteRecord
    upstream: StandinServer
    weights: RuleWeights | None
    traffic: RouteTraffic | None


class LiveStack:
    """The functions, stand-ins, metrics and traffic of a stack; see the module docstring.

    Use as a context manager. ``rate`` is the request rate per route; 0
    builds no request loop (``route.traffic`` stays None). With traffic, each
    route function's ``ConcurrentExecutions`` is published as Lambda would
    (``meters``, by route), each request held ``lambda_latency_ms``
    (rehearsal/scenario/concurrency.py).
    """

    def __init__(
        self,
        emulator: Emulator,
        stack_record: StackRecord,
        routes: Sequence[LiveRoute],
        *,
        rate: float,
        max_samples: int | None = None,
        lambda_latency_ms: float = 0.0,
    ) -> None:
        self.emulator = emulator
        self.stack_record = stack_record
        self.routes = list(routes)
        self.rate = rate
        self.max_samples = max_samples
        self.lambda_latency_ms = lambda_latency_ms
        self.meters: dict[str, ConcurrencyMeter] = {}
        self.emf = EmfPublisher(emulator.client("cloudwatch"))
        self.monoliths: dict[str, StandinServer] = {}
        self.monoliths_lock = threading.Lock()
        self.alb: TwinAlb | None = None
        self.router: LambdaRouter | None = None
        # Per route: how its alias `live` splits the ALB's invocations.
        self.versions: dict[str, AliasVersions] = {}
        self._cleanup = ExitStack()

    # --- the block -------------------------------------------------------------------------

    def __enter__(self) -> LiveStack:
        cleanup = self._cleanup
        try:
            router_out = cleanup.enter_context(routed_stdout())
            # The controller's Metrics warns on every invocation without a metric
            # (Powertools 3.x); in Lambda that goes to its log, here it would
            # flood the twin's stderr.
            cleanup.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            for route in self.routes:
                route.upstream.start()
                cleanup.callback(route.upstream.stop)
            cleanup.callback(self._stop_monoliths)
            if self.routes:
                cleanup.callback(self._start_alb().stop)
            self.router = cleanup.enter_context(self._functions(router_out))
            self.emf.start()
            cleanup.callback(_quietly, self.emf.close)
            if self.rate > 0:
                for route in self.routes:
                    backends, conditions = self._backends(route)
                    assert route.weights is not None
                    route.traffic = RouteTraffic(
                        route.record.route,
                        route.weights,
                        backends,
                        conditions,
                        rate_per_second=self.rate,
                        default_host=DEFAULT_HOST,
                        max_samples=self.max_samples,
                    )
        except BaseException:
            cleanup.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._cleanup.close()

    def start_traffic(self) -> None:
        """Start every route's request loop (none with rate 0); stopped on leaving the block."""
        for meter in self.meters.values():
            meter.start()
            self._cleanup.callback(_quietly, meter.stop)
        for route in self.routes:
            if route.traffic is not None:
                route.traffic.start()
                self._cleanup.callback(_quietly, route.traffic.stop)

    def finish(self) -> None:
        """The normal end: stop the traffic, wait for running handlers, flush the metrics.

        Raises what went wrong in the request loops or the metrics publisher.
        """
        for route in self.routes:
            if route.traffic is not None:
                route.traffic.stop()
        for meter in self.meters.values():
            meter.stop()
        if self.router is not None:
            self.router.wait_idle(timeout=IDLE_TIMEOUT_SECONDS)
        self.emf.close()

    def problems(self) -> list[tuple[LiveRoute | None, BaseException]]:
        """Errors of the request loops (per route) and of the metrics publisher (route None)."""
        found: list[tuple[LiveRoute | None, BaseException]] = [
            (route, route.traffic.error)
            for route in self.routes
            if route.traffic is not None and route.traffic.error is not None
        ]
        if self.emf.error is not None:
            found.append((None, self.emf.error))
        return found

    # --- functions --------------------------------------------------------------------------

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

        def start_worker(route: LiveRoute) -> WorkerFunction:
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

        def start_checker(route: LiveRoute) -> WorkerFunction:
            # The route's equivalence checker calls the listener: the twin's, on 127.0.0.1.
            assert route.record.check_function_name is not None and self.alb is not None
            config = function_config(emulator, route.record.check_function_name)
            return WorkerFunction(
                config,
                deployed_package(emulator, config),
                region=emulator.region,
                on_output=self._output,
                environment_overrides=verify.checker_overrides(config.environment, self.alb.url),
            )

        checked = [route for route in self.routes if route.record.check_function_name]
        workers: list[WorkerFunction] = []
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(self.routes) + len(checked))) as pool:
                futures = [pool.submit(start_worker, route) for route in self.routes]
                futures += [pool.submit(start_checker, route) for route in checked]
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

    # --- backends ---------------------------------------------------------------------------

    def _backends(self, route: LiveRoute) -> tuple[dict[str, Backend], list[dict[str, Any]]]:
        """A backend per target group of the route's rule, and the rule's conditions."""
        elbv2 = self.emulator.client("elbv2")
        rule = elbv2.describe_rules(RuleArns=[route.record.rule_arn])["Rules"][0]
        groups = list(forward_weights(rule))
        described = elbv2.describe_target_groups(TargetGroupArns=groups)["TargetGroups"]
        backends: dict[str, Backend] = {}
        for group in described:
            arn = group["TargetGroupArn"]
            if group.get("TargetType") == "lambda":
                meter = ConcurrencyMeter(
                    self.emulator.client("cloudwatch"),
                    route.record.function_name,
                    hold_ms=self.lambda_latency_ms,
                )
                self.meters[route.record.route] = meter
                backends[arn] = MeteredBackend(self._lambda_backend(route, arn), meter)
            else:
                backends[arn] = self.ecs_backend(arn)
        return backends, list(rule.get("Conditions") or [])

    def ecs_backend(self, target_group_arn: str) -> HttpBackend:
        """The stand-in of the ECS service behind ``target_group_arn`` (one per target group)."""
        monolith = self._monolith(target_group_arn)
        return HttpBackend(monolith.host, monolith.port)

    def _monolith(self, target_group_arn: str) -> StandinServer:
        # The twin's listener threads ask too: one stand-in per target group, made once.
        with self.monoliths_lock:
            monolith = self.monoliths.get(target_group_arn)
            if monolith is None:
                name = target_group_arn.split(":targetgroup/")[-1].split("/")[0]
                monolith = StandinServer(f"ecs-{name}").start()
                self.monoliths[target_group_arn] = monolith
        return monolith

    def _start_alb(self) -> TwinAlb:
        """The listener over HTTP, for the routes' checkers (rehearsal/world/alb.py)."""

        def ecs_address(target_group_arn: str) -> tuple[str, int]:
            monolith = self._monolith(target_group_arn)
            return monolith.host, monolith.port

        self.alb = TwinAlb(
            self.emulator.client("elbv2"),
            self.emulator.client("lambda"),
            self.routes[0].record.listener_arn,
            ecs_address,
        ).start()
        return self.alb

    def _lambda_backend(self, route: LiveRoute, target_group_arn: str) -> LambdaBackend:
        name = route.record.route
        elbv2 = self.emulator.client("elbv2")
        health = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
        targets = [d["Target"]["Id"] for d in health.get("TargetHealthDescriptions", [])]
        if len(targets) != 1:
            raise RehearsalError(
                f"route {name}: Lambda target group {target_group_arn} has "
                f"{len(targets)} registered targets ({targets}); a Lambda target group "
                "holds exactly one function"
            )
        function_arn = targets[0]
        if function_arn.split(":function:")[-1].split(":")[0] != route.record.function_name:
            raise RehearsalError(
                f"route {name}: its Lambda target group forwards to {function_arn}, "
                f"but the registry names function {route.record.function_name}"
            )
        attributes = elbv2.describe_target_group_attributes(TargetGroupArn=target_group_arn)
        multi = any(
            a.get("Key") == "lambda.multi_value_headers.enabled" and a.get("Value") == "true"
            for a in attributes.get("Attributes", [])
        )
        versions = None
        qualifier = function_arn.split(":function:")[-1].split(":")[1:]
        if qualifier:
            # The target is the alias `live`: invocations follow its routing config.
            versions = AliasVersions(
                self.emulator.client("lambda"),
                self.emulator.client("cloudwatch"),
                route.record.function_name,
                qualifier[0],
            )
            self.versions[name] = versions
        return LambdaBackend(
            self.emulator.client("lambda"),
            function_arn,
            target_group_arn,
            multi_value=multi,
            versions=versions,
        )

    def add_version_worker(self, function: str, version: str, upstream: StandinServer) -> None:
        """Run ``function``'s ``version`` (its deployed code now) in a worker of its own.

        Invocations qualified with ``version`` reach it; its upstream is
        ``upstream`` (started here). Both stop on leaving the block.
        """
        assert self.router is not None, "the live stack is not entered"
        upstream.start()
        self._cleanup.callback(_quietly, upstream.stop)
        config = function_config(self.emulator, function)
        declared = config.environment.get("UPSTREAM_URL")
        worker = WorkerFunction(
            config,
            deployed_package(self.emulator, config),
            region=self.emulator.region,
            on_output=self._output,
            environment_overrides=(
                {"UPSTREAM_URL": _via_standin(declared, upstream)} if declared else {}
            ),
        )
        self._cleanup.callback(_quietly, worker.close)
        self.router.add_version(function, version, worker)

    def _stop_monoliths(self) -> None:
        for monolith in self.monoliths.values():
            monolith.stop()


def _quietly(stop: Callable[[], None]) -> None:
    """A cleanup step on the way out of an error: the original error matters more."""
    with suppress(Exception):
        stop()


def _via_standin(declared: str, standin: StandinServer) -> str:
    """``declared`` with its scheme and host replaced by the stand-in's (the twin's DNS)."""
    parts = urlsplit(declared)
    return urlunsplit(("http", f"{standin.host}:{standin.port}", parts.path, parts.query, ""))
