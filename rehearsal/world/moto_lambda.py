"""Route moto's Lambda ``Invoke`` to in-process Python handlers.

moto's Lambda without Docker (``mock_aws(config={"lambda": {"use_docker":
False}})``) never runs the function's code: ``Invoke`` echoes the payload. To
run the real controller behind a real Step Functions execution in moto, this
module replaces ``LambdaSimpleBackend.invoke`` with a router that looks the
function up in a registry ``{function name or ARN: handler}`` and calls the
handler with the decoded event and a fake Lambda context.

It behaves like the Lambda Python runtime where Step Functions can tell:

- the handler's return value is the JSON response payload;
- an exception escaping the handler becomes a *function error*: response
  header ``X-Amz-Function-Error: Unhandled`` and the payload
  ``{"errorType": <exception class name>, "errorMessage": ..., "stackTrace": [...]}``.
  moto's ASL interpreter (like Step Functions) reads ``errorType`` as the
  error name that ``Retry``/``Catch`` ``ErrorEquals`` match
  (``StateTaskServiceLambda._from_error``), so a handler raising
  ``TransientError`` is retried by ``"ErrorEquals": ["TransientError"]``;
- an invocation of a function with no registered handler is refused with
  ``ResourceNotFoundException`` naming the function and the registered ones.

Checked against moto 5.2.5, where the method is
``LambdaSimpleBackend.invoke(self, function_name, qualifier, body, headers,
response_headers)``. :func:`route_lambda_invocations` refuses to patch when
the signature differs, so a moto upgrade fails loudly here instead of
silently echoing payloads. ``InvocationType=Event`` is run synchronously
(moto answers 202 after the handler returns).
"""

from __future__ import annotations

import inspect
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

__all__ = [
    "CHECKED_MOTO_VERSION",
    "EXPECTED_SIGNATURE",
    "FakeLambdaContext",
    "Handler",
    "Invocation",
    "LambdaRouter",
    "MotoSignatureChanged",
    "function_key",
    "route_lambda_invocations",
]

CHECKED_MOTO_VERSION = "5.2.5"
EXPECTED_SIGNATURE = (
    "self",
    "function_name",
    "qualifier",
    "body",
    "headers",
    "response_headers",
)

Handler = Callable[[Any, Any], Any]
"""A Lambda handler: ``handler(event, context) -> JSON-serialisable result``."""

# Lambda's documented default timeout is 3 s; tests want room for real waits.
DEFAULT_TIMEOUT_SECONDS = 60


class MotoSignatureChanged(RuntimeError):
    """moto's ``LambdaSimpleBackend.invoke`` no longer has the signature this router patches."""


class _UnknownFunction(JsonRESTError):
    """Lambda's ResourceNotFoundException, naming the function and the routed ones."""

    code = 404

    def __init__(self, function_name: str, known: list[str]) -> None:
        listed = ", ".join(sorted(known)) or "(none)"
        super().__init__(
            "ResourceNotFoundException",
            f"rehearsal.world.moto_lambda: no in-process handler for Lambda function "
            f"{function_name!r}; routed functions: {listed}",
        )


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda Python runtime's context object that code reads.

    Powertools' Logger reads ``function_name``, ``memory_limit_in_mb``,
    ``invoked_function_arn`` and ``aws_request_id``.
    """

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (fake) function timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    """One routed invocation, kept for tests to assert on."""

    function: str
    event: Any
    error_type: str | None


def function_key(name_or_arn: str) -> str:
    """The bare function name of a name, a full ARN or a partial ARN (qualifier dropped).

    ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``,
    ``ACCOUNT:function:NAME`` and ``NAME`` all give ``NAME``.
    """
    parts = name_or_arn.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


class LambdaRouter:
    """Calls the registered handler of an invoked function; see the module docstring."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._handlers = {function_key(key): handler for key, handler in handlers.items()}
        self._versions: dict[str, Handler] = {}
        self._region = region
        self._account_id = account_id
        self._timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self.invocations: list[Invocation] = []

    def register(self, function: str, handler: Handler | None) -> None:
        """Route ``function`` (name or ARN) to ``handler`` from now on; None removes it."""
        with self._lock:
            if handler is None:
                self._handlers.pop(function_key(function), None)
            else:
                self._handlers[function_key(function)] = handler

    def add_version(self, function: str, version: str, handler: Handler) -> None:
        """Run ``handler`` for invocations of ``function`` qualified with ``version``.

        Other qualifiers (and none) still reach the function's own handler.
        """
        with self._lock:
            self._versions[f"{function_key(function)}:{version}"] = handler

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until no handler is running (e.g. before leaving ``mock_aws``).

        A handler still running after the mock is gone would call real AWS.
        Raises :class:`TimeoutError` naming how many are still running.
        """
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout):
                raise TimeoutError(
                    f"{self._in_flight} Lambda handler call(s) still running after {timeout} s"
                )

    def invocations_of(self, function: str) -> list[Invocation]:
        """The invocations of one function (name or ARN), oldest first."""
        key = function_key(function)
        with self._lock:
            return [i for i in self.invocations if i.function == key]

    def invoke(
        self,
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        """The replacement of ``LambdaSimpleBackend.invoke``: run the handler, return its bytes."""
        key = function_key(function_name)
        # A published version may have its own handler (its own code): ``name:version``.
        with self._lock:
            handler = self._versions.get(f"{key}:{qualifier}") if qualifier else None
            handler = handler or self._handlers.get(key)
        if handler is None:
            raise _UnknownFunction(function_name, list(self._handlers))
        event = _decode(body)
        region = getattr(backend, "region_name", self._region)
        account_id = getattr(backend, "account_id", self._account_id)
        arn = f"arn:aws:lambda:{region}:{account_id}:function:{key}"
        if qualifier:
            arn = f"{arn}:{qualifier}"
        context = FakeLambdaContext(
            function_name=key,
            invoked_function_arn=arn,
            function_version=qualifier or "$LATEST",
            timeout_seconds=self._timeout_seconds,
        )
        error_type: str | None = None
        with self._lock:
            self._in_flight += 1
        try:
            result = handler(event, context)
            payload = json.dumps(result).encode("utf-8")
        except Exception as error:  # Lambda reports any escaping exception as a function error.
            error_type = type(error).__name__
            response_headers["X-Amz-Function-Error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorType": error_type,
                    "errorMessage": str(error),
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ).encode("utf-8")
        finally:
            with self._idle:
                self.invocations.append(Invocation(key, event, error_type))
                self._in_flight -= 1
                self._idle.notify_all()
        return payload


def _decode(body: Any) -> Any:
    """The invocation payload as Python data (Lambda passes ``{}`` for an empty payload)."""
    if body in (None, b"", ""):
        return {}
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else str(body)
    return json.loads(text)


def check_signature() -> None:
    """Raise :class:`MotoSignatureChanged` unless moto's invoke has the checked signature."""
    found = tuple(inspect.signature(LambdaSimpleBackend.invoke).parameters)
    if found != EXPECTED_SIGNATURE:
        import moto

        raise MotoSignatureChanged(
            "rehearsal.world.moto_lambda patches moto.awslambda_simple.models.LambdaSimpleBackend."
            f"invoke{EXPECTED_SIGNATURE} (checked on moto {CHECKED_MOTO_VERSION}); "
            f"moto {moto.__version__} has invoke{found}: re-check the router before use"
        )


@contextmanager
def route_lambda_invocations(
    handlers: Mapping[str, Handler],
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Iterator[LambdaRouter]:
    """While active, moto's ``Invoke`` runs ``handlers[function]`` in-process.

    Keys may be function names or ARNs. Use inside ``mock_aws(config={"lambda":
    {"use_docker": False}})``. Yields the :class:`LambdaRouter`, whose
    ``invocations`` record every call. The patch is on the class, so it also
    covers the threads moto's Step Functions interpreter runs executions in.
    """
    check_signature()
    router = LambdaRouter(handlers, timeout_seconds=timeout_seconds)

    def invoke(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        return router.invoke(backend, function_name, qualifier, body, headers, response_headers)

    with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
        yield router
