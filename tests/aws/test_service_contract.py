"""controller/service.py over the real boto3 adapters: the contract with AWS.

The service's decisions are tested on fakes (tests/unit/test_service.py).
What only AWS can show is checked here, on the twin (the real program applied
to moto, the ``twin`` fixture): the API calls a shift and a rollback make and
their order, the execution the service starts, the request count read back
from CloudWatch. Executions started here wait in their first bake (the twin
holds their controller calls): they stay RUNNING until stopped.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.core.contract import PlanRecord
from controller.core.lifecycle import Event, Status
from controller.core.ports import Ports
from controller.core.state_machine import Outcome
from controller.core.weights import ALL_ECS, Weights
from controller.service import CanaryService, RunContext
from tests.aws_fixtures import TwinWorld
from tests.fakes import DEFAULT_PLAN, FakeClock, operator_run

ROUTE = "map-tile"
PLAN = DEFAULT_PLAN


@pytest.fixture(name="stack")
def _stack(twin: TwinWorld) -> TwinWorld:
    twin.set_plan(PLAN)
    return twin


class ApiLog:
    """Every AWS call the adapters make, in order (botocore ``before-call`` hooks)."""

    def __init__(self, stack: TwinWorld) -> None:
        self.calls: list[str] = []
        self._clients = [
            stack.client(service)
            for service in ("elbv2", "dynamodb", "stepfunctions", "sns", "cloudwatch")
        ]
        for client in self._clients:
            client.meta.events.register("before-call", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def close(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call", self._record)

    def count(self, name: str) -> int:
        return self.calls.count(name)

    def writes(self) -> list[str]:
        reads = ("Describe", "Get", "List", "Query")
        return [c for c in self.calls if not c.startswith(reads)]


@pytest.fixture(name="api")
def _api(stack: TwinWorld) -> Any:
    log = ApiLog(stack)
    yield log
    log.close()


def run(arn: str, plan: PlanRecord = PLAN, stage_index: int | None = None) -> RunContext:
    return operator_run(ROUTE, arn, plan, stage_index)


def begun(stack: TwinWorld, service: CanaryService, plan: PlanRecord = PLAN) -> str:
    arn = stack.start_execution("run", stack.execution_input(ROUTE, plan=plan))
    stack.park(arn)
    assert service.begin(run(arn, plan)).outcome == Outcome.RUN
    return arn


def test_shift_writes_the_rule_once_and_reads_it_back(stack: TwinWorld, api: ApiLog) -> None:
    service = stack.service()
    arn = begun(stack, service)
    api.calls.clear()
    result = service.shift(run(arn))
    assert result.outcome == Outcome.BAKING
    assert stack.live_weights() == Weights.from_percent(10)
    assert api.count("ModifyRule") == 1
    # Read back after the write: a DescribeRules follows the ModifyRule.
    assert "DescribeRules" in api.calls[api.calls.index("ModifyRule") :]
    assert api.count("PutMetricData") == 1
    assert api.count("TransactWriteItems") == 1, "state and history in one transaction"
    history = service.history(ROUTE, 10)
    assert [e.event for e in history] == [Event.SHIFT, Event.BEGIN]
    api.calls.clear()
    assert service.shift(run(arn)).outcome == Outcome.BAKING
    assert api.count("ModifyRule") == 0, "a retried shift writes the rule once only"
    assert api.count("TransactWriteItems") == 0


def test_rollback_calls_aws_in_its_fixed_order_once(stack: TwinWorld, api: ApiLog) -> None:
    service = stack.service()
    arn = begun(stack, service)
    service.shift(run(arn))
    stack.notifications()
    api.calls.clear()
    result = service.rollback(ROUTE, reason="alarm", actor="alarm:x")
    assert (result.result, result.status) == ("done", Status.ROLLED_BACK)
    writes = [w for w in api.writes() if w != "PutMetricData"]
    assert writes == ["ModifyRule", "TransactWriteItems", "StopExecution", "Publish"]
    assert stack.live_weights() == ALL_ECS
    assert stack.stopped_status(arn) == "ABORTED"
    api.calls.clear()
    assert service.rollback(ROUTE, reason="alarm", actor="alarm:x").result == "unchanged"
    assert api.writes() == []
    (note,) = stack.notifications()
    assert note["subject"] == "[strangler] map-tile: rolled back to ECS"
    assert note["message"]["stoppedExecution"] == arn


def test_start_run_starts_a_named_execution(stack: TwinWorld) -> None:
    service = stack.service()
    result = service.start_run(ROUTE, actor="operator:alice")
    assert result.result == "started" and result.execution is not None
    described = stack.client("stepfunctions").describe_execution(executionArn=result.execution)
    payload = json.loads(described["input"])
    assert payload == stack.execution_input(ROUTE, actor="operator:alice")
    assert described["name"].startswith("map-tile-operator-")


def test_check_counts_the_requests_published_to_cloudwatch(stack: TwinWorld) -> None:
    # CloudWatch keeps 1-second data for three hours: the fake clock starts now,
    # and from there every time is the test's own.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5))
    service = stack.service(clock=clock, sleep=clock.sleep)
    plan = replace(PLAN, min_requests=5)
    arn = begun(stack, service, plan)
    service.shift(run(arn, plan))
    stack.put_requests(3, at=clock.now() - timedelta(seconds=1))  # before the shift
    stack.put_requests(7, at=clock.now() + timedelta(milliseconds=500))
    stack.put_requests(4, at=clock.now() + timedelta(seconds=2))  # after the check
    clock.advance(1)
    assert service.check(run(arn, plan, stage_index=0)).outcome == Outcome.NEXT
    assert "7 requests" in (service.history(ROUTE, 1)[0].reason or "")


def test_ports_are_the_boto3_adapters_and_are_reused(stack: TwinWorld) -> None:
    ports = stack.ports()
    assert isinstance(ports, Ports)
    assert type(ports.traffic).__name__ == "AlbTraffic"
    assert type(ports.state).__name__ == "DynamoState"
    assert stack.service(ports).ports is ports
