"""Tests of rehearsal/cli.py: ``python -m rehearsal`` commands, output and exit codes."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from rehearsal.cli import EXIT_CONFIG, EXIT_OK, build_parser, main
from tests.processes import run_python

PROJECT = Path(__file__).resolve().parents[2]
LISTENER = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/common-api/"
    "50dc6c495c0c9188/f2f7dc8efc522ab2"
)
ECS = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/map-ecs/6d0ecf831eec9f09"
)
BAD_STACK = f"""
config:
  aws:region: ap-northeast-1
  strangler:listenerArn: {LISTENER}
  strangler:routes:
    - name: map-tile
      priority: 60000
      match:
        pathPatterns: ["/map/v1/tile/*"]
      ecsTargetGroupArn: {ECS}
      function:
        source: functions/map_proxy
        reservedConcurency: 200
      canary:
        stages: [{{weight: 50}}, {{weight: 10}}]
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_plan_text_for_prod():
    code, out, err = run("plan")
    assert (code, err) == (EXIT_OK, "")
    assert out.startswith("Plan for stack prod (ap-northeast-1):")
    assert "+ strangler:route:StranglerRoute  map-tile" in out


def test_plan_json_for_prod():
    code, out, _ = run("plan", "--stack", "prod", "--json")
    assert code == EXIT_OK
    document = json.loads(out)
    assert document["stack"] == "prod"
    names = {r["name"] for r in document["resources"]}
    assert {"map-tile", "map-tile-traffic-rule", "map-tile-fn-function"} <= names
    for resource in document["resources"]:
        assert {"type", "name", "parent", "keyInputs"} <= set(resource)


@pytest.fixture
def bad_stack(tmp_path) -> Path:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(textwrap.dedent(BAD_STACK))
    return path


def test_bad_config_prints_every_problem_and_exits_2(bad_stack):
    code, out, err = run("plan", "--stack-file", str(bad_stack))
    assert code == EXIT_CONFIG
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0] == "invalid config for stack bad:"
    assert lines[1:] == [
        "routes[0].priority: 60000 is above the maximum 50000",
        "routes[0].function.reservedConcurency: unknown key (did you mean reservedConcurrency?)",
        "routes[0].function.reservedConcurrency: required",
        "routes[0].canary.stages[1].weight: must be greater than the previous stage (50)",
    ]


def test_bad_config_in_json_mode_also_exits_2(bad_stack):
    code, out, err = run("plan", "--json", "--stack-file", str(bad_stack))
    assert (code, out) == (EXIT_CONFIG, "")
    assert "routes[0].priority" in err


def test_missing_stack_exits_2_naming_the_file():
    code, _, err = run("plan", "--stack", "nope")
    assert code == EXIT_CONFIG
    assert "Pulumi.nope.yaml" in err and "prod" in err


def test_run_refuses_an_unknown_route():
    code, _, err = run("run", "--stack", "prod", "--route", "nope")
    assert code == EXIT_CONFIG, err
    assert "nope" in err and "map-tile" in err


def test_parser_keeps_the_contract_flags():
    parser = build_parser()
    run_args = parser.parse_args(
        [
            "run",
            "--stack",
            "prod",
            "--route",
            "map-tile",
            "--fail-at-stage",
            "2",
            "--drift-at-stage",
            "3",
            "--json",
            "--chart",
            "out.png",
        ]
    )
    assert run_args.route in ("map-tile", ["map-tile"])
    assert (run_args.fail_at_stage, run_args.drift_at_stage) == (2, 3)
    assert run_args.json and run_args.chart == Path("out.png")
    serve_args = parser.parse_args(["serve", "--port", "0"])
    assert (serve_args.port, serve_args.stack) == (0, None)
    assert parser.parse_args(["serve"]).port == 4566
    assert parser.parse_args(["serve"]).account_concurrency == 1000
    assert parser.parse_args(["serve", "--account-concurrency", "3000"]).account_concurrency == 3000
    redeploy = parser.parse_args(["run", "--redeploy-at-stage", "2", "--reorder-at-stage", "1"])
    assert (redeploy.redeploy_at_stage, redeploy.reorder_at_stage) == (2, 1)


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_serve_refuses_an_account_concurrency_below_one(value: str, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--account-concurrency", value])
    assert exited.value.code == 2
    assert "--account-concurrency" in capsys.readouterr().err


def test_module_entry_point():
    completed = run_python("-m", "rehearsal", "plan", "--json", cwd=PROJECT)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["stack"] == "prod"
