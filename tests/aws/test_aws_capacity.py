"""controller/aws/capacity.py and concurrency.py: the guard's and the gate's adapters on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.aws.capacity import EcsCapacity
from controller.aws.clients import ClientFactory
from controller.aws.concurrency import LambdaConcurrency
from controller.core.contract import CapacityRecord
from controller.core.errors import AwsCallFailed
from tests.aws_fixtures import ecs_service

SERVICE = CapacityRecord(cluster="common-api", service="common-api-svc", hold_hours=72)


def make_service(factory: ClientFactory, desired: int, *, scalable: bool) -> None:
    ecs_service(
        factory, SERVICE.cluster, SERVICE.service, desired, scalable=(2, 40) if scalable else None
    )


def test_reads_and_pins_the_scalable_target(factory: ClientFactory) -> None:
    make_service(factory, 12, scalable=True)
    port = EcsCapacity(factory.client)
    reading = port.read_capacity(SERVICE)
    assert (reading.desired_count, reading.min_capacity, reading.max_capacity) == (12, 2, 40)
    port.set_min_capacity(SERVICE, 12)
    assert port.read_capacity(SERVICE).min_capacity == 12
    assert port.read_capacity(SERVICE).max_capacity == 40  # left as it was


def test_sets_the_desired_count(factory: ClientFactory) -> None:
    make_service(factory, 3, scalable=False)
    port = EcsCapacity(factory.client)
    assert port.read_capacity(SERVICE).min_capacity is None
    port.set_desired_count(SERVICE, 12)
    assert port.read_capacity(SERVICE).desired_count == 12


def test_a_missing_service_names_it(factory: ClientFactory) -> None:
    factory.client("ecs").create_cluster(clusterName=SERVICE.cluster)
    with pytest.raises(AwsCallFailed, match="common-api-svc not found in cluster common-api"):
        EcsCapacity(factory.client).read_capacity(SERVICE)


def put_concurrency(client: Any, function: str, value: float, at: datetime) -> None:
    client.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "ConcurrentExecutions",
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": at,
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def test_peak_concurrency_of_one_function(factory: ClientFactory) -> None:
    cloudwatch = factory.client("cloudwatch")
    now = datetime.now(UTC).replace(microsecond=0)
    put_concurrency(cloudwatch, "strangler-prod-map-tile", 7, now - timedelta(seconds=50))
    put_concurrency(cloudwatch, "strangler-prod-map-tile", 31, now - timedelta(seconds=20))
    put_concurrency(cloudwatch, "strangler-prod-other", 90, now - timedelta(seconds=20))
    port = LambdaConcurrency(cloudwatch)
    start, end = now - timedelta(minutes=2), now + timedelta(seconds=1)
    assert port.peak_concurrency("strangler-prod-map-tile", start, end) == 31
    assert port.peak_concurrency("strangler-prod-none", start, end) is None
    assert port.peak_concurrency("strangler-prod-map-tile", end, start) is None
