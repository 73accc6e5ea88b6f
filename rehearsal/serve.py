"""``serve``: the stack applied to a moto server on 127.0.0.1, kept up until Ctrl-C.

Other processes (the operator CLI, boto3, the AWS CLI) can then use the
emulated stack through ``--endpoint-url``. ``--account-concurrency`` sets
the account's Lambda concurrency limit that ``GetAccountSettings`` reports
(rehearsal/world/moto_patches.py), for checks that read it.
"""

from __future__ import annotations

import errno
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TextIO

from rehearsal.errors import BadOption
from rehearsal.world import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    Twin,
    build_twin,
    effective_config,
    server,
    set_account_concurrency,
    stack_region,
)

DEFAULT_PORT = 4566
# Used only when the stack sets no aws:region (the program then rejects it).
FALLBACK_REGION = "us-east-1"


def describe(
    twin: Twin, stack: str, account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY
) -> list[str]:
    """The lines ``serve`` prints once the twin is up."""
    emulator = twin.emulator
    endpoint = emulator.endpoint_url or "(in-process)"
    routes = ", ".join(twin.route_names) or "(none)"
    return [
        f"Strangler twin of stack {stack} is up: {endpoint} (region {emulator.region})",
        f"routes: {routes}",
        f"resources: {len(twin.applied.custom_resources)} AWS resources in the emulator",
        f"listener: {twin.brownfield.listener_arn}",
        f"Lambda account concurrency limit: {account_concurrency} (GetAccountSettings)",
        "try it (the emulator accepts any credentials):",
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        f"  python -m controller status --stack {stack} --region {emulator.region} "
        f"--endpoint-url {endpoint}",
        "Ctrl-C to stop.",
    ]


def check_port(port: int, host: str = "127.0.0.1") -> None:
    """Raise :class:`BadOption` naming ``port`` when it cannot be bound on ``host``.

    The server library only warns on a busy port and then waits forever, so
    the port is tried first. 4566 is also LocalStack's default port.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server binds: a port left in TIME_WAIT is free, a listening one is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            why = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be bound ({error})"
            also = " (LocalStack's default port)" if port == DEFAULT_PORT else ""
            raise BadOption(
                f"--port {port}: {host}:{port}{also} {why}; "
                "choose another port, or --port 0 for a free one"
            ) from error


def serve(
    stack: str,
    project_dir: Path,
    *,
    port: int = DEFAULT_PORT,
    stack_file: Path | None = None,
    main_path: Path | None = None,
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
    out: TextIO,
    stop: threading.Event | None = None,
    on_ready: Callable[[Twin], None] | None = None,
) -> None:
    """Start the server, build the twin, print where it is, wait for ``stop`` or a signal.

    ``stop`` and ``on_ready`` let a caller (a test) run it in a thread;
    ``stack_file`` and ``main_path`` replace the stack file and the program;
    ``account_concurrency`` is the Lambda concurrency limit of the emulated
    account while the server is up (ValueError below 1).
    """
    check_port(port)
    stop = stop or threading.Event()
    region = stack_region(effective_config(project_dir, stack, None, stack_file))
    previous_limit = set_account_concurrency(account_concurrency)
    try:
        with server(region or FALLBACK_REGION, port=port) as emulator:
            twin = build_twin(
                stack, project_dir, emulator, stack_file=stack_file, main_path=main_path
            )
            for line in describe(twin, stack, account_concurrency):
                print(line, file=out, flush=True)
            if on_ready is not None:
                on_ready(twin)
            restore = _stop_on_sigterm(stop)
            try:
                # Event.wait without a timeout cannot be interrupted by Ctrl-C
                # on every platform; a short timeout keeps KeyboardInterrupt live.
                while not stop.wait(timeout=0.5):
                    pass
            except KeyboardInterrupt:
                print("stopping", file=out, flush=True)
            finally:
                restore()
    finally:
        # The limit is process-wide (moto's backends are): put it back.
        set_account_concurrency(previous_limit)


def _stop_on_sigterm(stop: threading.Event) -> Callable[[], None]:
    """Make SIGTERM stop the server cleanly (main thread only); returns an undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore
