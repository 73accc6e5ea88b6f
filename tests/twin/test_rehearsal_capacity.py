"""The capacity guard and the concurrency gate on the twin: two rehearsals, one stack.

The example stack (``Pulumi.prod.yaml``: map-tile guards ``common-api-svc``,
whose brownfield service has 12 tasks and a scalable target of 2..40, and
gates at 80 % of its 200 reserved concurrency) is applied once for the
module. Two rehearsals run on it, each checked from several sides:

- ``--fail-after-promotion --scale-in``: promoted, the autoscaler cannot
  scale the service in below the pinned minimum, the alarm sends everything
  back to ECS, and the service has its baseline;
- ``--lambda-latency-ms 8000 --rate 200``: the function's concurrency at
  10 % times five is above 160, so the route pauses at the gate before 50 %.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.aws.registry import SsmRegistry
from controller.aws.state import DynamoState
from controller.core.contract import registry_path
from controller.core.lifecycle import Status
from controller.core.weights import ALL_ECS
from rehearsal.report.timeline import RehearsalReport
from rehearsal.run import add_run_arguments, options_from_args, rehearse
from rehearsal.world.brownfield import ECS_DESIRED_COUNT, ECS_MIN_CAPACITY
from rehearsal.world.emulator import Emulator, in_process
from rehearsal.world.twin import build_twin
from tests.twin.test_rehearsal_run import fresh_routes, live_weights

pytestmark = pytest.mark.own_stack

PROJECT = Path(__file__).resolve().parents[2]
STACK = "prod"
REGION = "ap-northeast-1"
ROUTE = "map-tile"
CLUSTER, SERVICE = "common-api", "common-api-svc"


@pytest.fixture(scope="module")
def prod() -> Iterator[tuple[Emulator, int]]:
    with in_process(REGION) as emulator:
        twin = build_twin(STACK, PROJECT, emulator)
        yield emulator, len(twin.applied.resources)


def ecs_service(emulator: Emulator) -> tuple[int, int]:
    """(desiredCount, MinCapacity) of the brownfield's service."""
    desired = emulator.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])
    target = emulator.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{CLUSTER}/{SERVICE}"]
    )["ScalableTargets"][0]
    return int(desired["services"][0]["desiredCount"]), int(target["MinCapacity"])


def run(prod: tuple[Emulator, int], *argv: str) -> RehearsalReport:
    """``python -m rehearsal run ARGV`` on the module's twin, from a fresh deploy."""
    emulator, resources = prod
    fresh_routes(emulator, STACK)
    emulator.client("ecs").update_service(
        cluster=CLUSTER, service=SERVICE, desiredCount=ECS_DESIRED_COUNT
    )
    emulator.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{CLUSTER}/{SERVICE}",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=ECS_MIN_CAPACITY,
    )
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    options = options_from_args(parser.parse_args(["--stack", STACK, *argv]))
    return rehearse(emulator, options, resources=resources)


@pytest.fixture(scope="module")
def failback(prod: tuple[Emulator, int]) -> tuple[RehearsalReport, Emulator]:
    # 200 rps and 1 s bakes: the shortest run whose 1 % stage still sees requests.
    return run(
        prod, "--fail-after-promotion", "--scale-in", "--rate", "200", "--bake-seconds", "1"
    ), prod[0]


@pytest.fixture(scope="module")
def gated(prod: tuple[Emulator, int]) -> tuple[RehearsalReport, Emulator]:
    return run(prod, "--lambda-latency-ms", "8000", "--rate", "200", "--bake-seconds", "3"), prod[0]


def test_failback_after_scale_in_restores_the_baseline(
    failback: tuple[RehearsalReport, Emulator],
) -> None:
    report, emulator = failback
    route = report.route(ROUTE)
    entry: dict[str, Any] = route.to_json()
    assert entry["outcome"] == "rolled_back", route.reason
    assert entry["final_weights"] == {"ecs": 100.0, "lambda": 0.0}
    assert live_weights(emulator) == ALL_ECS
    assert entry["failback_ms"] is not None and entry["failback_ms"] > 0
    assert entry["capacity"] == {
        "baseline_desired": ECS_DESIRED_COUNT,
        "min_pinned": ECS_DESIRED_COUNT,
        "desired_after_failback": ECS_DESIRED_COUNT,
    }
    assert ecs_service(emulator) == (ECS_DESIRED_COUNT, ECS_DESIRED_COUNT)
    events = [e.event for e in route.timeline]
    # Promoted first, then the autoscaler tried, then the alarm and the failback.
    assert events.index("finish") < events.index("scale_in") < events.index("alarm")
    assert events.index("alarm") < events.index("failback")
    [scale_in] = [e for e in route.timeline if e.event == "scale_in"]
    assert f"MinCapacity {ECS_DESIRED_COUNT} keeps the service at {ECS_DESIRED_COUNT}" in (
        scale_in.reason or ""
    )
    capacity = [e.reason or "" for e in route.timeline if e.event == "capacity"]
    assert any(r.startswith("capacity baseline recorded: ecs desired 12, min 2") for r in capacity)
    assert any(r.startswith("capacity hold after promotion") for r in capacity)
    assert any(r.startswith("failback capacity: found desired 12") for r in capacity)


def test_the_gate_pauses_before_the_stage_that_would_exceed_the_cap(
    gated: tuple[RehearsalReport, Emulator],
) -> None:
    report, emulator = gated
    route = report.route(ROUTE)
    entry = route.to_json()
    assert entry["outcome"] == "paused", route.reason
    reason = entry["reason"] or ""
    assert reason.startswith("concurrency gate: stage "), reason
    assert "of 200 reserved (80 % headroom = 160)" in reason
    assert reason.endswith("pausing")
    # The weights stay where the last verified stage left them: never 100 %.
    assert 0 < entry["final_weights"]["lambda"] < 100
    [gate] = [e for e in route.timeline if e.event == "gate"]
    assert gate.source == "controller" and gate.reason == reason
    record = SsmRegistry(emulator.client("ssm"), STACK, registry_path(STACK)).route(ROUTE)
    stack = SsmRegistry(emulator.client("ssm"), STACK, registry_path(STACK)).stack()
    state = DynamoState(emulator.client("dynamodb"), stack.table_name).load(ROUTE)
    assert state.status is Status.PAUSED and state.lock is None
    assert state.gate is not None and state.gate.blocked
    assert state.gate.reserved == 200 and record.gate is not None
    assert state.gate.needed > 160
