"""controller/cli/preflight_aws.py on moto: the ECS and Application Auto Scaling reads.

The rest of the reader runs against the twin (tests/twin/test_cli_preflight.py).
"""

from __future__ import annotations

from controller.aws.clients import ClientFactory
from controller.cli.preflight import EcsServiceFacts, ScalableTargetFacts
from controller.cli.preflight_aws import AwsAccountReader
from tests.aws_fixtures import REGION

CLUSTER, SERVICE = "common-api", "common-api-svc"


def make_service(factory: ClientFactory, *, scalable: bool) -> None:
    ecs = factory.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(
        family="monolith", containerDefinitions=[{"name": "app", "image": "app", "memory": 512}]
    )
    ecs.create_service(
        cluster=CLUSTER, serviceName=SERVICE, taskDefinition="monolith", desiredCount=12
    )
    if scalable:
        factory.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{CLUSTER}/{SERVICE}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=2,
            MaxCapacity=40,
        )


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
    factory.client("ecs").create_service(
        cluster=CLUSTER, serviceName="other-svc", taskDefinition="monolith", desiredCount=1
    )
    factory.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{CLUSTER}/other-svc",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=4,
    )
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
