"""The twin's Lambda runtime: run the functions the program deployed to the emulator.

moto stores a function (its package, handler and environment) but never runs
it. The twin runs each function the way Lambda would, from what the emulator
holds, so the deploy's wiring is what gets tested:

- :func:`function_config` reads the function with ``GetFunctionConfiguration``:
  the handler string, the environment variables, the timeout;
- :func:`deployed_package` takes the zip the deploy uploaded, checked against
  the ``CodeSha256`` the API reports;
- a **route function** runs in its own process, :class:`WorkerFunction`
  (rehearsal/world/lambda_worker.py), from the unzipped package, with exactly the
  declared environment: its module-level singletons (the connection pool,
  Powertools' metric set, which Powertools shares across every ``Metrics``
  instance of a process) belong to that function alone, as in Lambda;
- the **controller** runs in this process, :class:`InProcessFunction`,
  because it must reach the in-process emulator. Its environment is applied
  to ``os.environ`` while the runtime is open (there is one controller per
  stack), and whatever it prints is captured per invocation
  (:class:`OutputRouter`) instead of reaching the rehearsal's own stdout.

Both hand every output line to an ``on_output(function_name, line)``
callback: the twin's CloudWatch Logs, from which it extracts the EMF metrics.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import logging
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from rehearsal.errors import RehearsalError
from rehearsal.world.emulator import Emulator

__all__ = [
    "FunctionConfig",
    "FunctionError",
    "InProcessFunction",
    "LambdaRuntimeError",
    "OutputRouter",
    "WorkerFunction",
    "deployed_package",
    "function_config",
    "function_environment",
    "in_process_environment",
    "lambda_environment",
    "routed_stdout",
]

OutputSink = Callable[[str, str], None]
"""``on_output(function_name, line)``: one line the function printed."""

# The repository root: the worker module is imported from here.
_REPOSITORY = Path(__file__).resolve().parents[2]
# How long a worker may take to import its handler (a cold start with
# Powertools takes well under a second; a busy machine gets slack).
WORKER_INIT_TIMEOUT_SECONDS = 60.0
# On top of the function's own timeout before the runtime gives up on a worker.
INVOKE_SLACK_SECONDS = 5.0
# Lines kept per function for the message of a harness error.
TAIL_LINES = 50


class LambdaRuntimeError(RehearsalError):
    """A function could not be started or answered outside its contract."""


class FunctionError(Exception):
    """The function's handler raised: Lambda reports it as a function error."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


# Where :func:`unpacked_package` keeps the unzipped packages the workers run from.
PACKAGE_CACHE = Path(tempfile.gettempdir()) / "rehearsal-packages"


@dataclass(frozen=True)
class FunctionConfig:
    """What ``GetFunctionConfiguration`` says about a deployed function."""

    name: str
    arn: str
    handler: str
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_mb: int
    code_sha256: str

    @staticmethod
    def from_api(data: Mapping[str, Any]) -> FunctionConfig:
        """Parse a ``GetFunctionConfiguration`` answer."""
        variables = (data.get("Environment") or {}).get("Variables") or {}
        return FunctionConfig(
            name=str(data["FunctionName"]),
            arn=str(data["FunctionArn"]),
            handler=str(data.get("Handler") or ""),
            environment={str(k): str(v) for k, v in variables.items()},
            timeout_seconds=int(data.get("Timeout") or 3),
            memory_mb=int(data.get("MemorySize") or 128),
            code_sha256=str(data.get("CodeSha256") or ""),
        )


def function_config(emulator: Emulator, name_or_arn: str) -> FunctionConfig:
    """The deployed configuration of one function."""
    data = emulator.client("lambda").get_function_configuration(FunctionName=name_or_arn)
    return FunctionConfig.from_api(data)


def deployed_package(emulator: Emulator, config: FunctionConfig) -> bytes:
    """The zip the deploy uploaded for ``config``'s function.

    moto keeps the bytes but serves no download URL, so they are read from its
    Lambda backend (moto 5.2.5: ``LambdaFunction.code_bytes``), then checked
    against the ``CodeSha256`` the API reported: the package that runs is the
    package that was deployed.
    """
    from moto.awslambda.utils import get_backend

    backend = get_backend(emulator.account_id, emulator.region)
    package = bytes(backend.get_function(config.name).code_bytes)
    digest = base64.b64encode(hashlib.sha256(package).digest()).decode()
    if digest != config.code_sha256:
        raise LambdaRuntimeError(
            f"function {config.name}: the stored package hashes to {digest}, "
            f"but GetFunctionConfiguration reports CodeSha256 {config.code_sha256}"
        )
    return package


def lambda_environment(config: FunctionConfig, region: str) -> dict[str, str]:
    """The environment Lambda gives the function: its own variables plus the runtime's.

    The reserved variables are those of the Lambda documentation ("Defined
    runtime environment variables"). ``POWERTOOLS_TRACE_DISABLED``: the twin
    has no X-Ray daemon to send segments to.
    """
    return {
        **config.environment,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "_HANDLER": config.handler,
        "TZ": ":UTC",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def in_process_environment(
    config: FunctionConfig, region: str, endpoint_url: str | None
) -> dict[str, str]:
    """What an in-process function needs in ``os.environ``: its variables, region, endpoint.

    Narrower than :func:`lambda_environment`: these apply to the whole
    rehearsal process, so variables such as ``TZ`` or
    ``AWS_LAMBDA_FUNCTION_NAME`` (which would make Powertools believe the
    whole process runs in Lambda) stay out. ``AWS_ENDPOINT_URL`` (read by
    boto3) points the function's clients at a moto server.
    """
    environment = {
        **config.environment,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    if endpoint_url:
        environment["AWS_ENDPOINT_URL"] = endpoint_url
    return environment


def unpacked_package(package: bytes, cache_dir: Path = PACKAGE_CACHE) -> Path:
    """The folder that holds ``package`` unzipped: one per package content, reused.

    A deployed archive with its dependencies holds thousands of files;
    unzipping it for every worker and deleting it afterwards took seconds per
    function and rehearsal. The folder is named by the package's SHA-256, so
    it can never hold anything else, and the worker only reads it (Lambda's
    /var/task is read-only too; the worker writes no bytecode). It is
    unzipped beside its final place and renamed, so that a concurrent
    rehearsal never sees half of it.
    """
    target = cache_dir / hashlib.sha256(package).hexdigest()
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name[:16]}-", dir=cache_dir))
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        archive.extractall(staging)
    try:
        staging.rename(target)
    except OSError:
        # Another process unzipped the same package first: use its folder.
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _module_path_in(package: bytes, module: str) -> bool:
    wanted = module.replace(".", "/")
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = set(archive.namelist())
    return f"{wanted}.py" in names or f"{wanted}/__init__.py" in names


# --- output capture ----------------------------------------------------------------


class OutputRouter(io.TextIOBase):
    """A ``sys.stdout`` that sends a thread's writes to a per-invocation sink while capturing.

    The controller runs in threads of this process (Step Functions' threads,
    the fault injector); what it prints is its log stream, not the
    rehearsal's output. Writes from a thread that is not capturing go to the
    original stream unchanged.
    """

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target
        self._local = threading.local()

    @contextmanager
    def capture(self, sink: Callable[[str], None]) -> Iterator[None]:
        """While active, this thread's complete lines go to ``sink``."""
        previous = getattr(self._local, "sink", None)
        self._local.sink = sink
        self._local.buffer = ""
        try:
            yield
        finally:
            rest = getattr(self._local, "buffer", "")
            if rest:
                sink(rest)
            self._local.sink = previous
            self._local.buffer = ""

    def write(self, text: str) -> int:
        """Route ``text`` by the writing thread."""
        sink = getattr(self._local, "sink", None)
        if sink is None:
            return self.target.write(text)
        buffered = self._local.buffer + text
        *lines, self._local.buffer = buffered.split("\n")
        for line in lines:
            sink(line)
        return len(text)

    def flush(self) -> None:
        """Flush the original stream."""
        self.target.flush()

    def writable(self) -> bool:
        """A text stream one can write to."""
        return True


def _stdout_handlers(streams: tuple[object, ...]) -> list[logging.StreamHandler[Any]]:
    """Every logging handler writing to one of ``streams`` or to an :class:`OutputRouter`."""
    loggers = [logging.getLogger()] + [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    return [
        handler
        for logger in loggers
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler)
        and (handler.stream in streams or isinstance(handler.stream, OutputRouter))
    ]


@contextmanager
def routed_stdout() -> Iterator[OutputRouter]:
    """Install an :class:`OutputRouter` as ``sys.stdout`` (and in logging's stdout handlers).

    A logging ``StreamHandler`` keeps the stream it was built with, so the
    handlers already writing to stdout (Powertools' Logger binds
    ``sys.stdout`` when its module is imported) are pointed at the router
    too. Afterwards every handler writing to the router, including those
    built while it was installed, writes to the original stdout again.
    """
    original = sys.stdout
    router = OutputRouter(original)
    previous: dict[int, Any] = {}
    for handler in _stdout_handlers((original, sys.__stdout__)):
        previous[id(handler)] = handler.stream
        handler.setStream(router)
    sys.stdout = router
    try:
        yield router
    finally:
        sys.stdout = original
        for handler in _stdout_handlers((router,)):
            if handler.stream is router:
                stream = previous.get(id(handler), original)
                handler.setStream(original if isinstance(stream, OutputRouter) else stream)


# --- functions ---------------------------------------------------------------------


@dataclass
class _Tail:
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def text(self) -> str:
        return "\n".join(self.lines) or "(no output)"


class InProcessFunction:
    """A function whose handler runs in this process (the controller; see the module docstring).

    The handler is imported from this repository, after checking that the
    deployed package contains the handler's module: a handler string that
    points nowhere fails here as ``Runtime.ImportModuleError`` or
    ``Runtime.HandlerNotFound``, as it would in Lambda. A module-level
    ``reset()`` (controller.handler has one) is called at start and close,
    so every rehearsal starts from a cold execution environment.
    """

    def __init__(
        self, config: FunctionConfig, package: bytes, router: OutputRouter, on_output: OutputSink
    ) -> None:
        self.config = config
        self._router = router
        self._on_output = on_output
        self._tail = _Tail()
        module_name, _, attribute = config.handler.rpartition(".")
        if not module_name or not _module_path_in(package, module_name):
            raise LambdaRuntimeError(
                f"function {config.name}: Runtime.ImportModuleError: handler {config.handler!r} "
                f"names module {module_name!r}, which the deployed package does not contain"
            )
        try:
            self._module: ModuleType = importlib.import_module(module_name)
        except Exception as error:
            raise LambdaRuntimeError(
                f"function {config.name}: Runtime.ImportModuleError: {error}"
            ) from error
        handler = getattr(self._module, attribute, None)
        if not callable(handler):
            raise LambdaRuntimeError(
                f"function {config.name}: Runtime.HandlerNotFound: module {module_name!r} has "
                f"no handler {attribute!r} (handler setting {config.handler!r})"
            )
        self._handler: Callable[[Any, Any], Any] = handler
        self._reset()

    def _reset(self) -> None:
        reset = getattr(self._module, "reset", None)
        if callable(reset):
            reset()

    def _line(self, line: str) -> None:
        self._tail.lines.append(line)
        self._on_output(self.config.name, line)

    def __call__(self, event: Any, context: Any) -> Any:
        """Run the handler; its prints and logs go to ``on_output``."""
        with self._router.capture(self._line):
            return self._handler(event, context)

    def output_tail(self) -> str:
        """The last lines the function printed (for error messages)."""
        return self._tail.text()

    def close(self) -> None:
        """Forget the module's cached state (clients bound to this emulator)."""
        self._reset()


class WorkerFunction:
    """A function in its own process (rehearsal/world/lambda_worker.py); one invocation at a time.

    Like one Lambda execution environment: concurrent calls wait for each
    other. The worker runs from the unzipped deployed package with the
    function's declared environment (``environment`` overrides some, e.g.
    the twin's stand-in ``UPSTREAM_URL``).
    """

    def __init__(
        self,
        config: FunctionConfig,
        package: bytes,
        *,
        region: str,
        on_output: OutputSink,
        environment_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self._on_output = on_output
        self._tail = _Tail()
        self._lock = threading.Lock()
        self._next_id = 0
        code_dir = unpacked_package(package)
        self.environment = {**lambda_environment(config, region), **(environment_overrides or {})}
        read_fd, write_fd = os.pipe()
        env = {
            **self.environment,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(_REPOSITORY),
            "REHEARSAL_WORKER_PATH": str(_REPOSITORY),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-u",
                    "-m",
                    "rehearsal.world.lambda_worker",
                    str(code_dir),
                    config.handler,
                    str(write_fd),
                ],
                cwd=code_dir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                text=True,
                bufsize=1,
            )
        finally:
            os.close(write_fd)
        self._responses = os.fdopen(read_fd, "r", encoding="utf-8")
        self._reader = threading.Thread(
            target=self._read_output, name=f"logs-{config.name}", daemon=True
        )
        self._reader.start()
        ready = self._receive(WORKER_INIT_TIMEOUT_SECONDS, "init")
        if not ready.get("ready"):
            error = ready.get("error") or {}
            self.close()
            raise LambdaRuntimeError(
                f"function {config.name}: {error.get('errorType')}: {error.get('errorMessage')} "
                f"(handler {config.handler!r}); output:\n{self._tail.text()}"
            )
        self.init_ms = float(ready.get("init_ms", 0.0))

    def _read_output(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            text = line.rstrip("\n")
            self._tail.lines.append(text)
            self._on_output(self.config.name, text)

    def _receive(self, timeout: float, what: str) -> dict[str, Any]:
        ready, _, _ = select.select([self._responses], [], [], timeout)
        if not ready:
            raise LambdaRuntimeError(
                f"function {self.config.name}: no answer to {what} within {timeout:.0f} s; "
                f"output:\n{self._tail.text()}"
            )
        line = self._responses.readline()
        if not line:
            code = self._process.poll()
            raise LambdaRuntimeError(
                f"function {self.config.name}: the runtime process exited (code {code}) "
                f"during {what}; output:\n{self._tail.text()}"
            )
        answer: dict[str, Any] = json.loads(line)
        return answer

    def __call__(self, event: Any, context: Any) -> Any:
        """Invoke the function with ``event``; a handler error raises :class:`FunctionError`."""
        with self._lock:
            self._next_id += 1
            request = {
                "id": self._next_id,
                "event": event,
                # The function's own timeout, as Lambda gives each invocation.
                "remaining_ms": self.config.timeout_seconds * 1000,
                "request_id": getattr(context, "aws_request_id", None) or str(uuid.uuid4()),
                "function_name": self.config.name,
                "function_arn": self.config.arn,
                "memory_mb": self.config.memory_mb,
            }
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps(request) + "\n")
                self._process.stdin.flush()
            except OSError as error:
                raise LambdaRuntimeError(
                    f"function {self.config.name}: the runtime process is gone: {error}"
                ) from error
            answer = self._receive(self.config.timeout_seconds + INVOKE_SLACK_SECONDS, "invoke")
        if "error" in answer:
            failure = answer["error"]
            raise FunctionError(str(failure.get("errorType")), str(failure.get("errorMessage")))
        return answer.get("result")

    def output_tail(self) -> str:
        """The last lines the function printed (for error messages)."""
        return self._tail.text()

    def close(self) -> None:
        """End the process (stdin closed, then terminate if it lingers) and its files."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            with suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.terminate()
            self._process.wait(timeout=5)
        self._reader.join(timeout=5)
        self._responses.close()


@contextmanager
def function_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``environment`` applied, restored afterwards (in-process functions)."""
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
