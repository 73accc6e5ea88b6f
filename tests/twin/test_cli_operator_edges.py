"""The operator CLI's edge cases on the twin, through :func:`controller.cli.main.main`.

``python -m controller`` calls ``main(argv)``; here it runs in-process against
the twin (the real program applied to moto, the ``twin`` fixture), so each
case costs no interpreter start. Covered: a start refused while an alarm of
the route is in ALARM; a drift resolved from every status with the very
command ``status`` suggests; the promote edge cases; the exit codes ``--help``
lists.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from controller.cli.main import EXIT_CODES_HELP, Io, main
from controller.core.lifecycle import Status
from controller.core.state_machine import Outcome
from controller.core.weights import ALL_ECS, Weights
from controller.service import RunContext
from tests.aws_fixtures import REGION, SLOW_PLAN, TWIN_ROUTES, TwinWorld

STACK = "three"
BY_HAND = Weights(ecs=499, lambda_=500)


@pytest.fixture
def world(twin: TwinWorld) -> TwinWorld:
    for route in TWIN_ROUTES:
        twin.set_plan(SLOW_PLAN, route=route)
    return twin


def cli(*argv: str) -> tuple[int, str, str]:
    """``python -m controller ARGV --stack three --region R`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    streams = Io(stdin=io.StringIO(""), stdout=out, stderr=err, env={"STRANGLER_ACTOR": "tester"})
    code = main([*argv, "--stack", STACK, "--region", REGION], io=streams)
    return code, out.getvalue(), err.getvalue()


def status_of(route: str) -> dict:
    """``status --route R --json`` of one route."""
    code, out, err = cli("status", "--route", route, "--json")
    assert code == 0, err
    return json.loads(out)[0]


def in_progress(world: TwinWorld, route: str) -> RunContext:
    """A run of ``route`` past its Begin and first Shift (the tasks' service calls)."""
    arn = world.start_execution(
        f"{route}-run", world.execution_input(route, actor="schedule", trigger="schedule")
    )
    world.park(arn)
    run = RunContext(route, arn, "schedule", "schedule", world.route(route).plan)
    service = world.service()
    assert service.begin(run).outcome == Outcome.RUN
    service.shift(run)
    return run


# --------------------------------------------------------------------------- start and alarms


def test_start_is_refused_while_a_child_alarm_is_in_alarm(world: TwinWorld):
    world.set_alarm("ALARM", route="map-poi", child="p99-latency")
    code, out, err = cli("start", "--route", "map-poi")
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == (
        f"error: route map-poi: start refused: alarms strangler-{STACK}-map-poi-composite, "
        f"strangler-{STACK}-map-poi-p99-latency are in ALARM; a run would shift traffic to an "
        "alarming function"
    )
    assert world.live_weights("map-poi") == ALL_ECS
    assert status_of("map-poi")["execution"] is None, "no run was started"


# --------------------------------------------------------------------------- drift


def _drift_in(world: TwinWorld, status: str, route: str) -> None:
    """Bring ``route`` to ``status``, then change its weights by hand."""
    service = world.service()
    if status in ("progressing", "paused"):
        in_progress(world, route)
    if status == "paused":
        service.pause(route, reason="lunch", actor="operator:tester")
    if status == "promoted":
        service.promote(route, reason="go", actor="operator:tester", full=True)
    if status == "rolled_back":
        service.rollback(route, reason="test", actor="operator:tester")
    world.set_weights_by_hand(BY_HAND, route=route)


def _suggested_commands(status_text: str, route: str) -> list[list[str]]:
    """The commands the DRIFT line suggests before "to undo it" (the fix that keeps or restores)."""
    line = next(ln for ln in status_text.splitlines() if ln.startswith(f"! {route}: DRIFT"))
    keep = line.split("to undo it")[0]
    found = re.findall(r"python -m controller ((?:\S+)(?: --\S+(?: (?!python)\w[\w-]*)?)*)", keep)
    return [command.rstrip(";,.").split() for command in found]


@pytest.mark.parametrize("status", ["idle", "progressing", "paused", "promoted", "rolled_back"])
def test_drift_is_resolved_from_every_status_with_the_command_status_suggests(
    world: TwinWorld, status: str
):
    route = "route-search"
    _drift_in(world, status, route)
    code, table, err = cli("status", "--route", route)
    assert code == 0, err
    cells = next(line.split() for line in table.splitlines() if line.startswith(route))
    assert cells[1] == status, cells
    assert cells[3:11] == ["ecs", "49.9", "%", "/", "lambda", "50.1", "%", "DRIFT"], (
        "status shows the live weights, flagged"
    )
    commands = _suggested_commands(table, route)
    assert commands, table
    for command in commands:
        code, _out, err = cli(*command)
        assert code == 0, f"{' '.join(command)} (suggested in {status}): exit {code}: {err}"
    after = world.service().status(route)
    assert not after.drift, f"{status}: still DRIFT after {commands}"


def test_start_during_a_drift_prints_the_live_weights(world: TwinWorld):
    world.set_weights_by_hand(BY_HAND, route="map-tile")
    code, out, err = cli("start", "--route", "map-tile")
    assert code == 0, err
    assert "ecs 49.9 % / lambda 50.1 %" in out
    assert "ecs 100 % / lambda 0 %" not in out


# --------------------------------------------------------------------------- promote


def test_promote_without_a_terminal_exits_as_help_says(world: TwinWorld):
    code, _, err = cli("promote", "--route", "map-tile")
    assert code == 2, err
    assert "stdin is not a terminal" in err
    two = EXIT_CODES_HELP.split("\n  2 ")[1].split("\n  3 ")[0]
    assert "promote\n     without a terminal and without --yes" in two


def test_promote_on_a_route_that_never_began_reads_sensibly(world: TwinWorld):
    code, out, err = cli("promote", "--route", "map-tile", "--yes")
    assert code == 1
    assert "no run has begun, so there is no bake to skip" in err
    assert "0 of 0" not in err

    code, out, err = cli("promote", "--route", "map-tile", "--full", "--yes")
    assert code == 0, err
    assert "status promoted; stage 3/3; ecs 0 % / lambda 100 %" in out
    shown = status_of("map-tile")
    assert (shown["status"], shown["stage"], shown["stages"]) == ("promoted", 3, 3)
    state = world.service().ports.state.load("map-tile")
    assert (state.status, state.stage, state.stages_total) == (Status.PROMOTED, 3, 3)
