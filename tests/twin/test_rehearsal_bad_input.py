"""Bad input to ``python -m rehearsal``: refused early, one line naming the input, no traceback.

Each case goes through the real entry point (:func:`rehearsal.cli.main`, which
``python -m rehearsal`` calls). ``run``'s refusals must come before the stack
is applied: the progress line ``applying stack ...`` is never printed.
"""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from rehearsal.cli import EXIT_CONFIG, main

PROJECT = Path(__file__).resolve().parents[2]
APPLYING = "applying stack"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def variant(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """The example stack file with ``replacements`` applied, as ``Pulumi.prod.yaml``."""
    text = (PROJECT / "Pulumi.prod.yaml").read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    return path


FIVE_FIELD_CRON = ('"cron(0 10 ? * MON-FRI *)"', '"cron(0 10 * * MON-FRI)"')
MISSPELLED_NAMESPACE = ("strangler:logRetentionDays", "stranger:logRetentionDays")


def test_plan_rejects_a_five_field_cron_and_a_misspelled_namespace(tmp_path):
    stack_file = variant(tmp_path, FIVE_FIELD_CRON, MISSPELLED_NAMESPACE)
    code, out, err = run("plan", "--stack-file", str(stack_file))
    assert (code, out) == (EXIT_CONFIG, "")
    assert err.splitlines()[1:] == [
        "stranger:logRetentionDays: unknown namespace 'stranger': only strangler:, aws:, "
        "pulumi: are read (did you mean strangler:logRetentionDays?)",
        "routes[0].canary.schedule: 'cron(0 10 * * MON-FRI)': a cron expression has 6 fields, "
        "got 5",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--route", "map-tiles"], "--route map-tiles: no such route; routes: map-tile"),
        (["--fail-at-stage", "5"], "--fail-at-stage 5: route map-tile has 4 stages"),
        (["--drift-at-stage", "9"], "--drift-at-stage 9: route map-tile has 4 stages"),
        (
            ["--redeploy-at-stage", "4"],
            "--redeploy-at-stage 4: stage 4 of route map-tile has no bake "
            "(stages with a bake: 1, 2, 3)",
        ),
        (["--reorder-at-stage", "7"], "--reorder-at-stage 7: route map-tile has 4 stages"),
    ],
)
def test_run_refuses_bad_options_before_applying_the_stack(argv, message):
    code, out, err = run("run", *argv)
    assert code == EXIT_CONFIG
    assert APPLYING not in out
    assert err.splitlines() == [
        "rehearsal run: invalid options or config for stack prod:",
        f"  {message}",
    ]


def test_run_refuses_an_invalid_config_before_applying_the_stack(tmp_path):
    stack_file = variant(tmp_path, FIVE_FIELD_CRON)
    code, out, err = run("run", "--stack-file", str(stack_file))
    assert code == EXIT_CONFIG
    assert APPLYING not in out
    assert "routes[0].canary.schedule: 'cron(0 10 * * MON-FRI)'" in err


def test_run_refuses_a_chart_path_that_is_a_folder(tmp_path):
    code, out, err = run("run", "--chart", str(tmp_path))
    assert code == EXIT_CONFIG
    assert APPLYING not in out
    assert f"--chart {tmp_path}: is a folder" in err


def test_run_refuses_a_chart_path_in_a_missing_folder(tmp_path):
    target = tmp_path / "missing" / "chart.png"
    code, out, err = run("run", "--chart", str(target))
    assert code == EXIT_CONFIG
    assert APPLYING not in out
    assert f"--chart {target}: the folder {target.parent} does not exist" in err


def test_serve_on_a_busy_port_exits_2_at_once_naming_it():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = run("serve", "--port", str(port))
    assert (code, out) == (EXIT_CONFIG, "")
    assert err.strip() == (
        f"--port {port}: 127.0.0.1:{port} is in use; choose another port, "
        "or --port 0 for a free one"
    )
