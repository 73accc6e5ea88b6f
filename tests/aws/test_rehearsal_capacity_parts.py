"""The twin's ECS service, its autoscaler and Lambda's ConcurrentExecutions, on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.aws.concurrency import LambdaConcurrency
from rehearsal.scenario.autoscaler import EcsAutoscaler
from rehearsal.scenario.concurrency import ConcurrencyMeter
from rehearsal.world.brownfield import (
    ECS_DESIRED_COUNT,
    ECS_MAX_CAPACITY,
    ECS_MIN_CAPACITY,
    create_brownfield,
)
from rehearsal.world.emulator import in_process
from rehearsal.world.stack_files import load_stack_config

PROJECT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-1"


@pytest.fixture
def emulator():
    with in_process(REGION, managed_policies=False) as emulator:
        yield emulator


def test_brownfield_service_and_the_autoscaler_that_respects_min(emulator) -> None:
    brownfield = create_brownfield(load_stack_config(PROJECT, "prod"), emulator)
    assert brownfield.ecs_services == {"map-tile": ("common-api", "common-api-svc")}
    scaler = EcsAutoscaler(
        emulator.client("ecs"),
        emulator.client("application-autoscaling"),
        "common-api",
        "common-api-svc",
    )
    assert scaler.desired_count() == ECS_DESIRED_COUNT
    assert scaler.range() == (ECS_MIN_CAPACITY, ECS_MAX_CAPACITY)
    # Unpinned, the service scales in to what the autoscaler asks.
    scaled = scaler.scale_in(3)
    assert (scaled.before, scaled.after) == (ECS_DESIRED_COUNT, 3)
    assert scaler.desired_count() == 3
    # Pinned at 12, it stays there.
    emulator.client("ecs").update_service(
        cluster="common-api", service="common-api-svc", desiredCount=12
    )
    emulator.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/common-api/common-api-svc",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=12,
    )
    kept = scaler.scale_in(3)
    assert (kept.before, kept.after, kept.min_capacity) == (12, 12, 12)
    assert "MinCapacity 12 keeps the service at 12" in kept.describe()


def test_concurrency_meter_counts_overlapping_holds_and_publishes(emulator) -> None:
    now = [100.0]
    cloudwatch = emulator.client("cloudwatch")
    meter = ConcurrencyMeter(
        cloudwatch, "strangler-prod-map-tile", hold_ms=2000, clock=lambda: now[0]
    )
    for i in range(10):  # 10 requests 0.1 s apart, each holding 2 s
        meter.record(100.0 + i / 10, 0.005)
    assert meter.in_flight(100.95) == 10
    assert meter.in_flight(102.05) == 9  # the first one ended at 102.0
    assert meter.in_flight(103.0) == 0
    meter.publish(meter.in_flight(100.95))  # what the thread does once a second
    peak = LambdaConcurrency(cloudwatch).peak_concurrency(
        "strangler-prod-map-tile",
        datetime.now(UTC) - timedelta(minutes=1),
        datetime.now(UTC) + timedelta(seconds=1),
    )
    assert peak == 10
