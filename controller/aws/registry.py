"""RegistryPort on SSM Parameter Store: the deploy's records of a stack and its routes.

The deploy writes one String parameter per record (see controller/core/contract.py):
``/strangler/{stack}/stack`` holds the :class:`StackRecord` and
``/strangler/{stack}/routes/{route}`` one :class:`RouteRecord` each. The
controller Lambda and the operator CLI find every ARN and name from here.
"""

from __future__ import annotations

from typing import Any

from controller.aws.clients import aws_call
from controller.core.contract import RouteRecord, StackRecord, registry_path
from controller.core.errors import StranglerError, UnknownRoute


class SsmRegistry:
    """Reads a stack's registry from SSM, once per instance.

    The records change only on deploy, and a Lambda execution environment is
    short-lived, so each instance caches what it read. :meth:`reload` (the
    sync calls it) or a new instance sees a new deploy.
    """

    def __init__(self, ssm_client: Any, stack: str, path: str | None = None) -> None:
        """``path`` defaults to ``/strangler/{stack}`` (the controller's env var may override)."""
        self._ssm = ssm_client
        self._stack_name = stack
        self._path = (path or registry_path(stack)).rstrip("/")
        self._stack: StackRecord | None = None
        self._routes: dict[str, RouteRecord] | None = None

    @property
    def path(self) -> str:
        """The SSM path this registry reads."""
        return self._path

    def stack(self) -> StackRecord:
        """The stack-wide record (table, state machine, topic, ...)."""
        if self._stack is None:
            name = f"{self._path}/stack"
            with aws_call("ssm:GetParameter", name):
                try:
                    response = self._ssm.get_parameter(Name=name)
                except self._ssm.exceptions.ParameterNotFound as error:
                    raise StranglerError(
                        f"registry parameter {name} not found: is stack "
                        f"{self._stack_name!r} deployed, and is the registry path right?"
                    ) from error
            self._stack = _parse(name, response["Parameter"]["Value"], StackRecord.from_json)
        return self._stack

    def routes(self) -> list[RouteRecord]:
        """Every route of the stack, sorted by name."""
        return [self._all_routes()[name] for name in sorted(self._all_routes())]

    def route(self, name: str) -> RouteRecord:
        """One route's record; :class:`UnknownRoute` names the routes that do exist."""
        routes = self._all_routes()
        record = routes.get(name)
        if record is None:
            # The message lists the known routes, so a typo is obvious from the CLI.
            raise UnknownRoute(name, known=sorted(routes))
        return record

    def reload(self) -> None:
        """Forget the route records read so far; the next read goes to SSM again.

        The stack record is kept: it names the table, state machine and topic
        the adapters were built with.
        """
        self._routes = None

    def _all_routes(self) -> dict[str, RouteRecord]:
        if self._routes is None:
            self._routes = self._read_routes()
        return self._routes

    def _read_routes(self) -> dict[str, RouteRecord]:
        prefix = f"{self._path}/routes"
        routes: dict[str, RouteRecord] = {}
        # GetParametersByPath returns at most 10 parameters per page
        # (MaxResults 1..10), so a stack with more routes needs the paginator.
        paginator = self._ssm.get_paginator("get_parameters_by_path")
        with aws_call("ssm:GetParametersByPath", prefix):
            for page in paginator.paginate(Path=prefix, Recursive=False):
                for parameter in page.get("Parameters", []):
                    record = _parse(parameter["Name"], parameter["Value"], RouteRecord.from_json)
                    routes[record.route] = record
        return routes


def _parse(name: str, text: str, parse: Any) -> Any:
    """Parse one registry value; a broken value names the parameter it came from."""
    try:
        return parse(text)
    except (ValueError, KeyError, TypeError) as error:
        raise StranglerError(
            f"registry parameter {name} does not hold a valid record: {error}"
        ) from error
