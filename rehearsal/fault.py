"""``python -m rehearsal fault``: a fault on a served twin, from another terminal.

``--endpoint-url`` is the address ``python -m rehearsal serve`` printed; the
fault is applied by the served twin (rehearsal/scenario/live_faults.py),
reached at ``{endpoint}/strangler-twin/fault`` on the emulator's own port
(rehearsal/world/control.py). Kinds: ``alarm`` (the route's alarms go off,
the event goes through the program's EventBridge rule), ``upstream`` (the
route's upstream stand-in fails), ``drift`` (the weights changed by hand),
``clear`` (undoes them).

Exit codes: 0 done; 1 the fault could not be applied (nothing served there,
an unknown route, the twin failed); 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any, TextIO

from rehearsal.scenario.live_faults import FAILBACK_TIMEOUT_SECONDS, FAULT_KINDS
from rehearsal.world.control import CONTROL_PREFIX

__all__ = ["add_fault_arguments", "main_fault", "request_fault"]

FAULT_PATH = f"{CONTROL_PREFIX}fault"
# An alarm waits up to FAILBACK_TIMEOUT_SECONDS for the failback; the rest is slack.
TIMEOUT_SECONDS = FAILBACK_TIMEOUT_SECONDS + 30.0

EXIT_OK = 0
EXIT_FAILED = 1


class FaultRefused(Exception):
    """The served twin did not apply the fault; the message says why."""


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``fault``."""
    parser.add_argument(
        "--endpoint-url",
        required=True,
        metavar="URL",
        help="the served twin, as `python -m rehearsal serve` printed it",
    )
    parser.add_argument("--route", required=True, metavar="NAME", help="the route to act on")
    parser.add_argument(
        "--kind",
        choices=FAULT_KINDS,
        default="alarm",
        help="alarm: the route's alarms go to ALARM and the event is delivered through the "
        "program's EventBridge rule; upstream: the route's upstream stand-in fails; drift: "
        "the weights are changed by hand; clear: undoes them (default: alarm)",
    )


def request_fault(endpoint_url: str, route: str, kind: str) -> list[str]:
    """Ask the twin served at ``endpoint_url`` for the fault; the lines it answers.

    Raises :class:`FaultRefused` with a one-line reason when it cannot.
    """
    url = endpoint_url.rstrip("/") + FAULT_PATH
    body = json.dumps({"route": route, "kind": kind}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            answer = _json(response.read())
    except urllib.error.HTTPError as error:
        answer = _json(error.read())
        reason = answer.get("error") if isinstance(answer, dict) else None
        if not reason:
            raise FaultRefused(
                f"{endpoint_url} answered {error.code} to {FAULT_PATH}: is it a twin served by "
                "`python -m rehearsal serve`?"
            ) from error
        raise FaultRefused(str(reason)) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FaultRefused(
            f"cannot reach {endpoint_url} ({reason}): is `python -m rehearsal serve` running there?"
        ) from error
    if not isinstance(answer, dict) or not isinstance(answer.get("lines"), list):
        raise FaultRefused(
            f"{endpoint_url} did not answer as a served twin: is it `python -m rehearsal serve`?"
        )
    return [str(line) for line in answer["lines"]]


def _json(data: bytes) -> Any:
    try:
        return json.loads(data or b"null")
    except ValueError:
        return None


def main_fault(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``python -m rehearsal fault``; returns the exit code (see the module docstring)."""
    try:
        lines = request_fault(args.endpoint_url, args.route, args.kind)
    except FaultRefused as error:
        print(f"rehearsal fault: {error}", file=err)
        return EXIT_FAILED
    for line in lines:
        print(line, file=out)
    out.flush()
    return EXIT_OK
