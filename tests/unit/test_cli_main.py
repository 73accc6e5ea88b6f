"""controller/cli/main.py in-process: options, actor, exit-code mapping, watch loop, promote prompt.

The AWS side is a fake of the CLI's own :class:`controller.cli.types.Backend`
protocol (fault injection); tests/twin/test_cli.py runs the real entry point on moto.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.cli.format import ActionView, RouteStatusView
from controller.cli.main import Io, classify, main, parse_options, resolve_actor
from controller.cli.types import EXIT_AWS, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError, Options
from controller.core.contract import PlanRecord, RouteRecord, StagePlanRecord
from controller.core.errors import (
    AwsCallFailed,
    ConcurrentUpdate,
    SyncRefused,
    TransitionRefused,
    UnknownRoute,
)
from controller.core.lifecycle import HistoryEntry
from controller.core.weights import ALL_ECS
from controller.operations import Operation, OperatorRequest
from tests.cli_views import progressing_view

NOW = datetime(2024, 5, 10, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def record(name: str) -> RouteRecord:
    return RouteRecord(
        route=name,
        listener_arn="arn:listener",
        rule_arn=f"arn:rule/{name}",
        ecs_target_group_arn="arn:tg/ecs",
        lambda_target_group_arn="arn:tg/lambda",
        function_name=name,
        composite_alarm_name=f"{name}-composite",
        composite_alarm_arn=f"arn:alarm:{name}-composite",
        alarm_names=(f"{name}-errors",),
        plan=PlanRecord(stages=(StagePlanRecord(10.0, 60), StagePlanRecord(100.0, 0))),
    )


class TtyIO(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@dataclass
class FakeBackend:
    """The CLI's Backend protocol with scripted answers and recorded calls."""

    region: str = "ap-northeast-1"
    known: tuple[str, ...] = ("map-style", "map-tile")
    status_errors: list[BaseException | None] = field(default_factory=list)
    routes_errors: list[BaseException | None] = field(default_factory=list)
    action_error: BaseException | None = None
    route_errors: dict[str, BaseException] = field(default_factory=dict)
    calls: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)

    def routes(self) -> list[RouteRecord]:
        if self.routes_errors:
            error = self.routes_errors.pop(0)
            if error is not None:
                raise error
        return [record(n) for n in self.known]

    def route(self, name: str) -> RouteRecord:
        if name not in self.known:
            raise UnknownRoute(name, self.known)
        return record(name)

    def route_status(self, route: RouteRecord, now: datetime) -> RouteStatusView:
        if self.status_errors:
            error = self.status_errors.pop(0)
            if error is not None:
                raise error
        return progressing_view(route.route, next_stage_at=now + timedelta(seconds=30))

    def history(self, route: RouteRecord, limit: int) -> list[HistoryEntry]:
        self.calls.append(("history", (route.route, limit)))
        return []

    def perform(self, operation: Operation, request: OperatorRequest) -> ActionView:
        self.calls.append((operation.command, (request,)))
        if self.action_error is not None:
            raise self.action_error
        if request.route in self.route_errors:
            raise self.route_errors[request.route]
        return ActionView(
            request.route, operation.command, "done", "rolled_back", "ok", weights=ALL_ECS
        )


def request(reason: str, actor: str, *, full: bool = False, accept_live: bool = False) -> tuple:
    """What FakeBackend records for an action on map-tile."""
    return (OperatorRequest("map-tile", actor, reason, full=full, accept_live=accept_live),)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def run(
    argv: list[str],
    backend: FakeBackend,
    *,
    stdin: io.StringIO | None = None,
    stdout: io.StringIO | None = None,
    env: dict[str, str] | None = None,
    sleep=None,
) -> Run:
    out = stdout or io.StringIO()
    err = io.StringIO()
    streams = Io(
        stdin=stdin or io.StringIO(""),
        stdout=out,
        stderr=err,
        env=env if env is not None else {"STRANGLER_ACTOR": "alice"},
        clock=lambda: NOW,
        sleep=sleep or (lambda _s: None),
    )
    code = main(argv, io=streams, backend_factory=lambda _o: backend)
    return Run(code, out.getvalue(), err.getvalue())


# --------------------------------------------------------------------------- options


def test_common_options_before_or_after_the_command():
    env: dict[str, str] = {}
    after = parse_options(["status", "--stack", "dev", "--region", "eu-west-1", "--json"], env)
    before = parse_options(["--stack", "dev", "--region", "eu-west-1", "--json", "status"], env)
    assert after == before
    assert (after.stack, after.region, after.json) == ("dev", "eu-west-1", True)
    default = parse_options(["status"], env)
    assert (default.stack, default.json, default.interval) == ("prod", False, 5.0)


def test_actor_resolution_order():
    assert resolve_actor("bob", {"STRANGLER_ACTOR": "carol"}, lambda: "dave") == "operator:bob"
    assert resolve_actor(None, {"STRANGLER_ACTOR": "carol"}, lambda: "dave") == "operator:carol"
    assert resolve_actor(None, {}, lambda: "dave") == "operator:dave"
    assert resolve_actor("operator:erin", {}, lambda: "dave") == "operator:erin"

    def no_user() -> str:
        raise OSError("no login name")

    assert resolve_actor(None, {}, no_user) == "operator:unknown"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["history"], "--route"),
        (["status", "--interval", "-1"], "greater than 0"),
        (["history", "--route", "r", "--limit", "0"], "at least 1"),
        (["launch"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_options(argv, {})
    assert exited.value.code == EXIT_USAGE
    assert fragment in capsys.readouterr().err


# --------------------------------------------------------------------------- exit codes


def test_classify_maps_each_error_to_its_exit_code():
    refused = TransitionRefused(
        "route is rolled_back",
        "run: python -m controller resume --route map-tile",
        route="map-tile",
        transition="begin",
        status="rolled_back",
    )
    failure = classify(refused)
    assert failure.exit_code == EXIT_REFUSED
    assert failure.message == "route map-tile: begin refused: route is rolled_back"
    assert classify(refused, "start").message.startswith("route map-tile: start refused")
    assert failure.hint == "run: python -m controller resume --route map-tile"
    assert classify(ConcurrentUpdate("lost", route="map-tile")).exit_code == EXIT_REFUSED
    assert classify(UnknownRoute("x", ["a", "b"])).exit_code == EXIT_USAGE
    denied = AwsCallFailed(
        "AccessDeniedException: not authorized",
        arn="arn:rule/map-tile",
        api_call="elasticloadbalancing:ModifyRule",
        error_code="AccessDeniedException",
    )
    aws = classify(denied)
    assert aws.exit_code == EXIT_AWS
    assert "elasticloadbalancing:ModifyRule" in aws.message
    assert "arn:rule/map-tile" in aws.message
    assert aws.hint is not None and "IAM" in aws.hint
    assert classify(CliError("no stack", EXIT_USAGE)).exit_code == EXIT_USAGE
    with pytest.raises(ZeroDivisionError):
        classify(ZeroDivisionError())  # a bug is not an exit code: it surfaces


def test_refusal_prints_why_and_what_to_do_and_json_error():
    backend = FakeBackend(
        action_error=TransitionRefused(
            "the route is locked by execution run-7", "wait for it, or pause it", "map-tile"
        )
    )
    result = run(["start", "--route", "map-tile", "--json"], backend)
    assert result.code == EXIT_REFUSED
    assert "error: route map-tile: start refused: the route is locked" in result.stderr
    assert "hint: wait for it, or pause it" in result.stderr
    payload = json.loads(result.stdout)
    assert payload["exit_code"] == EXIT_REFUSED
    assert payload["hint"] == "wait for it, or pause it"


def test_actions_pass_route_reason_and_actor_to_the_backend():
    backend = FakeBackend()
    assert run(["rollback", "--route", "map-tile", "--reason", "p99"], backend).code == EXIT_OK
    assert run(["pause", "--route", "map-tile", "--actor", "bob"], backend).code == EXIT_OK
    assert run(["resume", "--route", "map-tile", "--accept-live"], backend).code == EXIT_OK
    assert run(["start", "--route", "map-tile"], backend).code == EXIT_OK
    assert backend.calls == [
        ("rollback", request("p99", "operator:alice")),
        ("pause", request("operator pause", "operator:bob")),
        ("resume", request("operator resume", "operator:alice", accept_live=True)),
        ("start", request("operator start", "operator:alice")),
    ]


# --------------------------------------------------------------------------- promote


def test_promote_without_a_terminal_needs_yes():
    backend = FakeBackend()
    refused = run(["promote", "--route", "map-tile"], backend)
    assert refused.code == EXIT_USAGE
    assert "stdin is not a terminal" in refused.stderr
    assert "--yes" in refused.stderr
    assert backend.calls == []
    assert run(["promote", "--route", "map-tile", "--yes", "--full"], backend).code == EXIT_OK
    assert backend.calls == [
        ("promote", request("operator promote --full", "operator:alice", full=True))
    ]


@pytest.mark.parametrize(("answer", "code", "calls"), [("y\n", EXIT_OK, 1), ("\n", 1, 0)])
def test_promote_asks_on_a_terminal(answer, code, calls):
    backend = FakeBackend()
    result = run(["promote", "--route", "map-tile"], backend, stdin=TtyIO(answer))
    assert result.code == code, result.stderr
    assert "Promote route map-tile (status progressing, stage 1/2, lambda 10.0%)" in result.stderr
    assert len(backend.calls) == calls


# --------------------------------------------------------------------------- status / watch


def test_status_json_and_colour_rules():
    backend = FakeBackend()
    result = run(["status", "--json"], backend, stdout=TtyIO())
    payload = json.loads(result.stdout)
    assert [p["route"] for p in payload] == ["map-style", "map-tile"]
    assert "\x1b[" not in result.stdout, "no colour in JSON"
    coloured = run(["status"], backend, stdout=TtyIO(), env={})
    assert "\x1b[" in coloured.stdout
    plain = run(["status"], backend, stdout=TtyIO(), env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout
    piped = run(["status"], backend, env={})
    assert "\x1b[" not in piped.stdout


class Interrupt:
    """A sleep that lets ``n`` refreshes happen, then raises Ctrl-C."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1


def test_watch_redraws_in_place_on_a_terminal_and_exits_0_on_ctrl_c():
    sleep = Interrupt(2)
    result = run(
        ["status", "--watch", "--interval", "0.5"], FakeBackend(), stdout=TtyIO(), sleep=sleep
    )
    assert result.code == EXIT_OK
    assert result.stdout.count("\x1b[H\x1b[2J") == 3
    assert sleep.slept == [0.5, 0.5, 0.5]


def test_watch_without_a_terminal_prints_blocks_and_survives_a_blip():
    backend = FakeBackend(
        routes_errors=[None, AwsCallFailed("timeout", api_call="ssm:GetParameter"), None]
    )
    result = run(["status", "--watch"], backend, sleep=Interrupt(2))
    assert result.code == EXIT_OK
    assert "\x1b[" not in result.stdout
    assert result.stdout.count("ROUTE  ") == 2
    assert "refresh failed: ssm:GetParameter: timeout" in result.stdout


def test_watch_exits_with_the_error_when_the_first_refresh_fails():
    backend = FakeBackend(routes_errors=[AwsCallFailed("refused", api_call="ssm:GetParameter")])
    result = run(["status", "--watch"], backend, sleep=Interrupt(5))
    assert result.code == EXIT_AWS
    assert "ssm:GetParameter" in result.stderr


def test_one_unreadable_route_does_not_hide_the_others():
    denied = AwsCallFailed(
        "AccessDenied: no", arn="arn:rule/map-style", api_call="elasticloadbalancing:DescribeRules"
    )
    result = run(["status"], FakeBackend(status_errors=[denied, None]))
    assert result.code == EXIT_AWS
    lines = result.stdout.splitlines()
    assert lines[2].split()[:2] == ["map-style", "error"], lines
    assert lines[3].split()[:2] == ["map-tile", "progressing"], lines
    assert "! map-style: could not read the status: elasticloadbalancing:DescribeRules" in (
        result.stdout
    )
    assert "error: elasticloadbalancing:DescribeRules: arn:rule/map-style" in result.stderr
    assert "IAM" in result.stderr
    as_json = run(["status", "--json"], FakeBackend(status_errors=[denied, None]))
    payload = json.loads(as_json.stdout)
    assert payload[0]["error"].startswith("elasticloadbalancing:DescribeRules")
    assert payload[1]["error"] is None


def test_watch_json_prints_one_document_per_line():
    result = run(["status", "--watch", "--json"], FakeBackend(), sleep=Interrupt(1))
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(isinstance(json.loads(line), list) for line in lines)


def test_options_dataclass_is_what_commands_see():
    options = parse_options(["history", "--route", "map-tile", "--limit", "3"], {})
    assert isinstance(options, Options)
    assert (options.route, options.limit) == ("map-tile", 3)
    backend = FakeBackend()
    assert run(["history", "--route", "map-tile", "--limit", "3"], backend).code == EXIT_OK
    assert backend.calls == [("history", ("map-tile", 3))]


# --------------------------------------------------------------------------- module layout


# --------------------------------------------------------------------------- sync


def sync_refused(route: str) -> SyncRefused:
    return SyncRefused(
        "cannot sync the rule's target groups with the registry: neither registry target group "
        "is in the rule (rule: arn:tg/old-ecs=999, arn:tg/old-lambda=0; registry: ECS "
        "arn:tg/ecs, Lambda arn:tg/lambda)",
        found=("arn:tg/old-ecs", "arn:tg/old-lambda"),
        route=route,
        arn=f"arn:rule/{route}",
    )


def test_sync_without_route_runs_on_every_route_one_line_each():
    backend = FakeBackend()
    result = run(["sync"], backend)
    assert result.code == EXIT_OK, result.stderr
    assert [call[1][0].route for call in backend.calls] == ["map-style", "map-tile"]
    assert all(call[0] == "sync" for call in backend.calls)
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["map-style", "map-tile"]
    assert all("sync -> done" in line for line in lines)


def test_sync_of_one_route_runs_only_that_route():
    backend = FakeBackend()
    result = run(["sync", "--route", "map-tile", "--json"], backend)
    assert result.code == EXIT_OK
    assert [payload["route"] for payload in json.loads(result.stdout)] == ["map-tile"]
    assert backend.calls == [("sync", request("operator sync", "operator:alice"))]


def test_sync_refused_on_one_route_still_syncs_the_others_and_exits_1():
    backend = FakeBackend(route_errors={"map-style": sync_refused("map-style")})
    result = run(["sync"], backend)
    assert result.code == EXIT_REFUSED
    style_line, tile_line = result.stdout.splitlines()
    assert style_line.startswith("map-style: sync -> refused: route map-style")
    assert "arn:tg/old-ecs" in style_line
    assert tile_line.startswith("map-tile: sync -> done")
    assert "error: route map-style" in result.stderr
    assert "hint: nothing was written" in result.stderr

    as_json = json.loads(run(["sync", "--json"], backend).stdout)
    assert [(p["route"], p.get("error"), p.get("result")) for p in as_json] == [
        ("map-style", "refused", None),
        ("map-tile", None, "done"),
    ]
    assert as_json[0]["exit_code"] == EXIT_REFUSED


def test_sync_exit_code_is_the_most_serious_failure():
    throttled = AwsCallFailed("Throttling", api_call="DescribeRules", transient=True)
    backend = FakeBackend(
        route_errors={"map-style": throttled, "map-tile": sync_refused("map-tile")}
    )
    assert run(["sync"], backend).code == EXIT_AWS


def test_sync_of_an_unknown_route_is_a_usage_error_before_anything_runs():
    backend = FakeBackend()
    result = run(["sync", "--route", "nope"], backend)
    assert result.code == EXIT_USAGE
    assert "known routes: map-style, map-tile" in result.stderr
    assert backend.calls == []


def test_sync_refused_is_exit_1_with_a_hint():
    failure = classify(sync_refused("map-tile"), "sync")
    assert failure.exit_code == EXIT_REFUSED
    assert failure.hint is not None and "sync again" in failure.hint
