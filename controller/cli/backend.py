"""The operator CLI's connection to AWS: registry discovery, adapters, service calls.

Everything is found from the stack name: the deploy's SSM registry gives the
table, the state machine, the topic and every route's rule, target groups and
alarms. Actions run their entry of :mod:`controller.operations` on
:mod:`controller.service` in-process, with the same boto3 adapters the
controller Lambda uses (:func:`controller.aws.wiring.aws_ports`), so an
operator rollback is the Lambda's rollback, step for step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.aws.clients import ClientFactory
from controller.aws.registry import SsmRegistry
from controller.aws.wiring import aws_ports
from controller.cli.aws_session import cli_client, open_factory
from controller.cli.format import ActionView, RouteStatusView, capacity_text
from controller.cli.types import EXIT_USAGE, CliError, Options
from controller.core import lifecycle
from controller.core.contract import RouteRecord, StackRecord, stack_parameter_name
from controller.core.cron import CronError, next_run
from controller.core.errors import AwsCallFailed, StranglerError
from controller.core.lifecycle import HistoryEntry, RouteState, Status
from controller.operations import Operation, OperatorRequest
from controller.service import ActionResult, CanaryService, RouteStatus


@dataclass
class AwsBackend:
    """:class:`controller.cli.types.Backend` on boto3, for one stack in one region."""

    stack_name: str
    region: str
    factory: ClientFactory
    _registry: SsmRegistry | None = field(default=None, init=False, repr=False)
    _service: CanaryService | None = field(default=None, init=False, repr=False)

    @classmethod
    def connect(cls, options: Options) -> AwsBackend:
        """Resolve region and profile now, so a config error is reported before any call."""
        factory, region = open_factory(options, options.region)
        if not region:
            raise CliError(
                "no AWS region is configured",
                EXIT_USAGE,
                "pass --region, or set AWS_REGION (or a region in the profile)",
            )
        return cls(stack_name=options.stack, region=region, factory=factory)

    # --------------------------------------------------------------- discovery

    def _client(self, service: str) -> Any:
        return cli_client(self.factory, service)

    def registry(self) -> SsmRegistry:
        """The stack's registry; raises :class:`CliError` (exit 2) when the stack has none."""
        if self._registry is None:
            registry = SsmRegistry(self._client("ssm"), self.stack_name)
            self.stack_record(registry)
            self._registry = registry
        return self._registry

    def stack_record(self, registry: SsmRegistry | None = None) -> StackRecord:
        """The stack-wide record; a missing or broken registry is a configuration error."""
        registry = registry or self.registry()
        try:
            return registry.stack()
        except AwsCallFailed:
            raise
        except StranglerError as error:
            parameter = stack_parameter_name(self.stack_name)
            if _is_parameter_not_found(error):
                raise CliError(
                    f"no stack named {self.stack_name!r} was found in region {self.region}: "
                    f"the SSM parameter {parameter} does not exist",
                    EXIT_USAGE,
                    "the deploy writes the registry: run `pulumi up` for this stack, or pass "
                    "the right --stack / --region (and --profile for the account)",
                ) from error
            raise CliError(str(error), EXIT_USAGE, "deploy the stack again") from error

    def routes(self) -> list[RouteRecord]:
        """Every route of the stack, sorted by name."""
        return self.registry().routes()

    def route(self, name: str) -> RouteRecord:
        """One route; :class:`~controller.core.errors.UnknownRoute` lists the known ones."""
        return self.registry().route(name)

    # --------------------------------------------------------------- service

    def service(self) -> CanaryService:
        """The controller's service on the boto3 adapters: the Lambda's code paths."""
        if self._service is None:
            self._service = CanaryService(aws_ports(self.factory, self.registry()))
        return self._service

    # --------------------------------------------------------------- commands

    def route_status(self, route: RouteRecord, now: datetime) -> RouteStatusView:
        """The live status of one route (service.status), plus its next scheduled run."""
        status = self.service().status(route.route)
        return status_view(status, route, now)

    def history(self, route: RouteRecord, limit: int) -> list[HistoryEntry]:
        """The route's transitions, newest first (service.history)."""
        return self.service().history(route.route, limit)

    def perform(self, operation: Operation, request: OperatorRequest) -> ActionView:
        """Run one operator action on the service: the function the Lambda runs for it."""
        return action_view(operation.perform(self.service(), request))


def next_scheduled_run(
    route: RouteRecord, status: Status, reason: str | None, now: datetime
) -> tuple[datetime | None, str | None]:
    """When the route's schedule next starts a run that will do something, and any problem.

    A scheduled start on a route that waits for an operator (rolled back,
    paused by drift or by an operator), is promoted or is already running is
    a recorded no-op, so no time is shown for those.
    """
    if not route.schedule:
        return None, None
    state = RouteState(route=route.route, status=status, reason=reason)
    if status in (Status.PROMOTED, Status.PROGRESSING) or lifecycle.needs_operator(state):
        return None, None
    try:
        return next_run(route.schedule, route.timezone, now), None
    except CronError as error:
        return None, str(error)


def status_view(status: RouteStatus, route: RouteRecord, now: datetime) -> RouteStatusView:
    """The CLI's view of :class:`~controller.service.RouteStatus`, with the schedule added."""
    next_run_at, schedule_error = next_scheduled_run(route, status.status, status.reason, now)
    return RouteStatusView(
        route=status.route,
        status=status.status.value,
        stage=status.stage,
        stages=status.stages,
        live=status.live,
        last_written=status.last_written,
        drift=status.drift,
        alarm=status.alarm,
        alarms_in_alarm=tuple(status.alarms_in_alarm),
        execution=status.execution,
        execution_running=status.execution_running,
        next_stage_at=status.next_stage_at,
        next_run_at=next_run_at,
        schedule=route.schedule,
        timezone=route.timezone,
        schedule_error=schedule_error,
        reason=status.reason,
        updated_at=status.updated_at,
        versions=status.versions,
        release=status.release,
        capacity=status.capacity.to_dict() if status.capacity else None,
        capacity_text=capacity_text(
            status.capacity, enabled=status.capacity_enabled, timezone=route.timezone
        ),
        gate=status.gate.to_dict() if status.gate else None,
        gate_text=status.gate.describe() if status.gate else None,
    )


def action_view(result: ActionResult) -> ActionView:
    """The CLI's view of :class:`~controller.service.ActionResult`."""
    return ActionView(
        route=result.route,
        action=result.action,
        result=result.result,
        status=result.status.value,
        message=result.message,
        stage=result.stage,
        stages=result.stages,
        weights=result.weights,
        execution=result.execution,
        extra={
            "stopped_execution": result.stopped_execution,
            **({"details": result.details} if result.details is not None else {}),
        },
    )


def _is_parameter_not_found(error: BaseException) -> bool:
    cause = error.__cause__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code") == "ParameterNotFound"
    return "not found" in str(error)
