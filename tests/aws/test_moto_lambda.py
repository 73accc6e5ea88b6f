"""Tests of rehearsal/world/moto_lambda.py: moto's Lambda Invoke routed to Python handlers."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from rehearsal.world import moto_lambda
from rehearsal.world.moto_lambda import (
    FakeLambdaContext,
    MotoSignatureChanged,
    function_key,
    route_lambda_invocations,
)
from tests.aws_fixtures import fake_aws_env, lambda_role

REGION = "ap-northeast-1"
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


class TransientError(Exception):
    """Stands for the controller's retryable error: only its class name matters."""


class Boom(Exception):
    """A non-retryable failure."""


@pytest.fixture(name="aws")
def _aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fake_aws_env(monkeypatch)
    with mock_aws(config=MOTO_CONFIG):
        yield


def create_function(name: str) -> str:
    """A Lambda function in moto (its code never runs: the router replaces it)."""
    role = lambda_role(boto3.client("iam", region_name=REGION), name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return str(
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": buffer.getvalue()},
        )["FunctionArn"]
    )


def run_state_machine(definition: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Create, start (with a name) and wait for one execution; returns describe_execution."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="probe",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="probe-1", input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError(f"execution {arn} still RUNNING after 30 s")


def probe_definition(function_arn: str) -> dict[str, Any]:
    """One Task retried on TransientError, everything else caught into a Pass state."""
    return {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                "ResultSelector": {"answer.$": "$.Payload"},
                "Retry": [
                    {
                        "ErrorEquals": ["TransientError"],
                        "IntervalSeconds": 1,
                        "BackoffRate": 1.0,
                        "MaxAttempts": 3,
                    }
                ],
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def test_invoke_runs_the_handler_with_event_and_context(aws: None) -> None:
    arn = create_function("echo")
    seen: list[Any] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.append(context)
        return {"got": event, "fn": context.function_name}

    with route_lambda_invocations({"echo": handler}) as router:
        response = boto3.client("lambda", region_name=REGION).invoke(
            FunctionName=arn, Payload=json.dumps({"a": 1})
        )
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"got": {"a": 1}, "fn": "echo"}
    context = seen[0]
    assert context.invoked_function_arn == arn
    assert context.memory_limit_in_mb == 128
    assert context.aws_request_id
    assert 0 < context.get_remaining_time_in_millis() <= 60_000
    assert [i.function for i in router.invocations_of(arn)] == ["echo"]


def test_handler_exception_is_an_unhandled_function_error(aws: None) -> None:
    arn = create_function("fails")

    def handler(event: Any, context: Any) -> None:
        raise Boom("no luck for route map-tile")

    with route_lambda_invocations({arn: handler}) as router:
        response = boto3.client("lambda", region_name=REGION).invoke(FunctionName="fails")
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "Boom"
    assert body["errorMessage"] == "no luck for route map-tile"
    assert any("raise Boom" in line for line in body["stackTrace"])
    assert router.invocations[0].error_type == "Boom"


def test_unknown_function_is_refused_naming_it(aws: None) -> None:
    create_function("nobody-home")
    client = boto3.client("lambda", region_name=REGION)
    with route_lambda_invocations({"other": lambda e, c: None}), pytest.raises(Exception) as info:
        client.invoke(FunctionName="nobody-home")
    message = str(info.value)
    assert "ResourceNotFoundException" in message
    assert "nobody-home" in message and "other" in message


def test_step_functions_retries_the_transient_error_name(aws: None) -> None:
    arn = create_function("flaky")
    calls: list[int] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) <= 2:
            raise TransientError("throttled")
        return {"ok": len(calls)}

    with route_lambda_invocations({"flaky": handler}):
        described = run_state_machine(probe_definition(arn), {"x": 1})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"answer": {"ok": 3}}
    assert len(calls) == 3


def test_step_functions_catches_other_errors_without_retry(aws: None) -> None:
    arn = create_function("broken")
    calls: list[int] = []

    def handler(event: Any, context: Any) -> None:
        calls.append(1)
        raise Boom("check failed")

    with route_lambda_invocations({"broken": handler}):
        described = run_state_machine(probe_definition(arn), {"x": 1})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["error"]["Error"] == "Boom"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "check failed"
    assert len(calls) == 1, "a non-transient error must not be retried"


def test_patch_is_removed_afterwards(aws: None) -> None:
    original = LambdaSimpleBackend.invoke
    with route_lambda_invocations({"x": lambda e, c: None}):
        assert LambdaSimpleBackend.invoke is not original
    assert LambdaSimpleBackend.invoke is original


def test_a_changed_moto_signature_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    def invoke(self: Any, function_name: str, body: Any) -> bytes:
        return b""

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    with (
        pytest.raises(MotoSignatureChanged, match="function_name', 'body"),
        route_lambda_invocations({}),
    ):
        pass


def test_function_key_accepts_names_and_arns() -> None:
    assert function_key("fn") == "fn"
    assert function_key("arn:aws:lambda:ap-northeast-1:123456789012:function:fn") == "fn"
    assert function_key("arn:aws:lambda:ap-northeast-1:123456789012:function:fn:live") == "fn"
    assert function_key("123456789012:function:fn") == "fn"


def test_fake_context_counts_down() -> None:
    context = FakeLambdaContext("fn", "arn:aws:lambda:r:1:function:fn", timeout_seconds=1)
    assert 0 < context.get_remaining_time_in_millis() <= 1000
    assert context.log_group_name == "/aws/lambda/fn"
    assert moto_lambda.CHECKED_MOTO_VERSION == "5.2.5"


def test_wait_idle_waits_for_running_handlers(aws: None) -> None:
    import threading

    create_function("slow")
    release = threading.Event()

    def handler(event: Any, context: Any) -> str:
        release.wait(5)
        return "done"

    with route_lambda_invocations({"slow": handler}) as router:
        client = boto3.client("lambda", region_name=REGION)
        caller = threading.Thread(target=lambda: client.invoke(FunctionName="slow"))
        caller.start()
        deadline = time.monotonic() + 5
        while router._in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(TimeoutError, match="1 Lambda handler call"):
            router.wait_idle(timeout=0.1)
        release.set()
        router.wait_idle(timeout=5)
        caller.join()
    assert [i.function for i in router.invocations] == ["slow"]
