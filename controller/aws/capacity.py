"""CapacityPort on ECS and Application Auto Scaling: the service that takes a route back.

- ``ecs:DescribeServices`` gives the service's ``desiredCount`` and
  ``runningCount``; ``ecs:UpdateService`` sets ``desiredCount``.
- ``application-autoscaling:DescribeScalableTargets`` (namespace ``ecs``,
  resource id ``service/<cluster>/<service>``, dimension
  ``ecs:service:DesiredCount``) gives ``MinCapacity``/``MaxCapacity``;
  ``RegisterScalableTarget`` on the existing target with ``MinCapacity`` only
  changes the minimum and leaves every parameter not given as it is
  (Application Auto Scaling API Reference, RegisterScalableTarget: "Any
  parameters that you don't specify are not changed by this update request").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.aws.clients import aws_call
from controller.core.capacity import CapacityReading
from controller.core.contract import CapacityRecord
from controller.core.errors import AwsCallFailed

DESCRIBE_SERVICES = "ecs:DescribeServices"
UPDATE_SERVICE = "ecs:UpdateService"
DESCRIBE_SCALABLE_TARGETS = "application-autoscaling:DescribeScalableTargets"
REGISTER_SCALABLE_TARGET = "application-autoscaling:RegisterScalableTarget"

SERVICE_NAMESPACE = "ecs"
SCALABLE_DIMENSION = "ecs:service:DesiredCount"


def service_resource_id(cluster: str, service: str) -> str:
    """Application Auto Scaling's id of an ECS service: ``service/<cluster>/<service>``."""
    return f"service/{cluster}/{service}"


def resource_id(service: CapacityRecord) -> str:
    """:func:`service_resource_id` of the route's ``ecsService``."""
    return service_resource_id(service.cluster, service.service)


def read_scalable_target(autoscaling: Any, resource: str) -> tuple[int, int] | None:
    """``(MinCapacity, MaxCapacity)`` of the ECS service ``resource``'s target; None without one."""
    with aws_call(DESCRIBE_SCALABLE_TARGETS, resource):
        targets = (
            autoscaling.describe_scalable_targets(
                ServiceNamespace=SERVICE_NAMESPACE,
                ResourceIds=[resource],
                ScalableDimension=SCALABLE_DIMENSION,
            ).get("ScalableTargets")
            or []
        )
    if not targets:
        return None
    return int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"])


class EcsCapacity:
    """:class:`~controller.core.ports.CapacityPort` on the ``ecs`` and
    ``application-autoscaling`` boto3 clients.

    ``client`` returns the client of a service (``ClientFactory.client``); the
    two clients are built on first use, so a controller whose routes have no
    ``ecsService`` never pays for them on a cold start.
    """

    def __init__(self, client: Callable[[str], Any]) -> None:
        self._client = client

    @property
    def _ecs(self) -> Any:
        return self._client("ecs")

    @property
    def _autoscaling(self) -> Any:
        return self._client("application-autoscaling")

    def read_capacity(self, service: CapacityRecord) -> CapacityReading:
        """The service's counts and, if it has one, its scalable target's range."""
        with aws_call(DESCRIBE_SERVICES, resource_id(service)):
            answer = self._ecs.describe_services(
                cluster=service.cluster, services=[service.service]
            )
        found = [s for s in answer.get("services", []) if s.get("status") != "INACTIVE"]
        if not found:
            reasons = "; ".join(
                f"{f.get('arn', '?')}: {f.get('reason', '?')}" for f in answer.get("failures", [])
            )
            raise AwsCallFailed(
                f"ECS service {service.service} not found in cluster {service.cluster}"
                + (f" ({reasons})" if reasons else ""),
                arn=resource_id(service),
                api_call=DESCRIBE_SERVICES,
                error_code="ServiceNotFound",
            )
        ecs = found[0]
        target = read_scalable_target(self._autoscaling, resource_id(service))
        return CapacityReading(
            desired_count=int(ecs["desiredCount"]),
            running_count=int(ecs.get("runningCount", 0)),
            min_capacity=target[0] if target else None,
            max_capacity=target[1] if target else None,
        )

    def set_desired_count(self, service: CapacityRecord, desired_count: int) -> None:
        """UpdateService with ``desiredCount`` only."""
        with aws_call(UPDATE_SERVICE, resource_id(service)):
            self._ecs.update_service(
                cluster=service.cluster, service=service.service, desiredCount=desired_count
            )

    def set_min_capacity(self, service: CapacityRecord, min_capacity: int) -> None:
        """RegisterScalableTarget on the existing target with ``MinCapacity`` only."""
        with aws_call(REGISTER_SCALABLE_TARGET, resource_id(service)):
            self._autoscaling.register_scalable_target(
                ServiceNamespace=SERVICE_NAMESPACE,
                ResourceId=resource_id(service),
                ScalableDimension=SCALABLE_DIMENSION,
                MinCapacity=min_capacity,
            )
