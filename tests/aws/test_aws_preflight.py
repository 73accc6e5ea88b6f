"""controller/cli/preflight_aws.py on moto: the ECS and Application Auto Scaling reads.

The rest of the reader runs against the twin (tests/twin/test_cli_preflight.py).
"""

from __future__ import annotations

from controller.aws.clients import ClientFactory
from controller.cli.preflight import EcsServiceFacts, ScalableTargetFacts
from controller.cli.preflight_aws import AwsAccountReader
from tests.aws_fixtures import REGION, ecs_service

CLUSTER, SERVICE = "common-api", "common-api-svc"


def make_service(factory: ClientFactory, *, scalable: bool) -> None:
    ecs_service(factory, CLUSTER, SERVICE, 12, scalable=(2, 40) if scalable else None)


def reader(factory: ClientFactory) -> AwsAccountReader:
    return AwsAccountReader(region=REGION, factory=factory)


def test_active_service_and_its_scalable_target(factory: ClientFactory) -> None:
    make_service(factory, scalable=True)
    assert reader(factory).ecs_service(CLUSTER, SERVICE) == EcsServiceFacts(
        CLUSTER, SERVICE, "ACTIVE", scalable_target=ScalableTargetFacts(2, 40)
    )


def test_service_without_a_scalable_target(factory: ClientFactory) -> None:
    make_service(factory, scalable=False)
    found = reader(factory).ecs_service(CLUSTER, SERVICE)
    assert (found.status, found.scalable_target) == ("ACTIVE", None)


def test_a_target_of_another_service_is_not_its_own(factory: ClientFactory) -> None:
    make_service(factory, scalable=False)
    ecs_service(factory, CLUSTER, "other-svc", 1, scalable=(1, 4), new_cluster=False)
    assert reader(factory).ecs_service(CLUSTER, SERVICE).scalable_target is None


def test_missing_service_is_a_failure_not_an_error(factory: ClientFactory) -> None:
    factory.client("ecs").create_cluster(clusterName=CLUSTER)
    assert reader(factory).ecs_service(CLUSTER, SERVICE) == EcsServiceFacts(
        CLUSTER, SERVICE, None, missing="MISSING"
    )


def test_missing_cluster(factory: ClientFactory) -> None:
    found = reader(factory).ecs_service(CLUSTER, SERVICE)
    assert (found.status, found.cluster_exists) == (None, False)
    assert found.missing == "ClusterNotFoundException"
