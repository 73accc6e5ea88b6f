"""End-to-end scenarios: the generated state machine runs for real in moto.

moto executes the definition of :func:`controller.core.state_machine.build_definition`
(``execute_state_machine``); its Lambda tasks reach the real controller handler
in-process through :mod:`rehearsal.world.moto_lambda`; the handler's service uses the
real boto3 adapters on moto. Every scenario asserts the weights read back from
moto, the route's status and its history.

Bakes are 1 s and plans have at most three stages: every Wait sleeps for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from controller import handler
from controller.aws.clients import AwsSettings
from controller.core.contract import ENV_REGISTRY_PATH, ENV_STACK, PlanRecord, StagePlanRecord
from controller.core.errors import TransitionRefused
from controller.core.lifecycle import Event, RouteState, Status
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from controller.service import CanaryService, RollbackIncomplete
from rehearsal.world.moto_lambda import FakeLambdaContext, LambdaRouter, route_lambda_invocations
from tests.aws_fixtures import fake_aws_env
from tests.moto_stack import MotoStack, RouteSpec, build_moto_stack

ROUTE = "map-tile"
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
THREE_STAGES = PlanRecord(
    stages=(StagePlanRecord(10.0, 1), StagePlanRecord(50.0, 1), StagePlanRecord(100.0, 1))
)
TWO_STAGES = PlanRecord(stages=(StagePlanRecord(10.0, 1), StagePlanRecord(100.0, 1)))


@dataclass
class World:
    """One moto account with a deployed stack, its handler wired in, and helpers."""

    stack: MotoStack
    service: CanaryService
    router: LambdaRouter

    def start(self, *, actor: str = "operator:test") -> str:
        """Start a run the way the CLI does (service.start_run, with name=)."""
        execution = self.service.start_run(ROUTE, actor=actor).execution
        assert execution is not None
        return execution

    def start_directly(self, name: str, *, trigger: str = "schedule") -> str:
        """Start an execution the way the schedule does: StartExecution with the input."""
        return str(
            self.stack.client("stepfunctions").start_execution(
                stateMachineArn=self.stack.stack.state_machine_arn,
                name=name,
                input=json.dumps(self.stack.execution_input(ROUTE, trigger=trigger, actor=trigger)),
            )["executionArn"]
        )

    def wait(self, execution_arn: str) -> dict[str, Any]:
        return self.stack.wait_for_execution(execution_arn, timeout=60)

    def state(self) -> RouteState:
        return self.service.ports.state.load(ROUTE)

    def events(self) -> list[Event]:
        """The route's history, oldest first."""
        return [e.event for e in reversed(self.service.history(ROUTE, 100))]

    def wait_for(self, what: str, predicate: Callable[[RouteState], bool]) -> RouteState:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = self.state()
            if predicate(state):
                return state
            time.sleep(0.02)
        raise AssertionError(f"route {ROUTE} never reached: {what}; last state {self.state()}")

    def baking(self, stage_index: int) -> RouteState:
        """Wait until the run has shifted to ``stage_index`` (0-based) and bakes it."""
        return self.wait_for(
            f"baking stage {stage_index + 1}",
            lambda s: s.stage == stage_index and s.stage_started_at is not None,
        )

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the controller handler directly, as EventBridge does."""
        context = FakeLambdaContext(
            function_name=self.stack.stack.controller_function_name,
            invoked_function_arn=f"arn:aws:lambda:{self.stack.region}:123456789012:function:"
            f"{self.stack.stack.controller_function_name}",
        )
        return handler.lambda_handler(event, context)


def make_world(
    monkeypatch: pytest.MonkeyPatch, plan: PlanRecord, settings: AwsSettings | None = None
) -> Iterator[World]:
    fake_aws_env(monkeypatch)
    handler.reset()
    with mock_aws(config=MOTO_CONFIG):
        stack = build_moto_stack(
            routes=(RouteSpec(ROUTE, 100, "/map/v1/tile/*", plan),), settings=settings
        )
        monkeypatch.setenv(ENV_STACK, stack.stack.stack)
        monkeypatch.setenv(ENV_REGISTRY_PATH, stack.registry_path)
        # The handler's own Powertools logger, as on a cold start in Lambda.
        service = stack.service(log=handler.logger)
        handler.set_service(service)
        with route_lambda_invocations(
            {stack.stack.controller_function_name: handler.lambda_handler}
        ) as router:
            try:
                yield World(stack=stack, service=service, router=router)
            finally:
                _stop_everything(stack, router)
    handler.reset()


def _stop_everything(stack: MotoStack, router: LambdaRouter) -> None:
    """No execution may outlive the mock: its next task would call real AWS."""
    sfn = stack.client("stepfunctions")
    for execution in sfn.list_executions(
        stateMachineArn=stack.stack.state_machine_arn, statusFilter="RUNNING"
    )["executions"]:
        sfn.stop_execution(executionArn=execution["executionArn"], cause="test teardown")
    router.wait_idle(timeout=30)
    time.sleep(0.1)  # let the stopped workers leave their last state


@pytest.fixture(name="world")
def _world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(monkeypatch, TWO_STAGES)


@pytest.fixture(name="world3")
def _world3(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(monkeypatch, THREE_STAGES)


def test_the_fixture_stack_is_deployed_as_the_controller_expects(world: World) -> None:
    stack = world.stack
    assert stack.live_weights() == ALL_ECS
    assert world.service.ports.registry.route(ROUTE) == stack.route()
    assert world.service.status(ROUTE).alarm == "OK"
    assert stack.registry().stack() == stack.stack


def test_healthy_run_goes_all_the_way_to_100(world3: World) -> None:
    world = world3
    execution = world.start()
    described = world.wait(execution)
    assert described["status"] == "SUCCEEDED", described
    assert world.stack.live_weights() == ALL_LAMBDA
    state = world.state()
    assert (state.status, state.stage, state.lock) == (Status.PROMOTED, 3, None)
    assert world.events() == [
        Event.BEGIN,
        Event.SHIFT,
        Event.CHECK_PASSED,
        Event.SHIFT,
        Event.CHECK_PASSED,
        Event.SHIFT,
        Event.CHECK_PASSED,
        Event.FINISH,
    ]
    shifts = [e.weights for e in reversed(world.service.history(ROUTE, 100)) if e.event == "shift"]
    assert shifts == [Weights.from_percent(p) for p in (10, 50, 100)]
    assert [n["subject"] for n in world.stack.notifications()] == [
        "[strangler] map-tile: promoted: all traffic on Lambda"
    ]


@pytest.mark.parametrize("stage", [0, 1, 2], ids=["stage1", "stage2", "stage3"])
def test_alarm_during_a_bake_rolls_back_within_one_handler_call(world3: World, stage: int) -> None:
    world = world3
    execution = world.start()
    world.baking(stage)
    world.stack.set_alarm("ALARM", child="app-errors")
    response = world.deliver(world.stack.alarm_event())
    # Right after that one call: weights at ECS, execution stopped, state recorded.
    assert world.stack.live_weights() == ALL_ECS
    assert (
        world.stack.client("stepfunctions").describe_execution(executionArn=execution)["status"]
        == "ABORTED"
    )
    assert response["results"][0]["stoppedExecution"] == execution
    state = world.state()
    assert (state.status, state.lock, state.stage) == (Status.ROLLED_BACK, None, stage)
    entry = world.service.history(ROUTE, 1)[0]
    assert entry.event == Event.ROLLBACK
    assert entry.actor == f"alarm:{world.stack.route().composite_alarm_name}"
    assert entry.execution_arn == execution
    assert world.events().count(Event.SHIFT) == stage + 1


def test_alarm_event_delivered_twice_rolls_back_once(world: World) -> None:
    world.start()
    world.baking(0)
    world.stack.set_alarm("ALARM")
    event = world.stack.alarm_event()
    first = world.deliver(event)
    second = world.deliver(event)
    assert first["results"][0]["result"] == "done"
    assert second["results"][0]["result"] == "unchanged"
    assert world.stack.live_weights() == ALL_ECS
    assert world.events().count(Event.ROLLBACK) == 1
    subjects = [n["subject"] for n in world.stack.notifications()]
    assert subjects == ["[strangler] map-tile: rolled back to ECS"]


def test_two_starts_at_once_one_is_refused(world: World) -> None:
    names = ("map-tile-schedule-a", "map-tile-schedule-b")
    arns: list[str] = []
    threads = [
        threading.Thread(target=lambda n=name: arns.append(world.start_directly(n)))
        for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = sorted(
        str(json.loads(world.wait(arn).get("output") or "{}").get("begin", {}).get("outcome"))
        for arn in arns
    )
    assert outcomes == ["noop", "run"]
    assert world.stack.live_weights() == ALL_LAMBDA
    events = world.events()
    assert events.count(Event.BEGIN) == 1
    noop = next(e for e in world.service.history(ROUTE, 100) if e.event == Event.NOOP)
    assert "start skipped" in (noop.reason or "")
    assert world.state().status is Status.PROMOTED


def test_rolled_back_route_cannot_start_again_until_resume(world: World) -> None:
    world.service.rollback(ROUTE, reason="upstream incident", actor="operator:alice")
    with pytest.raises(TransitionRefused, match="rolled_back"):
        world.start()
    # A scheduled start is a recorded no-op that ends successfully.
    scheduled = world.wait(world.start_directly("map-tile-schedule-1"))
    assert scheduled["status"] == "SUCCEEDED"
    assert json.loads(scheduled["output"])["begin"]["outcome"] == "noop"
    assert world.events() == [Event.ROLLBACK, Event.NOOP]
    assert world.stack.live_weights() == ALL_ECS
    world.service.resume(ROUTE, reason="incident closed", actor="operator:alice")
    assert world.wait(world.start())["status"] == "SUCCEEDED"
    assert world.stack.live_weights() == ALL_LAMBDA
    assert world.state().status is Status.PROMOTED


def test_drift_by_hand_pauses_and_leaves_the_weights(world: World) -> None:
    execution = world.start()
    world.baking(0)
    by_hand = Weights(ecs=700, lambda_=299)
    world.stack.set_weights_by_hand(by_hand)
    described = world.wait(execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["check"]["outcome"] == "drift"
    assert world.stack.live_weights() == by_hand
    state = world.state()
    assert state.status is Status.PAUSED and (state.reason or "").startswith("drift")
    assert world.events()[-1] == Event.DRIFT
    (note,) = world.stack.notifications()
    assert note["message"]["live"] == {"ecs": 700, "lambda": 299, "lambdaPercent": 29.9}


@pytest.fixture(name="no_sdk_retries")
def _no_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # One attempt per call, so the state machine's own Retry does the retrying.
    yield from make_world(
        monkeypatch, TWO_STAGES, AwsSettings(region="ap-northeast-1", max_attempts=1)
    )


def test_modify_rule_throttled_twice_then_ok_the_run_continues(no_sdk_retries: World) -> None:
    world = no_sdk_retries
    throttled: list[str] = []

    def throttle(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if len(throttled) >= 2:
            return None
        throttled.append("ModifyRule")
        error = {"Code": "Throttling", "Message": "Rate exceeded"}
        meta = {"HTTPStatusCode": 400, "RequestId": "throttled"}
        return AWSResponse("https://elasticloadbalancing", 400, {}, None), {
            "Error": error,
            "ResponseMetadata": meta,
        }

    world.stack.client("elbv2").meta.events.register(
        "before-call.elastic-load-balancing-v2.ModifyRule", throttle
    )
    described = world.wait(world.start())
    assert described["status"] == "SUCCEEDED", described
    assert throttled == ["ModifyRule", "ModifyRule"]
    assert world.stack.live_weights() == ALL_LAMBDA
    assert world.state().status is Status.PROMOTED
    shift_calls = [i for i in world.router.invocations if i.event.get("action") == "shift"]
    assert [i.error_type for i in shift_calls][:3] == ["TransientError", "TransientError", None]
    assert world.events().count(Event.SHIFT) == 2


def test_dynamodb_unavailable_during_rollback_still_sets_the_weights(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    execution = world.start()
    world.baking(0)
    world.stack.client("stepfunctions").stop_execution(
        executionArn=execution, cause="keep this scenario about the alarm path"
    )
    world.router.wait_idle()
    world.stack.client("dynamodb").delete_table(TableName=world.stack.stack.table_name)
    world.stack.set_alarm("ALARM")
    with pytest.raises(RollbackIncomplete, match="state"):
        world.deliver(world.stack.alarm_event())
    assert world.stack.live_weights() == ALL_ECS
    (note,) = world.stack.notifications()
    assert note["subject"] == "[strangler] map-tile: rolled back to ECS (incomplete)"
    assert any(
        problem.startswith("state: ") and "ResourceNotFoundException" in problem
        for problem in note["message"]["problems"]
    ), note
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("recording the rollback failed" in m and "ResourceNotFound" in m for m in logged)


def test_stages_per_run_one_stage_per_run_and_the_next_run_resumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for world in make_world(monkeypatch, replace(TWO_STAGES, stages_per_run=1)):
        first = world.wait(world.start())
        assert first["status"] == "SUCCEEDED"
        assert json.loads(first["output"])["check"]["outcome"] == "pause"
        assert world.stack.live_weights() == Weights.from_percent(10)
        state = world.state()
        assert (state.status, state.stage, state.lock) == (Status.PAUSED, 1, None)
        second = world.wait(world.start())
        assert second["status"] == "SUCCEEDED"
        assert world.stack.live_weights() == ALL_LAMBDA
        assert world.state().status is Status.PROMOTED
        shifts = [e for e in reversed(world.service.history(ROUTE, 100)) if e.event == "shift"]
        assert [e.weights for e in shifts] == [Weights.from_percent(10), ALL_LAMBDA]
        assert len({e.execution_arn for e in shifts}) == 2, "one stage per run"


def test_insufficient_requests_during_the_bake_fail_the_stage_safely(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for world in make_world(monkeypatch, replace(TWO_STAGES, min_requests=5)):
        world.stack.put_requests(2)
        described = world.wait(world.start())
        assert described["status"] == "FAILED"
        assert described.get("error") == "RolledBack"
        assert world.stack.live_weights() == ALL_ECS
        state = world.state()
        assert state.status is Status.ROLLED_BACK
        failed = world.service.history(ROUTE, 1)[0]
        assert failed.event == Event.CHECK_FAILED
        assert "minRequests 5" in (failed.reason or "")
        assert world.events().count(Event.CHECK_FAILED) == 1


def test_rollback_from_the_cli_and_from_an_alarm_are_the_same_operation(world: World) -> None:
    execution = world.start()
    world.baking(0)
    world.service.rollback(ROUTE, reason="operator says so", actor="operator:alice")
    assert world.stack.live_weights() == ALL_ECS
    assert world.wait(execution)["status"] == "ABORTED"
    world.stack.set_alarm("ALARM")
    response = world.deliver(world.stack.alarm_event())
    assert response["results"][0]["result"] == "unchanged"
    assert world.events().count(Event.ROLLBACK) == 1
    assert world.stack.live_weights() == ALL_ECS
