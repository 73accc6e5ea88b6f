"""The canary controller of a stack, composed of small components.

One :class:`CanaryController` per stack declares:

- the DynamoDB table of route state and history (point-in-time recovery on);
- :class:`~components.dead_letter_queue.DeadLetterQueue`: the queue for failed
  alarm events and scheduled starts, and the alarm on its depth;
- :class:`~components.controller_function.ControllerFunction`: the controller
  Lambda (the runtime parts of ``controller/``), its log group, its role, and
  an on-failure destination for asynchronous (alarm) events;
- :class:`~components.canary_state_machine.CanaryStateMachine`: the Step
  Functions state machine (``controller.core.state_machine``) with logging to
  CloudWatch Logs and X-Ray tracing, and its role;
- per route, :class:`~components.failback.FailbackRule`: an EventBridge rule on
  the composite alarm going to ``ALARM``, targeting the controller, with
  retries and the dead-letter queue;
- the registry-sync rule (:func:`~components.registry_sync.registry_sync_rule`,
  a :class:`~components.controller_rule.ControllerRule`): an EventBridge rule on a
  route record of the registry being created or updated, targeting the
  controller (which reconciles the listener rule's target groups with it), with
  the same retries and dead-letter queue; then the queue's policy admitting
  exactly these rules;
- for the routes with ``canary.schedule``,
  :class:`~components.canary_schedules.CanarySchedules`: one EventBridge
  Scheduler schedule per route that starts the state machine, and their role;
- the stack's dashboard;
- :class:`~components.registry.ControllerRegistry`: the route registry in SSM
  (``controller/core/contract.py``), from which the controller Lambda and the
  operator CLI find everything by stack name.

Every role is least privilege; the documents come from
:mod:`components.controller_iam`, where each ``"*"`` is justified. Every
physical name comes from :mod:`components.naming`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.canary_schedules import (
    RELEASE_TRIGGER,
    CanarySchedules,
    CanarySchedulesArgs,
    ScheduledRoute,
)
from components.canary_state_machine import CanaryStateMachine, CanaryStateMachineArgs
from components.capacity_tick import capacity_tick_rule
from components.config import StackConfig
from components.controller_dashboard import DashboardRoute, build_dashboard
from components.controller_function import (
    CONTROLLER_MEMORY_MB,
    CONTROLLER_RESERVED_CONCURRENCY,
    CONTROLLER_SOURCE,
    CONTROLLER_TIMEOUT_SECONDS,
    ControllerFunction,
    ControllerFunctionArgs,
)
from components.controller_iam import ArnScope, dead_letter_queue_policy
from components.controller_route import ControllerRoute, StackRouteLike
from components.controller_rule import ControllerRule
from components.dead_letter_queue import DeadLetterQueue, DeadLetterQueueArgs
from components.failback import (
    ControllerTarget,
    FailbackRule,
    FailbackRuleArgs,
    failback_event_pattern,
)
from components.json_text import json_text
from components.limits import (
    ARCHITECTURES,
    LAYER_ARN,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_SECONDS,
    MIN_MEMORY_MB,
    MIN_TIMEOUT_SECONDS,
    NAME_SAFE,
    ROUTE_NAME,
)
from components.moved import FormerParent
from components.outputs import register_attributes
from components.registry import ControllerRegistry, ControllerRegistryArgs
from components.registry_sync import registry_sync_rule
from controller.core.contract import registry_path

__all__ = [
    "TYPE_TOKEN",
    "CanaryController",
    "CanaryControllerArgs",
    "ControllerConfigError",
    "ControllerRoute",
    "StackRouteLike",
    "failback_event_pattern",
]

TYPE_TOKEN = "strangler:controller:CanaryController"


class ControllerConfigError(ValueError):
    """The controller's arguments are invalid; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid canary controller arguments:\n  - " + "\n  - ".join(problems))


# --- args --------------------------------------------------------------------------


def _default_definition(controller_function_arn: str) -> dict[str, Any]:
    from controller.core.state_machine import build_definition

    return build_definition(controller_function_arn)


@dataclass
class CanaryControllerArgs:
    """Inputs of :class:`CanaryController`.

    ``stack`` is the Pulumi stack name (it goes into every physical name and
    the registry path). ``powertools_layer_arn``, when not empty, is the
    Powertools layer and must match ``architecture``; empty, the function uses
    the official layer of the project's Powertools release, read from its
    public SSM parameter (components/function_code.py). ``definition`` builds
    the state machine's ASL from the controller function's ARN.
    """

    stack: str
    routes: Sequence[ControllerRoute]
    topic_arn: pulumi.Input[str]
    powertools_layer_arn: str = ""
    architecture: str = "x86_64"
    log_retention_days: int = 30
    timeout_seconds: int = CONTROLLER_TIMEOUT_SECONDS
    memory_mb: int = CONTROLLER_MEMORY_MB
    reserved_concurrency: int | None = CONTROLLER_RESERVED_CONCURRENCY
    source_dir: Path = CONTROLLER_SOURCE
    definition: Callable[[str], dict[str, Any]] = field(default=_default_definition)

    @staticmethod
    def for_stack(
        stack: str,
        config: StackConfig,
        routes: Sequence[StackRouteLike],
        topic_arn: pulumi.Input[str],
    ) -> CanaryControllerArgs:
        """The controller of a parsed stack config and its route components.

        The Powertools layer is the stack's ``powertoolsLayerArn`` when set, else
        the official layer of the project's Powertools release, for the
        controller's runtime and architecture.
        """
        return CanaryControllerArgs(
            stack=stack,
            routes=[ControllerRoute.from_route(route, config.listener_arn) for route in routes],
            topic_arn=topic_arn,
            powertools_layer_arn=config.powertools_layer_arn or "",
            architecture="x86_64",
            log_retention_days=config.log_retention_days,
        )

    def validate(self) -> None:
        """Raise :class:`ControllerConfigError` listing every problem.

        Names are not checked for length: :mod:`components.naming` fits every
        name into its service's limit.
        """
        problems: list[str] = []
        if not NAME_SAFE.match(self.stack):
            problems.append(
                f"stack {self.stack!r}: must be letters, digits, '-' or '_' (it is part of "
                "Lambda, SQS, EventBridge and Scheduler names)"
            )
        if not self.routes:
            problems.append("routes: the controller needs at least one route")
        seen: set[str] = set()
        for index, route in enumerate(self.routes):
            where = f"routes[{index}] ({route.name!r})"
            if not ROUTE_NAME.match(route.name):
                problems.append(f"{where}: name must match {ROUTE_NAME.pattern}")
            if route.name in seen:
                problems.append(f"{where}: duplicate route name")
            seen.add(route.name)
            if not route.plan.stages:
                problems.append(f"{where}: the plan has no stages")
            if route.schedule is None and route.timezone is not None:
                problems.append(f"{where}: timezone {route.timezone!r} is set without a schedule")
        if self.powertools_layer_arn and not LAYER_ARN.match(self.powertools_layer_arn):
            problems.append(f"powertools_layer_arn {self.powertools_layer_arn!r}: not a layer ARN")
        if self.architecture not in ARCHITECTURES:
            problems.append(f"architecture {self.architecture!r}: one of {ARCHITECTURES}")
        if not MIN_TIMEOUT_SECONDS <= self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            problems.append(
                f"timeout_seconds {self.timeout_seconds}: must be "
                f"{MIN_TIMEOUT_SECONDS}..{MAX_TIMEOUT_SECONDS}"
            )
        if not MIN_MEMORY_MB <= self.memory_mb <= MAX_MEMORY_MB:
            problems.append(f"memory_mb {self.memory_mb}: must be {MIN_MEMORY_MB}..{MAX_MEMORY_MB}")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            problems.append(f"reserved_concurrency {self.reserved_concurrency}: must be >= 1")
        if self.log_retention_days < 1:
            problems.append(f"log_retention_days {self.log_retention_days}: must be >= 1")
        if not (self.source_dir / "handler.py").is_file():
            problems.append(f"source_dir {self.source_dir}: has no handler.py")
        if problems:
            raise ControllerConfigError(problems)


# --- the component -----------------------------------------------------------------


def _dashboard_body(stack: str, routes: Sequence[ControllerRoute], values: list[Any]) -> str:
    """The dashboard JSON from ``[scope, function name, dlq name, dlq alarm arn, *routes]``."""
    scope: ArnScope = values[0]
    views = values[4:]
    return json_text(
        build_dashboard(
            stack=stack,
            region=scope.region,
            controller_function_name=values[1],
            dlq_name=values[2],
            dlq_alarm_arn=values[3],
            routes=[
                DashboardRoute(
                    name=route.name,
                    listener_arn=route.listener_arn,
                    lambda_target_group_arn=view[0],
                    ecs_target_group_arn=view[1],
                    function_name=view[2],
                    alarm_arns=(view[3], *(scope.alarm_arn(alarm) for alarm in view[4])),
                )
                for route, view in zip(routes, views, strict=True)
            ],
        )
    )


class CanaryController(pulumi.ComponentResource):
    """The stack's canary controller (see the module docstring)."""

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    state_machine_arn: pulumi.Output[str]
    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    dlq_arn: pulumi.Output[str]
    registry_path: str
    failback_rule_arns: dict[str, pulumi.Output[str]]
    registry_sync_rule_arn: pulumi.Output[str]
    schedule_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: CanaryControllerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        stack = args.stack
        child = pulumi.ResourceOptions(parent=self)
        # The sub-components' children used to be declared directly here.
        former = FormerParent(resource=self, name=name)
        topic_arn = pulumi.Output.from_input(args.topic_arn)

        table = aws.dynamodb.Table(
            f"{name}-table",
            name=naming.table_name(stack),
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            range_key="sk",
            attributes=[{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
            point_in_time_recovery={"enabled": True},
            # No deletion protection: `pulumi destroy` is the documented last-resort
            # failover (docs/architecture.md, failure path 4) and must not stop half way.
            # Deleting a table with PITR on leaves a system backup for 35 days
            # (DynamoDB Developer Guide, point-in-time recovery), so the history
            # survives a destroy.
            deletion_protection_enabled=False,
            # A fixed name (components/naming.py): the old table goes first. No
            # config key can replace it; only a change of its name or key schema
            # in this file does, and that loses the routes' state (locks, last
            # written weights) along with the table.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        dlq = DeadLetterQueue(
            f"{name}-dlq",
            DeadLetterQueueArgs(stack=stack, topic_arn=topic_arn, former_parent=former),
            opts=child,
        )
        function = ControllerFunction(
            f"{name}-function",
            ControllerFunctionArgs(
                stack=stack,
                powertools_layer_arn=args.powertools_layer_arn,
                architecture=args.architecture,
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                reserved_concurrency=args.reserved_concurrency,
                log_retention_days=args.log_retention_days,
                source_dir=args.source_dir,
                rule_arns=[route.rule_arn for route in args.routes],
                function_names=[route.function_name for route in args.routes],
                ecs_services=[
                    (route.capacity.cluster, route.capacity.service)
                    for route in args.routes
                    if route.capacity is not None
                ],
                table_arn=table.arn,
                topic_arn=topic_arn,
                dlq_arn=dlq.queue_arn,
                former_parent=former,
                check_function_names=[
                    route.check_function_name
                    for route in args.routes
                    if route.check_function_name is not None
                ],
            ),
            opts=child,
        )
        account = function.scope.apply(lambda scope: scope.account)
        machine = CanaryStateMachine(
            f"{name}-state-machine",
            CanaryStateMachineArgs(
                stack=stack,
                controller_function_arn=function.function_arn,
                account=account,
                log_retention_days=args.log_retention_days,
                definition=args.definition,
                former_parent=former,
            ),
            opts=child,
        )

        # Every rule that invokes the controller: failback, registry sync, capacity tick.
        target = ControllerTarget(
            function_name=function.function_name,
            function_arn=function.function_arn,
            dlq_arn=dlq.queue_arn,
        )
        self.failback_rule_arns = {
            route.name: FailbackRule(
                f"{name}-{route.name}-failback",
                FailbackRuleArgs(
                    stack=stack,
                    route=route.name,
                    composite_alarm_arn=route.composite_alarm_arn,
                    controller=target,
                    former_parent=former,
                ),
                opts=child,
            ).rule_arn
            for route in args.routes
        }
        self.registry_sync_rule_arn = ControllerRule(
            f"{name}-registry-sync", registry_sync_rule(stack), target, opts=child
        ).rule_arn
        self.capacity_tick_rule_arn: pulumi.Output[str] | None = None
        tick_rules: list[pulumi.Output[str]] = []
        if any(route.capacity is not None for route in args.routes):
            self.capacity_tick_rule_arn = ControllerRule(
                f"{name}-capacity-tick", capacity_tick_rule(stack), target, opts=child
            ).rule_arn
            tick_rules.append(self.capacity_tick_rule_arn)
        # EventBridge delivers a failed event to the queue only if its policy
        # admits the rule, so the policy lists exactly the rules above.
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=dlq.queue_url,
            policy=pulumi.Output.all(
                dlq.queue_arn,
                pulumi.Output.all(
                    *self.failback_rule_arns.values(), self.registry_sync_rule_arn, *tick_rules
                ),
            ).apply(lambda v: json_text(dead_letter_queue_policy(v[0], v[1]))),
            # One policy per queue: a replacement set before the old one is
            # deleted would be deleted with it, so the old one goes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        scheduled = [
            ScheduledRoute(route.name, route.schedule, route.timezone, route.plan)
            for route in args.routes
            if route.schedule is not None
        ]
        # release.schedule: new versions of a promoted route go live at these times.
        scheduled += [
            ScheduledRoute(
                route.name, route.release.schedule, route.timezone, route.plan, RELEASE_TRIGGER
            )
            for route in args.routes
            if route.release is not None and route.release.schedule is not None
        ]
        self.schedule_arns = {}
        if scheduled:
            self.schedule_arns = CanarySchedules(
                f"{name}-scheduler",
                CanarySchedulesArgs(
                    stack=stack,
                    routes=scheduled,
                    state_machine_arn=machine.arn,
                    dlq_arn=dlq.queue_arn,
                    account=account,
                    former_parent=former,
                ),
                opts=child,
            ).arns

        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=naming.dashboard_name(stack),
            dashboard_body=pulumi.Output.all(
                function.scope,
                function.function_name,
                dlq.queue_name,
                dlq.alarm_arn,
                *[
                    pulumi.Output.all(
                        route.lambda_target_group_arn,
                        route.ecs_target_group_arn,
                        route.function_name,
                        route.composite_alarm_arn,
                        route.alarm_names,
                    )
                    for route in args.routes
                ],
            ).apply(lambda values: _dashboard_body(stack, args.routes, values)),
            # A fixed name (components/naming.py): the old dashboard goes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        ControllerRegistry(
            f"{name}-registry",
            ControllerRegistryArgs(
                stack=stack,
                routes=args.routes,
                table_name=table.name,
                state_machine_arn=machine.arn,
                topic_arn=topic_arn,
                controller_function_name=function.function_name,
                dashboard_name=dashboard.dashboard_name,
                former_parent=former,
            ),
            opts=child,
        )

        self.function_name = function.function_name
        self.function_arn = function.function_arn
        self.state_machine_arn = machine.arn
        self.table_name = table.name
        self.table_arn = table.arn
        self.dashboard_name = dashboard.dashboard_name
        self.dlq_url = dlq.queue_url
        self.dlq_arn = dlq.queue_arn
        self.registry_path = registry_path(stack)
        register_attributes(
            self,
            "function_name",
            "function_arn",
            "state_machine_arn",
            "table_name",
            "dashboard_name",
            "dlq_url",
            "registry_path",
            "failback_rule_arns",
            "registry_sync_rule_arn",
            "capacity_tick_rule_arn",
            "schedule_arns",
        )
