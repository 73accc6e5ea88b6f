"""No traceback reaches the user: an unexpected error is one line, through each entry point."""

from __future__ import annotations

import io

import pytest

import rehearsal.cli
from controller.cli.main import Io
from controller.cli.main import main as controller_main


class Boom(RuntimeError):
    pass


class ClientError(Exception):
    """Stands in for an SDK error: only its module is looked at."""


ClientError.__module__ = "botocore.exceptions"


@pytest.mark.parametrize(("error", "code"), [(Boom("disk on fire"), 1), (ClientError("x"), 3)])
def test_controller_reports_an_unexpected_error_in_one_line(error, code):
    def backend(_options):
        raise error

    out, err = io.StringIO(), io.StringIO()
    streams = Io(stdin=io.StringIO(""), stdout=out, stderr=err, env={})
    assert controller_main(["status"], io=streams, backend_factory=backend) == code
    lines = err.getvalue().splitlines()
    assert lines[0] == f"error: status failed: {type(error).__name__}: {error}"
    assert "Traceback" not in err.getvalue()


def test_rehearsal_reports_an_unexpected_error_in_one_line(monkeypatch):
    def broken(*_args, **_kwargs):
        raise Boom("disk on fire")

    monkeypatch.setattr(rehearsal.cli, "build_plan", broken)
    out, err = io.StringIO(), io.StringIO()
    assert rehearsal.cli.main(["plan"], out=out, err=err) == 1
    assert err.getvalue() == "rehearsal plan failed: Boom: disk on fire\n"


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_refuses_a_port_that_is_not_one(port, capsys):
    with pytest.raises(SystemExit) as done:
        rehearsal.cli.main(["serve", "--port", port])
    assert done.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_a_config_refusal_from_fault_names_the_default_stack(monkeypatch):
    # `fault` has no --stack: the refusal must still be one line, not an AttributeError.
    def refused(*_args, **_kwargs):
        raise rehearsal.cli.ConfigRejected(["strangler:routes: required"])

    monkeypatch.setattr(rehearsal.cli, "main_fault", refused)
    out, err = io.StringIO(), io.StringIO()
    argv = ["fault", "--endpoint-url", "http://127.0.0.1:1", "--route", "map-tile"]
    assert rehearsal.cli.main(argv, out=out, err=err) == rehearsal.cli.EXIT_CONFIG
    assert err.getvalue() == (
        f"invalid config for stack {rehearsal.cli.DEFAULT_STACK}:\nstrangler:routes: required\n"
    )
