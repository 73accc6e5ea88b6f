"""``python -m controller preflight`` through its real entry point, against ``rehearsal serve``.

One served twin per module (per xdist worker): the example stack
(``Pulumi.prod.yaml``) applied to a moto server on 127.0.0.1, with the
brownfield it points at. The module adds what the broken configs point at
(a target group in another VPC, a ``lambda`` target group, a foreign rule, a
network load balancer) and writes each variant of the stack file to a
temporary folder: the twin's ARNs are the emulator's, not the stack file's,
so every variant starts from the example stack with the twin's listener and
ECS target group ARNs.

A few tests run the CLI in a subprocess with fake credentials, as an operator
would (``python -m controller preflight ...``); the others call the same entry
point, ``main([...])``, in this process with the same arguments and
credentials, which saves an interpreter start per test. The test of a name
too long needs in-process too: it patches :mod:`components.naming`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from controller.cli.main import Io, main
from rehearsal.serve import serve
from rehearsal.world.twin import Twin
from tests.processes import FAKE_CREDENTIALS, run_python

pytestmark = pytest.mark.own_stack

PROJECT = Path(__file__).resolve().parents[2]
STACK = "prod"
ROUTE = "map-tile"
# The priority of the foreign rule this module puts on the listener.
FOREIGN_PRIORITY = 200


@dataclass(frozen=True)
class Served:
    """The served twin, and the brownfield extras the broken configs point at."""

    twin: Twin
    endpoint: str
    region: str
    listener_arn: str
    ecs_target_group_arn: str
    other_vpc_target_group_arn: str
    lambda_target_group_arn: str
    network_listener_arn: str
    files: Path

    def stack_file(self, name: str, **route_changes: Any) -> Path:
        """The example stack with the twin's ARNs, ``route_changes`` applied to its route."""
        config = dict(yaml.safe_load((PROJECT / f"Pulumi.{STACK}.yaml").read_text())["config"])
        config["strangler:listenerArn"] = route_changes.pop("listenerArn", self.listener_arn)
        (route,) = config["strangler:routes"]
        route = {**route, "ecsTargetGroupArn": self.ecs_target_group_arn, **route_changes}
        config["strangler:routes"] = [route]
        path = self.files / f"Pulumi.preflight-{name}.yaml"
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        return path


def _extras(twin: Twin) -> dict[str, str]:
    """What the broken configs point at, created next to the twin's brownfield."""
    kwargs = twin.emulator.client_kwargs()
    ec2 = boto3.client("ec2", **kwargs)
    elbv2 = boto3.client("elbv2", **kwargs)
    brownfield = twin.brownfield
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]

    def target_group(name: str, **settings: Any) -> str:
        created = elbv2.create_target_group(Name=name, **settings)
        return str(created["TargetGroups"][0]["TargetGroupArn"])

    def balancer(name: str, kind: str) -> tuple[str, str]:
        arn = elbv2.create_load_balancer(
            Name=name, Subnets=list(brownfield.subnet_ids[:2]), Type=kind
        )["LoadBalancers"][0]["LoadBalancerArn"]
        protocol = "HTTP" if kind == "application" else "TCP"
        group = target_group(
            f"{name}-tg", Protocol=protocol, Port=80, VpcId=brownfield.vpc_id, TargetType="ip"
        )
        listener = elbv2.create_listener(
            LoadBalancerArn=arn,
            Protocol=protocol,
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )["Listeners"][0]["ListenerArn"]
        return str(arn), str(listener)

    # A rule of somebody else on the served listener: another path, no tags.
    elbv2.create_rule(
        ListenerArn=brownfield.listener_arn,
        Priority=FOREIGN_PRIORITY,
        Conditions=[{"Field": "path-pattern", "Values": ["/billing/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": brownfield.monolith_target_group_arn}],
    )
    # moto 5.2.5 gives a network load balancer's listener an ARN with
    # "listener/app/", which the config accepts; AWS would say "listener/net/".
    _, network_listener = balancer("pf-network", "network")
    return {
        "other_vpc_target_group_arn": target_group(
            "pf-other-vpc", Protocol="HTTP", Port=80, VpcId=other_vpc, TargetType="ip"
        ),
        "lambda_target_group_arn": target_group("pf-lambda", TargetType="lambda"),
        "network_listener_arn": network_listener,
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``serve`` of the example stack in a thread on a free port, plus the extras."""
    stop = threading.Event()
    ready = threading.Event()
    twins: list[Twin] = []
    errors: list[BaseException] = []

    def on_ready(twin: Twin) -> None:
        twins.append(twin)
        ready.set()

    def target() -> None:
        try:
            serve(STACK, PROJECT, port=0, rate=0, out=io.StringIO(), stop=stop, on_ready=on_ready)
        except BaseException as error:
            errors.append(error)
            ready.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert ready.wait(timeout=180), "serve did not come up"
    assert not errors, errors
    twin = twins[0]
    try:
        yield Served(
            twin=twin,
            endpoint=str(twin.emulator.endpoint_url),
            region=twin.emulator.region,
            listener_arn=twin.brownfield.listener_arn,
            ecs_target_group_arn=twin.brownfield.ecs_target_group_arns[ROUTE],
            files=tmp_path_factory.mktemp("preflight-stacks"),
            **_extras(twin),
        )
    finally:
        stop.set()
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def account_settings_served(served: Served) -> Served:
    """The served twin, once its Lambda answers GetAccountSettings (a twin patch)."""
    client = boto3.client("lambda", **served.twin.emulator.client_kwargs())
    try:
        client.get_account_settings()
    except ClientError as error:
        pytest.skip(
            "the twin does not answer Lambda GetAccountSettings yet (moto 5.2.5: 404 'Not yet "
            f"implemented'; rehearsal/world/moto_patches.py adds it): {error}"
        )
    return served


def fake_env() -> dict[str, str]:
    """Fake credentials only: no profile, config file or endpoint leaks in from the host."""
    return {**os.environ, **FAKE_CREDENTIALS}


def _argv(
    served: Served, stack_file: Path, extra: tuple[str, ...], endpoint: str | None
) -> list[str]:
    return [
        "preflight",
        "--stack-file",
        str(stack_file),
        "--endpoint-url",
        endpoint or served.endpoint,
        *extra,
    ]


def preflight(
    served: Served, stack_file: Path, *extra: str, endpoint: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m controller preflight --stack-file F --endpoint-url E [extra]``, a subprocess."""
    return run_python(
        "-m", "controller", *_argv(served, stack_file, extra, endpoint), cwd=PROJECT, env=fake_env()
    )


@pytest.fixture
def in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The same command through ``main([...])`` in this process (no interpreter start-up).

    Only the process differs from :func:`preflight`: the arguments, the entry
    point, the fake credentials and the endpoint are the same.
    """
    for key, value in fake_env().items():
        monkeypatch.setenv(key, value)

    def run(
        served: Served, stack_file: Path, *extra: str, endpoint: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        argv = _argv(served, stack_file, extra, endpoint)
        code = main(argv, io=Io(stdout=out, stderr=err, env=dict(os.environ)))
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

    return run


def problem_lines(completed: subprocess.CompletedProcess[str]) -> list[str]:
    """The problem lines of the text report (indented under their check)."""
    return [line.strip() for line in completed.stdout.splitlines() if line.startswith("  ")]


def checks(completed: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """The ``--json`` document's checks by name."""
    return {check["check"]: check for check in json.loads(completed.stdout)["checks"]}


# --------------------------------------------------------------------------- all pass


def test_the_example_stack_passes_every_check(account_settings_served):
    served = account_settings_served
    completed = preflight(served, served.stack_file("example"), "--json")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document = json.loads(completed.stdout)
    assert (document["stack"], document["region"], document["ok"]) == (
        STACK,
        served.region,
        True,
    )
    found = checks(completed)
    assert {name: check["status"] for name, check in found.items()} == {
        "listener": "pass",
        "target-groups": "pass",
        "priorities": "pass",
        "capacity": "pass",
        "concurrency": "pass",
        "names": "pass",
    }
    # The served stack is deployed: priority 100 is its own rule, known from its
    # registry; 99 its preview rule, known from its tags and conditions.
    assert found["priorities"]["summary"].startswith("0 free, 2 held by this stack's own rules")


def test_the_text_report_says_it_passed(account_settings_served):
    served = account_settings_served
    completed = preflight(served, served.stack_file("example-text"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.splitlines()[-1] == "preflight passed: ready for pulumi up"


# --------------------------------------------------------------------------- listener


def test_missing_listener_exits_1_naming_listener_arn(account_settings_served, in_process):
    served = account_settings_served
    missing = served.listener_arn.rsplit("/", 1)[0] + "/0123456789abcdef"
    completed = in_process(served, served.stack_file("no-listener", listenerArn=missing))
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert f"listenerArn: listener {missing} does not exist in this account/Region" in (
        problem_lines(completed)
    )
    assert "SKIPPED priorities" in completed.stdout


def test_listener_of_a_load_balancer_that_is_not_application_exits_1(
    account_settings_served, in_process
):
    served = account_settings_served
    path = served.stack_file("not-alb", listenerArn=served.network_listener_arn)
    completed = in_process(served, path, "--json")
    assert completed.returncode == 1, completed.stdout + completed.stderr
    (problem,) = checks(completed)["listener"]["problems"]
    assert problem["key"] == "listenerArn"
    assert "of type network, not an Application Load Balancer" in problem["message"]


def test_network_load_balancer_listener_is_refused_by_the_config(served, in_process):
    # As AWS spells a network load balancer's listener.
    net_arn = served.network_listener_arn.replace(":listener/app/", ":listener/net/")
    path = served.stack_file("nlb", listenerArn=net_arn)
    completed = in_process(served, path)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "listenerArn: " in completed.stderr
    assert "is not an Application Load Balancer listener ARN" in completed.stderr


# --------------------------------------------------------------------------- target groups


def test_target_group_in_another_vpc_exits_1_naming_both_vpcs(account_settings_served, in_process):
    served = account_settings_served
    path = served.stack_file("other-vpc", ecsTargetGroupArn=served.other_vpc_target_group_arn)
    completed = in_process(served, path)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    (line,) = problem_lines(completed)
    assert line.startswith("routes[0].ecsTargetGroupArn: target group pf-other-vpc is in vpc-")
    assert line.endswith(f", the ALB is in {served.twin.brownfield.vpc_id}")


def test_target_group_of_type_lambda_exits_1(account_settings_served, in_process):
    served = account_settings_served
    path = served.stack_file("lambda-tg", ecsTargetGroupArn=served.lambda_target_group_arn)
    completed = in_process(served, path)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert any(
        line.startswith("routes[0].ecsTargetGroupArn: target group pf-lambda has target type "
                        "lambda; an ECS target group has ip or instance")
        for line in problem_lines(completed)
    )  # fmt: skip


def test_missing_target_group_exits_1(account_settings_served, in_process):
    served = account_settings_served
    missing = served.ecs_target_group_arn.rsplit("/", 1)[0] + "/0123456789abcdef"
    completed = in_process(served, served.stack_file("no-tg", ecsTargetGroupArn=missing))
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert f"routes[0].ecsTargetGroupArn: target group {missing} does not exist" in (
        problem_lines(completed)
    )


# --------------------------------------------------------------------------- priorities


@pytest.mark.parametrize(
    ("name", "overrides", "problem"),
    [
        (
            "taken",
            {"priority": FOREIGN_PRIORITY},
            f"routes[0].priority: priority {FOREIGN_PRIORITY} is taken",
        ),
        (
            "preview-taken",
            {"priority": 300, "preview": {"priority": FOREIGN_PRIORITY}},
            f"routes[0].preview.priority: priority {FOREIGN_PRIORITY} of the route's preview "
            "rule is taken",
        ),
    ],
    ids=["weighted-rule", "preview-rule"],
)
def test_a_priority_taken_by_a_foreign_rule_exits_1(
    account_settings_served, in_process, name, overrides, problem
):
    served = account_settings_served
    completed = in_process(served, served.stack_file(name, **overrides))
    assert completed.returncode == 1, completed.stdout + completed.stderr
    (line,) = problem_lines(completed)
    assert line.startswith(
        f"{problem} on the listener by a rule of no Strangler stack: arn:aws:elasticloadbalancing:"
    ), line


def test_priority_held_by_another_stacks_rule_exits_1(account_settings_served, in_process):
    """The same route, conditions and tag, but the prod stack's registry records the rule."""
    served = account_settings_served
    completed = in_process(served, served.stack_file("other-stack"), "--stack", "pf")
    assert completed.returncode == 1, completed.stdout + completed.stderr
    weighted, preview = problem_lines(completed)
    assert weighted.startswith(
        "routes[0].priority: priority 100 is taken on the listener by stack prod's rule for "
        "route map-tile"
    )
    # The preview rule next to it is prod's too: tagged for the route, prod records the rule.
    assert preview.startswith(
        "routes[0].preview.priority: priority 99 of the route's preview rule is taken on the "
        "listener by stack prod's preview rule for route map-tile"
    )


# --------------------------------------------------------------------------- capacity


def test_the_brownfields_ecs_service_and_scalable_target_pass(account_settings_served, in_process):
    served = account_settings_served
    completed = in_process(served, served.stack_file("capacity"), "--json")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert checks(completed)["capacity"]["summary"] == (
        "1 ECS service ACTIVE, each with a scalable target"
    )


def test_missing_ecs_service_exits_1_naming_the_service(account_settings_served, in_process):
    served = account_settings_served
    path = served.stack_file("no-svc", ecsService={"cluster": "common-api", "service": "nope"})
    completed = in_process(served, path)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert problem_lines(completed) == [
        "routes[0].ecsService.service: service nope does not exist in cluster common-api (MISSING)"
    ]


# --------------------------------------------------------------------------- concurrency


def test_account_concurrency_250_exits_1_naming_the_reserved_concurrency(
    account_settings_served,
):
    """What ``rehearsal serve --account-concurrency 250`` sets, on the served example stack."""
    from rehearsal.world.moto_patches import set_account_concurrency

    served = account_settings_served
    previous = set_account_concurrency(250)
    try:
        completed = preflight(served, served.stack_file("account-250"))
    finally:
        set_account_concurrency(previous)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    (line,) = problem_lines(completed)
    assert line.startswith(
        "routes[0].function.reservedConcurrency: the stack reserves 210 concurrent executions "
        "(routes[0].function.reservedConcurrency 200 + controller 10)"
    )
    assert "that would leave 40 unreserved" in line


def test_reserved_concurrency_above_the_account_exits_1(account_settings_served, in_process):
    served = account_settings_served
    function = dict(yaml.safe_load((PROJECT / f"Pulumi.{STACK}.yaml").read_text())["config"][
        "strangler:routes"][0]["function"], reservedConcurrency=900)  # fmt: skip
    completed = in_process(served, served.stack_file("greedy", function=function), "--json")
    assert completed.returncode == 1, completed.stdout + completed.stderr
    (problem,) = checks(completed)["concurrency"]["problems"]
    assert problem["key"] == "routes[0].function.reservedConcurrency"
    assert "the stack reserves 910" in problem["message"]


# --------------------------------------------------------------------------- names


def test_a_name_too_long_exits_1_naming_the_route(account_settings_served, in_process, monkeypatch):
    """The program cannot produce one today (components/naming.py fits every name into its
    limit), so the naming is patched in this process, which is why this runs ``main``."""
    from components import naming

    served = account_settings_served
    long_name = "sl-" + "x" * 37
    monkeypatch.setattr(naming, "target_group_name", lambda stack, route: long_name)
    completed = in_process(served, served.stack_file("long-name"))
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert problem_lines(completed) == [
        f"routes[0].name: target group name {long_name!r} is 40 characters; "
        "ELB CreateTargetGroup Name allows 1-32"
    ]


def test_a_stack_name_that_would_break_the_names_is_a_config_error(served, in_process):
    completed = in_process(served, served.stack_file("long-stack"), "--stack", "a-very-long-stack")
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "stack 'a-very-long-stack': is 17 characters, at most 12" in completed.stderr


# --------------------------------------------------------------------------- errors


def test_config_error_exits_2_naming_the_key(served, in_process):
    path = served.stack_file("bad-priority", priority=0)
    completed = in_process(served, path)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "routes[0].priority: 0 is below the minimum 1" in completed.stderr


def test_unreachable_aws_exits_3_naming_the_call(served):
    completed = preflight(served, served.stack_file("unreachable"), endpoint="http://127.0.0.1:9")
    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert "elasticloadbalancing:DescribeListeners" in completed.stderr
