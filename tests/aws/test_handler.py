"""Tests of controller/handler.py: parsing, dispatch, error mapping, lazy wiring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from moto import mock_aws

from controller import handler
from controller.core.contract import ENV_REGISTRY_PATH, ENV_STACK
from controller.core.errors import AwsCallFailed, TransitionRefused
from controller.core.lifecycle import Event, Status
from controller.core.state_machine import TASK_RESULT_KEYS, TRANSIENT_ERROR
from controller.core.weights import ALL_ECS, Weights
from controller.events import InvalidEvent
from controller.service import CanaryService
from rehearsal.world.moto_lambda import FakeLambdaContext
from tests.aws_fixtures import fake_aws_env
from tests.events import load_event
from tests.moto_stack import MotoStack, build_moto_stack

ROUTE = "map-tile"


@pytest.fixture(autouse=True)
def _reset_handler() -> Iterator[None]:
    handler.reset()
    yield
    handler.reset()


@pytest.fixture(name="stack")
def _stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    fake_aws_env(monkeypatch)
    with mock_aws():
        stack = build_moto_stack()
        monkeypatch.setenv(ENV_STACK, stack.stack.stack)
        monkeypatch.setenv(ENV_REGISTRY_PATH, stack.registry_path)
        yield stack


def context() -> FakeLambdaContext:
    return FakeLambdaContext(
        "strangler-test-controller",
        "arn:aws:lambda:ap-northeast-1:123456789012:function:strangler-test-controller",
    )


def task_event(stack: MotoStack, action: str, execution_arn: str, **extra: Any) -> dict[str, Any]:
    event = {"action": action, "executionArn": execution_arn, **stack.execution_input(ROUTE)}
    event.update(extra)
    return event


def start(stack: MotoStack, name: str = "run-1") -> str:
    return str(
        stack.client("stepfunctions").start_execution(
            stateMachineArn=stack.stack.state_machine_arn,
            name=name,
            input=json.dumps(stack.execution_input(ROUTE)),
        )["executionArn"]
    )


def test_transient_error_has_the_name_the_state_machine_retries() -> None:
    assert handler.TransientError.__name__ == TRANSIENT_ERROR


def test_missing_stack_variable_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_STACK, raising=False)
    with pytest.raises(handler.ConfigurationError, match=ENV_STACK):
        handler.get_service()


def test_service_is_built_from_the_environment_once(stack: MotoStack) -> None:
    first = handler.get_service()
    assert handler.get_service() is first
    assert first.ports.registry.route(ROUTE) == stack.route()
    handler.reset()
    assert handler.get_service() is not first


def test_task_events_answer_the_keys_the_state_machine_selects(stack: MotoStack) -> None:
    arn = start(stack)
    begin = handler.lambda_handler(task_event(stack, "begin", arn), context())
    assert set(begin) == set(TASK_RESULT_KEYS)
    assert begin["outcome"] == "run"
    shift = handler.lambda_handler(task_event(stack, "shift", arn), context())
    assert shift["outcome"] == "baking"
    assert shift["stage"] == {"index": 0, "weight": 10.0, "bakeSeconds": 1}
    json.dumps(shift)  # what Lambda returns must be JSON
    check = handler.lambda_handler(task_event(stack, "check", arn, stage=shift["stage"]), context())
    assert check["outcome"] == "next"
    assert stack.live_weights() == Weights.from_percent(10)


def test_rollback_task_uses_the_failure_as_reason(stack: MotoStack) -> None:
    arn = start(stack)
    handler.lambda_handler(task_event(stack, "begin", arn), context())
    handler.lambda_handler(task_event(stack, "shift", arn), context())
    failure = {"Error": "States.Timeout", "Cause": "the task timed out"}
    result = handler.lambda_handler(task_event(stack, "rollback", arn, failure=failure), context())
    assert (result["outcome"], result["status"]) == ("rolled_back", "rolled_back")
    assert stack.live_weights() == ALL_ECS
    entry = handler.get_service().history(ROUTE, 1)[0]
    assert entry.event is Event.ROLLBACK
    assert entry.reason == "run failed: States.Timeout: the task timed out"


def test_invalid_event_is_rejected_before_any_aws_call(stack: MotoStack) -> None:
    handler.set_service(stack.service())
    calls: list[str] = []
    for service in ("elbv2", "dynamodb", "ssm"):
        stack.client(service).meta.events.register(
            "before-call", lambda model, **_: calls.append(model.name)
        )
    with pytest.raises(InvalidEvent, match="route: Field required"):
        handler.lambda_handler(
            {"action": "operator", "command": "rollback", "actor": "x"}, context()
        )
    assert calls == []


def test_transient_failures_become_transient_error(stack: MotoStack) -> None:
    class Throttled:
        def read_weights(self, route: Any) -> Weights:
            raise AwsCallFailed("Throttling", route=ROUTE, api_call="DescribeRules", transient=True)

        def write_weights(self, route: Any, weights: Weights) -> None:
            raise AssertionError("not reached")

    ports = stack.ports()
    handler.set_service(stack.service(replace(ports, traffic=Throttled())))
    arn = start(stack)
    handler.lambda_handler(task_event(stack, "begin", arn), context())
    with pytest.raises(handler.TransientError, match=r"AwsCallFailed: .*Throttling") as info:
        handler.lambda_handler(task_event(stack, "shift", arn), context())
    assert isinstance(info.value.__cause__, AwsCallFailed)


def test_other_failures_keep_their_class_name(stack: MotoStack) -> None:
    handler.set_service(stack.service())
    handler.lambda_handler(load_event("operator_rollback"), context())
    with pytest.raises(TransitionRefused):
        handler.lambda_handler(
            {"action": "operator", "command": "start", "route": ROUTE, "actor": "operator:bob"},
            context(),
        )


@pytest.mark.parametrize(
    ("command", "expected_status"),
    [("pause", "paused"), ("rollback", "rolled_back"), ("start", "idle")],
)
def test_operator_commands(stack: MotoStack, command: str, expected_status: str) -> None:
    event = {"action": "operator", "command": command, "route": ROUTE, "actor": "operator:bob"}
    result = handler.lambda_handler(event, context())
    assert result["action"] == command
    assert result["status"] == expected_status
    if command == "start":
        assert result["result"] == "started" and result["execution"]
    else:
        entry = handler.get_service().history(ROUTE, 1)[0]
        assert entry.actor == "operator:bob"
        assert entry.reason == f"{command} requested by operator:bob"


def test_operator_resume_and_promote(stack: MotoStack) -> None:
    operator = {"action": "operator", "route": ROUTE, "actor": "operator:bob"}
    handler.lambda_handler({**operator, "command": "rollback"}, context())
    resumed = handler.lambda_handler({**operator, "command": "resume"}, context())
    assert resumed["status"] == "idle"
    promoted = handler.lambda_handler({**operator, "command": "promote", "full": True}, context())
    assert promoted["status"] == "promoted"
    assert promoted["weights"] == {"ecs": 0, "lambda": 999}


def test_alarm_event_rolls_back_and_counts_it(
    stack: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    service: CanaryService = stack.service()
    handler.set_service(service)
    arn = start(stack)
    handler.lambda_handler(task_event(stack, "begin", arn), context())
    handler.lambda_handler(task_event(stack, "shift", arn), context())
    capsys.readouterr()
    result = handler.lambda_handler(stack.alarm_event(), context())
    assert result["handled"] == "alarm"
    assert result["results"][0]["result"] == "done"
    assert service.ports.state.load(ROUTE).status is Status.ROLLED_BACK
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert any(m.get("Rollbacks") == [1.0] and m.get("route") == ROUTE for m in emf), emf


def test_alarm_back_to_ok_changes_nothing(stack: MotoStack) -> None:
    handler.set_service(stack.service())
    result = handler.lambda_handler(stack.alarm_event(state="OK"), context())
    assert result["results"] == []
    assert handler.get_service().history(ROUTE, 10) == []
