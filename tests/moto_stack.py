"""A minimal deployed Strangler stack in moto, built through real boto3 clients.

What the deploy (Pulumi) would create, reduced to what the controller and the
operator CLI touch:

- a VPC with two subnets, an ALB and an HTTP listener whose default action
  forwards to the monolith's target group;
- per route: an ECS target group, a Lambda target group and a listener rule
  forwarding to both with weights ECS 999 / Lambda 0; two child metric alarms
  and the composite alarm over them;
- the stack's SNS topic, with an SQS queue subscribed so tests can read the
  notifications;
- the state table (``pk`` S hash, ``sk`` S range, on demand);
- the controller function (a dummy zip: its invocations are routed to the
  in-process handler by :mod:`rehearsal.world.moto_lambda`) and the state machine of
  :func:`controller.core.state_machine.build_definition`;
- the SSM registry: :class:`StackRecord` and one :class:`RouteRecord` per route.

Call :func:`build_moto_stack` inside ``mock_aws(...)`` with fake credentials
(see ``tests/aws_fixtures.fake_aws_env``). moto 5.2.5 has no
``PutCompositeAlarm`` handler; :func:`rehearsal.world.moto_patches.install` adds it.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.aws.clients import AwsSettings, ClientFactory
from controller.aws.registry import SsmRegistry
from controller.core.contract import (
    METRIC_APP_ERRORS,
    METRIC_NAMESPACE,
    METRIC_REQUESTS,
    METRIC_UPSTREAM_LATENCY,
    ROUTE_DIMENSION,
    PlanRecord,
    RouteRecord,
    StackRecord,
    StagePlanRecord,
    registry_path,
    route_parameter_name,
    stack_parameter_name,
)
from controller.core.state_machine import RetryPolicy, build_definition
from controller.core.weights import Weights
from controller.service import CanaryService, Ports, ServiceSettings, aws_ports
from rehearsal.world import moto_patches

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_PLAN",
    "REGION",
    "MotoStack",
    "RouteSpec",
    "alarm_state_change_event",
    "build_moto_stack",
]

REGION = "ap-northeast-1"
ACCOUNT_ID = "123456789012"  # moto's default account

# Three short stages: fast enough for tests that really wait through the bakes.
DEFAULT_PLAN = PlanRecord(
    stages=(
        StagePlanRecord(weight=10.0, bake_seconds=1),
        StagePlanRecord(weight=50.0, bake_seconds=1),
        StagePlanRecord(weight=100.0, bake_seconds=1),
    ),
    stages_per_run=0,
    min_requests=0,
)

# Retries of the state machine in tests: short waits, same shape as production.
TEST_RETRY = RetryPolicy(interval_seconds=1, backoff_rate=1.0, max_attempts=3, max_delay_seconds=2)

# The two child alarms every test route gets (the deploy creates more kinds).
CHILD_ALARM_KINDS = ("app-errors", "p99-latency")


@dataclass(frozen=True)
class RouteSpec:
    """One route to build: its name, rule priority, path pattern and plan."""

    name: str
    priority: int
    path: str
    plan: PlanRecord = DEFAULT_PLAN


DEFAULT_ROUTES = (RouteSpec("map-tile", 100, "/map/v1/tile/*"),)


@dataclass
class MotoStack:
    """The stack built by :func:`build_moto_stack`: its records, clients and helpers.

    ``factory`` is the controller's own client factory, pointed at moto; give
    it to the adapters. The helpers act the way a human or AWS would (change
    the rule by hand, move an alarm, publish request metrics) so tests can
    assert on what the controller did in response.
    """

    region: str
    stack: StackRecord
    routes: dict[str, RouteRecord]
    factory: ClientFactory
    queue_url: str
    registry_path: str
    state_machine_role_arn: str
    monolith_target_group_arn: str
    load_balancer_arn: str
    vpc_id: str
    subnet_ids: tuple[str, ...] = field(default_factory=tuple)

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on moto (shared with the adapters)."""
        return self.factory.client(service)

    def route(self, name: str = "map-tile") -> RouteRecord:
        """The registry record of one route."""
        return self.routes[name]

    def registry(self) -> SsmRegistry:
        """A fresh reader of the stack's SSM registry (what the handler builds on cold start)."""
        return SsmRegistry(self.client("ssm"), self.stack.stack, self.registry_path)

    def ports(self) -> Ports:
        """The controller's boto3 adapters on this stack (:func:`controller.service.aws_ports`)."""
        return aws_ports(self.factory, self.registry())

    def service(self, ports: Ports | None = None, **kwargs: Any) -> CanaryService:
        """A :class:`CanaryService` on this stack, with quick read-back retries for tests."""
        kwargs.setdefault(
            "settings",
            ServiceSettings(verify_interval_seconds=0.05, rollback_retry_interval_seconds=0.05),
        )
        return CanaryService(ports or self.ports(), **kwargs)

    # --- the rule ---------------------------------------------------------------

    def live_weights(self, route: str = "map-tile") -> Weights:
        """The rule's weights as ``DescribeRules`` reports them (ECS, Lambda)."""
        record = self.routes[route]
        rule = self.client("elbv2").describe_rules(RuleArns=[record.rule_arn])["Rules"][0]
        forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
        by_arn = {
            tg["TargetGroupArn"]: int(tg.get("Weight", 0))
            for tg in forward["ForwardConfig"]["TargetGroups"]
        }
        return Weights(
            ecs=by_arn[record.ecs_target_group_arn],
            lambda_=by_arn[record.lambda_target_group_arn],
        )

    def set_weights_by_hand(self, weights: Weights, route: str = "map-tile") -> None:
        """Change the rule's weights outside the controller (what a human in the console does)."""
        record = self.routes[route]
        self.client("elbv2").modify_rule(
            RuleArn=record.rule_arn,
            Actions=[
                _forward(record.ecs_target_group_arn, record.lambda_target_group_arn, weights)
            ],
        )

    # --- alarms and metrics -----------------------------------------------------

    def set_alarm(self, state: str, route: str = "map-tile", child: str | None = None) -> None:
        """Move the composite alarm (and the child ``child``, a kind, if given) to ``state``.

        moto never evaluates alarms, so the composite does not follow its
        children by itself: both are set explicitly.
        """
        record = self.routes[route]
        cloudwatch = self.client("cloudwatch")
        if child is not None:
            name = next(n for n in record.alarm_names if n.endswith(f"-{child}"))
            cloudwatch.set_alarm_state(
                AlarmName=name, StateValue=state, StateReason=f"test: {child} {state}"
            )
        cloudwatch.set_alarm_state(
            AlarmName=record.composite_alarm_name,
            StateValue=state,
            StateReason=f"test: composite {state}",
        )

    def put_requests(self, count: int, route: str = "map-tile", at: datetime | None = None) -> None:
        """Publish ``count`` canary requests (metric Requests) at ``at`` (default now)."""
        self.client("cloudwatch").put_metric_data(
            Namespace=METRIC_NAMESPACE,
            MetricData=[
                {
                    "MetricName": METRIC_REQUESTS,
                    "Dimensions": [{"Name": ROUTE_DIMENSION, "Value": route}],
                    "Timestamp": at or datetime.now(UTC),
                    "Value": float(count),
                    "Unit": "Count",
                    "StorageResolution": 1,
                }
            ],
        )

    def alarm_event(self, route: str = "map-tile", state: str = "ALARM") -> dict[str, Any]:
        """The EventBridge event of the route's composite alarm entering ``state``."""
        record = self.routes[route]
        return alarm_state_change_event(
            record.composite_alarm_name,
            record.composite_alarm_arn,
            state=state,
            region=self.region,
        )

    # --- notifications ----------------------------------------------------------

    def notifications(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Every notification published so far that this call has not returned yet.

        Each is ``{"subject": ..., "message": <the published JSON, decoded>}``.
        SQS receives the SNS envelope (no raw delivery), as an email would.
        """
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            received = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            ).get("Messages", [])
            if not received:
                return found
            for message in received:
                envelope = json.loads(message["Body"])
                try:
                    body: Any = json.loads(envelope["Message"])
                except ValueError:
                    body = envelope["Message"]
                found.append({"subject": envelope.get("Subject"), "message": body})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            wait_seconds = 0

    # --- executions -------------------------------------------------------------

    def execution_input(
        self,
        route: str = "map-tile",
        *,
        trigger: str = "operator",
        actor: str = "operator:test",
        plan: PlanRecord | None = None,
    ) -> dict[str, Any]:
        """The execution input a start of ``route`` sends (see controller/core/state_machine.py)."""
        return {
            "route": route,
            "trigger": trigger,
            "actor": actor,
            "plan": (plan or self.routes[route].plan).to_input(),
        }

    def wait_for_execution(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until the execution leaves RUNNING; returns ``DescribeExecution``."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return dict(described)
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {execution_arn} still RUNNING after {timeout} s")
            time.sleep(0.05)


def alarm_state_change_event(
    alarm_name: str,
    alarm_arn: str,
    *,
    state: str = "ALARM",
    previous: str = "OK",
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event of a composite alarm, as EventBridge sends it.

    Shape from the CloudWatch documentation ("Alarm events and EventBridge",
    composite alarm example).
    """
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": f"alarm-{alarm_name}-{state}-{now}",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account_id,
        "time": now,
        "region": region,
        "resources": [alarm_arn],
        "detail": {
            "alarmName": alarm_name,
            "state": {
                "value": state,
                "reason": f"test: {alarm_name} {state}",
                "timestamp": f"{now[:-1]}.000+0000",
            },
            "previousState": {
                "value": previous,
                "reason": "test",
                "timestamp": f"{now[:-1]}.000+0000",
            },
            "configuration": {"alarmRule": f"ALARM({alarm_name}-child)", "actionsSuppressor": ""},
        },
    }


def build_moto_stack(
    *,
    stack: str = "test",
    routes: Sequence[RouteSpec] = DEFAULT_ROUTES,
    region: str = REGION,
    retry: RetryPolicy = TEST_RETRY,
    settings: AwsSettings | None = None,
) -> MotoStack:
    """Create the whole stack in moto (already active) and return it; see the module docstring."""
    moto_patches.install()
    factory = ClientFactory(settings or AwsSettings(region=region))
    ec2 = factory.client("ec2")
    elbv2 = factory.client("elbv2")

    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = tuple(
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{region}{az}")["Subnet"][
            "SubnetId"
        ]
        for cidr, az in (("10.0.1.0/24", "a"), ("10.0.2.0/24", "c"))
    )
    lb_arn = elbv2.create_load_balancer(Name=f"{stack}-monolith", Subnets=list(subnet_ids))[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    monolith_tg = _target_group(elbv2, f"{stack}-monolith", vpc_id)
    listener_arn = elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": monolith_tg}],
    )["Listeners"][0]["ListenerArn"]

    topic_arn, queue_url = _topic_with_queue(factory, f"strangler-{stack}-alerts")
    table_name = _table(factory, f"strangler-{stack}-state")
    role_arn = _role(factory, f"strangler-{stack}-controller")
    function_name = f"strangler-{stack}-controller"
    function_arn = _dummy_function(factory, function_name, role_arn)
    state_machine_arn = factory.client("stepfunctions").create_state_machine(
        name=f"strangler-{stack}-canary",
        definition=json.dumps(build_definition(function_arn, retry=retry)),
        roleArn=role_arn,
    )["stateMachineArn"]

    records: dict[str, RouteRecord] = {}
    for spec in routes:
        ecs_tg = _target_group(elbv2, f"{stack}-{spec.name}-ecs"[:32], vpc_id)
        lambda_tg = elbv2.create_target_group(
            Name=f"{stack}-{spec.name}-lambda"[:32], TargetType="lambda"
        )["TargetGroups"][0]["TargetGroupArn"]
        rule_arn = elbv2.create_rule(
            ListenerArn=listener_arn,
            Priority=spec.priority,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [spec.path]}}],
            Actions=[_forward(ecs_tg, lambda_tg, Weights(ecs=999, lambda_=0))],
        )["Rules"][0]["RuleArn"]
        alarm_names, composite_name, composite_arn = _alarms(factory, stack, spec.name, topic_arn)
        records[spec.name] = RouteRecord(
            route=spec.name,
            listener_arn=listener_arn,
            rule_arn=rule_arn,
            ecs_target_group_arn=ecs_tg,
            lambda_target_group_arn=lambda_tg,
            function_name=f"strangler-{stack}-{spec.name}",
            composite_alarm_name=composite_name,
            composite_alarm_arn=composite_arn,
            alarm_names=alarm_names,
            plan=spec.plan,
        )

    stack_record = StackRecord(
        stack=stack,
        table_name=table_name,
        state_machine_arn=state_machine_arn,
        topic_arn=topic_arn,
        controller_function_name=function_name,
        dashboard_name=f"strangler-{stack}",
        routes=tuple(sorted(records)),
    )
    ssm = factory.client("ssm")
    ssm.put_parameter(Name=stack_parameter_name(stack), Type="String", Value=stack_record.to_json())
    for record in records.values():
        ssm.put_parameter(
            Name=route_parameter_name(stack, record.route), Type="String", Value=record.to_json()
        )
    return MotoStack(
        region=region,
        stack=stack_record,
        routes=records,
        factory=factory,
        queue_url=queue_url,
        registry_path=registry_path(stack),
        state_machine_role_arn=role_arn,
        monolith_target_group_arn=monolith_tg,
        load_balancer_arn=lb_arn,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
    )


# --- builders -----------------------------------------------------------------------


def _forward(ecs_tg: str, lambda_tg: str, weights: Weights) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": ecs_tg, "Weight": weights.ecs},
                {"TargetGroupArn": lambda_tg, "Weight": weights.lambda_},
            ]
        },
    }


def _target_group(elbv2: Any, name: str, vpc_id: str) -> str:
    return str(
        elbv2.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
    )


def _topic_with_queue(factory: ClientFactory, name: str) -> tuple[str, str]:
    sns = factory.client("sns")
    sqs = factory.client("sqs")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return str(topic_arn), str(queue_url)


def _table(factory: ClientFactory, name: str) -> str:
    factory.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _role(factory: ClientFactory, name: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return str(
        factory.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
    )


def _dummy_function(factory: ClientFactory, name: str, role_arn: str) -> str:
    """A function whose code never runs: moto_lambda routes its invocations in-process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return str(
        factory.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role_arn,
            Handler="handler.handler",
            Code={"ZipFile": buffer.getvalue()},
        )["FunctionArn"]
    )


def _alarms(
    factory: ClientFactory, stack: str, route: str, topic_arn: str
) -> tuple[tuple[str, ...], str, str]:
    """Two child metric alarms and the composite over them; returns (children, name, arn)."""
    cloudwatch = factory.client("cloudwatch")
    metrics = {"app-errors": METRIC_APP_ERRORS, "p99-latency": METRIC_UPSTREAM_LATENCY}
    children: list[str] = []
    for kind in CHILD_ALARM_KINDS:
        name = f"strangler-{stack}-{route}-{kind}"
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace=METRIC_NAMESPACE,
            MetricName=metrics[kind],
            Dimensions=[{"Name": ROUTE_DIMENSION, "Value": route}],
            Statistic="Sum" if kind == "app-errors" else "Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=5.0 if kind == "app-errors" else 2000.0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
        )
        children.append(name)
    composite = f"strangler-{stack}-{route}-composite"
    cloudwatch.put_composite_alarm(
        AlarmName=composite,
        AlarmRule=" OR ".join(f"ALARM({child})" for child in children),
        AlarmActions=[topic_arn],
    )
    described = cloudwatch.describe_alarms(AlarmNames=[composite], AlarmTypes=["CompositeAlarm"])
    return tuple(children), composite, str(described["CompositeAlarms"][0]["AlarmArn"])
