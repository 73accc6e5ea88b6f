"""The controller Lambda: parse the event, call the service, answer.

Invoked by the canary state machine's tasks, by the failback EventBridge rule
(composite alarm to ALARM), by the registry-sync EventBridge rule (a route
record written by a deploy: the route's rule is synced with it) and by
operator automation; see
:mod:`controller.events` for the shapes. Everything it does is in
:mod:`controller.service`, the same code the operator CLI runs; an operator
event runs its entry of :mod:`controller.operations`, as the CLI command does.

The ports are built once per execution environment, on the first invocation,
from the environment: ``STRANGLER_STACK`` names the stack and
``STRANGLER_REGISTRY_PATH`` (default ``/strangler/{stack}``) the SSM registry
the deploy wrote (see :mod:`controller.core.contract`).

Errors: an invalid event raises :class:`~controller.events.InvalidEvent`
before anything is read or written. Throttling and other transient failures
are re-raised as :class:`TransientError`, the name the state machine's Retry
matches (:data:`controller.core.state_machine.TRANSIENT_ERROR`); everything else is
re-raised as is, so its class name is the error Step Functions' Catch sees and
EventBridge retries the event (then sends it to the DLQ).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from controller.core.contract import (
    CONTROLLER_SERVICE,
    ENV_REGISTRY_PATH,
    ENV_STACK,
    METRIC_NAMESPACE,
    METRIC_ROLLBACKS,
    rollback_dimensions,
    route_of_parameter,
)
from controller.core.state_machine import TRANSIENT_ERROR, Outcome
from controller.events import (
    AlarmStateChange,
    CapacityTick,
    ControllerEvent,
    InvalidEvent,
    OperatorEvent,
    RegistryChange,
    TaskEvent,
    parse_event,
)
from controller.operations import OperatorRequest
from controller.releases import ReleaseTaskResult
from controller.service import STATE_MACHINE_ACTOR, CanaryService, RunContext, is_transient

__all__ = [
    "REGISTRY_ACTOR",
    "ConfigurationError",
    "TransientError",
    "dispatch",
    "get_service",
    "lambda_handler",
    "logger",
    "metrics",
    "reset",
    "set_service",
    "tracer",
]

logger = Logger(service=CONTROLLER_SERVICE)
tracer = Tracer(service=CONTROLLER_SERVICE)
metrics = Metrics(namespace=METRIC_NAMESPACE, service=CONTROLLER_SERVICE)

# The actor of the history entries a registry change's sync writes.
REGISTRY_ACTOR = "registry"
# The actor of the history entries the capacity tick writes.
CAPACITY_TICK_ACTOR = "schedule:capacity"


class TransientError(Exception):
    """Throttling or another failure that may pass: the state machine retries the task."""


assert TransientError.__name__ == TRANSIENT_ERROR  # the state machine's Retry matches this name


class ConfigurationError(Exception):
    """The function's environment does not say which stack it controls."""


_service: CanaryService | None = None


def get_service(environ: Mapping[str, str] | None = None) -> CanaryService:
    """The service of this execution environment, built on first use from the environment."""
    global _service
    if _service is None:
        _service = _build_service(os.environ if environ is None else environ)
    return _service


def set_service(service: CanaryService | None) -> None:
    """Use ``service`` for the next invocations (tests, the rehearsal); None rebuilds lazily."""
    global _service
    _service = service


def reset() -> None:
    """Forget the service (and with it the cached registry and clients)."""
    set_service(None)


def _build_service(environ: Mapping[str, str]) -> CanaryService:
    # Imported here: boto3 and the adapters are only needed once, on the cold start.
    from controller.aws.clients import AwsSettings, ClientFactory
    from controller.aws.registry import SsmRegistry
    from controller.aws.wiring import aws_ports
    from controller.core.contract import registry_path

    stack = environ.get(ENV_STACK, "").strip()
    if not stack:
        raise ConfigurationError(
            f"environment variable {ENV_STACK} is not set: the controller cannot tell "
            "which stack's registry to read"
        )
    path = environ.get(ENV_REGISTRY_PATH, "").strip() or registry_path(stack)
    factory = ClientFactory(AwsSettings())
    registry = SsmRegistry(factory.client("ssm"), stack, path)
    return CanaryService(aws_ports(factory, registry), log=logger)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point; see the module docstring."""
    try:
        parsed = parse_event(event)
    except InvalidEvent as error:
        logger.error("rejected event: %s", error, extra={"problems": list(error.problems)})
        raise
    try:
        return dispatch(parsed, get_service())
    except Exception as error:
        if is_transient(error):
            logger.warning("transient failure, the caller retries: %s", error)
            raise TransientError(f"{type(error).__name__}: {error}") from error
        logger.exception("controller failed: %s", error)
        raise


def dispatch(event: ControllerEvent, service: CanaryService) -> dict[str, Any]:
    """Call the service operation ``event`` asks for; returns a JSON-serialisable dict."""
    if isinstance(event, TaskEvent):
        return _task(event, service)
    if isinstance(event, AlarmStateChange):
        return _alarm(event, service)
    if isinstance(event, RegistryChange):
        return _registry_change(event, service)
    if isinstance(event, CapacityTick):
        return _capacity_tick(service)
    return _operator(event, service)


def _capacity_tick(service: CanaryService) -> dict[str, Any]:
    """The scheduled rule's tick: end every capacity hold that is over."""
    ended = service.capacity_tick(actor=CAPACITY_TICK_ACTOR)
    logger.info("capacity tick: %d hold(s) ended", len(ended))
    return {"handled": "capacity-tick", "ended": [guard.to_dict() for guard in ended]}


def _task(event: TaskEvent, service: CanaryService) -> dict[str, Any]:
    logger.append_keys(route=event.route, execution=event.execution_arn, action=event.action)
    run = RunContext(
        route=event.route,
        execution_arn=event.execution_arn,
        trigger=event.trigger,
        actor=event.actor,
        plan=event.plan.to_record(),
        stage_index=event.stage.index if event.stage else None,
    )
    if event.action.startswith("release_"):
        return _release_task(event, service)
    if event.action == "begin":
        result = service.begin(run)
    elif event.action == "verify":
        result = service.verify(run)
    elif event.action == "shift":
        result = service.shift(run)
    elif event.action == "check":
        result = service.check(run)
    elif event.action == "finish":
        result = service.finish(run)
    else:
        failure = event.failure.describe() if event.failure else "no failure given"
        result = service.rollback_task(run, failure)
        _count_rollback(event.route)
    payload = result.to_payload()
    logger.info("task %s: %s", event.action, payload["outcome"], extra={"result": payload})
    return payload


def _release_task(event: TaskEvent, service: CanaryService) -> dict[str, Any]:
    """A task of the release path (a new function version behind the alias ``live``)."""
    releases = service.releases
    if event.action == "release_shift":
        result = releases.shift(event.route, event.execution_arn)
    elif event.action == "release_check":
        result = releases.check(event.route, event.execution_arn)
    elif event.action == "release_finish":
        result = releases.finish(event.route, event.execution_arn)
    else:
        failure = event.failure.describe() if event.failure else "no failure given"
        failback = releases.failback(
            event.route,
            reason=f"release failed: {failure}",
            actor=STATE_MACHINE_ACTOR,
            execution_arn=event.execution_arn,
        )
        state = failback.transition.state
        result = ReleaseTaskResult(Outcome.ROLLED_BACK, state.status, reason=state.reason)
    payload = result.to_payload()
    logger.info("task %s: %s", event.action, payload["outcome"], extra={"result": payload})
    return payload


def _alarm(event: AlarmStateChange, service: CanaryService) -> dict[str, Any]:
    logger.append_keys(alarm=event.alarm_name, alarm_state=event.state)
    results = service.handle_alarm(event.alarm_name, event.alarm_arn, event.state, event.reason)
    for result in results:
        _count_rollback(result.route)
    return {
        "handled": "alarm",
        "alarm": event.alarm_name,
        "state": event.state,
        "results": [r.to_dict() for r in results],
    }


def _registry_change(event: RegistryChange, service: CanaryService) -> dict[str, Any]:
    """A route record was written: sync that route's rule with it; ignore anything else.

    The registry-sync rule matches only this stack's route records, but a
    wider rule (or a replayed event) may deliver another stack's parameter,
    the stack record or a delete: those are logged and answered, not failed,
    so they neither retry nor land in the dead-letter queue.
    """
    name = event.parameter_name
    logger.append_keys(parameter=name, operation=event.operation)
    answer: dict[str, Any] = {
        "handled": "registry",
        "parameter": name,
        "operation": event.operation,
    }
    stack = service.ports.registry.stack().stack
    route = route_of_parameter(stack, name)
    if route is None or not event.is_write:
        ignored = (
            f"{name} is not a route record of stack {stack}"
            if route is None
            else f"operation {event.operation} leaves no record to sync with"
        )
        logger.info("registry change ignored: %s", ignored)
        return {**answer, "route": route, "ignored": ignored}
    logger.append_keys(route=route)
    result = service.sync(
        route, actor=REGISTRY_ACTOR, reason=f"Parameter Store {event.operation} of {name}"
    )
    logger.info("registry change: sync %s", result.result, extra={"result": result.to_dict()})
    # The same event tells of a newly published function version: release it.
    release = service.releases.on_new_version(route, actor=REGISTRY_ACTOR)
    logger.info("registry change: %s", release)
    return {**answer, "route": route, "result": result.to_dict(), "release": release}


def _operator(event: OperatorEvent, service: CanaryService) -> dict[str, Any]:
    """Run the event's operation from :mod:`controller.operations`, as the CLI would."""
    logger.append_keys(route=event.route, command=event.command, actor=event.actor)
    operation = event.operation()
    request = OperatorRequest(
        route=event.route,
        actor=event.actor,
        reason=event.reason or f"{event.command} requested by {event.actor}",
        full=event.full,
    )
    result = operation.perform(service, request)
    if operation.counts_as_rollback:
        _count_rollback(event.route)
    logger.info("operator %s: %s", event.command, result.result, extra={"result": result.to_dict()})
    return result.to_dict()


def _count_rollback(route: str) -> None:
    # The contract's whole dimension set, service included, so the datapoint is
    # the metric the dashboard graphs whatever the environment says. One set:
    # add_dimensions (Powertools 3.x) would add a second dimension array, and
    # the datapoint would also count under {service} alone.
    for name, value in rollback_dimensions(route).items():
        metrics.add_dimension(name=name, value=value)
    metrics.add_metric(name=METRIC_ROLLBACKS, unit=MetricUnit.Count, value=1)
