"""End-to-end scenarios: the state machine the program deploys runs for real on the twin.

The twin is the real program applied to moto (the ``twin`` fixture,
tests/conftest.py). moto executes the deployed definition
(``execute_state_machine``); its Lambda tasks reach the real controller
handler in-process through :mod:`rehearsal.world.moto_lambda`; the handler's
service uses the real boto3 adapters on moto. Every scenario asserts the
weights read back from moto, the route's status and its history.

Each scenario deploys its plan into the registry (bakes of 1 s, at most
three stages): every Wait sleeps for real.
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

from controller import handler
from controller.aws.clients import AwsSettings, ClientFactory
from controller.aws.wiring import aws_ports
from controller.core.contract import ENV_REGISTRY_PATH, ENV_STACK, PlanRecord, StagePlanRecord
from controller.core.errors import TransitionRefused
from controller.core.lifecycle import Event, RouteState, Status
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from controller.service import CanaryService, RollbackIncomplete
from rehearsal.world.moto_lambda import FakeLambdaContext, LambdaRouter
from tests.aws_fixtures import ACCOUNT_ID, QUICK_SETTINGS, TwinWorld

ROUTE = "map-tile"
THREE_STAGES = PlanRecord(
    stages=(StagePlanRecord(10.0, 1), StagePlanRecord(50.0, 1), StagePlanRecord(100.0, 1))
)
TWO_STAGES = PlanRecord(stages=(StagePlanRecord(10.0, 1), StagePlanRecord(100.0, 1)))


@dataclass
class World:
    """The twin with the real controller handler wired in, and helpers."""

    twin: TwinWorld
    service: CanaryService
    router: LambdaRouter
    factory: ClientFactory

    def start(self, *, actor: str = "operator:test") -> str:
        """Start a run the way the CLI does (service.start_run, with name=)."""
        execution = self.service.start_run(ROUTE, actor=actor).execution
        assert execution is not None
        return execution

    def start_directly(self, name: str, *, trigger: str = "schedule") -> str:
        """Start an execution the way the schedule does: StartExecution with the input."""
        return self.twin.start_execution(
            name, self.twin.execution_input(ROUTE, trigger=trigger, actor=trigger)
        )

    def wait(self, execution_arn: str) -> dict[str, Any]:
        return self.twin.wait_for_execution(execution_arn, timeout=60)

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

    def baking(self, stage_index: int, execution: str | None = None) -> RouteState:
        """Wait until the run has shifted to ``stage_index`` (0-based) and bakes it.

        With ``execution``, also until the execution waits in that stage's Bake
        state: stopped while moto's interpreter is still in the Choice after
        Shift, moto ends it FAILED instead of ABORTED (see TwinWorld.park).
        """
        state = self.wait_for(
            f"baking stage {stage_index + 1}",
            lambda s: s.stage == stage_index and s.stage_started_at is not None,
        )
        if execution is not None:
            sfn = self.twin.client("stepfunctions")
            deadline = time.monotonic() + 30
            while True:
                events = sfn.get_execution_history(executionArn=execution)["events"]
                bakes = [e for e in events if e["type"] == "WaitStateEntered"]
                if len(bakes) > stage_index:
                    return state
                assert time.monotonic() < deadline, f"{execution} never entered its Bake state"
                time.sleep(0.01)
        return state

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the controller handler directly, as EventBridge does."""
        name = self.twin.stack.controller_function_name
        context = FakeLambdaContext(
            function_name=name,
            invoked_function_arn=f"arn:aws:lambda:{self.twin.region}:{ACCOUNT_ID}:function:{name}",
        )
        return handler.lambda_handler(event, context)


def make_world(
    twin: TwinWorld,
    monkeypatch: pytest.MonkeyPatch,
    plan: PlanRecord,
    settings: AwsSettings | None = None,
) -> Iterator[World]:
    """The twin with ``plan`` deployed for the route and the real handler as its controller."""
    handler.reset()
    twin.set_plan(plan)
    monkeypatch.setenv(ENV_STACK, twin.stack.stack)
    monkeypatch.setenv(ENV_REGISTRY_PATH, twin.registry_path)
    factory = ClientFactory(settings) if settings is not None else twin.factory
    # The handler's own Powertools logger, as on a cold start in Lambda.
    service = CanaryService(
        aws_ports(factory, twin.registry()), settings=QUICK_SETTINGS, log=handler.logger
    )
    handler.set_service(service)
    twin.controller = handler.lambda_handler
    assert twin.router is not None
    try:
        yield World(twin=twin, service=service, router=twin.router, factory=factory)
    finally:
        # No execution may outlive the test: stop them while the handler is still wired.
        twin.settle()
        handler.reset()


@pytest.fixture(name="world")
def _world(twin: TwinWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(twin, monkeypatch, TWO_STAGES)


@pytest.fixture(name="world3")
def _world3(twin: TwinWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(twin, monkeypatch, THREE_STAGES)


def test_the_fixture_stack_is_deployed_as_the_controller_expects(world: World) -> None:
    twin = world.twin
    assert twin.live_weights() == ALL_ECS
    assert world.service.ports.registry.route(ROUTE) == twin.route()
    assert world.service.ports.registry.route(ROUTE).plan == TWO_STAGES
    assert world.service.status(ROUTE).alarm == "OK"
    assert twin.registry().stack() == twin.stack


def test_healthy_run_goes_all_the_way_to_100(world3: World) -> None:
    world = world3
    execution = world.start()
    described = world.wait(execution)
    assert described["status"] == "SUCCEEDED", described
    assert world.twin.live_weights() == ALL_LAMBDA
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
    assert [n["subject"] for n in world.twin.notifications()] == [
        "[strangler] map-tile: promoted: all traffic on Lambda"
    ]


@pytest.mark.parametrize("stage", [0, 1, 2], ids=["stage1", "stage2", "stage3"])
def test_alarm_during_a_bake_rolls_back_within_one_handler_call(world3: World, stage: int) -> None:
    world = world3
    execution = world.start()
    world.baking(stage, execution)
    world.twin.set_alarm("ALARM", child="app-errors")
    response = world.deliver(world.twin.alarm_event())
    # Right after that one call: weights at ECS, execution stopped, state recorded.
    assert world.twin.live_weights() == ALL_ECS
    assert world.twin.stopped_status(execution) == "ABORTED"
    assert response["results"][0]["stoppedExecution"] == execution
    state = world.state()
    assert (state.status, state.lock, state.stage) == (Status.ROLLED_BACK, None, stage)
    entry = world.service.history(ROUTE, 1)[0]
    assert entry.event == Event.ROLLBACK
    assert entry.actor == f"alarm:{world.twin.route().composite_alarm_name}"
    assert entry.execution_arn == execution
    assert world.events().count(Event.SHIFT) == stage + 1


def test_alarm_event_delivered_twice_rolls_back_once(world: World) -> None:
    world.start()
    world.baking(0)
    world.twin.set_alarm("ALARM")
    event = world.twin.alarm_event()
    first = world.deliver(event)
    second = world.deliver(event)
    assert first["results"][0]["result"] == "done"
    assert second["results"][0]["result"] == "unchanged"
    assert world.twin.live_weights() == ALL_ECS
    assert world.events().count(Event.ROLLBACK) == 1
    subjects = [n["subject"] for n in world.twin.notifications()]
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
    assert world.twin.live_weights() == ALL_LAMBDA
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
    assert world.twin.live_weights() == ALL_ECS
    world.service.resume(ROUTE, reason="incident closed", actor="operator:alice")
    assert world.wait(world.start())["status"] == "SUCCEEDED"
    assert world.twin.live_weights() == ALL_LAMBDA
    assert world.state().status is Status.PROMOTED


def test_drift_by_hand_pauses_and_leaves_the_weights(world: World) -> None:
    execution = world.start()
    world.baking(0)
    by_hand = Weights(ecs=700, lambda_=299)
    world.twin.set_weights_by_hand(by_hand)
    described = world.wait(execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["check"]["outcome"] == "drift"
    assert world.twin.live_weights() == by_hand
    state = world.state()
    assert state.status is Status.PAUSED and (state.reason or "").startswith("drift")
    assert world.events()[-1] == Event.DRIFT
    (note,) = world.twin.notifications()
    assert note["message"]["live"] == {
        "ecs": 70.1,
        "lambda": 29.9,
        "alb": {"ecs": 700, "lambda": 299},
        "text": "ecs 70.1 % / lambda 29.9 %",
    }


@pytest.fixture(name="no_sdk_retries")
def _no_sdk_retries(twin: TwinWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # One attempt per call, so the state machine's own Retry does the retrying.
    yield from make_world(
        twin, monkeypatch, TWO_STAGES, AwsSettings(region=twin.region, max_attempts=1)
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

    world.factory.client("elbv2").meta.events.register(
        "before-call.elastic-load-balancing-v2.ModifyRule", throttle
    )
    described = world.wait(world.start())
    assert described["status"] == "SUCCEEDED", described
    assert throttled == ["ModifyRule", "ModifyRule"]
    assert world.twin.live_weights() == ALL_LAMBDA
    assert world.state().status is Status.PROMOTED
    shift_calls = [i for i in world.router.invocations if i.event.get("action") == "shift"]
    assert [i.error_type for i in shift_calls][:3] == ["TransientError", "TransientError", None]
    assert world.events().count(Event.SHIFT) == 2


def test_dynamodb_unavailable_during_rollback_still_sets_the_weights(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    execution = world.start()
    world.baking(0)
    world.twin.client("stepfunctions").stop_execution(
        executionArn=execution, cause="keep this scenario about the alarm path"
    )
    world.router.wait_idle()
    # The table is gone until the twin is put back for the next test.
    world.twin.client("dynamodb").delete_table(TableName=world.twin.stack.table_name)
    world.twin.set_alarm("ALARM")
    with pytest.raises(RollbackIncomplete, match="state"):
        world.deliver(world.twin.alarm_event())
    assert world.twin.live_weights() == ALL_ECS
    (note,) = world.twin.notifications()
    assert note["subject"] == "[strangler] map-tile: rolled back to ECS (incomplete)"
    assert any(
        problem.startswith("state: ") and "ResourceNotFoundException" in problem
        for problem in note["message"]["problems"]
    ), note
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("recording the rollback failed" in m and "ResourceNotFound" in m for m in logged)


def test_stages_per_run_one_stage_per_run_and_the_next_run_resumes(
    twin: TwinWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    for world in make_world(twin, monkeypatch, replace(TWO_STAGES, stages_per_run=1)):
        first = world.wait(world.start())
        assert first["status"] == "SUCCEEDED"
        assert json.loads(first["output"])["check"]["outcome"] == "pause"
        assert world.twin.live_weights() == Weights.from_percent(10)
        state = world.state()
        assert (state.status, state.stage, state.lock) == (Status.PAUSED, 1, None)
        second = world.wait(world.start())
        assert second["status"] == "SUCCEEDED"
        assert world.twin.live_weights() == ALL_LAMBDA
        assert world.state().status is Status.PROMOTED
        shifts = [e for e in reversed(world.service.history(ROUTE, 100)) if e.event == "shift"]
        assert [e.weights for e in shifts] == [Weights.from_percent(10), ALL_LAMBDA]
        assert len({e.execution_arn for e in shifts}) == 2, "one stage per run"


def test_insufficient_requests_during_the_bake_fail_the_stage_safely(
    twin: TwinWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    for world in make_world(twin, monkeypatch, replace(TWO_STAGES, min_requests=5)):
        world.twin.put_requests(2)
        described = world.wait(world.start())
        assert described["status"] == "FAILED"
        assert described.get("error") == "RolledBack"
        assert world.twin.live_weights() == ALL_ECS
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
    assert world.twin.live_weights() == ALL_ECS
    assert world.wait(execution)["status"] == "ABORTED"
    world.twin.set_alarm("ALARM")
    response = world.deliver(world.twin.alarm_event())
    assert response["results"][0]["result"] == "unchanged"
    assert world.events().count(Event.ROLLBACK) == 1
    assert world.twin.live_weights() == ALL_ECS
