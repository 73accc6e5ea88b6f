"""The canary controller of a stack: function, state machine, table, failback path.

One :class:`CanaryController` per stack declares:

- the controller Lambda (packaged from ``controller/``), its log group, its role,
  and an on-failure destination for asynchronous (alarm) events;
- the Step Functions state machine (``controller.core.state_machine``) with logging
  to CloudWatch Logs and X-Ray tracing, and its role;
- the DynamoDB table of route state and history (point-in-time recovery on);
- per route: an EventBridge rule on the composite alarm going to ``ALARM``,
  targeting the controller, with retries and a dead-letter queue;
- per route with ``canary.schedule``: an EventBridge Scheduler schedule that
  starts the state machine, and the schedules' role;
- the dead-letter queue, its policy and an alarm on its depth;
- the stack's dashboard;
- the route registry in SSM (``controller/core/contract.py``), from which the
  controller Lambda and the operator CLI find everything by stack name.

Every role is least privilege; the documents come from
:mod:`components.controller_iam`, where each ``"*"`` is justified.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws

from components.config import StackConfig, default_powertools_layer_arn
from components.controller_dashboard import DashboardRoute, build_dashboard
from components.controller_iam import (
    ArnScope,
    ControllerPolicyInputs,
    assume_role_policy,
    controller_policy,
    dead_letter_queue_policy,
    render_policy,
    scheduler_policy,
    state_machine_arn,
    state_machine_policy,
)
from components.controller_registry import parameter_value, route_record, stack_record
from controller.core.contract import (
    ENV_REGISTRY_PATH,
    ENV_STACK,
    METRIC_NAMESPACE,
    PlanRecord,
    registry_path,
    route_parameter_name,
    stack_parameter_name,
)

TYPE_TOKEN = "strangler:controller:CanaryController"

#: The ``controller/`` package folder, zipped as ``controller/`` so that the
#: handler ``controller.handler.lambda_handler`` imports as in the repository.
CONTROLLER_SOURCE = Path(__file__).resolve().parent.parent / "controller"
HANDLER = "controller.handler.lambda_handler"
RUNTIME = "python3.12"
SERVICE_NAME = "strangler-controller"

# The controller answers Step Functions tasks and alarm events. Its AWS clients
# time out after 2 s (connect) / 5 s (read) with 3 attempts
# (controller/aws/clients.py): a healthy rollback takes about a second, and 30 s
# leaves its first write (ModifyRule) room for all its retries. Past that,
# Lambda retries the alarm event and Step Functions the task; a longer timeout
# would only delay those retries.
DEFAULT_TIMEOUT_SECONDS = 30
# More memory is more CPU: a cold start (boto3 + Powertools imports) is on the
# failback path.
DEFAULT_MEMORY_MB = 512
# Reserved concurrency guarantees the failback can run even when other functions
# of the account use up the unreserved pool (a traffic flood is exactly when the
# alarm fires); it also caps the controller's own parallelism. Lambda keeps
# throttled asynchronous events and retries them.
DEFAULT_RESERVED_CONCURRENCY = 10

# EventBridge -> controller (alarm failback). Delivery retries stop after this
# age and the event goes to the DLQ, whose alarm pages: a failback that could
# not be delivered within 5 minutes needs a human (`python -m controller rollback`).
FAILBACK_EVENT_MAX_AGE_SECONDS = 300
FAILBACK_MAX_RETRY_ATTEMPTS = 185  # EventBridge's maximum; the age above bounds it
# Lambda's own retries of an asynchronous event whose invocation failed (function
# error): 2 is the maximum, waiting about 1 then 2 minutes; then the DLQ.
ASYNC_MAX_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE_SECONDS = 600
# Scheduler -> state machine (scheduled runs): a start more than an hour late is
# dropped to the DLQ; the next scheduled run resumes from the stored stage.
SCHEDULE_MAX_EVENT_AGE_SECONDS = 3600
SCHEDULE_MAX_RETRY_ATTEMPTS = 5
# SQS: the longest retention (14 days), so a dead letter outlives a long weekend.
DLQ_RETENTION_SECONDS = 1_209_600

# Name limits from the AWS documentation.
MAX_FUNCTION_NAME = 64  # Lambda FunctionName
MAX_STATE_MACHINE_NAME = 80  # Step Functions CreateStateMachine name
MAX_RULE_NAME = 64  # EventBridge PutRule Name
MAX_SCHEDULE_NAME = 64  # EventBridge Scheduler CreateSchedule Name
MAX_QUEUE_NAME = 80  # SQS CreateQueue QueueName
_NAME_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_ROUTE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_LAYER_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
_ARCHITECTURES = ("x86_64", "arm64")


class ControllerConfigError(ValueError):
    """The controller's arguments are invalid; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid canary controller arguments:\n  - " + "\n  - ".join(problems))


# --- names -------------------------------------------------------------------------


def function_name(stack: str) -> str:
    """``strangler-<stack>-controller``."""
    return f"strangler-{stack}-controller"


def state_machine_name(stack: str) -> str:
    """``strangler-<stack>-canary``: explicit, so ARNs can be built without a cycle."""
    return f"strangler-{stack}-canary"


def table_name(stack: str) -> str:
    """``strangler-<stack>-state``: route state, locks and history."""
    return f"strangler-{stack}-state"


def dlq_name(stack: str) -> str:
    """``strangler-<stack>-controller-dlq``: failed alarm events and scheduled starts."""
    return f"strangler-{stack}-controller-dlq"


def dlq_alarm_name(stack: str) -> str:
    """``strangler-<stack>-controller-dlq``: pages when a delivery failed."""
    return f"strangler-{stack}-controller-dlq"


def dashboard_name(stack: str) -> str:
    """``strangler-<stack>``."""
    return f"strangler-{stack}"


def failback_rule_name(stack: str, route: str) -> str:
    """``strangler-<stack>-<route>-failback``."""
    return f"strangler-{stack}-{route}-failback"


def schedule_name(stack: str, route: str) -> str:
    """``strangler-<stack>-<route>-canary`` (in the ``default`` schedule group)."""
    return f"strangler-{stack}-{route}-canary"


def function_log_group_name(stack: str) -> str:
    """Lambda's default log group of the controller, created here to set retention."""
    return f"/aws/lambda/{function_name(stack)}"


def state_machine_log_group_name(stack: str) -> str:
    """Under ``/aws/vendedlogs/``: CloudWatch Logs (vended logs) then needs no per-group
    resource policy, whose 5120-character account quota many log groups would exhaust."""
    return f"/aws/vendedlogs/states/{state_machine_name(stack)}"


def schedule_input(route: str, plan: PlanRecord) -> dict[str, Any]:
    """The execution input of a scheduled run (``controller/core/state_machine.py``)."""
    return {"route": route, "trigger": "schedule", "actor": "schedule", "plan": plan.to_input()}


def failback_event_pattern(composite_alarm_arn: str) -> dict[str, Any]:
    """EventBridge pattern: this composite alarm entered ``ALARM``.

    CloudWatch emits "CloudWatch Alarm State Change" events with the alarm's ARN
    in ``resources`` and the new state in ``detail.state.value``.
    """
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [composite_alarm_arn],
        "detail": {"state": {"value": ["ALARM"]}},
    }


# --- args --------------------------------------------------------------------------


class _CanaryLike(Protocol):
    @property
    def schedule(self) -> str | None: ...

    @property
    def timezone(self) -> str | None: ...

    def plan_record(self) -> PlanRecord: ...


class _RouteConfigLike(Protocol):
    @property
    def canary(self) -> _CanaryLike: ...


class StackRouteLike(Protocol):
    """What :class:`ControllerRoute.from_route` reads of a route component."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> _RouteConfigLike: ...

    @property
    def rule_arn(self) -> pulumi.Output[str]: ...

    @property
    def ecs_target_group_arn(self) -> pulumi.Output[str]: ...

    @property
    def lambda_target_group_arn(self) -> pulumi.Output[str]: ...

    @property
    def function_name(self) -> pulumi.Output[str]: ...

    @property
    def composite_alarm_name(self) -> pulumi.Output[str]: ...

    @property
    def composite_alarm_arn(self) -> pulumi.Output[str]: ...

    @property
    def alarm_names(self) -> pulumi.Output[list[str]]: ...


@dataclass(frozen=True)
class ControllerRoute:
    """What the controller needs of one route."""

    name: str
    listener_arn: str
    plan: PlanRecord
    rule_arn: pulumi.Input[str]
    ecs_target_group_arn: pulumi.Input[str]
    lambda_target_group_arn: pulumi.Input[str]
    function_name: pulumi.Input[str]
    composite_alarm_name: pulumi.Input[str]
    composite_alarm_arn: pulumi.Input[str]
    alarm_names: pulumi.Input[Sequence[str]]
    schedule: str | None = None
    timezone: str | None = None

    @staticmethod
    def from_route(route: StackRouteLike, listener_arn: str) -> ControllerRoute:
        """From a ``StranglerRoute`` component and the stack's listener ARN."""
        canary = route.config.canary
        return ControllerRoute(
            name=route.name,
            listener_arn=listener_arn,
            plan=canary.plan_record(),
            rule_arn=route.rule_arn,
            ecs_target_group_arn=route.ecs_target_group_arn,
            lambda_target_group_arn=route.lambda_target_group_arn,
            function_name=route.function_name,
            composite_alarm_name=route.composite_alarm_name,
            composite_alarm_arn=route.composite_alarm_arn,
            alarm_names=route.alarm_names,
            schedule=canary.schedule,
            timezone=canary.timezone,
        )


def _default_definition(controller_function_arn: str) -> dict[str, Any]:
    from controller.core.state_machine import build_definition

    return build_definition(controller_function_arn)


@dataclass
class CanaryControllerArgs:
    """Inputs of :class:`CanaryController`.

    ``stack`` is the Pulumi stack name (it goes into every physical name and
    the registry path). ``powertools_layer_arn`` and ``architecture`` must
    match each other (the routes use the same layer). ``definition`` builds the
    state machine's ASL from the controller function's ARN.
    """

    stack: str
    routes: Sequence[ControllerRoute]
    topic_arn: pulumi.Input[str]
    powertools_layer_arn: str
    architecture: str = "x86_64"
    log_retention_days: int = 30
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB
    reserved_concurrency: int | None = DEFAULT_RESERVED_CONCURRENCY
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
        the official public layer for the controller's runtime and architecture
        in the stack's region (the routes' default too).
        """
        architecture = "x86_64"
        layer = config.powertools_layer_arn or default_powertools_layer_arn(
            config.region, RUNTIME, architecture, partition=config.partition
        )
        return CanaryControllerArgs(
            stack=stack,
            routes=[ControllerRoute.from_route(route, config.listener_arn) for route in routes],
            topic_arn=topic_arn,
            powertools_layer_arn=layer,
            architecture=architecture,
            log_retention_days=config.log_retention_days,
        )

    def validate(self) -> None:
        """Raise :class:`ControllerConfigError` listing every problem."""
        problems: list[str] = []
        stack = self.stack
        if not _NAME_SAFE.match(stack):
            problems.append(
                f"stack {stack!r}: must be letters, digits, '-' or '_' (it is part of "
                "Lambda, SQS, EventBridge and Scheduler names)"
            )
        for label, name, limit in (
            ("controller function name", function_name(stack), MAX_FUNCTION_NAME),
            ("state machine name", state_machine_name(stack), MAX_STATE_MACHINE_NAME),
            ("dead-letter queue name", dlq_name(stack), MAX_QUEUE_NAME),
        ):
            if len(name) > limit:
                problems.append(f"stack {stack!r}: {label} {name!r} exceeds {limit} characters")
        if not self.routes:
            problems.append("routes: the controller needs at least one route")
        seen: set[str] = set()
        for index, route in enumerate(self.routes):
            where = f"routes[{index}] ({route.name!r})"
            if not _ROUTE_NAME.match(route.name):
                problems.append(f"{where}: name must match {_ROUTE_NAME.pattern}")
            if route.name in seen:
                problems.append(f"{where}: duplicate route name")
            seen.add(route.name)
            if not route.plan.stages:
                problems.append(f"{where}: the plan has no stages")
            rule = failback_rule_name(stack, route.name)
            if len(rule) > MAX_RULE_NAME:
                problems.append(f"{where}: rule name {rule!r} exceeds {MAX_RULE_NAME} characters")
            if route.schedule is not None:
                sched = schedule_name(stack, route.name)
                if len(sched) > MAX_SCHEDULE_NAME:
                    problems.append(
                        f"{where}: schedule name {sched!r} exceeds {MAX_SCHEDULE_NAME} characters"
                    )
            elif route.timezone is not None:
                problems.append(f"{where}: timezone {route.timezone!r} is set without a schedule")
        if not _LAYER_ARN.match(self.powertools_layer_arn):
            problems.append(f"powertools_layer_arn {self.powertools_layer_arn!r}: not a layer ARN")
        if self.architecture not in _ARCHITECTURES:
            problems.append(f"architecture {self.architecture!r}: one of {_ARCHITECTURES}")
        # Lambda quotas: timeout 1-900 s, memory 128-10240 MB.
        if not 1 <= self.timeout_seconds <= 900:
            problems.append(f"timeout_seconds {self.timeout_seconds}: must be 1..900")
        if not 128 <= self.memory_mb <= 10240:
            problems.append(f"memory_mb {self.memory_mb}: must be 128..10240")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            problems.append(f"reserved_concurrency {self.reserved_concurrency}: must be >= 1")
        if self.log_retention_days < 1:
            problems.append(f"log_retention_days {self.log_retention_days}: must be >= 1")
        if not (self.source_dir / "handler.py").is_file():
            problems.append(f"source_dir {self.source_dir}: has no handler.py")
        if problems:
            raise ControllerConfigError(problems)


# --- the component -----------------------------------------------------------------


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


def _route_parameter_value(stack: str, route: ControllerRoute, values: list[Any]) -> str:
    """The registry value of one route, from its resolved outputs (in ``Output.all`` order)."""
    parameter = route_parameter_name(stack, route.name)
    record = route_record(
        route=route.name,
        listener_arn=route.listener_arn,
        rule_arn=values[0],
        ecs_target_group_arn=values[1],
        lambda_target_group_arn=values[2],
        function_name=values[3],
        composite_alarm_name=values[4],
        composite_alarm_arn=values[5],
        alarm_names=values[6],
        plan=route.plan,
        schedule_name=schedule_name(stack, route.name) if route.schedule else None,
        schedule=route.schedule,
        timezone=route.timezone,
    )
    return parameter_value(record, parameter)


def _dashboard_body(stack: str, routes: Sequence[ControllerRoute], values: list[Any]) -> str:
    """The dashboard JSON from ``[scope, function name, dlq name, dlq alarm arn, *routes]``."""
    scope: ArnScope = values[0]
    views = values[4:]
    return _json(
        build_dashboard(
            stack=stack,
            region=scope.region,
            controller_function_name=values[1],
            dlq_name=values[2],
            dlq_alarm_arn=values[3],
            controller_service=SERVICE_NAME,
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


@dataclass
class _Core:
    """Stack-wide resources the per-route parts refer to."""

    scope: pulumi.Output[ArnScope]
    topic_arn: pulumi.Output[str]
    table: aws.dynamodb.Table
    dlq: aws.sqs.Queue
    function: aws.lambda_.Function
    state_machine: aws.sfn.StateMachine


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
    schedule_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: CanaryControllerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        args.validate()
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        core = self._core()
        self.failback_rule_arns = {route.name: self._failback(route, core) for route in args.routes}
        self.schedule_arns = self._schedules(core)
        dlq_alarm = self._dead_letter_queue_guard(core)
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name(args.stack),
            dashboard_body=pulumi.Output.all(
                core.scope,
                core.function.name,
                core.dlq.name,
                dlq_alarm.arn,
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
            ).apply(lambda values: _dashboard_body(args.stack, args.routes, values)),
            opts=self._child,
        )
        self._registry(core, dashboard)

        self.function_name = core.function.name
        self.function_arn = core.function.arn
        self.state_machine_arn = core.state_machine.arn
        self.table_name = core.table.name
        self.table_arn = core.table.arn
        self.dashboard_name = dashboard.dashboard_name
        self.dlq_url = core.dlq.url
        self.dlq_arn = core.dlq.arn
        self.registry_path = registry_path(args.stack)
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "state_machine_arn": self.state_machine_arn,
                "table_name": self.table_name,
                "dashboard_name": self.dashboard_name,
                "dlq_url": self.dlq_url,
                "registry_path": self.registry_path,
                "failback_rule_arns": self.failback_rule_arns,
                "schedule_arns": self.schedule_arns,
            }
        )

    def _core(self) -> _Core:
        """Table, DLQ, the controller function and the state machine, with their roles."""
        name, args, child = self._name, self._args, self._child
        stack = args.stack
        topic_arn = pulumi.Output.from_input(args.topic_arn)

        table = aws.dynamodb.Table(
            f"{name}-table",
            name=table_name(stack),
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            range_key="sk",
            attributes=[{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
            point_in_time_recovery={"enabled": True},
            # No deletion protection: `pulumi destroy` is the documented last-resort
            # failover (architecture.md, failure path 4) and must not stop half way.
            # Deleting a table with PITR on leaves a system backup for 35 days
            # (DynamoDB Developer Guide, point-in-time recovery), so the history
            # survives a destroy.
            deletion_protection_enabled=False,
            opts=child,
        )
        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=dlq_name(stack),
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            # SSE-SQS: EventBridge can deliver to it without a KMS key policy.
            sqs_managed_sse_enabled=True,
            opts=child,
        )

        # --- the controller function -------------------------------------------------
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-function-logs",
            name=function_log_group_name(stack),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        # Partition, region and account, read from the first ARN the stack has. The
        # state machine's ARN is built from its explicit name, so the controller's
        # policy need not wait for the state machine (which waits for the function).
        scope = log_group.arn.apply(ArnScope.of)
        account = scope.apply(lambda s: s.account)
        sm_arn = scope.apply(
            lambda s: state_machine_arn(s.partition, s.region, s.account, state_machine_name(stack))
        )
        function_role = aws.iam.Role(
            f"{name}-function-role",
            assume_role_policy=_json(assume_role_policy("lambda.amazonaws.com")),
            description=f"Strangler canary controller of stack {stack}",
            opts=child,
        )
        function_policy = aws.iam.RolePolicy(
            f"{name}-function-policy",
            role=function_role.id,
            policy=pulumi.Output.all(
                scope,
                log_group.arn,
                pulumi.Output.all(*[route.rule_arn for route in args.routes]),
                table.arn,
                sm_arn,
                topic_arn,
                dlq.arn,
            ).apply(
                lambda v: render_policy(
                    controller_policy(
                        ControllerPolicyInputs(
                            stack=stack,
                            partition=v[0].partition,
                            region=v[0].region,
                            account=v[0].account,
                            log_group_arn=v[1],
                            rule_arns=tuple(v[2]),
                            table_arn=v[3],
                            state_machine_arn=v[4],
                            topic_arn=v[5],
                            dlq_arn=v[6],
                        )
                    ),
                    role="controller function",
                )
            ),
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name(stack),
            role=function_role.arn,
            runtime=RUNTIME,
            handler=HANDLER,
            architectures=[args.architecture],
            code=pulumi.AssetArchive({"controller": pulumi.FileArchive(str(args.source_dir))}),
            layers=[args.powertools_layer_arn],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            tracing_config={"mode": "Active"},
            environment={
                "variables": {
                    ENV_STACK: stack,
                    ENV_REGISTRY_PATH: registry_path(stack),
                    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                    "POWERTOOLS_METRICS_NAMESPACE": METRIC_NAMESPACE,
                }
            },
            # The log group first (else Lambda creates it, without retention), and the
            # policy first so the very first alarm event finds its permissions.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, function_policy]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-function-async",
            function_name=function.name,
            maximum_retry_attempts=ASYNC_MAX_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_SECONDS,
            # An alarm event the function failed on, after Lambda's retries: to the
            # DLQ, whose alarm pages. Lambda checks the role may send there.
            destination_config={"on_failure": {"destination": dlq.arn}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[function_policy]),
        )

        # --- the state machine ---------------------------------------------------------
        sm_log_group = aws.cloudwatch.LogGroup(
            f"{name}-state-machine-logs",
            name=state_machine_log_group_name(stack),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        sm_role = aws.iam.Role(
            f"{name}-state-machine-role",
            assume_role_policy=account.apply(
                lambda acct: _json(assume_role_policy("states.amazonaws.com", acct))
            ),
            description=f"Strangler canary state machine of stack {stack}",
            opts=child,
        )
        sm_policy = aws.iam.RolePolicy(
            f"{name}-state-machine-policy",
            role=sm_role.id,
            policy=function.arn.apply(
                lambda arn: render_policy(state_machine_policy(arn), role="state machine")
            ),
            opts=child,
        )
        state_machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=state_machine_name(stack),
            type="STANDARD",
            role_arn=sm_role.arn,
            definition=function.arn.apply(lambda arn: _json(args.definition(arn))),
            logging_configuration={
                # Step Functions wants the log group ARN with the ":*" suffix.
                "log_destination": sm_log_group.arn.apply(lambda arn: f"{arn}:*"),
                "include_execution_data": True,
                "level": "ALL",
            },
            tracing_configuration={"enabled": True},
            # CreateStateMachine checks that the role may deliver the logs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[sm_policy]),
        )
        return _Core(scope, topic_arn, table, dlq, function, state_machine)

    def _failback(self, route: ControllerRoute, core: _Core) -> pulumi.Output[str]:
        """The route's composite alarm in ALARM -> the controller; returns the rule ARN."""
        name, stack, child = self._name, self._args.stack, self._child
        rule = aws.cloudwatch.EventRule(
            f"{name}-{route.name}-failback-rule",
            name=failback_rule_name(stack, route.name),
            description=f"Composite alarm of route {route.name} in ALARM: fail back to ECS",
            event_pattern=pulumi.Output.from_input(route.composite_alarm_arn).apply(
                lambda arn: _json(failback_event_pattern(arn))
            ),
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-{route.name}-failback-permission",
            action="lambda:InvokeFunction",
            function=core.function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-{route.name}-failback-target",
            rule=rule.name,
            target_id="controller",
            arn=core.function.arn,
            retry_policy={
                "maximum_event_age_in_seconds": FAILBACK_EVENT_MAX_AGE_SECONDS,
                "maximum_retry_attempts": FAILBACK_MAX_RETRY_ATTEMPTS,
            },
            dead_letter_config={"arn": core.dlq.arn},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        return rule.arn

    def _schedules(self, core: _Core) -> dict[str, pulumi.Output[str]]:
        """One schedule per route with ``canary.schedule``, and their shared role."""
        name, stack, child = self._name, self._args.stack, self._child
        scheduled = [route for route in self._args.routes if route.schedule is not None]
        if not scheduled:
            return {}
        role = aws.iam.Role(
            f"{name}-scheduler-role",
            assume_role_policy=core.scope.apply(
                lambda s: _json(assume_role_policy("scheduler.amazonaws.com", s.account))
            ),
            description=f"Strangler scheduled canary runs of stack {stack}",
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=role.id,
            policy=pulumi.Output.all(core.state_machine.arn, core.dlq.arn).apply(
                lambda v: render_policy(scheduler_policy(v[0], v[1]), role="scheduler")
            ),
            opts=child,
        )
        arns: dict[str, pulumi.Output[str]] = {}
        for route in scheduled:
            schedule = aws.scheduler.Schedule(
                f"{name}-{route.name}-schedule",
                name=schedule_name(stack, route.name),
                group_name="default",
                description=f"Scheduled canary run of route {route.name}",
                schedule_expression=str(route.schedule),
                schedule_expression_timezone=route.timezone or "UTC",
                # Runs start on the minute the operators planned for.
                flexible_time_window={"mode": "OFF"},
                target={
                    "arn": core.state_machine.arn,
                    "role_arn": role.arn,
                    "input": _json(schedule_input(route.name, route.plan)),
                    "retry_policy": {
                        "maximum_event_age_in_seconds": SCHEDULE_MAX_EVENT_AGE_SECONDS,
                        "maximum_retry_attempts": SCHEDULE_MAX_RETRY_ATTEMPTS,
                    },
                    "dead_letter_config": {"arn": core.dlq.arn},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
            arns[route.name] = schedule.arn
        return arns

    def _dead_letter_queue_guard(self, core: _Core) -> aws.cloudwatch.MetricAlarm:
        """The DLQ's policy (EventBridge, the stack's rules only) and the alarm that pages."""
        name, stack, child = self._name, self._args.stack, self._child
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=core.dlq.url,
            policy=pulumi.Output.all(
                core.dlq.arn, pulumi.Output.all(*self.failback_rule_arns.values())
            ).apply(lambda v: _json(dead_letter_queue_policy(v[0], v[1]))),
            opts=child,
        )
        return aws.cloudwatch.MetricAlarm(
            f"{name}-dlq-alarm",
            name=dlq_alarm_name(stack),
            alarm_description=(
                f"A failback (alarm event) or a scheduled canary start of stack {stack} could "
                f"not be delivered to the controller. Read the messages of queue "
                f"{dlq_name(stack)}; if a route's alarm fired, run "
                f"`python -m controller rollback --stack {stack} --route <route>`."
            ),
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": core.dlq.name},
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # An empty, idle queue publishes no datapoints: nothing failed.
            treat_missing_data="notBreaching",
            alarm_actions=[core.topic_arn],
            ok_actions=[core.topic_arn],
            opts=child,
        )

    def _registry(self, core: _Core, dashboard: aws.cloudwatch.Dashboard) -> None:
        """The SSM registry: one record per route and one for the stack."""
        name, args, child = self._name, self._args, self._child
        stack = args.stack
        for route in args.routes:
            aws.ssm.Parameter(
                f"{name}-{route.name}-record",
                name=route_parameter_name(stack, route.name),
                type="String",
                tier="Standard",
                description=f"Strangler registry: route {route.name} of stack {stack}",
                # Not secret: `insecure_value` lets a preview show the registry's diff.
                insecure_value=pulumi.Output.all(
                    route.rule_arn,
                    route.ecs_target_group_arn,
                    route.lambda_target_group_arn,
                    route.function_name,
                    route.composite_alarm_name,
                    route.composite_alarm_arn,
                    route.alarm_names,
                ).apply(functools.partial(_route_parameter_value, stack, route)),
                opts=child,
            )
        route_names = [route.name for route in args.routes]
        parameter = stack_parameter_name(stack)
        aws.ssm.Parameter(
            f"{name}-stack-record",
            name=parameter,
            type="String",
            tier="Standard",
            description=f"Strangler registry: stack {stack}",
            insecure_value=pulumi.Output.all(
                core.table.name,
                core.state_machine.arn,
                core.topic_arn,
                core.function.name,
                dashboard.dashboard_name,
            ).apply(
                lambda v: parameter_value(
                    stack_record(
                        stack=stack,
                        table_name=v[0],
                        state_machine_arn=v[1],
                        topic_arn=v[2],
                        controller_function_name=v[3],
                        dashboard_name=v[4],
                        routes=route_names,
                    ),
                    parameter,
                )
            ),
            opts=child,
        )
