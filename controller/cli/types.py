"""What the operator CLI's modules share: options, exit codes, the CLI's error and its backend.

:mod:`controller.cli.main` (parsing, dispatch, printing) and
:mod:`controller.cli.backend` (the AWS side) both import this module and
never each other at import time, so neither needs the other to load first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from controller.cli.format import ActionView, RouteStatusView
from controller.core.contract import RouteRecord
from controller.core.lifecycle import HistoryEntry
from controller.operations import Operation, OperatorRequest

__all__ = [
    "DEFAULT_HISTORY_LIMIT",
    "DEFAULT_INTERVAL_SECONDS",
    "EXIT_AWS",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "Backend",
    "CliError",
    "Options",
]

# The exit code contract (see controller.cli.main.EXIT_CODES_HELP).
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_AWS = 3

DEFAULT_INTERVAL_SECONDS = 5.0
DEFAULT_HISTORY_LIMIT = 20


class CliError(Exception):
    """An error the CLI reports itself: ``exit_code``, the message and what to do."""

    def __init__(self, message: str, exit_code: int, hint: str | None = None) -> None:
        self.message = message
        self.exit_code = exit_code
        self.hint = hint
        super().__init__(message)


@dataclass(frozen=True)
class Options:
    """The parsed command line, with every default resolved."""

    command: str
    stack: str
    region: str | None
    profile: str | None
    endpoint_url: str | None
    json: bool
    actor: str
    route: str | None = None
    watch: bool = False
    interval: float = DEFAULT_INTERVAL_SECONDS
    limit: int = DEFAULT_HISTORY_LIMIT
    reason: str | None = None
    full: bool = False
    yes: bool = False
    accept_live: bool = False
    # preflight: where the stack file is (None: the repository, Pulumi.<stack>.yaml).
    project_dir: str | None = None
    stack_file: str | None = None


class Backend(Protocol):
    """What the commands need from AWS; :class:`controller.cli.backend.AwsBackend` in real use."""

    region: str

    def routes(self) -> list[RouteRecord]:
        """Every route of the stack (raises :class:`CliError` when the stack has no registry)."""
        ...

    def route(self, name: str) -> RouteRecord:
        """One route; :class:`~controller.core.errors.UnknownRoute` lists the known ones."""
        ...

    def route_status(self, route: RouteRecord, now: datetime) -> RouteStatusView:
        """The live status of one route."""
        ...

    def history(self, route: RouteRecord, limit: int) -> list[HistoryEntry]:
        """The route's transitions, newest first."""
        ...

    def perform(self, operation: Operation, request: OperatorRequest) -> ActionView:
        """Run one operator action (``operation.perform``) on the controller's service."""
        ...
