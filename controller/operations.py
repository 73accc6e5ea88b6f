"""The operator actions, in one table: what an operator may do to a route.

Every action is one :class:`Operation` in :data:`OPERATIONS`: the command's
name, its help, its command-line options, whether it asks for confirmation,
and the one function that performs it on a
:class:`~controller.service.CanaryService`. Everything else derives from the
table:

- :mod:`controller.events` accepts an operator event whose ``command`` is in
  the table;
- :mod:`controller.handler` runs that event's operation;
- :mod:`controller.cli.main` has one sub-command per operation, with the
  operation's options, and runs the same function through its backend.

Adding an operator action therefore means one entry in :data:`OPERATIONS` and
the function that performs it. (An action that needs an option none of
:data:`REASON`, :data:`FULL`, :data:`YES`, :data:`ACCEPT_LIVE` covers also
adds that option's field to :class:`OperatorRequest` and to the CLI's
``Options``; a test checks that every listed option has both.) The callers look the table up through
:func:`operations` and :func:`find` when they run, never through a copy made
at import time, so what the table says is what all of them do.

The read-only commands of the CLI (``status``, ``history``) are not operator
actions: they change nothing and have no Lambda event.

``sync`` is an operator action: it acts on one route, and the Lambda does the
same for a route on its registry's change event or an operator event. Its
entry is marked ``every_route``: the CLI's ``--route`` is then optional, and
without it the CLI runs the action for every route of the stack, one after
the other (the Lambda's event always names one route).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from controller.service import ActionResult, CanaryService

__all__ = [
    "ACCEPT_LIVE",
    "FULL",
    "OPERATIONS",
    "REASON",
    "YES",
    "Operation",
    "OperatorRequest",
    "Option",
    "commands",
    "find",
    "get",
    "operations",
]

# A command is a CLI sub-command and the ``command`` of an operator event.
_COMMAND = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class OperatorRequest:
    """What an operator asks for: the route, who asks, why, and the command's switches.

    The caller resolves the defaults (the CLI and the Lambda word a missing
    reason differently), so an operation's function only passes them on.
    """

    route: str
    actor: str
    reason: str
    full: bool = False
    accept_live: bool = False


@dataclass(frozen=True)
class Option:
    """One command-line option of an operation, besides ``--route`` which every one takes.

    ``help`` is plain text (a ``%`` is a percent sign, not a format).
    ``switch`` options take no value (``--full``); the others take one
    (``--reason TEXT``).
    """

    flag: str
    help: str
    switch: bool = False

    def __post_init__(self) -> None:
        if not self.flag.startswith("--") or len(self.flag) < 3:
            raise ValueError(f"option {self.flag!r}: a long option, like --reason, is expected")

    @property
    def dest(self) -> str:
        """The attribute name argparse stores the option under (``--accept-live``: accept_live)."""
        return self.flag.removeprefix("--").replace("-", "_")


# The options operations share; an operation lists the ones it takes, in help order.
REASON = Option("--reason", "recorded in the history")
FULL = Option("--full", "go straight to 100 % Lambda", switch=True)
YES = Option("--yes", "do not ask for confirmation", switch=True)
ACCEPT_LIVE = Option(
    "--accept-live",
    "after a drift: adopt the rule's live weights as the controller's baseline "
    "(recorded in the history) instead of restoring them by hand first",
    switch=True,
)


@dataclass(frozen=True)
class Operation:
    """One operator action: its command, its help, its options and what performs it.

    ``help`` is the one line in the list of commands; ``description`` the
    command's own help, paragraphs separated by a blank line. ``perform``
    runs the action on the service and is the only code that does: the
    Lambda, the CLI and the tests all call it. ``confirm``, when set, words
    what the operator is asked to confirm before the action (the CLI asks on
    a terminal, and ``--yes``, which such an operation must take, skips the
    question). ``counts_as_rollback`` adds the action to the Lambda's
    Rollbacks metric. ``every_route`` makes the CLI's ``--route`` optional:
    without it the CLI performs the action on every route of the stack.
    """

    command: str
    help: str
    description: str
    perform: Callable[[CanaryService, OperatorRequest], ActionResult]
    options: tuple[Option, ...] = ()
    confirm: Callable[[OperatorRequest], str] | None = None
    counts_as_rollback: bool = False
    every_route: bool = False

    def __post_init__(self) -> None:
        if not _COMMAND.fullmatch(self.command):
            raise ValueError(
                f"operation {self.command!r}: a command is lower-case letters, digits and "
                "dashes, starting with a letter (it is a CLI sub-command and an event value)"
            )
        flags = [option.flag for option in self.options]
        if "--route" in flags or len(set(flags)) != len(flags):
            raise ValueError(
                f"operation {self.command}: options {flags} repeat a flag or name --route, "
                "which every operation takes already"
            )
        if self.confirm is not None and YES.flag not in flags:
            raise ValueError(
                f"operation {self.command} asks for confirmation, so it must take {YES.flag}: "
                "a script has no terminal to answer on"
            )


# --------------------------------------------------------------------------- performers
# One function per operation, each a single service call: the service does the
# work (state, weights, executions, notifications), these only pass the request on.


def perform_start(service: CanaryService, request: OperatorRequest) -> ActionResult:
    """Start a run now, with the checks of a scheduled start (the reason is not recorded)."""
    return service.start_run(request.route, actor=request.actor)


def perform_pause(service: CanaryService, request: OperatorRequest) -> ActionResult:
    """Stop the running execution and keep the weights."""
    return service.pause(request.route, reason=request.reason, actor=request.actor)


def perform_resume(service: CanaryService, request: OperatorRequest) -> ActionResult:
    """Make a paused route runnable from its stored stage, or clear a rolled-back one."""
    return service.resume(
        request.route,
        reason=request.reason,
        actor=request.actor,
        accept_live=request.accept_live,
    )


def perform_rollback(service: CanaryService, request: OperatorRequest) -> ActionResult:
    """All traffic back to ECS now: the same rollback as an alarm's."""
    return service.rollback(request.route, reason=request.reason, actor=request.actor)


def perform_promote(service: CanaryService, request: OperatorRequest) -> ActionResult:
    """Skip the rest of the current bake, or go to 100 % with ``full``."""
    return service.promote(
        request.route, reason=request.reason, actor=request.actor, full=request.full
    )


def perform_sync(service: CanaryService, request: OperatorRequest) -> ActionResult:
    """Rewrite the rule's target group ARNs to the registry's, keeping the live split."""
    return service.sync(request.route, actor=request.actor, reason=request.reason)


def perform_verify(service: CanaryService, request: OperatorRequest) -> ActionResult:
    """Run the route's equivalence check now; records nothing, moves nothing."""
    return service.verify_route(request.route, actor=request.actor)


def _promote_question(request: OperatorRequest) -> str:
    if request.full:
        return "to 100% Lambda now"
    return "past the rest of the current bake (next stage)"


# --------------------------------------------------------------------------- the table
# In the order the CLI lists them.

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        command="start",
        help="start a run now, with the same checks as a scheduled start",
        description="Start a run of the route's canary now. The same checks as a scheduled "
        "start apply: a route that is promoted, rolled back or locked by a running execution "
        "is refused.",
        perform=perform_start,
    ),
    Operation(
        command="pause",
        help="stop the running execution and keep the weights",
        description="Stop the running execution and keep the weights where they are. Only an "
        "operator resume moves the route on.",
        perform=perform_pause,
        options=(REASON,),
    ),
    Operation(
        command="resume",
        help="continue from the stored stage, or clear a rolled-back route",
        description="Make the route runnable again: a paused route continues from its stored "
        "stage at the next run (or `start`), a rolled-back route goes back to idle at stage 0.",
        perform=perform_resume,
        options=(REASON, ACCEPT_LIVE),
    ),
    Operation(
        command="rollback",
        help="send all traffic back to ECS now",
        description="Immediate failback: the rule goes to ECS 100 / Lambda 0 first, then the "
        "state, the execution is stopped and the topic is notified. Allowed from any state; "
        "repeating it is harmless.",
        perform=perform_rollback,
        options=(Option(REASON.flag, "recorded in the history (default: operator rollback)"),),
        counts_as_rollback=True,
    ),
    Operation(
        command="promote",
        help="skip the rest of the current bake, or go straight to 100 with --full",
        description="Skip the rest of the current bake (the run moves to the next stage), or "
        "with --full send 100 % of the traffic to Lambda now.\n\n"
        "Confirmation: on a terminal, promote asks before acting unless --yes is given. When "
        "stdin is not a terminal (a script, CI), promote refuses with exit code 2 unless --yes "
        "is given: an unattended promote must be explicit.",
        perform=perform_promote,
        options=(FULL, YES, REASON),
        confirm=_promote_question,
    ),
    Operation(
        command="sync",
        help="point the rule at the registry's target groups, keeping the weights",
        description="Make the route's listener rule forward to the ECS and Lambda target "
        "groups the deploy wrote in the registry, keeping the live split on each side; a rule "
        "already in sync is left alone. Without --route, every route of the stack, one line "
        "per route (with --json, a list). The controller also syncs on every registry change "
        "and at the start of every run.\n\n"
        "A rule whose target groups cannot be matched to the registry without guessing (both "
        "changed at once, an unknown extra target group) is refused and left as it is: exit "
        "code 1.",
        perform=perform_sync,
        every_route=True,
    ),
    Operation(
        command="verify",
        help="check now that the function answers the route's samples as ECS does",
        description="Run the route's equivalence check now, as every run does before its first "
        "shift: each sample of routes[].verify goes to the ALB with the preview header (the "
        "function) and without it (ECS), and status, Content-Type, the configured headers and "
        "the body are compared as routes[].verify.compare says. Prints one row per sample and "
        "every difference. Records nothing and moves no weight.\n\n"
        "Exit code 1 when a sample differs or the check could not run.",
        perform=perform_verify,
    ),
)


def operations() -> tuple[Operation, ...]:
    """Every operation, in the table's order (read when called, so the table is the truth)."""
    return OPERATIONS


def commands() -> tuple[str, ...]:
    """The command of every operation, in the table's order."""
    return tuple(operation.command for operation in operations())


def find(command: str) -> Operation | None:
    """The operation named ``command``, or None when there is none."""
    for operation in operations():
        if operation.command == command:
            return operation
    return None


def get(command: str) -> Operation:
    """The operation named ``command``; :class:`KeyError` names the known commands."""
    operation = find(command)
    if operation is None:
        raise KeyError(f"no operator action {command!r}; known: {', '.join(commands())}")
    return operation
