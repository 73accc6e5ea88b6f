"""The operator CLI: ``python -m controller COMMAND [options]``.

It finds everything from the stack name (the deploy's SSM registry), and runs
the very same service operations as the controller Lambda, in-process, with
the same boto3 adapters: a rollback from here is the same rollback.

Exit codes (see :data:`EXIT_CODES_HELP`): 0 success; 1 refused (wrong state,
locked, an alarm in ALARM, declined at the prompt); 2 usage or configuration
error (unknown route, no such stack, promote without a terminal or --yes);
3 AWS unreachable or access denied.

This module parses arguments, resolves the actor, maps errors to exit codes,
runs the watch loop and prints; :mod:`controller.cli.backend` talks to AWS,
:mod:`controller.cli.format` renders and :mod:`controller.cli.types` holds
what they share. The operator actions (start, pause, resume, rollback,
promote, sync) are not listed here: each sub-command, its options and its call come
from the table of :mod:`controller.operations`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

from controller import operations
from controller.cli.format import (
    CLEAR_SCREEN,
    RouteStatusView,
    Style,
    action_payload,
    colour_enabled,
    error_view,
    history_payload,
    render_action,
    render_history,
    render_status,
    status_payload,
)
from controller.cli.types import (
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_INTERVAL_SECONDS,
    EXIT_AWS,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    Backend,
    CliError,
    Options,
)
from controller.core.contract import RouteRecord
from controller.core.errors import (
    AwsCallFailed,
    ConcurrentUpdate,
    DriftDetected,
    PlanError,
    StranglerError,
    SyncRefused,
    TransitionRefused,
    UnknownRoute,
    VerificationFailed,
    WeightError,
)
from controller.core.split import split_text
from controller.operations import Operation, OperatorRequest
from controller.service import RollbackIncomplete

EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  refused: the route is in the wrong state or locked, an alarm of the route
     is in ALARM (start, promote), promote was answered "no" at its prompt,
     or the rule's target groups cannot be synced with the registry; the
     message says why and what to do (preflight: a check failed); also an
     unexpected error, named in one line
  2  usage or configuration error: bad arguments, unknown route (the known
     routes are listed), no registry for the stack in that region, promote
     without a terminal and without --yes
  3  AWS unreachable or access denied; the message names the API call and
     the resource (or the SDK's error)
"""

DEFAULT_STACK = "prod"
ENV_ACTOR = "STRANGLER_ACTOR"
ACTOR_PREFIX = "operator:"
ROUTE_HELP = "route name, as in the stack config"


@dataclass
class Io:
    """The process's streams, environment, clock and sleep (replaceable in tests)."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], datetime] = field(default_factory=lambda: lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep

    def stdout_is_tty(self) -> bool:
        """True when stdout is a terminal (colour, in-place redraw)."""
        return _isatty(self.stdout)

    def stdin_is_tty(self) -> bool:
        """True when stdin is a terminal (promote may ask for confirmation)."""
        return _isatty(self.stdin)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- parsing


_Number = TypeVar("_Number", int, float)


def _positive(text: str, convert: Callable[[str], _Number], kind: str, bound: str) -> _Number:
    """``text`` as a number above 0; argparse prints the message of a wrong one."""
    try:
        value = convert(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from e
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be {bound}")
    return value


def _positive_float(text: str) -> float:
    return _positive(text, float, "a number", "greater than 0")


def _positive_int(text: str) -> int:
    return _positive(text, int, "a whole number", "at least 1")


def _add_common_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """The options every command takes, before or after the command name.

    On the sub-commands their default is SUPPRESS, so an option given before
    the command is not reset by the sub-command's parser.
    """

    def default(value: Any) -> Any:
        return value if top_level else argparse.SUPPRESS

    group = parser.add_argument_group("common options")
    group.add_argument(
        "--stack",
        default=default(DEFAULT_STACK),
        help=f"stack name, as deployed (default: {DEFAULT_STACK})",
    )
    group.add_argument(
        "--region", default=default(None), help="AWS region (default: the AWS SDK's resolution)"
    )
    group.add_argument("--profile", default=default(None), help="AWS shared-config profile")
    group.add_argument(
        "--endpoint-url",
        default=default(None),
        help="AWS endpoint, e.g. a local emulator (default: AWS)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="machine-readable JSON on stdout instead of tables",
    )
    group.add_argument(
        "--actor",
        default=default(None),
        help=f"who is acting, recorded in the history as operator:NAME "
        f"(default: ${ENV_ACTOR}, else the OS user name)",
    )


def _paragraphs(text: str) -> str:
    """Wrap each paragraph (the raw formatter keeps the blank lines between them)."""
    return "\n\n".join(textwrap.fill(p, 79) for p in text.split("\n\n"))


def _plain(text: str) -> str:
    """Plain text as an argparse help string, which argparse %-formats."""
    return text.replace("%", "%%")


def _add_operation(sub: argparse.ArgumentParser, operation: Operation) -> None:
    """The options of one operator action: ``--route``, then the table's, in its order."""
    if operation.every_route:
        sub.add_argument("--route", help="only this route (default: every route of the stack)")
    else:
        sub.add_argument("--route", required=True, help=ROUTE_HELP)
    for option in operation.options:
        if option.switch:
            sub.add_argument(option.flag, action="store_true", help=_plain(option.help))
        else:
            sub.add_argument(option.flag, help=_plain(option.help))


def _add_preflight(command: Callable[[str, str, str], argparse.ArgumentParser]) -> None:
    """``preflight``: reads the stack file, not the registry, so it works before a deploy."""
    from controller.cli import preflight

    sub = command(
        preflight.COMMAND,
        "before the first deploy: check the account against the stack config",
        "What a first `pulumi up` needs from the account, checked before anyone deploys. "
        "Reads the stack config from Pulumi.<stack>.yaml (validated as the program validates "
        "it) and checks: the listener exists and belongs to an Application Load Balancer; each "
        "route's ecsTargetGroupArn exists, is in the ALB's VPC and has target type ip or "
        "instance; each route's priority, and its preview rule's, is free on the listener or "
        "held by this stack's own rule; each route's ecsService is ACTIVE and has a scalable "
        "target; the stack's reserved concurrency (the routes' and the controller's) leaves at "
        "least 100 of the account's concurrency unreserved; every physical name fits its "
        "service's rules. The Region is the stack's aws:region. Only reads.",
    )
    sub.epilog = preflight.EXIT_CODES_HELP
    sub.add_argument(
        "--project-dir",
        help="the Pulumi project: Pulumi.<stack>.yaml and the functions' source folders "
        "(default: this repository)",
    )
    sub.add_argument(
        "--stack-file",
        help="read the config from this file instead of <project-dir>/Pulumi.<stack>.yaml "
        "(--stack still names the resources)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m controller``."""
    parser = argparse.ArgumentParser(
        prog="python -m controller",
        description=_paragraphs(
            "Watch and steer the canaries of a Strangler stack. Everything is found from the "
            "stack name (the deploy's registry in SSM Parameter Store); actions run the same "
            "controller code as the Lambda. `preflight` reads the stack file instead, to check "
            "the account before the first deploy."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=_paragraphs(description),
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common_options(sub, top_level=False)
        return sub

    status = command(
        "status",
        "one row per route: status, stage, live weights, alarms, execution, next step",
        "One row per route: status, stage n/N, the live weights read from the listener rule "
        "(with a DRIFT warning when they differ from what the controller last wrote), the "
        "composite alarm and the child alarms in ALARM, the running execution, and the time "
        "until the next stage or the next scheduled run.",
    )
    status.add_argument("--route", help="only this route (default: every route of the stack)")
    status.add_argument(
        "--watch",
        action="store_true",
        help="refresh until Ctrl-C (in place on a terminal; with --json, one JSON list per line)",
    )
    status.add_argument(
        "--interval",
        type=_positive_float,
        default=DEFAULT_INTERVAL_SECONDS,
        help=f"seconds between refreshes with --watch (default: {DEFAULT_INTERVAL_SECONDS:g})",
    )

    history = command(
        "history",
        "the route's transitions: time, actor, event, status change, reason",
        "The route's transitions, newest first: when, who or what (schedule, state machine, "
        "alarm, operator), the event, the status change, the stage, the weights and why.",
    )
    history.add_argument("--route", required=True, help=ROUTE_HELP)
    history.add_argument(
        "--limit",
        type=_positive_int,
        default=DEFAULT_HISTORY_LIMIT,
        help=f"at most this many entries (default: {DEFAULT_HISTORY_LIMIT})",
    )

    _add_preflight(command)

    for operation in operations.operations():
        _add_operation(
            command(operation.command, _plain(operation.help), operation.description), operation
        )
    return parser


def resolve_actor(
    explicit: str | None, env: Mapping[str, str], user: Callable[[], str] = getpass.getuser
) -> str:
    """``operator:<name>`` from --actor, else $STRANGLER_ACTOR, else the OS user name."""
    name = explicit or env.get(ENV_ACTOR) or ""
    if not name:
        try:
            name = user()
        except (OSError, KeyError):  # no login name and no passwd entry (some containers)
            name = "unknown"
    name = name.strip() or "unknown"
    return name if name.startswith(ACTOR_PREFIX) else f"{ACTOR_PREFIX}{name}"


def parse_options(argv: Sequence[str], env: Mapping[str, str]) -> Options:
    """Parse ``argv`` (argparse exits 2 on a usage error) into :class:`Options`."""
    args = build_parser().parse_args(list(argv))
    return Options(
        command=args.command,
        stack=args.stack,
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        json=args.json,
        actor=resolve_actor(args.actor, env),
        route=getattr(args, "route", None),
        watch=getattr(args, "watch", False),
        interval=getattr(args, "interval", DEFAULT_INTERVAL_SECONDS),
        limit=getattr(args, "limit", DEFAULT_HISTORY_LIMIT),
        reason=getattr(args, "reason", None),
        full=getattr(args, "full", False),
        yes=getattr(args, "yes", False),
        accept_live=getattr(args, "accept_live", False),
        project_dir=getattr(args, "project_dir", None),
        stack_file=getattr(args, "stack_file", None),
    )


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Failure:
    """An error as the CLI reports it: exit code, kind, message and what to do."""

    exit_code: int
    kind: str
    message: str
    hint: str | None = None

    def payload(self) -> dict[str, Any]:
        """The ``--json`` form, printed on stdout."""
        return {
            "error": self.kind,
            "message": self.message,
            "hint": self.hint,
            "exit_code": self.exit_code,
        }


def classify(error: BaseException, action: str | None = None) -> Failure:
    """Map an error to the exit code contract, keeping the message that names the resource.

    ``action`` is the command that was run, used to word a refusal.
    """
    if isinstance(error, CliError):
        kind = "usage" if error.exit_code == EXIT_USAGE else "refused"
        if error.exit_code == EXIT_AWS:
            kind = "aws"
        return Failure(error.exit_code, kind, error.message, error.hint)
    if isinstance(error, TransitionRefused):
        return Failure(EXIT_REFUSED, "refused", _refusal_text(error, action), error.hint)
    if isinstance(error, ConcurrentUpdate):
        return Failure(
            EXIT_REFUSED,
            "refused",
            str(error),
            "another writer (the state machine, the alarm rollback or another operator) "
            "changed the route at the same moment; run `status` and decide again",
        )
    if isinstance(error, SyncRefused):
        return Failure(
            EXIT_REFUSED,
            "refused",
            str(error),
            "nothing was written; fix the rule's forward action (or the registry record) so "
            "that at most one side differs, then sync again",
        )
    if isinstance(error, DriftDetected):
        return Failure(
            EXIT_REFUSED,
            "refused",
            str(error),
            "the rule was changed by hand; roll back, or resume once the change is understood",
        )
    if isinstance(error, UnknownRoute):
        return Failure(EXIT_USAGE, "usage", str(error), "pass one of the known routes to --route")
    if isinstance(error, PlanError | WeightError):
        return Failure(EXIT_USAGE, "config", str(error), "fix the stack config and deploy it again")
    if isinstance(error, AwsCallFailed):
        return Failure(EXIT_AWS, "aws", str(error), _aws_hint(error))
    if isinstance(error, RollbackIncomplete):
        return Failure(
            EXIT_AWS,
            "aws",
            str(error),
            "the traffic is on ECS; repeat the rollback to finish the remaining steps "
            "(it is idempotent)",
        )
    if isinstance(error, VerificationFailed):
        return Failure(
            EXIT_AWS,
            "aws",
            str(error),
            "AWS did not apply the write as sent; run `status` to see the live weights and "
            "repeat the command",
        )
    if isinstance(error, StranglerError):
        return Failure(EXIT_REFUSED, "refused", str(error))
    raise error


def _refusal_text(error: TransitionRefused, action: str | None) -> str:
    # The core names its own transition (start_run checks with "begin"); the
    # operator typed a command, so the message uses the command's name.
    text = f"{action or error.transition or 'action'} refused: {error.reason}"
    if error.route:
        text = f"route {error.route}: {text}"
    return text


def _aws_hint(error: AwsCallFailed) -> str:
    if getattr(error, "access_denied", False) or _looks_denied(error):
        return (
            f"the credentials in use may not call {error.api_call or 'this API'}; check "
            "--profile / AWS_PROFILE and the operator's IAM policy"
        )
    return "check --region, --endpoint-url, the network and the AWS credentials, then retry"


def _looks_denied(error: AwsCallFailed) -> bool:
    code = getattr(error, "code", None) or getattr(error, "error_code", None) or ""
    return "AccessDenied" in str(code) or "AccessDenied" in str(error)


def _write_failure(failure: Failure, io: Io) -> None:
    lines = [f"error: {failure.message}"]
    if failure.hint:
        lines.append(f"hint: {failure.hint}")
    io.stderr.write("\n".join(lines) + "\n")


def _is_sdk_error(error: BaseException) -> bool:
    """True for an error raised by boto3/botocore (AWS unreachable, denied, throttled)."""
    return type(error).__module__.split(".")[0] in ("botocore", "boto3")


def report_failure(failure: Failure, options: Options | None, io: Io) -> int:
    """Print the failure (text on stderr; with --json also JSON on stdout); return its code."""
    _write_failure(failure, io)
    if options is not None and options.json:
        io.stdout.write(json.dumps(failure.payload()) + "\n")
    return failure.exit_code


# --------------------------------------------------------------------------- commands


def _selected_routes(backend: Backend, route: str | None) -> list[RouteRecord]:
    if route is not None:
        return [backend.route(route)]
    return backend.routes()


def gather_status(
    backend: Backend, routes: Sequence[RouteRecord], now: datetime
) -> tuple[list[RouteStatusView], list[Failure]]:
    """The status of every route; one route's failure is shown in its row, never skips others."""
    views: list[RouteStatusView] = []
    failures: list[Failure] = []
    for route in routes:
        try:
            views.append(backend.route_status(route, now))
        except (StranglerError, CliError) as error:
            failure = classify(error)
            failures.append(failure)
            views.append(error_view(route.route, failure.message))
    return views, failures


@dataclass(frozen=True)
class Frame:
    """One rendering of ``status`` and the failures behind it (for the exit code)."""

    text: str
    failures: tuple[Failure, ...] = ()


def _status_frame(options: Options, backend: Backend, io: Io, style: Style) -> Frame:
    """One rendering of ``status`` (text, or one JSON document)."""
    now = io.clock()
    views, failures = gather_status(backend, _selected_routes(backend, options.route), now)
    if options.json:
        indent = None if options.watch else 2
        text = json.dumps([status_payload(v) for v in views], indent=indent)
    else:
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        header = f"stack {options.stack} ({backend.region}) at {stamp} UTC"
        if options.watch:
            header += f", every {options.interval:g}s, Ctrl-C to stop"
        text = render_status(views, now, style, header=header)
    return Frame(text, tuple(failures))


def run_status(options: Options, backend: Backend, io: Io, style: Style) -> int:
    """``status``: once, or with --watch until Ctrl-C (then exit 0).

    When a route cannot be read, its row says why, the other routes are still
    shown, and the exit code is that failure's (e.g. 3 for AWS).
    """
    first = _status_frame(options, backend, io, style)
    if not options.watch:
        io.stdout.write(first.text + "\n")
        for failure in first.failures:
            _write_failure(failure, io)
        return first.failures[0].exit_code if first.failures else EXIT_OK
    if first.failures and len(first.failures) == len(_selected_routes(backend, options.route)):
        # Nothing readable at all: a watch would only repeat the error.
        for failure in first.failures:
            _write_failure(failure, io)
        return first.failures[0].exit_code
    return watch(lambda: _status_frame(options, backend, io, style).text, first.text, options, io)


def watch(frame: Callable[[], str], first: str, options: Options, io: Io) -> int:
    """Redraw ``frame()`` every ``options.interval`` seconds until Ctrl-C.

    The first frame is rendered by the caller, so an error there exits with its
    code. A later error (a network blip) is shown in place of the table and the
    loop goes on: an operator watching a canary must not lose the view.
    """
    in_place = io.stdout_is_tty() and not options.json
    text = first
    try:
        while True:
            if in_place:
                io.stdout.write(CLEAR_SCREEN)
            io.stdout.write(text + "\n")
            if not in_place and not options.json:
                io.stdout.write("\n")  # plain repeated blocks, separated by a blank line
            io.stdout.flush()
            io.sleep(options.interval)
            try:
                text = frame()
            except (StranglerError, CliError) as error:
                failure = classify(error)
                if options.json:
                    text = json.dumps(failure.payload())
                else:
                    stamp = io.clock().strftime("%Y-%m-%d %H:%M:%S")
                    text = f"{stamp}Z refresh failed: {failure.message}"
    except KeyboardInterrupt:
        io.stdout.write("\n" if in_place else "")
        io.stdout.flush()
        return EXIT_OK


def run_history(options: Options, backend: Backend, io: Io, style: Style) -> int:
    """``history --route R``: newest first."""
    assert options.route is not None  # argparse requires --route
    route = backend.route(options.route)
    entries = backend.history(route, options.limit)
    if options.json:
        io.stdout.write(json.dumps([history_payload(e) for e in entries], indent=2) + "\n")
    else:
        io.stdout.write(render_history(route.route, entries, style) + "\n")
    return EXIT_OK


def confirm(
    operation: Operation,
    request: OperatorRequest,
    options: Options,
    view: RouteStatusView,
    io: Io,
) -> None:
    """Ask on a terminal; refuse (exit 2) when stdin is not one and --yes is missing.

    Only for an operation with ``confirm`` set; the question shows the route's
    status and live Lambda share next to what the operation is about to do.
    """
    if operation.confirm is None or options.yes:
        return
    command = operation.command
    if not io.stdin_is_tty():
        raise CliError(
            f"{command} of route {view.route} needs confirmation, and stdin is not a terminal",
            EXIT_USAGE,
            f"pass --yes to {command} without asking",
        )
    io.stderr.write(
        f"{command.capitalize()} route {view.route} (status {view.status}, "
        f"stage {view.stage}/{view.stages}, {split_text(view.live)}) "
        f"{operation.confirm(request)}? [y/N] "
    )
    io.stderr.flush()
    answer = io.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise CliError(f"{command} of route {view.route} cancelled: not confirmed", EXIT_REFUSED)


def _default_reason(options: Options) -> str:
    if options.reason:
        return options.reason
    # The actor is recorded next to the reason; the default only says what was done.
    suffix = " --full" if options.full else ""
    return f"operator {options.command}{suffix}"


def operator_request(options: Options) -> OperatorRequest:
    """The request of an operator action, from the command line."""
    assert options.route is not None  # argparse requires --route
    return operator_request_for(options, options.route)


def operator_request_for(options: Options, route: str) -> OperatorRequest:
    """The request of an operator action on ``route``, from the command line."""
    return OperatorRequest(
        route=route,
        actor=options.actor,
        reason=_default_reason(options),
        full=options.full,
        accept_live=options.accept_live,
    )


def run_action(options: Options, backend: Backend, io: Io, style: Style) -> int:
    """An operator action of :mod:`controller.operations`: one service call, one line or JSON."""
    operation = operations.find(options.command)
    if operation is None:  # pragma: no cover - argparse only accepts the table's commands
        raise CliError(f"unknown command {options.command!r}", EXIT_USAGE)
    if operation.every_route:
        return run_every_route(operation, options, backend, io, style)
    request = operator_request(options)
    route = backend.route(request.route)  # an unknown route fails here, listing the known ones
    if operation.confirm is not None:
        confirm(operation, request, options, backend.route_status(route, io.clock()), io)
    view = backend.perform(operation, request)
    if options.json:
        io.stdout.write(json.dumps(action_payload(view), indent=2) + "\n")
    else:
        io.stdout.write(render_action(view, style) + "\n")
    # verify: a difference (or a check that could not run) is a refusal to go on.
    return EXIT_REFUSED if view.result == "differs" else EXIT_OK


def run_every_route(
    operation: Operation, options: Options, backend: Backend, io: Io, style: Style
) -> int:
    """An ``every_route`` action on ``--route``, or on every route of the stack without it.

    One line per route on stdout (with --json, one list of objects: the
    action's object, or the failure's with its ``route``). One route's
    failure never skips the others; it is also written to stderr. The exit
    code is the most serious failure's (3 AWS > 2 usage > 1 refused), 0 when
    every route succeeded. An unknown ``--route`` fails before anything runs.
    """
    routes = _selected_routes(backend, options.route)
    payloads: list[dict[str, Any]] = []
    failures: list[Failure] = []
    for route in routes:
        request = operator_request_for(options, route.route)
        try:
            view = backend.perform(operation, request)
        except (StranglerError, CliError) as error:
            failure = classify(error, operation.command)
            failures.append(failure)
            payloads.append({"route": route.route, **failure.payload()})
            if not options.json:
                io.stdout.write(
                    f"{route.route}: {operation.command} -> {style(failure.kind, 'red')}: "
                    f"{failure.message}\n"
                )
            _write_failure(failure, io)
            continue
        payloads.append(action_payload(view))
        if not options.json:
            io.stdout.write(render_action(view, style) + "\n")
    if options.json:
        io.stdout.write(json.dumps(payloads, indent=2) + "\n")
    elif not routes:
        io.stdout.write("no routes in this stack\n")
    return max((failure.exit_code for failure in failures), default=EXIT_OK)


Command = Callable[[Options, Backend, Io, Style], int]

# The commands that only read; every other command is an operator action.
READ_COMMANDS: dict[str, Command] = {
    "status": run_status,
    "history": run_history,
}


def command_for(name: str) -> Command:
    """What runs the command ``name``: a read command, else :func:`run_action`."""
    return READ_COMMANDS.get(name, run_action)


BackendFactory = Callable[[Options], Backend]


def _aws_backend(options: Options) -> Backend:
    # Imported here: boto3 costs ~0.25 s, and `--help` or a usage error needs none of it.
    from controller.cli.backend import AwsBackend

    return AwsBackend.connect(options)


def main(
    argv: Sequence[str] | None = None,
    *,
    io: Io | None = None,
    backend_factory: BackendFactory = _aws_backend,
) -> int:
    """Run one command; returns the exit code (argparse itself exits 2 on bad usage)."""
    io = io or Io()
    options = parse_options(sys.argv[1:] if argv is None else argv, io.env)
    style = Style(enabled=not options.json and colour_enabled(io.stdout_is_tty(), io.env))
    try:
        if options.command == "preflight":
            # Before a deploy there is no registry, so no backend: preflight
            # reads the stack file and the account itself.
            from controller.cli.preflight import run_preflight

            return run_preflight(options, io.stdout, io.stderr)
        backend = backend_factory(options)
        return command_for(options.command)(options, backend, io, style)
    except KeyboardInterrupt:
        io.stderr.write("interrupted\n")
        return 130
    except (StranglerError, CliError) as error:
        action = options.command if options.command not in READ_COMMANDS else None
        return report_failure(classify(error, action), options, io)
    except Exception as error:
        # Not one of the errors above (an SDK error the adapters did not wrap, a
        # bug): one line naming it, never a traceback.
        unexpected = Failure(
            EXIT_AWS if _is_sdk_error(error) else EXIT_REFUSED,
            "unexpected",
            f"{options.command} failed: {type(error).__name__}: {error}",
            "run `status` to see where the route stands before repeating the command",
        )
        return report_failure(unexpected, options, io)
