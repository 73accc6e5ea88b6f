"""The twin's ECS autoscaler: scales the monolith's service in, never below MinCapacity.

moto stores a scalable target but never scales anything. After a promotion
the monolith's traffic has fallen, and Application Auto Scaling would scale
the service in: this plays that, as the real one does, within the target's
``MinCapacity``..``MaxCapacity`` (Application Auto Scaling User Guide: scaling
policies never scale capacity outside the registered range). With the
capacity guard's pin in place the service keeps its baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SCALE_IN_TO", "EcsAutoscaler", "ScaleIn"]

# What the autoscaler asks for once the route's traffic is on Lambda: a
# quarter of the brownfield's 12 tasks.
SCALE_IN_TO = 3
DIMENSION = "ecs:service:DesiredCount"


@dataclass(frozen=True)
class ScaleIn:
    """One scale-in: what was asked, what the service had, what it has now, the minimum."""

    asked: int
    before: int
    after: int
    min_capacity: int | None

    def describe(self) -> str:
        """One line for the timeline."""
        floor = (
            "no scalable target"
            if self.min_capacity is None
            else f"MinCapacity {self.min_capacity}"
        )
        if self.after == self.before:
            return (
                f"the autoscaler asks for {self.asked} tasks; {floor} keeps the service at "
                f"{self.after}"
            )
        return (
            f"the autoscaler scales the service in from {self.before} to {self.after} tasks "
            f"(asked {self.asked}; {floor})"
        )


class EcsAutoscaler:
    """Application Auto Scaling's part for one ECS service, on the emulator's clients."""

    def __init__(self, ecs: Any, autoscaling: Any, cluster: str, service: str) -> None:
        self._ecs = ecs
        self._autoscaling = autoscaling
        self.cluster = cluster
        self.service = service

    def desired_count(self) -> int:
        """The service's desiredCount now."""
        found = self._ecs.describe_services(cluster=self.cluster, services=[self.service])
        return int(found["services"][0]["desiredCount"])

    def range(self) -> tuple[int | None, int | None]:
        """The scalable target's (MinCapacity, MaxCapacity); (None, None) without one."""
        targets = self._autoscaling.describe_scalable_targets(
            ServiceNamespace="ecs",
            ResourceIds=[f"service/{self.cluster}/{self.service}"],
            ScalableDimension=DIMENSION,
        ).get("ScalableTargets", [])
        if not targets:
            return None, None
        return int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"])

    def scale_in(self, to: int = SCALE_IN_TO) -> ScaleIn:
        """Scale the service in towards ``to``, respecting MinCapacity."""
        before = self.desired_count()
        low, _ = self.range()
        after = max(to, low) if low is not None else to
        after = min(after, before)  # scaling in never adds tasks
        if after != before:
            self._ecs.update_service(cluster=self.cluster, service=self.service, desiredCount=after)
        return ScaleIn(asked=to, before=before, after=after, min_capacity=low)
