"""One Lambda execution environment in its own process (the route functions of the twin).

Started by :class:`rehearsal.world.lambda_runtime.WorkerFunction` as
``python -u -m rehearsal.world.lambda_worker CODE_DIR HANDLER RESPONSE_FD`` with the
function's environment, and does what the Lambda Python runtime does:

- init: ``CODE_DIR`` (the deployed package, unzipped) goes first on
  ``sys.path`` like ``/var/task``; the handler module is imported and the
  handler looked up. The outcome is one JSON line on ``RESPONSE_FD``:
  ``{"ready": true, "init_ms": ...}`` or ``{"ready": false, "error": {...}}``
  with Lambda's error types ``Runtime.ImportModuleError`` /
  ``Runtime.HandlerNotFound``;
- invoke: one JSON request per stdin line, ``{"id", "event", "remaining_ms",
  "request_id", "function_name", "function_arn", "memory_mb"}``, answered by
  one JSON line on ``RESPONSE_FD``: ``{"id", "result"}`` or ``{"id",
  "error": {"errorType", "errorMessage", "stackTrace"}}``.

stdout and stderr stay the function's own log stream (the parent reads them
as CloudWatch Logs would, and extracts the EMF metrics); answers travel on a
separate pipe so that nothing the function prints can corrupt them.

Standard library only: the worker must not import anything the function
would not have in Lambda.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, TextIO

READY = "ready"


class WorkerContext:
    """The context object of the Lambda Python runtime, as far as handlers read it."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = str(request.get("function_name", ""))
        self.invoked_function_arn = str(request.get("function_arn", ""))
        self.aws_request_id = str(request.get("request_id", ""))
        self.memory_limit_in_mb = int(request.get("memory_mb", 128))
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "rehearsal"
        self._deadline = time.monotonic() + int(request.get("remaining_ms", 3000)) / 1000

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds before the function's timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error_type: str, error: BaseException) -> dict[str, Any]:
    return {
        "errorType": error_type,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def main(argv: list[str]) -> int:
    """Run the environment until stdin closes; see the module docstring."""
    code_dir, handler_spec, response_fd = argv[1], argv[2], int(argv[3])
    responses = os.fdopen(response_fd, "w", encoding="utf-8")
    # Lambda puts the package first; the repository (on PYTHONPATH only so that
    # this module could start) must not be importable by the function, or code
    # that works here would fail in Lambda with an ImportModuleError.
    repository = os.environ.pop("REHEARSAL_WORKER_PATH", "")
    sys.path[:] = [code_dir] + [p for p in sys.path if p not in ("", repository, os.getcwd())]
    module_name, _, attribute = handler_spec.rpartition(".")
    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        traceback.print_exc()
        _send(responses, {READY: False, "error": _error("Runtime.ImportModuleError", error)})
        return 1
    handler = getattr(module, attribute, None)
    if not callable(handler):
        missing = AttributeError(f"module {module_name!r} has no handler {attribute!r}")
        _send(responses, {READY: False, "error": _error("Runtime.HandlerNotFound", missing)})
        return 1
    init_ms = (time.perf_counter() - started) * 1000
    _send(responses, {READY: True, "init_ms": init_ms})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = handler(request["event"], WorkerContext(request))
            answer = {"id": request["id"], "result": result}
        except Exception as error:  # the runtime reports any escaping exception
            traceback.print_exc()
            answer = {"id": request["id"], "error": _error(type(error).__name__, error)}
        sys.stdout.flush()
        _send(responses, answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
