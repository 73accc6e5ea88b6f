"""controller/aws/alarms.py: the AlarmPort on a real boto3 CloudWatch client against moto."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest

from controller.aws.alarms import CloudWatchAlarms, status_from_pages
from controller.aws.clients import ClientFactory
from controller.core.contract import RouteRecord
from controller.core.errors import AwsCallFailed, StranglerError
from controller.core.ports import ALARM, INSUFFICIENT_DATA, OK, AlarmStatus
from tests.aws_fixtures import REGION, AlbWorld, CallCounter, ErrorInjector

ARN = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012"


@pytest.fixture
def route() -> RouteRecord:
    # Only the alarm names and ARNs matter here; no ALB is needed.
    return AlbWorld.without_alb(ARN).route_record()


@pytest.fixture
def deployer(factory: ClientFactory) -> Any:
    """The deploy's own CloudWatch client (not the adapter's)."""
    return boto3.client("cloudwatch", region_name=REGION)


@pytest.fixture
def cloudwatch(factory: ClientFactory) -> Any:
    return factory.client("cloudwatch")


def deploy_alarms(client: Any, route: RouteRecord, *, composite: bool = True) -> None:
    """The route's child metric alarms and (with ``composite``) their composite, as deployed."""
    for name in route.alarm_names:
        client.put_metric_alarm(
            AlarmName=name,
            Namespace="Strangler",
            MetricName="AppErrors",
            Dimensions=[{"Name": "route", "Value": route.route}],
            Statistic="Sum",
            Period=10,
            EvaluationPeriods=3,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
        )
    if composite:
        client.put_composite_alarm(
            AlarmName=route.composite_alarm_name,
            AlarmRule=" OR ".join(f'ALARM("{name}")' for name in route.alarm_names),
        )


def set_state(client: Any, name: str, state: str) -> None:
    # moto never evaluates alarms; tests set states by hand, as AWS would after evaluation.
    client.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_all_quiet(deployer: Any, cloudwatch: Any, route: RouteRecord) -> None:
    deploy_alarms(deployer, route)
    status = CloudWatchAlarms(cloudwatch).alarm_status(route)
    # moto starts alarms in OK (AWS: INSUFFICIENT_DATA).
    assert status == AlarmStatus(composite_state=OK, children_in_alarm=())
    assert not status.in_alarm


def test_child_in_alarm_is_reported_even_while_the_composite_is_ok(
    deployer: Any, cloudwatch: Any, route: RouteRecord
) -> None:
    deploy_alarms(deployer, route)
    errors = route.alarm_names[0]
    set_state(deployer, errors, ALARM)

    status = CloudWatchAlarms(cloudwatch).alarm_status(route)

    assert status.composite_state == OK
    assert status.children_in_alarm == (errors,)
    assert status.in_alarm, "a child in ALARM fails the check"


def test_composite_in_alarm(deployer: Any, cloudwatch: Any, route: RouteRecord) -> None:
    deploy_alarms(deployer, route)
    set_state(deployer, route.composite_alarm_name, ALARM)
    set_state(deployer, route.alarm_names[1], ALARM)
    set_state(deployer, route.alarm_names[0], ALARM)

    status = CloudWatchAlarms(cloudwatch).alarm_status(route)

    assert status.composite_state == ALARM
    assert status.children_in_alarm == tuple(sorted(route.alarm_names))


def test_insufficient_data_passes_through(
    deployer: Any, cloudwatch: Any, route: RouteRecord
) -> None:
    deploy_alarms(deployer, route)
    set_state(deployer, route.composite_alarm_name, INSUFFICIENT_DATA)
    set_state(deployer, route.alarm_names[0], INSUFFICIENT_DATA)
    status = CloudWatchAlarms(cloudwatch).alarm_status(route)
    assert status == AlarmStatus(composite_state=INSUFFICIENT_DATA, children_in_alarm=())


def test_other_routes_alarms_do_not_count(
    deployer: Any, cloudwatch: Any, route: RouteRecord
) -> None:
    other = replace(
        route,
        route="geo",
        composite_alarm_name="strangler-test-geo-composite",
        alarm_names=("strangler-test-geo-errors",),
    )
    deploy_alarms(deployer, route)
    deploy_alarms(deployer, other)
    set_state(deployer, "strangler-test-geo-errors", ALARM)
    set_state(deployer, other.composite_alarm_name, ALARM)

    assert CloudWatchAlarms(cloudwatch).alarm_status(route) == AlarmStatus(OK, ())


def test_one_call_with_both_alarm_types_and_no_state_filter(
    deployer: Any, cloudwatch: Any, route: RouteRecord
) -> None:
    deploy_alarms(deployer, route)
    counter = CallCounter(cloudwatch)
    CloudWatchAlarms(cloudwatch).alarm_status(route)
    assert counter.count("DescribeAlarms") == 1
    params = counter.params("DescribeAlarms")[0]
    assert params["AlarmTypes"] == ["CompositeAlarm", "MetricAlarm"]
    assert params["AlarmNames"][0] == route.composite_alarm_name
    assert "StateValue" not in params, "states are filtered in our code, never by the API"


def test_more_than_100_names_are_split(deployer: Any, cloudwatch: Any, route: RouteRecord) -> None:
    many = replace(
        route, alarm_names=tuple(f"strangler-test-map-tile-c{i:03d}" for i in range(150))
    )
    deploy_alarms(deployer, many)
    set_state(deployer, "strangler-test-map-tile-c149", ALARM)
    counter = CallCounter(cloudwatch)

    status = CloudWatchAlarms(cloudwatch).alarm_status(many)

    assert counter.count("DescribeAlarms") == 2
    assert status.children_in_alarm == ("strangler-test-map-tile-c149",)


def test_missing_composite_is_an_error_naming_it(
    deployer: Any, cloudwatch: Any, route: RouteRecord
) -> None:
    deploy_alarms(deployer, route, composite=False)
    with pytest.raises(StranglerError) as caught:
        CloudWatchAlarms(cloudwatch).alarm_status(route)
    assert route.composite_alarm_name in str(caught.value)
    assert caught.value.route == route.route


def test_throttling_is_wrapped_as_transient(cloudwatch: Any, route: RouteRecord) -> None:
    ErrorInjector(cloudwatch, "DescribeAlarms", "Throttling", status=400)
    with pytest.raises(AwsCallFailed) as caught:
        CloudWatchAlarms(cloudwatch).alarm_status(route)
    assert caught.value.transient
    assert caught.value.api_call == "cloudwatch:DescribeAlarms"


def test_a_metric_alarm_named_like_the_composite_is_not_the_composite(
    route: RouteRecord,
) -> None:
    pages = [
        {"MetricAlarms": [{"AlarmName": route.composite_alarm_name, "StateValue": OK}]},
    ]
    with pytest.raises(StranglerError, match="not found"):
        status_from_pages(route, pages)
