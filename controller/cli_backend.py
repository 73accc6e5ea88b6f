"""The operator CLI's connection to AWS: registry discovery, adapters, service calls.

Everything is found from the stack name: the deploy's SSM registry gives the
table, the state machine, the topic and every route's rule, target groups and
alarms. Actions call :mod:`controller.service` in-process with the same boto3
adapters the controller Lambda uses, so an operator rollback is the Lambda's
rollback, step for step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import NoRegionError, ProfileNotFound

from controller.aws_clients import AwsSettings, ClientFactory
from controller.cli import EXIT_USAGE, CliError, Options
from controller.cli_format import ActionView, RouteStatusView
from controller.contract import RouteRecord, StackRecord, stack_parameter_name
from controller.errors import AwsCallFailed, StranglerError
from controller.lifecycle import HistoryEntry
from controller.registry import SsmRegistry


@dataclass
class AwsBackend:
    """:class:`controller.cli.Backend` on boto3, for one stack in one region."""

    stack_name: str
    region: str
    factory: ClientFactory
    _registry: SsmRegistry | None = field(default=None, init=False, repr=False)

    @classmethod
    def connect(cls, options: Options) -> AwsBackend:
        """Resolve region and profile now, so a config error is reported before any call."""
        settings = AwsSettings(
            region=options.region, profile=options.profile, endpoint_url=options.endpoint_url
        )
        factory = ClientFactory(settings)
        try:
            session = factory.session()
        except ProfileNotFound as error:
            raise CliError(
                f"AWS profile {options.profile!r} was not found in the shared config",
                EXIT_USAGE,
                "pass an existing --profile, or leave it out to use the default credentials",
            ) from error
        region = session.region_name
        if not region:
            raise CliError(
                "no AWS region is configured",
                EXIT_USAGE,
                "pass --region, or set AWS_REGION (or a region in the profile)",
            )
        return cls(stack_name=options.stack, region=region, factory=factory)

    # --------------------------------------------------------------- discovery

    def _client(self, service: str) -> Any:
        try:
            return self.factory.client(service)
        except NoRegionError as error:  # pragma: no cover - connect() checks the region
            raise CliError("no AWS region is configured", EXIT_USAGE, "pass --region") from error

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
        """One route; :class:`~controller.errors.UnknownRoute` lists the known ones."""
        return self.registry().route(name)

    # --------------------------------------------------------------- commands

    def status(self, routes: Sequence[RouteRecord], now: datetime) -> list[RouteStatusView]:
        """The live status of each route."""
        raise _missing("status")

    def history(self, route: RouteRecord, limit: int) -> list[HistoryEntry]:
        """The route's transitions, newest first."""
        raise _missing("history")

    def start(self, route: RouteRecord, actor: str) -> ActionView:
        """Start a run now (service.start_run)."""
        raise _missing("start_run")

    def pause(self, route: RouteRecord, reason: str, actor: str) -> ActionView:
        """Pause (service.pause)."""
        raise _missing("pause")

    def resume(self, route: RouteRecord, reason: str, actor: str) -> ActionView:
        """Resume (service.resume)."""
        raise _missing("resume")

    def rollback(self, route: RouteRecord, reason: str, actor: str) -> ActionView:
        """Rollback (service.rollback)."""
        raise _missing("rollback")

    def promote(self, route: RouteRecord, full: bool, reason: str, actor: str) -> ActionView:
        """Promote (service.promote)."""
        raise _missing("promote")


def _is_parameter_not_found(error: BaseException) -> bool:
    cause = error.__cause__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code") == "ParameterNotFound"
    return "not found" in str(error)


def _missing(operation: str) -> CliError:
    return CliError(
        f"this build of the controller has no service operation {operation!r} "
        "(controller/service.py); the command is not available",
        EXIT_USAGE,
    )
