"""moto-backed AWS fixtures for the adapter tests (controller/aws/*.py, registry.py).

Everything is built through real boto3 clients inside ``mock_aws``; the tests
then drive the adapters through the same kind of clients. Region ap-northeast-1,
fake credentials from the environment (never a real profile).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from controller.aws.clients import AwsSettings, ClientFactory
from controller.core.contract import PlanRecord, RouteRecord, StagePlanRecord

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
