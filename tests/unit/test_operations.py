"""controller/operations.py: the one table of operator actions, and what derives from it.

The CLI parser and dispatch, the Lambda's operator events and the handler all
read the table. These tests add a fake entry to it and check that the entry
shows up in all three, with no other change; and that each real entry calls
the service method it names.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast

import pytest

from controller import handler, operations
from controller.cli.format import ActionView, RouteStatusView
from controller.cli.main import READ_COMMANDS, Io, build_parser, main, parse_options
from controller.cli.types import EXIT_OK, EXIT_USAGE, Options
from controller.core.contract import RouteRecord
from controller.core.lifecycle import HistoryEntry, Status
from controller.core.weights import ALL_ECS
from controller.events import InvalidEvent, OperatorEvent, parse_event
from controller.operations import (
    ACCEPT_LIVE,
    FULL,
    REASON,
    YES,
    Operation,
    OperatorRequest,
    Option,
)
from controller.service import ActionResult, CanaryService
from rehearsal.world.moto_lambda import FakeLambdaContext
from tests.cli_views import progressing_view
from tests.fakes import route_record

# The handler's metrics have nothing to publish when the service is a fake.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ROUTE = "map-tile"
ACTOR = "operator:alice"


def result(route: str, action: str) -> ActionResult:
    return ActionResult(route, action, "done", Status.IDLE, "ok", stage=0, stages=2)


@dataclass
class FakeService:
    """The operator methods of CanaryService, recording how they were called."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def _record(self, method: str, route: str, **kwargs: Any) -> ActionResult:
        self.calls.append((method, route, kwargs))
        return result(route, method)

    def start_run(self, route: str, *, actor: str) -> ActionResult:
        return self._record("start_run", route, actor=actor)

    def pause(self, route: str, *, reason: str, actor: str) -> ActionResult:
        return self._record("pause", route, reason=reason, actor=actor)

    def resume(self, route: str, *, reason: str, actor: str, accept_live: bool) -> ActionResult:
        return self._record("resume", route, reason=reason, actor=actor, accept_live=accept_live)

    def rollback(self, route: str, *, reason: str, actor: str) -> ActionResult:
        return self._record("rollback", route, reason=reason, actor=actor)

    def promote(self, route: str, *, reason: str, actor: str, full: bool) -> ActionResult:
        return self._record("promote", route, reason=reason, actor=actor, full=full)

    def sync(self, route: str, *, actor: str, reason: str | None = None) -> ActionResult:
        return self._record("sync", route, actor=actor, reason=reason)

    def verify_route(self, route: str, *, actor: str) -> ActionResult:
        return self._record("verify_route", route, actor=actor)

    def nudge(self, route: str, *, request: OperatorRequest) -> ActionResult:
        return self._record("nudge", route, request=request)


def perform_nudge(service: CanaryService, request: OperatorRequest) -> ActionResult:
    """The fake entry's function: what a new action adds besides its entry."""
    return cast(FakeService, service).nudge(request.route, request=request)


NUDGE = Operation(
    command="nudge",
    help="nudge the route 50 % of the way",
    description="Nudge the route, asking first.",
    perform=perform_nudge,
    options=(REASON, FULL, YES),
    confirm=lambda request: "by a little" + (" more" if request.full else ""),
)


@pytest.fixture(name="with_nudge")
def _with_nudge(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The table with the fake entry added: the only change a new action makes."""
    monkeypatch.setattr(operations, "OPERATIONS", (*operations.OPERATIONS, NUDGE))
    yield


@pytest.fixture(autouse=True)
def _reset_handler() -> Iterator[None]:
    handler.reset()
    yield
    handler.reset()


# --------------------------------------------------------------------------- the table


def test_the_table_holds_the_operator_actions_in_cli_order() -> None:
    assert operations.commands() == (
        "start", "pause", "resume", "rollback", "promote", "sync", "verify",
    )  # fmt: skip
    assert [o.command for o in operations.operations()] == list(operations.commands())
    assert not set(operations.commands()) & set(READ_COMMANDS)
    for operation in operations.operations():
        assert operations.get(operation.command) is operation
        assert operation.help and operation.description
    assert operations.find("status") is None
    with pytest.raises(KeyError, match="known: start, pause"):
        operations.get("status")


def test_only_promote_asks_and_only_rollback_counts_as_a_rollback() -> None:
    assert [o.command for o in operations.operations() if o.confirm] == ["promote"]
    assert [o.command for o in operations.operations() if o.counts_as_rollback] == ["rollback"]
    promote = operations.get("promote")
    assert promote.confirm is not None
    assert promote.confirm(OperatorRequest(ROUTE, ACTOR, "r", full=True)) == "to 100% Lambda now"


def test_only_sync_runs_on_every_route_without_route() -> None:
    assert [o.command for o in operations.operations() if o.every_route] == ["sync"]
    assert parse_options(["sync"], {}).route is None
    assert parse_options(["sync", "--route", ROUTE], {}).route == ROUTE
    with pytest.raises(SystemExit):
        parse_options(["rollback"], {})  # every other action still needs --route


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (dict(command="Nudge"), "lower-case letters"),
        (dict(command="two words"), "lower-case letters"),
        (dict(options=(Option("--route", "again"),)), "--route"),
        (dict(options=(REASON, REASON)), "repeat a flag"),
        (dict(confirm=lambda request: "now"), "must take --yes"),
    ],
)
def test_a_malformed_entry_is_refused_when_the_table_is_built(
    entry: dict[str, Any], problem: str
) -> None:
    fields: dict[str, Any] = {
        "command": "nudge",
        "help": "h",
        "description": "d",
        "perform": perform_nudge,
        **entry,
    }
    with pytest.raises(ValueError, match=problem):
        Operation(**fields)


def test_options_name_their_flag_and_attribute() -> None:
    assert (ACCEPT_LIVE.flag, ACCEPT_LIVE.dest, ACCEPT_LIVE.switch) == (
        "--accept-live",
        "accept_live",
        True,
    )
    assert (REASON.dest, REASON.switch) == ("reason", False)
    with pytest.raises(ValueError, match="long option"):
        Option("-r", "short")


def test_every_option_of_the_table_reaches_the_cli_options_and_the_request() -> None:
    cli_fields = {f.name for f in fields(Options)}
    request_fields = {f.name for f in fields(OperatorRequest)}
    for operation in operations.operations():
        for option in operation.options:
            assert option.dest in cli_fields, f"{option.flag}: add it to cli.types.Options"
            if option.flag != YES.flag:  # --yes only answers the CLI's question
                assert option.dest in request_fields, f"{option.flag}: add it to OperatorRequest"


@pytest.mark.parametrize(
    ("command", "method", "options", "takes_reason"),
    [
        ("start", "start_run", {}, False),
        ("pause", "pause", {}, True),
        ("resume", "resume", {"accept_live": True}, True),
        ("rollback", "rollback", {}, True),
        ("promote", "promote", {"full": True}, True),
        ("sync", "sync", {}, True),
    ],
)
def test_each_operation_is_one_service_call(
    command: str, method: str, options: dict[str, bool], takes_reason: bool
) -> None:
    """The request's actor, options and (where the method takes one) reason reach the call."""
    service = FakeService()
    request_ = OperatorRequest(ROUTE, ACTOR, "r", **options)
    done = operations.get(command).perform(cast(CanaryService, service), request_)
    reason = {"reason": "r"} if takes_reason else {}
    assert service.calls == [(method, ROUTE, {**reason, "actor": ACTOR, **options})]
    assert done.route == ROUTE


# --------------------------------------------------------------------------- the CLI


def _cli_argv(operation: Operation) -> list[str]:
    """The command line of ``operation`` with every one of its options given."""
    argv = [operation.command, "--route", ROUTE]
    for option in operation.options:
        argv += [option.flag] if option.switch else [option.flag, "why not"]
    return argv


@pytest.mark.usefixtures("with_nudge")
@pytest.mark.parametrize("command", [*operations.commands(), "nudge"])
def test_every_entry_is_a_cli_sub_command_with_its_options(command: str) -> None:
    operation = operations.get(command)
    options = parse_options(_cli_argv(operation), {})
    assert (options.command, options.route) == (command, ROUTE)
    for option in operation.options:
        expected = True if option.switch else "why not"
        assert getattr(options, option.dest) == expected, option.flag
    # The list of commands in --help, white space folded (argparse wraps the lines).
    listing = " ".join(build_parser().format_help().split())
    assert f"{command} {operation.help}" in listing


def test_an_option_the_entry_does_not_list_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_options(["start", "--route", ROUTE, "--reason", "x"], {})
    assert exited.value.code == EXIT_USAGE
    assert "unrecognized arguments: --reason" in capsys.readouterr().err


def test_without_the_entry_the_cli_refuses_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_options(["nudge", "--route", ROUTE], {})
    assert exited.value.code == EXIT_USAGE
    assert "invalid choice: 'nudge'" in capsys.readouterr().err


@dataclass
class ServiceBackend:
    """The CLI's Backend on a fake service: ``perform`` as AwsBackend does it."""

    service: FakeService = field(default_factory=FakeService)
    region: str = "ap-northeast-1"

    def routes(self) -> list[RouteRecord]:
        return [route_record(ROUTE)]

    def route(self, name: str) -> RouteRecord:
        return route_record(name)

    def route_status(self, route: RouteRecord, now: datetime) -> RouteStatusView:
        return progressing_view(route.route)

    def history(self, route: RouteRecord, limit: int) -> list[HistoryEntry]:
        return []

    def perform(self, operation: Operation, request: OperatorRequest) -> ActionView:
        done = operation.perform(cast(CanaryService, self.service), request)
        return ActionView(
            done.route, done.action, done.result, "idle", done.message, weights=ALL_ECS
        )


def _run_cli(argv: list[str], backend: ServiceBackend, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    streams = Io(stdin=io.StringIO(stdin), stdout=out, stderr=err, env={"STRANGLER_ACTOR": "alice"})
    code = main(argv, io=streams, backend_factory=lambda _options: backend)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.usefixtures("with_nudge")
def test_a_new_entry_runs_from_the_cli_with_its_confirmation() -> None:
    backend = ServiceBackend()
    code, _, err = _run_cli(["nudge", "--route", ROUTE], backend)
    assert code == EXIT_USAGE
    assert f"nudge of route {ROUTE} needs confirmation" in err
    assert "pass --yes to nudge without asking" in err
    assert backend.service.calls == []

    code, out, err = _run_cli(["nudge", "--route", ROUTE, "--yes", "--full", "--json"], backend)
    assert code == EXIT_OK, err
    assert json.loads(out)["action"] == "nudge"
    assert backend.service.calls == [
        (
            "nudge",
            ROUTE,
            {"request": OperatorRequest(ROUTE, "operator:alice", "operator nudge --full", True)},
        )
    ]


# --------------------------------------------------------------------------- events and handler


def operator_event(command: str, **extra: Any) -> dict[str, Any]:
    return {"action": "operator", "command": command, "route": ROUTE, "actor": ACTOR, **extra}


@pytest.mark.usefixtures("with_nudge")
@pytest.mark.parametrize("command", [*operations.commands(), "nudge"])
def test_every_entry_is_an_accepted_operator_event(command: str) -> None:
    event = parse_event(operator_event(command))
    assert isinstance(event, OperatorEvent)
    assert event.operation() is operations.get(command)


def test_without_the_entry_the_event_is_refused_naming_the_table() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(operator_event("nudge"))
    expected = ", ".join(repr(c) for c in operations.commands()[:-1])
    assert f"command: Input should be {expected} or 'verify'" in str(info.value)


def _invoke(event: dict[str, Any], service: FakeService) -> dict[str, Any]:
    handler.set_service(cast(CanaryService, service))
    context = FakeLambdaContext(
        "strangler-test-controller",
        "arn:aws:lambda:ap-northeast-1:123456789012:function:strangler-test-controller",
        aws_request_id="request-1",
    )
    return handler.lambda_handler(event, context)


@pytest.mark.usefixtures("with_nudge")
def test_a_new_entry_runs_from_the_handler() -> None:
    service = FakeService()
    answer = _invoke(operator_event("nudge", full=True), service)
    assert answer["action"] == "nudge"
    default_reason = f"nudge requested by {ACTOR}"
    assert service.calls == [
        ("nudge", ROUTE, {"request": OperatorRequest(ROUTE, ACTOR, default_reason, full=True)})
    ]


@pytest.mark.parametrize("command", operations.commands())
def test_the_handler_runs_the_entry_and_counts_rollbacks(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(handler, "_count_rollback", counted.append)
    service = FakeService()
    answer = _invoke(operator_event(command, reason="because"), service)
    assert answer["route"] == ROUTE
    assert len(service.calls) == 1
    assert counted == ([ROUTE] if command == "rollback" else [])
    kwargs = service.calls[0][2]
    assert kwargs["actor"] == ACTOR
    if command not in ("start", "verify"):  # a start or a verify records no reason
        assert kwargs["reason"] == "because"
