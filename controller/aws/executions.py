"""ExecutionPort on Step Functions: start, stop and inspect runs of the stack's state machine.

One state machine per stack; each execution carries its route in the input
(``{"route": ..., "trigger": ..., "actor": ..., "plan": ...}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.clients import aws_call, error_code, is_access_denied, is_transient

START_EXECUTION = "states:StartExecution"
STOP_EXECUTION = "states:StopExecution"
DESCRIBE_EXECUTION = "states:DescribeExecution"
LIST_EXECUTIONS = "states:ListExecutions"

RUNNING = "RUNNING"
# The ``error`` a stopped execution shows in the console and its history.
STOP_ERROR = "Strangler.Stopped"
# StopExecution ``cause``: at most 32768 characters (Step Functions API reference).
MAX_CAUSE = 32768
# A purged or never-started execution: nothing runs under that ARN.
_DOES_NOT_EXIST = "ExecutionDoesNotExist"


@dataclass(frozen=True)
class ExecutionSummary:
    """One running execution of the state machine."""

    execution_arn: str
    name: str
    started_at: datetime | None
    route: str | None


def execution_input(payload: dict[str, Any]) -> str:
    """The execution input: compact JSON with a stable key order (it is also its identity).

    StartExecution is idempotent for the same name AND the same input while
    the execution runs (Step Functions API reference, StartExecution), so the
    same payload must always serialise to the same text.
    """
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


class StepFunctionsExecutions:
    """:class:`~controller.core.ports.ExecutionPort` on a Step Functions client.

    IAM: ``states:StartExecution`` and ``states:ListExecutions`` on the state
    machine ARN; ``states:StopExecution`` and ``states:DescribeExecution`` on
    its execution ARNs.
    """

    def __init__(self, stepfunctions_client: Any, state_machine_arn: str) -> None:
        """``stepfunctions_client``: a boto3 ``stepfunctions`` client."""
        self._sfn = stepfunctions_client
        self._state_machine_arn = state_machine_arn

    @property
    def state_machine_arn(self) -> str:
        """The stack's state machine."""
        return self._state_machine_arn

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution named ``name`` (always explicit) with ``payload``; its ARN.

        Names are unique per state machine for 90 days: a repeat with another
        input fails with ExecutionAlreadyExists (wrapped, not transient).
        """
        route = payload.get("route")
        with aws_call(
            START_EXECUTION,
            self._state_machine_arn,
            route=str(route) if route is not None else None,
        ):
            response = self._sfn.start_execution(
                stateMachineArn=self._state_machine_arn,
                name=name,
                input=execution_input(payload),
            )
        return str(response["executionArn"])

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop an execution; one that already ended, or no longer exists, is fine.

        When StopExecution itself fails, the execution's status decides: if it
        is not RUNNING (it ended on its own meanwhile), there was nothing to
        stop; otherwise the original error is raised.
        """
        with aws_call(STOP_EXECUTION, execution_arn):
            try:
                self._sfn.stop_execution(
                    executionArn=execution_arn, error=STOP_ERROR, cause=cause[:MAX_CAUSE]
                )
            except ClientError as error:
                if error_code(error) == _DOES_NOT_EXIST:
                    return
                if is_transient(error) or is_access_denied(error):
                    raise
                if not self.is_running(execution_arn):
                    return
                raise

    def is_running(self, execution_arn: str) -> bool:
        """True while the execution's status is RUNNING (a missing execution is not)."""
        with aws_call(DESCRIBE_EXECUTION, execution_arn):
            try:
                response = self._sfn.describe_execution(executionArn=execution_arn)
            except self._sfn.exceptions.ExecutionDoesNotExist:
                # Executions are kept 90 days after they close; a lock older than
                # that cannot belong to a live run.
                return False
        return bool(response.get("status") == RUNNING)

    def running(self, route: str | None = None) -> list[ExecutionSummary]:
        """The RUNNING executions of the state machine, newest first; only ``route``'s if given.

        The route is read from each execution's input (one DescribeExecution
        per running execution when ``route`` is given): execution names are
        not a safe key, as route names may be prefixes of one another.
        """
        found: list[ExecutionSummary] = []
        paginator = self._sfn.get_paginator("list_executions")
        with aws_call(LIST_EXECUTIONS, self._state_machine_arn, route=route):
            pages = list(
                paginator.paginate(stateMachineArn=self._state_machine_arn, statusFilter=RUNNING)
            )
        for page in pages:
            for execution in page.get("executions", []):
                arn = str(execution["executionArn"])
                execution_route = self._route_of(arn) if route is not None else None
                if route is not None and execution_route != route:
                    continue
                found.append(
                    ExecutionSummary(
                        execution_arn=arn,
                        name=str(execution["name"]),
                        started_at=execution.get("startDate"),
                        route=execution_route,
                    )
                )
        return found

    def _route_of(self, execution_arn: str) -> str | None:
        with aws_call(DESCRIBE_EXECUTION, execution_arn):
            try:
                response = self._sfn.describe_execution(executionArn=execution_arn)
            except self._sfn.exceptions.ExecutionDoesNotExist:
                return None
        try:
            payload = json.loads(response.get("input") or "{}")
        except ValueError:
            return None
        route = payload.get("route") if isinstance(payload, dict) else None
        return str(route) if route is not None else None
