"""``python -m rehearsal``: the local AWS twin of a Strangler stack.

Commands (a public contract, see issue 5):

- ``plan [--stack prod] [--json]``: offline preview of every declared resource;
- ``run [--stack prod] [--route NAME] [--fail-at-stage N] [--drift-at-stage N]
  [--redeploy-at-stage N] [--reorder-at-stage N] [--json] [--chart PATH]``: the
  canary rehearsal, end to end (see :mod:`rehearsal.run`);
- ``serve [--stack prod] [--port 4566] [--account-concurrency N] [--bake-seconds S]
  [--rate RPS]``: the stack alive on a local moto server (see :mod:`rehearsal.serve`);
- ``fault --endpoint-url URL --route NAME [--kind alarm|upstream|drift|clear]``: a
  fault on a served twin (see :mod:`rehearsal.fault`).

Exit codes: 0 done; 1 harness error (the twin could not do its job);
2 bad stack config or bad options (every problem printed, one per line, on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO, TypeVar

from rehearsal.errors import BadOption, ConfigRejected, RehearsalError, StackConfigError
from rehearsal.fault import add_fault_arguments, main_fault
from rehearsal.plan import build_plan
from rehearsal.run import (
    DEFAULT_BAKE_SECONDS,
    DEFAULT_RATE,
    MAX_TOTAL_RATE,
    add_run_arguments,
    main_run,
)
from rehearsal.serve import DEFAULT_PORT, serve
from rehearsal.world import DEFAULT_ACCOUNT_CONCURRENCY, stack_name_of

DEFAULT_STACK = "prod"
# The repository root: where Pulumi.yaml and __main__.py live.
PROJECT_DIR = Path(__file__).resolve().parent.parent

EXIT_OK = 0
EXIT_HARNESS = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
EXIT_CODES_HELP = """\
exit codes:
  0  the command ran (run: whatever the rehearsal's outcome)
  1  harness error: the twin could not do its job (or the chart was not
     written; fault: the fault could not be applied)
  2  bad stack config or bad options, refused before anything is applied; a
     busy port for serve; every problem is printed, one per line
"""


_N = TypeVar("_N", int, float)


def _number(text: str, convert: Callable[[str], _N], what: str) -> _N:
    """``convert(text)``, or the argparse error that ``text`` is not ``what``."""
    try:
        return convert(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from error


def _positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 (a free one) to 65535."""
    value = _number(text, int, "a port number")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535)")
    return value


def _non_negative_float(text: str) -> float:
    """An argparse type: a finite number of at least 0."""
    value = _number(text, float, "a number")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of at least 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m rehearsal``."""
    parser = argparse.ArgumentParser(
        prog="python -m rehearsal",
        description="Local AWS twin of a Strangler stack: the real Pulumi program, "
        "applied to moto.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--stack", help=f"stack name: reads Pulumi.<stack>.yaml (default: {DEFAULT_STACK})"
    )
    common.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="the Pulumi project (default: this repository)",
    )
    common.add_argument(
        "--stack-file",
        type=Path,
        help="read the config from this file instead of <project-dir>/Pulumi.<stack>.yaml",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = commands.add_parser(
        "plan", parents=[common], help="list every resource the program declares (offline)"
    )
    plan.add_argument("--json", action="store_true", help="one JSON document on stdout")

    run = commands.add_parser(
        "run", parents=[common], help="rehearse the canary end to end on the emulator"
    )
    add_run_arguments(run)

    serve_parser = commands.add_parser(
        "serve", parents=[common], help="apply the stack to a moto server and keep it up"
    )
    serve_parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default: {DEFAULT_PORT}; 0 picks a free one)",
    )
    serve_parser.add_argument(
        "--account-concurrency",
        type=_positive_int,
        default=DEFAULT_ACCOUNT_CONCURRENCY,
        metavar="N",
        help="the account's Lambda concurrency limit that GetAccountSettings reports "
        f"(default: {DEFAULT_ACCOUNT_CONCURRENCY})",
    )
    serve_parser.add_argument(
        "--bake-seconds",
        type=_positive_int,
        default=DEFAULT_BAKE_SECONDS,
        metavar="S",
        help="bake of each baked stage of a run started against the twin, stretched for tiny "
        f"canary shares as in `run` (default: {DEFAULT_BAKE_SECONDS})",
    )
    serve_parser.add_argument(
        "--rate",
        type=_non_negative_float,
        default=DEFAULT_RATE,
        metavar="RPS",
        help=f"synthetic requests per second per route, at most {MAX_TOTAL_RATE:g} in total; "
        f"0 sends none (default: {DEFAULT_RATE:g})",
    )

    fault = commands.add_parser(
        "fault", help="a fault on a twin that `serve` keeps up (from another terminal)"
    )
    add_fault_arguments(fault)
    return parser


def _stack(args: argparse.Namespace) -> str:
    """The stack a command names; ``fault`` names none (it acts on a served twin)."""
    stack = getattr(args, "stack", None)
    if stack:
        return str(stack)
    stack_file = getattr(args, "stack_file", None)
    if stack_file is not None:
        return stack_name_of(stack_file) or DEFAULT_STACK
    return DEFAULT_STACK


def _plan(args: argparse.Namespace, out: TextIO) -> int:
    plan = build_plan(_stack(args), args.project_dir, stack_file=args.stack_file)
    if args.json:
        json.dump(plan.to_json(), out, indent=2, sort_keys=False)
        out.write("\n")
    else:
        out.write(plan.to_text() + "\n")
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run one command; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "plan":
            return _plan(args, out)
        if args.command == "fault":
            return main_fault(args, out, err)
        if args.command == "serve":
            serve(
                _stack(args),
                args.project_dir,
                port=args.port,
                stack_file=args.stack_file,
                account_concurrency=args.account_concurrency,
                bake_seconds=args.bake_seconds,
                rate=args.rate,
                out=out,
            )
            return EXIT_OK
        return main_run(args, out, err)
    except ConfigRejected as error:
        print(f"invalid config for stack {_stack(args)}:", file=err)
        for message in error.messages:
            print(message, file=err)
        return EXIT_CONFIG
    except (StackConfigError, BadOption) as error:
        print(str(error), file=err)
        return EXIT_CONFIG
    except RehearsalError as error:
        print(f"rehearsal failed: {error}", file=err)
        return EXIT_HARNESS
    except KeyboardInterrupt:
        # Ctrl-C before serve was up (once up, serve stops on it by itself).
        print("interrupted", file=err)
        return EXIT_INTERRUPTED
    except Exception as error:
        # Anything else is a fault of the twin: one line naming it, never a traceback.
        print(f"rehearsal {args.command} failed: {type(error).__name__}: {error}", file=err)
        return EXIT_HARNESS
