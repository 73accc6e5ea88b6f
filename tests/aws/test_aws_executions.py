"""controller/aws/executions.py: the ExecutionPort on a real boto3 Step Functions client (moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.aws.clients import ClientFactory
from controller.aws.executions import STOP_ERROR, StepFunctionsExecutions, execution_input
from controller.core.errors import AwsCallFailed
from tests.aws_fixtures import CallCounter, ErrorInjector

DEFINITION = {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}


@pytest.fixture
def sfn(factory: ClientFactory) -> Any:
    # The shared factory's moto has no execute_state_machine: every execution
    # stays RUNNING until it is stopped, exactly what these tests need.
    return factory.client("stepfunctions")


@pytest.fixture
def executions(sfn: Any) -> StepFunctionsExecutions:
    arn = sfn.create_state_machine(
        name="strangler-test",
        definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/strangler-test-sfn",
    )["stateMachineArn"]
    return StepFunctionsExecutions(sfn, arn)


def payload(route: str = "map-tile") -> dict[str, Any]:
    return {"route": route, "trigger": "operator", "actor": "operator:alice", "plan": {}}


def test_start_uses_the_name_and_the_payload(executions: StepFunctionsExecutions, sfn: Any) -> None:
    arn = executions.start("map-tile-operator-1", payload())

    described = sfn.describe_execution(executionArn=arn)
    assert described["name"] == "map-tile-operator-1"
    assert json.loads(described["input"]) == payload()
    assert executions.is_running(arn)


def test_start_again_with_another_input_is_refused(executions: StepFunctionsExecutions) -> None:
    ended = executions.start("run-2", payload())
    executions.stop(ended, "ended")
    with pytest.raises(AwsCallFailed) as caught:
        # A closed execution's name cannot be reused (90 days).
        executions.start("run-2", payload("geo"))
    assert caught.value.api_call == "states:StartExecution"
    assert caught.value.route == "geo"
    assert not caught.value.transient


def test_stop_ends_the_run_with_our_error_and_cause(
    executions: StepFunctionsExecutions, sfn: Any
) -> None:
    arn = executions.start("run-1", payload())

    executions.stop(arn, "rollback: composite alarm ALARM")

    assert not executions.is_running(arn)
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"


def test_stop_twice_is_fine(executions: StepFunctionsExecutions) -> None:
    arn = executions.start("run-1", payload())
    executions.stop(arn, "first")
    executions.stop(arn, "second")  # EventBridge delivers at least once
    assert not executions.is_running(arn)


def test_stop_of_an_unknown_execution_is_fine(executions: StepFunctionsExecutions) -> None:
    gone = executions.state_machine_arn.replace(":stateMachine:", ":execution:") + ":purged"
    executions.stop(gone, "nothing to stop")
    assert not executions.is_running(gone)


def test_stop_refused_on_a_finished_execution_is_fine(
    executions: StepFunctionsExecutions, sfn: Any
) -> None:
    arn = executions.start("run-1", payload())
    executions.stop(arn, "ended")
    # Whatever AWS answers for a closed execution, a non-RUNNING status wins.
    ErrorInjector(sfn, "StopExecution", "ValidationException", message="not running")
    executions.stop(arn, "again")


def test_stop_refused_on_a_running_execution_is_raised(
    executions: StepFunctionsExecutions, sfn: Any
) -> None:
    arn = executions.start("run-1", payload())
    ErrorInjector(sfn, "StopExecution", "ValidationException", message="bad cause")
    with pytest.raises(AwsCallFailed) as caught:
        executions.stop(arn, "x")
    assert caught.value.api_call == "states:StopExecution"
    assert executions.is_running(arn)


def test_throttled_stop_is_transient_and_not_swallowed(
    executions: StepFunctionsExecutions, sfn: Any
) -> None:
    arn = executions.start("run-1", payload())
    ErrorInjector(sfn, "StopExecution", "ThrottlingException")
    with pytest.raises(AwsCallFailed) as caught:
        executions.stop(arn, "x")
    assert caught.value.transient


def test_stop_sends_our_error_name_and_caps_the_cause(
    executions: StepFunctionsExecutions, sfn: Any
) -> None:
    arn = executions.start("run-1", payload())
    counter = CallCounter(sfn)
    executions.stop(arn, "x" * 40_000)
    (params,) = counter.params("StopExecution")
    assert params["error"] == STOP_ERROR
    assert len(params["cause"]) == 32768


def test_running_lists_only_the_routes_running_executions(
    executions: StepFunctionsExecutions,
) -> None:
    tile = executions.start("map-tile-1", payload("map-tile"))
    executions.start("map-1", payload("map"))  # "map" is a prefix of "map-tile"
    executions.stop(executions.start("map-tile-0", payload("map-tile")), "ended")

    assert [e.execution_arn for e in executions.running("map-tile")] == [tile]
    assert {e.route for e in executions.running("map")} == {"map"}
    assert len(executions.running()) == 2


def test_execution_input_is_stable() -> None:
    assert execution_input({"b": 1, "a": {"d": 2, "c": 3}}) == '{"a":{"c":3,"d":2},"b":1}'
