"""Tests of rehearsal/world/lambda_runtime.py (and the worker, rehearsal/world/lambda_worker.py)."""

from __future__ import annotations

import importlib
import io
import logging
import os
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rehearsal.world.emulator import Emulator
from rehearsal.world.lambda_runtime import (
    FunctionConfig,
    FunctionError,
    InProcessFunction,
    LambdaRuntimeError,
    OutputRouter,
    WorkerFunction,
    deployed_package,
    function_config,
    function_environment,
    in_process_environment,
    lambda_environment,
    routed_stdout,
    unpacked_package,
)
from tests.aws_fixtures import REGION, fake_aws_env

THIS_MODULE = "tests.aws.test_rehearsal_lambda_runtime"
RESETS: list[str] = []

APP = """
import json, os, sys
print("init " + os.environ["GREETING"])

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("import"):
        __import__(event["import"])
    print(json.dumps({"_aws": "line", "n": event.get("n")}))
    return {
        "greeting": os.environ["GREETING"],
        "function": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "cwd_first": sys.path[0] == os.getcwd(),
        "handler_env": os.environ["_HANDLER"],
    }
"""


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def config(handler: str = "app.handler", **environment: str) -> FunctionConfig:
    return FunctionConfig(
        name="fn",
        arn=f"arn:aws:lambda:{REGION}:123456789012:function:fn",
        handler=handler,
        environment={"GREETING": "hello", **environment},
        timeout_seconds=7,
        memory_mb=256,
        code_sha256="",
    )


# --- configuration and environment -----------------------------------------------------


def test_function_config_from_the_api_answer():
    parsed = FunctionConfig.from_api(
        {
            "FunctionName": "fn",
            "FunctionArn": "arn:fn",
            "Handler": "app.handler",
            "Environment": {"Variables": {"A": "1"}},
            "CodeSha256": "abc",
        }
    )
    assert parsed.environment == {"A": "1"}
    assert (parsed.timeout_seconds, parsed.memory_mb) == (3, 128), "Lambda's defaults"


def test_the_worker_environment_is_the_functions_plus_the_runtimes():
    env = lambda_environment(config(), REGION)
    assert env["GREETING"] == "hello"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["_HANDLER"] == "app.handler"


def test_the_in_process_environment_leaves_out_process_wide_variables():
    env = in_process_environment(config(), REGION, "http://127.0.0.1:5000")
    assert env["GREETING"] == "hello"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert "TZ" not in env and "AWS_LAMBDA_FUNCTION_NAME" not in env
    assert "AWS_ENDPOINT_URL" not in in_process_environment(config(), REGION, None)


def test_function_environment_is_restored(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REHEARSAL_KEPT", "before")
    monkeypatch.delenv("REHEARSAL_NEW", raising=False)
    with function_environment({"REHEARSAL_KEPT": "during", "REHEARSAL_NEW": "x"}):
        assert os.environ["REHEARSAL_KEPT"] == "during"
    assert os.environ["REHEARSAL_KEPT"] == "before"
    assert "REHEARSAL_NEW" not in os.environ


# --- the worker ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker() -> Iterator[tuple[WorkerFunction, list[str]]]:
    lines: list[str] = []
    function = WorkerFunction(
        config(),
        package({"app.py": APP}),
        region=REGION,
        on_output=lambda name, line: lines.append(line),
        environment_overrides={"GREETING": "overridden"},
    )
    yield function, lines
    function.close()


def test_the_worker_runs_the_handler_from_the_package(worker: tuple[WorkerFunction, list[str]]):
    function, _ = worker
    answer = function({"n": 1}, None)
    assert answer["greeting"] == "overridden"
    assert answer["function"] == "fn"
    assert 6000 < answer["remaining_ms"] <= 7000, "the function's own timeout"
    assert answer["cwd_first"], "the package comes first on sys.path, like /var/task"
    assert answer["handler_env"] == "app.handler"
    assert function.init_ms > 0


def test_the_worker_output_reaches_the_sink(worker: tuple[WorkerFunction, list[str]]):
    function, lines = worker
    function({"n": 42}, None)
    # The worker's output is read by another thread: wait for both lines.
    expected = ("init overridden", '{"_aws": "line", "n": 42}')
    deadline = 250
    while deadline and not all(line in lines for line in expected):
        threading.Event().wait(0.02)
        deadline -= 1
    assert "init overridden" in lines
    assert '{"_aws": "line", "n": 42}' in lines


def test_a_handler_error_is_a_function_error(worker: tuple[WorkerFunction, list[str]]):
    function, _ = worker
    with pytest.raises(FunctionError, match="ValueError: asked to fail") as caught:
        function({"fail": True}, None)
    assert caught.value.error_type == "ValueError"
    assert function({"n": 2}, None)["greeting"] == "overridden", "the environment lives on"


def test_the_repository_is_not_importable_from_the_function(
    worker: tuple[WorkerFunction, list[str]],
):
    function, _ = worker
    with pytest.raises(FunctionError, match="ModuleNotFoundError"):
        function({"import": "controller"}, None)


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        pytest.param("nowhere.handler", r"Runtime.ImportModuleError.*nowhere", id="module"),
        pytest.param("app.nothing", r"Runtime.HandlerNotFound.*'nothing'", id="handler"),
    ],
)
def test_a_missing_module_or_handler_fails_the_init_like_lambda(handler, error):
    with pytest.raises(LambdaRuntimeError, match=error):
        WorkerFunction(
            config(handler),
            package({"app.py": APP}),
            region=REGION,
            on_output=lambda name, line: None,
        )


# --- output capture --------------------------------------------------------------------


def test_the_router_captures_only_the_capturing_thread():
    target = io.StringIO()
    router = OutputRouter(target)
    captured: list[str] = []
    with router.capture(captured.append):
        router.write("one\ntw")
        other = threading.Thread(target=lambda: router.write("from another thread\n"))
        other.start()
        other.join()
        router.write("o\nthree")
    router.write("after\n")
    assert captured == ["one", "two", "three"]
    assert target.getvalue() == "from another thread\nafter\n"


def test_routed_stdout_points_stdout_loggers_at_the_router_and_back():
    logger = logging.getLogger("rehearsal-test-stdout")
    handler = logging.StreamHandler(sys.stdout)
    logger.addHandler(handler)
    try:
        with routed_stdout() as router:
            assert sys.stdout is router
            assert handler.stream is router
        assert handler.stream is sys.stdout
    finally:
        logger.removeHandler(handler)


def test_a_logger_built_while_routed_is_routed_again_next_time():
    logger = logging.getLogger("rehearsal-test-late")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        with routed_stdout() as first:
            # Like the controller's Logger: its module is imported during a rehearsal.
            handler = logging.StreamHandler(sys.stdout)
            logger.addHandler(handler)
            assert handler.stream is first
        assert handler.stream is sys.stdout, "back on stdout after the first rehearsal"
        captured: list[str] = []
        with routed_stdout() as second:
            assert handler.stream is second
            with second.capture(captured.append):
                logger.info("from the controller")
        assert captured == ["from the controller"], "not leaked to the second run's stdout"
    finally:
        logger.handlers.clear()


# --- in process, from the emulator -----------------------------------------------------


def echo_handler(event: Any, context: Any) -> dict[str, Any]:
    """The in-process handler of these tests."""
    print(f"echo {event}")
    return {"event": event}


def reset() -> None:
    """Called by InProcessFunction at start and close."""
    RESETS.append("reset")


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    fake_aws_env(monkeypatch)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield Emulator(region=REGION)


def _deploy(emulator: Emulator, handler: str, files: dict[str, str]) -> FunctionConfig:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    emulator.client("lambda").create_function(
        FunctionName="fn",
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": package(files)},
        Environment={"Variables": {"A": "1"}},
    )
    return function_config(emulator, "fn")


def test_the_deployed_package_is_the_uploaded_one(emulator: Emulator):
    files = {"app.py": APP}
    deployed = _deploy(emulator, "app.handler", files)
    assert deployed.environment == {"A": "1"}
    with zipfile.ZipFile(io.BytesIO(deployed_package(emulator, deployed))) as archive:
        assert archive.read("app.py").decode() == APP


def test_in_process_function_runs_the_declared_handler(emulator: Emulator):
    path = THIS_MODULE.replace(".", "/") + ".py"
    deployed = _deploy(emulator, f"{THIS_MODULE}.echo_handler", {path: "# packaged"})
    lines: list[str] = []
    # pytest may have imported this file under another name: look at the copy
    # the handler string names.
    packaged = importlib.import_module(THIS_MODULE)
    packaged.RESETS.clear()
    with routed_stdout() as router:
        function = InProcessFunction(
            deployed,
            deployed_package(emulator, deployed),
            router,
            lambda n, line: lines.append(line),
        )
        assert function({"a": 1}, None) == {"event": {"a": 1}}
        function.close()
    assert lines == ["echo {'a': 1}"], "the handler's prints are its output, not ours"
    assert packaged.RESETS == ["reset", "reset"], "a cold start, and nothing cached afterwards"


@pytest.mark.parametrize(
    ("handler", "files", "message"),
    [
        ("app.handler", {"other.py": ""}, "Runtime.ImportModuleError.*does not contain"),
        (f"{THIS_MODULE}.missing", {THIS_MODULE.replace(".", "/") + ".py": ""}, "HandlerNotFound"),
    ],
)
def test_in_process_handler_errors_name_the_function(
    emulator: Emulator, handler: str, files: dict[str, str], message: str
):
    deployed = _deploy(emulator, handler, files)
    router = OutputRouter(io.StringIO())
    with pytest.raises(LambdaRuntimeError, match=message) as caught:
        InProcessFunction(deployed, deployed_package(emulator, deployed), router, print)
    assert "function fn" in str(caught.value)


def test_the_package_path_of_this_module_exists():
    assert (Path(__file__).resolve()).name == THIS_MODULE.rsplit(".", 1)[1] + ".py"


def test_a_package_is_unzipped_once_and_reused(tmp_path: Path):
    zipped = package({"app.py": "x = 1\n", "lib/mod.py": "y = 2\n"})
    first = unpacked_package(zipped, tmp_path)
    assert (first / "lib" / "mod.py").read_bytes() == b"y = 2\n"
    (first / "marker").write_text("left by the first unzip")
    assert unpacked_package(zipped, tmp_path) == first
    assert (first / "marker").exists(), "the second worker reused the folder"
    other = unpacked_package(package({"app.py": "x = 3\n"}), tmp_path)
    assert other != first and (other / "app.py").read_bytes() == b"x = 3\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, other.name])
