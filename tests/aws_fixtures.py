"""moto-backed AWS fixtures: the adapter tests' pieces, and the shared twin.

For the adapter tests (controller/aws/*.py): an empty moto account
(:func:`moto_factory`, the ``factory`` fixture of tests/conftest.py), call
counting and error injection on real boto3 clients, one weighted ALB rule,
the state table. Everything is built through real boto3 clients inside
``mock_aws``; the tests then drive the adapters through the same kind of
clients.

For the tests that need a whole deployed stack (the service's AWS contract,
the handler, the fault helpers, the scenarios and the operator CLI):
:class:`SharedTwin`, the stack the REAL program deploys, applied to moto once
per test session, and :class:`TwinWorld`, its view for one test.

Region ap-northeast-1, fake credentials from the environment (never a real
profile).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.base_backend import BackendDict, backend_lock
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser import utils as moto_sfn_utils

from controller.aws.clients import AwsSettings, ClientFactory
from controller.aws.registry import SsmRegistry
from controller.aws.wiring import aws_ports
from controller.core.contract import (
    METRIC_NAMESPACE,
    METRIC_REQUESTS,
    ROUTE_DIMENSION,
    PlanRecord,
    RouteRecord,
    StackRecord,
    StagePlanRecord,
    registry_path,
    route_parameter_name,
)
from controller.core.ports import Ports
from controller.core.weights import ALL_ECS, Weights
from controller.service import CanaryService, ServiceSettings
from rehearsal.scenario.faults import change_weights_by_hand
from rehearsal.world import moto_patches
from rehearsal.world.apply import AppliedStack
from rehearsal.world.brownfield import Brownfield
from rehearsal.world.emulator import Emulator, moto_config
from rehearsal.world.moto_lambda import LambdaRouter, route_lambda_invocations
from rehearsal.world.twin import build_twin

REGION = "ap-northeast-1"
STACK = "test"
ROUTE = "map-tile"


def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; no profile or endpoint leaks in from the host."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    # The ALB fixture needs a VPC and subnets; moto's EC2 otherwise loads its
    # catalogue of default AMIs on first use, about a second per test.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@contextmanager
def moto_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """An empty moto account, and the adapters' client factory pointed at it.

    Test modules wrap this in their own fixture (pytest fixtures imported from
    another module would trip the linter's unused-import/redefinition checks).
    """
    fake_aws_env(monkeypatch)
    with mock_aws():
        yield ClientFactory(AwsSettings(region=REGION))


def _service_event_name(client: Any) -> str:
    """The service part of botocore event names, e.g. ``elastic-load-balancing``."""
    return str(client.meta.service_model.service_id.hyphenize())


class CallCounter:
    """Counts the API calls a real boto3 client makes, with their API parameters.

    A call counts on botocore's ``before-call`` event: after parameter
    validation, just before the request would be sent. So a call refused by
    our own validation never counts. The parameters are the caller's API
    parameters (``RuleArn=...``), captured on ``before-parameter-build``,
    not the wire format (which differs per protocol).
    """

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._pending: dict[str, Any] = {}
        service = _service_event_name(client)
        client.meta.events.register(f"before-parameter-build.{service}", self._capture)
        client.meta.events.register(f"before-call.{service}", self._record)

    def _capture(self, params: dict[str, Any], **_: Any) -> None:
        self._pending = copy.deepcopy(params)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append((model.name, self._pending))
        self._pending = {}

    def count(self, operation: str) -> int:
        """How many calls of ``operation`` (e.g. ``"ModifyRule"``) were made."""
        return sum(1 for name, _ in self.calls if name == operation)

    def params(self, operation: str) -> list[dict[str, Any]]:
        """The API parameters of every call of ``operation``, in order."""
        return [params for name, params in self.calls if name == operation]


class ErrorInjector:
    """Makes the next ``times`` calls of one operation fail with an AWS error response.

    A ``before-call`` handler that returns a response short-circuits the HTTP
    send: botocore then parses it exactly like an error from AWS and raises
    its real ``ClientError`` (the client, its parsing and our adapter code are
    all real; only the answer is made up). botocore's retry handler runs after
    the HTTP send, so an injected error is not retried: one call, one error.
    Register it after any :class:`CallCounter` so the counter still sees the call.
    """

    def __init__(
        self,
        client: Any,
        operation: str,
        code: str,
        *,
        status: int = 400,
        message: str = "injected",
        times: int = 1,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.remaining = times
        self._code = code
        self._status = status
        self._message = message
        self._extra = extra or {}
        self._operation = operation
        # Registered on the service-wide event, like CallCounter: botocore runs
        # handlers of a more specific event name first, which would hide the
        # call from a counter registered earlier.
        client.meta.events.register(f"before-call.{_service_event_name(client)}", self._answer)

    def _answer(self, model: Any, **_: Any) -> tuple[Any, dict[str, Any]] | None:
        if model.name != self._operation or self.remaining <= 0:
            return None
        self.remaining -= 1
        http = _FakeHttpResponse(self._status)
        parsed = {
            "Error": {"Code": self._code, "Message": self._message},
            "ResponseMetadata": {"HTTPStatusCode": self._status},
            **self._extra,
        }
        return http, parsed


@dataclass
class _FakeHttpResponse:
    """The two attributes botocore reads from the HTTP response of a short-circuited call."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class AlbWorld:
    """A VPC + ALB + listener + two target groups + one weighted rule, in moto."""

    client: Any
    vpc_id: str
    listener_arn: str
    rule_arn: str
    ecs_tg_arn: str
    lambda_tg_arn: str
    extra_tg_arns: list[str] = field(default_factory=list)

    @staticmethod
    def without_alb(elb_arn: str) -> AlbWorld:
        """Made-up ARNs under ``elb_arn`` and no ALB: for code that only reads the ARNs."""
        return AlbWorld(
            client=None,
            vpc_id="vpc-1",
            listener_arn=f"{elb_arn}:listener/app/lb/1/2",
            rule_arn=f"{elb_arn}:listener-rule/app/lb/1/2/3",
            ecs_tg_arn=f"{elb_arn}:targetgroup/ecs/1",
            lambda_tg_arn=f"{elb_arn}:targetgroup/lambda/2",
        )

    def route_record(self, **overrides: Any) -> RouteRecord:
        """A RouteRecord pointing at this rule and these target groups."""
        values: dict[str, Any] = {
            "route": ROUTE,
            "listener_arn": self.listener_arn,
            "rule_arn": self.rule_arn,
            "ecs_target_group_arn": self.ecs_tg_arn,
            "lambda_target_group_arn": self.lambda_tg_arn,
            "function_name": f"strangler-{STACK}-{ROUTE}",
            "composite_alarm_name": f"strangler-{STACK}-{ROUTE}-composite",
            "composite_alarm_arn": (
                f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:"
                f"strangler-{STACK}-{ROUTE}-composite"
            ),
            "alarm_names": (
                f"strangler-{STACK}-{ROUTE}-errors",
                f"strangler-{STACK}-{ROUTE}-latency",
            ),
            "plan": PlanRecord(stages=(StagePlanRecord(1.0, 60), StagePlanRecord(100.0, 0))),
        }
        values.update(overrides)
        return RouteRecord(**values)

    def new_target_group(self, name: str) -> str:
        """Create one more (instance) target group in the VPC and return its ARN."""
        tg = self.client.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=self.vpc_id, TargetType="ip"
        )
        return str(tg["TargetGroups"][0]["TargetGroupArn"])

    def set_forward(
        self,
        target_groups: list[tuple[str, int]],
        stickiness: dict[str, Any] | None = None,
    ) -> None:
        """Rewrite the rule's forward action by hand (as a human or Pulumi would)."""
        forward: dict[str, Any] = {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in target_groups]
        }
        if stickiness is not None:
            forward["TargetGroupStickinessConfig"] = stickiness
        self.client.modify_rule(
            RuleArn=self.rule_arn, Actions=[{"Type": "forward", "ForwardConfig": forward}]
        )

    def forward_config(self) -> dict[str, Any]:
        """The rule's ForwardConfig as moto describes it."""
        rule = self.client.describe_rules(RuleArns=[self.rule_arn])["Rules"][0]
        forwards = [a for a in rule["Actions"] if a["Type"] == "forward"]
        return dict(forwards[0]["ForwardConfig"])

    def weights_by_arn(self) -> dict[str, int]:
        """Target group ARN -> weight, as moto describes the rule."""
        return {
            tg["TargetGroupArn"]: int(tg["Weight"]) for tg in self.forward_config()["TargetGroups"]
        }


def build_alb_world(
    client: Any,
    *,
    ecs_weight: int = 999,
    lambda_weight: int = 0,
    stickiness: dict[str, Any] | None = None,
) -> AlbWorld:
    """Create the ALB side of one route in moto through ``client`` (an elbv2 client)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for cidr, az in (("10.0.1.0/24", f"{REGION}a"), ("10.0.2.0/24", f"{REGION}c"))
    ]
    lb_arn = client.create_load_balancer(Name="monolith", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    ecs_tg = client.create_target_group(
        Name="monolith-ecs", Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    lambda_tg = client.create_target_group(Name="map-tile-lambda", TargetType="lambda")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    listener_arn = client.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": ecs_tg}],
    )["Listeners"][0]["ListenerArn"]
    forward: dict[str, Any] = {
        "TargetGroups": [
            {"TargetGroupArn": ecs_tg, "Weight": ecs_weight},
            {"TargetGroupArn": lambda_tg, "Weight": lambda_weight},
        ]
    }
    if stickiness is not None:
        forward["TargetGroupStickinessConfig"] = stickiness
    rule_arn = client.create_rule(
        ListenerArn=listener_arn,
        Priority=100,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/map/v1/tile/*"]}}],
        Actions=[{"Type": "forward", "ForwardConfig": forward}],
    )["Rules"][0]["RuleArn"]
    return AlbWorld(
        client=client,
        vpc_id=vpc_id,
        listener_arn=listener_arn,
        rule_arn=rule_arn,
        ecs_tg_arn=ecs_tg,
        lambda_tg_arn=lambda_tg,
    )


def create_state_table(client: Any, name: str = "strangler-test-state") -> str:
    """The controller's table as the deploy declares it: pk/sk strings, on demand."""
    client.create_table(
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


# --- the twin: the stack the REAL program deploys, shared by a test session ------------------

PROJECT = Path(__file__).resolve().parents[1]
TWIN_STACK_FILE = PROJECT / "tests" / "stacks" / "Pulumi.three.yaml"
TWIN_STACK = "three"
TWIN_ROUTES = ("map-poi", "map-tile", "route-search")
# Long bakes: a run a twin test sets up stays in its first bake for the whole test.
SLOW_PLAN = PlanRecord(
    stages=(
        StagePlanRecord(weight=10.0, bake_seconds=600),
        StagePlanRecord(weight=50.0, bake_seconds=600),
        StagePlanRecord(weight=100.0, bake_seconds=0),
    )
)
ACCOUNT_ID = "123456789012"  # moto's default account
# The service's read-back and rollback retries, quick: the twin answers at once.
QUICK_SETTINGS = ServiceSettings(verify_interval_seconds=0.05, rollback_retry_interval_seconds=0.05)
# How long a test may take to put the twin back (stopped runs leaving their last task).
SETTLE_SECONDS = 30.0


def alarm_state_change_event(
    alarm_name: str,
    alarm_arn: str,
    *,
    state: str = "ALARM",
    previous: str = "OK",
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event of a composite alarm, as EventBridge sends it.

    Shape from the CloudWatch documentation ("Alarm events and EventBridge",
    composite alarm example).
    """
    now = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
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


# How long a held run bakes (see Hold): longer than any test that holds one.
HOLD_BAKE_SECONDS = 600


class Hold:
    """A stand-in controller that parks every run in its first bake: it stays RUNNING.

    The twin's state machine is interpreted (``execute_state_machine``), so an
    execution calls the controller at once. Tests that drive the service's
    tasks themselves (the CLI, the handler) need executions that just exist
    and run, as before any task ran: this stand-in answers Begin with ``run``
    and Shift with ``baking`` (a long bake) without touching anything, so the
    execution waits in its Bake state until something stops it. Any later
    task means the bake ended, which no test waits for: it fails loudly.
    """

    def __init__(self) -> None:
        self._arrived = threading.Condition()
        self.events: list[Any] = []

    def __call__(self, event: Any, context: Any) -> Any:
        action = event.get("action") if isinstance(event, dict) else None
        answer: dict[str, Any] = {
            "outcome": "run",
            "status": "progressing",
            "stage": None,
            "reason": "held by the test",
        }
        if action == "verify":
            answer["outcome"] = "verified"
        elif action == "shift":
            answer["outcome"] = "baking"
            answer["stage"] = {"index": 0, "weight": 10.0, "bakeSeconds": HOLD_BAKE_SECONDS}
        elif action != "begin":
            raise AssertionError(f"a held run reached its {action!r} task")
        with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()
        return answer

    def wait_for(self, execution_arn: str, timeout: float = SETTLE_SECONDS) -> None:
        """Return once ``execution_arn`` has been parked in its bake (Shift answered)."""

        def parked() -> bool:
            return any(
                e.get("executionArn") == execution_arn and e.get("action") == "shift"
                for e in self.events
            )

        with self._arrived:
            if not self._arrived.wait_for(parked, timeout):
                raise AssertionError(f"execution {execution_arn} never reached its bake")


@dataclass
class _Snapshot:
    """What the deploy left that tests may change, read back right after the build."""

    parameters: dict[str, str]
    rule_targets: dict[str, list[dict[str, Any]]]
    table: dict[str, Any]


@dataclass
class TwinWorld:
    """The deployed twin as a test sees it: the stack, its clients and helpers.

    ``factory`` is the controller's own client factory on the emulator; the
    helpers act the way a human or AWS would (change the rule by hand, move an
    alarm, publish request metrics). ``controller`` is what an invocation of
    the controller function runs: :class:`Hold` unless a test routes it to
    the real handler (``controller.handler.lambda_handler``).
    """

    emulator: Emulator
    factory: ClientFactory
    stack: StackRecord
    brownfield: Brownfield
    queue_url: str
    snapshot: _Snapshot
    applied: AppliedStack
    hold: Hold = field(default_factory=Hold)
    controller: Any = None
    router: LambdaRouter | None = None
    url: str | None = None

    @property
    def region(self) -> str:
        return self.emulator.region

    @property
    def registry_path(self) -> str:
        return registry_path(self.stack.stack)

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the twin (shared with the adapters)."""
        return self.factory.client(service)

    def registry(self) -> SsmRegistry:
        """A fresh reader of the stack's registry (what the handler builds on a cold start)."""
        return SsmRegistry(self.client("ssm"), self.stack.stack, self.registry_path)

    def route(self, name: str = ROUTE) -> RouteRecord:
        """The registry record of one route, as the deploy (or a test) wrote it."""
        return self.registry().route(name)

    def ports(self) -> Ports:
        """The controller's boto3 adapters on this stack."""
        return aws_ports(self.factory, self.registry())

    def service(self, ports: Ports | None = None, **kwargs: Any) -> CanaryService:
        """A :class:`CanaryService` on the twin, with quick read-back retries."""
        kwargs.setdefault("settings", QUICK_SETTINGS)
        return CanaryService(ports or self.ports(), **kwargs)

    # --- the registry -------------------------------------------------------------------

    def put_route_record(self, name: str, **changes: Any) -> RouteRecord:
        """Rewrite one route's registry record (what a redeploy with another config does)."""
        record = replace(self.route(name), **changes)
        self.client("ssm").put_parameter(
            Name=route_parameter_name(self.stack.stack, name),
            Value=record.to_json(),
            Type="String",
            Overwrite=True,
        )
        return record

    def set_plan(self, plan: PlanRecord, route: str = ROUTE) -> RouteRecord:
        """Deploy ``plan`` for ``route`` (the registry's plan is what a started run gets)."""
        return self.put_route_record(route, plan=plan)

    # --- the rule -----------------------------------------------------------------------

    def live_weights(self, route: str = ROUTE) -> Weights:
        """The rule's weights as ``DescribeRules`` reports them (ECS, Lambda)."""
        record = self.route(route)
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

    def set_weights_by_hand(self, weights: Weights, route: str = ROUTE) -> None:
        """Change the rule's weights outside the controller (a human in the console)."""
        change_weights_by_hand(self.client("elbv2"), self.route(route), weights)

    # --- alarms and metrics -------------------------------------------------------------

    def set_alarm(self, state: str, route: str = ROUTE, child: str | None = None) -> None:
        """Move the composite alarm (and the child ``child``, a kind, if given) to ``state``.

        moto never evaluates alarms, so the composite does not follow its
        children by itself: both are set explicitly.
        """
        record = self.route(route)
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

    def put_requests(self, count: int, route: str = ROUTE, at: datetime | None = None) -> None:
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

    def alarm_event(self, route: str = ROUTE, state: str = "ALARM") -> dict[str, Any]:
        """The EventBridge event of the route's composite alarm entering ``state``."""
        record = self.route(route)
        return alarm_state_change_event(
            record.composite_alarm_name, record.composite_alarm_arn, state=state, region=self.region
        )

    # --- notifications ------------------------------------------------------------------

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification published since the last call: ``{"subject", "message"}``.

        The test inbox is an SQS queue subscribed to the stack's topic (no raw
        delivery: it receives the SNS envelope, as an email would).
        """
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            received = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
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

    # --- executions ---------------------------------------------------------------------

    def execution_input(
        self,
        route: str = ROUTE,
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
            "plan": (plan or self.route(route).plan).to_input(),
        }

    def start_execution(self, name: str, payload: dict[str, Any]) -> str:
        """StartExecution of the stack's state machine, the way the schedule starts a run.

        ``name`` gets a random suffix: execution names stay taken for the
        whole session of the shared twin, as for 90 days in AWS.
        """
        # Execution names: 1-80 characters (StartExecution API reference).
        unique = f"{name[:71]}-{uuid.uuid4().hex[:8]}"
        return str(
            self.client("stepfunctions").start_execution(
                stateMachineArn=self.stack.state_machine_arn, name=unique, input=json.dumps(payload)
            )["executionArn"]
        )

    def park(self, execution_arn: str, timeout: float = SETTLE_SECONDS) -> None:
        """Return once a held execution waits in its Bake state.

        The stand-in answers Shift before the interpreter leaves the Shift
        task; stopping an execution while moto's interpreter is still in the
        Choice after it makes moto end it FAILED (an IndexError inside moto)
        instead of ABORTED. Waiting for the Wait state closes that window.
        """
        self.hold.wait_for(execution_arn, timeout)
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = sfn.get_execution_history(executionArn=execution_arn)["events"]
            if any(e["type"] == "WaitStateEntered" for e in events):
                return
            time.sleep(0.01)
        raise AssertionError(f"execution {execution_arn} never entered its Bake state")

    def execution_status(self, execution_arn: str) -> str:
        """The execution's status now."""
        sfn = self.client("stepfunctions")
        return str(sfn.describe_execution(executionArn=execution_arn)["status"])

    def stopped_status(self, execution_arn: str, timeout: float = 10.0) -> str:
        """The status of an execution that was just stopped, once moto's thread has ended it.

        moto's interpreter records a stop when the execution's thread wakes
        from its Wait, a moment after StopExecution has returned.
        """
        return str(self.wait_for_execution(execution_arn, timeout=timeout)["status"])

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

    def _invoke_controller(self, event: Any, context: Any) -> Any:
        handler = self.controller if self.controller is not None else self.hold
        return handler(event, context)

    # --- put back as deployed -----------------------------------------------------------

    def settle(self) -> None:
        """Stop every run and let the interpreter's threads finish (the end of a test)."""
        sfn = self.client("stepfunctions")
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.stack.state_machine_arn, statusFilter="RUNNING"
        ):
            for execution in page["executions"]:
                _stop(sfn, execution["executionArn"])
        if self.router is not None:
            self.router.wait_idle(timeout=SETTLE_SECONDS)
        deadline = time.monotonic() + SETTLE_SECONDS / 6
        for thread in list(_SFN_THREADS):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        _SFN_THREADS[:] = [t for t in _SFN_THREADS if t.is_alive()]

    def reset(self) -> None:
        """Put the mutable state back as the deploy left it.

        The registry's parameters, the state table (recreated if a test
        deleted it; emptied otherwise), every rule at ECS, every alarm OK,
        the failback rules' targets, the test inbox empty, no metric data;
        no run is left (see :meth:`settle`).
        """
        ssm = self.client("ssm")
        for name, value in self.snapshot.parameters.items():
            current = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            if current != value:
                ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        self._reset_table()
        registry = self.registry()
        elbv2 = self.client("elbv2")
        names: list[str] = []
        for record in registry.routes():
            if self.live_weights(record.route) != ALL_ECS:
                change_weights_by_hand(elbv2, record, ALL_ECS)
            names.extend((record.composite_alarm_name, *record.alarm_names))
        cloudwatch = self.client("cloudwatch")
        described = cloudwatch.describe_alarms(
            AlarmNames=names, AlarmTypes=["CompositeAlarm", "MetricAlarm"]
        )
        for alarm in (*described["MetricAlarms"], *described["CompositeAlarms"]):
            if alarm["StateValue"] != "OK":
                cloudwatch.set_alarm_state(
                    AlarmName=alarm["AlarmName"], StateValue="OK", StateReason="reset"
                )
        self._reset_events()
        self.notifications()  # read and dropped: the inbox starts empty
        # CloudWatch has no call that deletes metric data: empty moto's store,
        # so no request count of an earlier test lands in a later test's bake.
        cloudwatch_backends[ACCOUNT_ID][self.region].metric_data.clear()
        self.hold = Hold()
        self.controller = None

    def _reset_table(self) -> None:
        dynamodb = self.client("dynamodb")
        table = self.stack.table_name
        try:
            dynamodb.describe_table(TableName=table)
        except dynamodb.exceptions.ResourceNotFoundException:
            dynamodb.create_table(**self.snapshot.table)
            return
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=table, ProjectionExpression="pk, sk"
        ):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})

    def _reset_events(self) -> None:
        events = self.client("events")
        for page in events.get_paginator("list_rules").paginate():
            for rule in page["Rules"]:
                name = rule["Name"]
                targets = events.list_targets_by_rule(Rule=name)["Targets"]
                deployed = self.snapshot.rule_targets.get(name)
                if deployed == targets:
                    continue
                if targets:
                    events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
                if deployed is None:
                    events.delete_rule(Name=name)
                elif deployed:
                    events.put_targets(Rule=name, Targets=deployed)


def _stop(sfn: Any, execution_arn: str) -> None:
    """StopExecution, once moto's interpreter has set the execution up.

    moto 5.2.5 fails a StopExecution that arrives before the execution's
    thread has created its environment (``'NoneType' ... 'set_stop'``).
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        try:
            sfn.stop_execution(executionArn=execution_arn, cause="test teardown")
            return
        except AttributeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# The interpreter's threads of the executions moto runs (moto keeps the list).
_SFN_THREADS: list[threading.Thread] = moto_sfn_utils.TMP_THREADS


def _snapshot(world_factory: ClientFactory, stack: StackRecord) -> _Snapshot:
    ssm = world_factory.client("ssm")
    parameters: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path=registry_path(stack.stack), Recursive=True
    ):
        for parameter in page["Parameters"]:
            parameters[parameter["Name"]] = parameter["Value"]
    events = world_factory.client("events")
    targets: dict[str, list[dict[str, Any]]] = {}
    for page in events.get_paginator("list_rules").paginate():
        for rule in page["Rules"]:
            targets[rule["Name"]] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    described = world_factory.client("dynamodb").describe_table(TableName=stack.table_name)
    table = described["Table"]
    create = {
        "TableName": table["TableName"],
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": table["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    return _Snapshot(parameters=parameters, rule_targets=targets, table=create)


def _inbox(factory: ClientFactory, topic_arn: str) -> str:
    """An SQS queue subscribed to the stack's topic: where tests read the notifications."""
    sqs = factory.client("sqs")
    queue_url = str(sqs.create_queue(QueueName="strangler-tests-inbox")["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    factory.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


def _registered_backends() -> list[Any]:
    """moto's registry of the service backends that hold data (what a reset resets)."""
    registered: list[Any] = BackendDict._instances  # type: ignore[misc]
    return registered


class SharedTwin:
    """The twin of one test session (one xdist worker): built once, parked between tests.

    moto keeps its data in process-wide backends, and every other moto test
    of the worker (``mock_aws`` in the adapter tests, other emulators) resets
    them all when it starts. So between the tests that use it, the twin's
    backends are parked: taken out of moto's registry, untouched by those
    resets, and put back when the next test needs the twin. The twin itself
    is the example program applied to moto (rehearsal.world.twin) on the
    three-route stack file, built on first use (~10 s, once per worker).

    Each use puts the mutable state back as deployed (:meth:`TwinWorld.reset`)
    and, at its end, stops every run and waits for moto's interpreter threads
    (:meth:`TwinWorld.settle`). A moto server in this process serves the same
    backends to other processes (the operator CLI) while the twin is in use.
    """

    def __init__(self) -> None:
        self._world: TwinWorld | None = None
        self._parked: list[tuple[Any, dict[str, Any]]] = []
        self._server: ThreadedMotoServer | None = None

    @contextmanager
    def use(self) -> Iterator[TwinWorld]:
        """The twin, as deployed, for the duration of the block."""
        moto_patches.install()
        mock = mock_aws(config=moto_config(managed_policies=True))
        mock.start(reset=True)
        try:
            world = self._unpark() if self._world is not None else self._build()
            with route_lambda_invocations(
                {world.stack.controller_function_name: world._invoke_controller}
            ) as router:
                world.router = router
                try:
                    world.reset()
                    yield world
                finally:
                    world.settle()
                    world.router = None
        finally:
            self._park()
            mock.stop()

    def endpoint(self, world: TwinWorld) -> str:
        """The URL of a moto server on 127.0.0.1 that serves the twin (started once)."""
        if self._server is None:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
        host, port = self._server.get_host_and_port()
        world.url = f"http://{host}:{port}"
        return world.url

    def close(self) -> None:
        """Stop the server; the parked backends go with the process."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._parked = []
        self._world = None

    def _build(self) -> TwinWorld:
        emulator = Emulator(region=REGION)
        twin = build_twin(TWIN_STACK, PROJECT, emulator, stack_file=TWIN_STACK_FILE)
        factory = ClientFactory(AwsSettings(region=REGION))
        stack = SsmRegistry(factory.client("ssm"), TWIN_STACK, registry_path(TWIN_STACK)).stack()
        queue_url = _inbox(factory, stack.topic_arn)
        self._world = TwinWorld(
            emulator=emulator,
            factory=factory,
            stack=stack,
            brownfield=twin.brownfield,
            queue_url=queue_url,
            snapshot=_snapshot(factory, stack),
            applied=twin.applied,
        )
        return self._world

    def _park(self) -> None:
        """Take every backend with data out of moto's registry (see the class docstring)."""
        registered = _registered_backends()
        with backend_lock:
            self._parked = [(backends, dict(backends)) for backends in registered]
            for backends, _ in self._parked:
                dict.clear(backends)
            registered.clear()

    def _unpark(self) -> TwinWorld:
        """Put the parked backends back into moto's (freshly reset) registry."""
        assert self._world is not None
        registered = _registered_backends()
        with backend_lock:
            for backends, accounts in self._parked:
                dict.update(backends, accounts)
                if backends not in registered:
                    registered.append(backends)
        self._parked = []
        try:
            self._world.registry().stack()
        except Exception:
            # Something outside the parking reached the backends: build again.
            return self._build()
        return self._world


def lambda_role(iam: Any, name: str) -> str:
    """The ARN of a new role ``<name>-role`` that Lambda may assume (for functions in moto)."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(document))
    return str(role["Role"]["Arn"])


def weighted_forward(*groups: tuple[str, int]) -> list[dict[str, Any]]:
    """A rule's action list: one forward to ``groups`` (target group ARN, weight), in order."""
    target_groups = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in groups]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": target_groups}}]


def alb_listener(ec2: Any, elbv2: Any, region: str) -> tuple[str, str]:
    """An HTTP listener on a new ALB, forwarding to a new ECS (ip) target group.

    Returns the listener's ARN and the target group's ARN.
    """
    vpc = str(ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"])
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "c"))
    ]
    balancer = elbv2.create_load_balancer(Name="common-api", Subnets=subnets)["LoadBalancers"][0]
    ecs = elbv2.create_target_group(
        Name="map-ecs", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": ecs}],
    )["Listeners"][0]["ListenerArn"]
    return str(listener), str(ecs)


def ecs_service(
    factory: ClientFactory,
    cluster: str,
    service: str,
    desired: int,
    *,
    scalable: tuple[int, int] | None = (2, 40),
    new_cluster: bool = True,
) -> None:
    """An ECS service in moto, with a scalable target ``(min, max)`` unless ``scalable`` is None."""
    ecs = factory.client("ecs")
    if new_cluster:
        ecs.create_cluster(clusterName=cluster)
        ecs.register_task_definition(
            family="monolith",
            containerDefinitions=[{"name": "app", "image": "app", "memory": 512}],
        )
    ecs.create_service(
        cluster=cluster, serviceName=service, taskDefinition="monolith", desiredCount=desired
    )
    if scalable is not None:
        factory.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{cluster}/{service}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=scalable[0],
            MaxCapacity=scalable[1],
        )
