"""Tests of controller/handler.py: parsing, dispatch, error mapping, lazy wiring.

The handler runs against the twin (the real program applied to moto, the
``twin`` fixture): its service is built from the environment the deploy gives
the controller function. Executions started here wait in their first task
(the twin holds their controller calls), so they stay RUNNING until stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from controller import handler
from controller.core.contract import (
    ENV_REGISTRY_PATH,
    ENV_STACK,
    rollback_dimensions,
)
from controller.core.errors import AwsCallFailed, TransitionRefused
from controller.core.lifecycle import Event, Status
from controller.core.state_machine import TASK_RESULT_KEYS, TRANSIENT_ERROR
from controller.core.weights import ALL_ECS, Weights
from controller.events import InvalidEvent
from controller.service import CanaryService
from rehearsal.world.moto_lambda import FakeLambdaContext
from tests.aws_fixtures import TwinWorld
from tests.events import load_event
from tests.fakes import DEFAULT_PLAN

ROUTE = "map-tile"
PLAN = DEFAULT_PLAN


@pytest.fixture(autouse=True)
def _reset_handler() -> Iterator[None]:
    handler.reset()
    yield
    handler.reset()


@pytest.fixture(name="stack")
def _stack(twin: TwinWorld, monkeypatch: pytest.MonkeyPatch) -> TwinWorld:
    twin.set_plan(PLAN)
    monkeypatch.setenv(ENV_STACK, twin.stack.stack)
    monkeypatch.setenv(ENV_REGISTRY_PATH, twin.registry_path)
    return twin


def context() -> FakeLambdaContext:
    return FakeLambdaContext(
        "strangler-three-controller",
        "arn:aws:lambda:ap-northeast-1:123456789012:function:strangler-three-controller",
    )


def task_event(stack: TwinWorld, action: str, execution_arn: str, **extra: Any) -> dict[str, Any]:
    event = {"action": action, "executionArn": execution_arn, **stack.execution_input(ROUTE)}
    event.update(extra)
    return event


def start(stack: TwinWorld, name: str = "run-1") -> str:
    """An execution of the deployed state machine, waiting in its first task."""
    arn = stack.start_execution(name, stack.execution_input(ROUTE))
    stack.park(arn)
    return arn


def test_transient_error_has_the_name_the_state_machine_retries() -> None:
    assert handler.TransientError.__name__ == TRANSIENT_ERROR


def test_missing_stack_variable_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_STACK, raising=False)
    with pytest.raises(handler.ConfigurationError, match=ENV_STACK):
        handler.get_service()


def test_service_is_built_from_the_environment_once(stack: TwinWorld) -> None:
    first = handler.get_service()
    assert handler.get_service() is first
    assert first.ports.registry.route(ROUTE) == stack.route()
    handler.reset()
    assert handler.get_service() is not first


def test_task_events_answer_the_keys_the_state_machine_selects(stack: TwinWorld) -> None:
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


def test_rollback_task_uses_the_failure_as_reason(stack: TwinWorld) -> None:
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


def test_invalid_event_is_rejected_before_any_aws_call(stack: TwinWorld) -> None:
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


def test_transient_failures_become_transient_error(stack: TwinWorld) -> None:
    class Throttled:
        def read_weights(self, route: Any) -> Weights:
            raise AwsCallFailed("Throttling", route=ROUTE, api_call="DescribeRules", transient=True)

        def write_weights(self, route: Any, weights: Weights) -> None:
            raise AssertionError("not reached")

        def read_forward(self, route: Any) -> Any:  # Begin's sync reads the rule
            return ports.traffic.read_forward(route)

        def write_forward(self, route: Any, groups: Any, expected: Any) -> None:
            raise AssertionError("not reached: the rule is in sync")

    ports = stack.ports()
    handler.set_service(stack.service(replace(ports, traffic=Throttled())))
    arn = start(stack)
    handler.lambda_handler(task_event(stack, "begin", arn), context())
    with pytest.raises(handler.TransientError, match=r"AwsCallFailed: .*Throttling") as info:
        handler.lambda_handler(task_event(stack, "shift", arn), context())
    assert isinstance(info.value.__cause__, AwsCallFailed)


def test_other_failures_keep_their_class_name(stack: TwinWorld) -> None:
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
def test_operator_commands(stack: TwinWorld, command: str, expected_status: str) -> None:
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


def test_operator_resume_and_promote(stack: TwinWorld) -> None:
    operator = {"action": "operator", "route": ROUTE, "actor": "operator:bob"}
    handler.lambda_handler({**operator, "command": "rollback"}, context())
    resumed = handler.lambda_handler({**operator, "command": "resume"}, context())
    assert resumed["status"] == "idle"
    promoted = handler.lambda_handler({**operator, "command": "promote", "full": True}, context())
    assert promoted["status"] == "promoted"
    assert promoted["weights"] == {
        "ecs": 0.0,
        "lambda": 100.0,
        "alb": {"ecs": 0, "lambda": 1},
        "text": "ecs 0 % / lambda 100 %",
    }


def test_alarm_event_rolls_back_and_counts_it(
    stack: TwinWorld, capsys: pytest.CaptureFixture[str]
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
    # Exactly the contract's dimension set, the one the dashboard graphs.
    (counted,) = [m for m in emf if "Rollbacks" in m]
    (directive,) = counted["_aws"]["CloudWatchMetrics"]
    assert [sorted(d) for d in directive["Dimensions"]] == [sorted(rollback_dimensions(ROUTE))]
    assert {key: counted[key] for key in rollback_dimensions(ROUTE)} == rollback_dimensions(ROUTE)


def test_alarm_back_to_ok_changes_nothing(stack: TwinWorld) -> None:
    handler.set_service(stack.service())
    result = handler.lambda_handler(stack.alarm_event(state="OK"), context())
    assert result["results"] == []
    assert handler.get_service().history(ROUTE, 10) == []


# --- the registry's "Parameter Store Change" event: sync the route's rule ----------


@pytest.fixture(name="rules_restored")
def _rules_restored(stack: TwinWorld) -> Iterator[None]:
    """Put every route's rule actions back after the test (the twin's reset restores weights)."""
    elbv2 = stack.client("elbv2")
    saved = {
        r.rule_arn: elbv2.describe_rules(RuleArns=[r.rule_arn])["Rules"][0]["Actions"]
        for r in stack.registry().routes()
    }
    yield
    for rule_arn, actions in saved.items():
        elbv2.modify_rule(RuleArn=rule_arn, Actions=actions)


@pytest.mark.usefixtures("rules_restored")
def test_parameter_store_change_syncs_the_route_with_its_new_record(stack: TwinWorld) -> None:
    old = stack.route(ROUTE)
    new_ecs = stack.brownfield.monolith_target_group_arn
    assert new_ecs != old.ecs_target_group_arn
    handler.get_service().ports.registry.route(ROUTE)  # a warm function has the old record
    stack.put_route_record(ROUTE, ecs_target_group_arn=new_ecs)  # the deploy
    stack.notifications()

    result = handler.lambda_handler(load_event("ssm_parameter_store_change"), context())

    assert (result["handled"], result["route"], result["result"]["result"]) == (
        "registry",
        ROUTE,
        "done",
    )
    assert stack.live_weights() == ALL_ECS, "read by the new ARN"
    entry = handler.get_service().history(ROUTE, 1)[0]
    assert (entry.event, entry.actor) == (Event.SYNC, handler.REGISTRY_ACTOR)
    assert entry.reason is not None
    assert old.ecs_target_group_arn in entry.reason and new_ecs in entry.reason
    assert [n["message"]["event"] for n in stack.notifications()] == ["sync"]
    again = handler.lambda_handler(load_event("ssm_parameter_store_change"), context())
    assert again["result"]["result"] == "unchanged"
    assert stack.notifications() == []


@pytest.mark.parametrize(
    "name",
    ["/strangler/other/routes/map-tile", "/strangler/three/stack", "/strangler/three-eu/routes/x"],
)
def test_parameter_store_change_of_another_parameter_is_ignored(
    stack: TwinWorld, name: str
) -> None:
    event = load_event("ssm_parameter_store_change")
    event["detail"]["name"] = name
    result = handler.lambda_handler(event, context())
    assert result["ignored"].startswith(f"{name} is not a route record of stack three")
    assert handler.get_service().history(ROUTE, 10) == []


def test_parameter_store_delete_of_a_route_record_is_ignored(stack: TwinWorld) -> None:
    event = load_event("ssm_parameter_store_change")
    event["detail"]["operation"] = "Delete"
    result = handler.lambda_handler(event, context())
    assert (result["route"], result["ignored"]) == (
        ROUTE,
        "operation Delete leaves no record to sync with",
    )
