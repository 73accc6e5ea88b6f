"""controller/aws/registry.py: the SSM registry read through real boto3 clients on moto."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.aws.clients import ClientFactory
from controller.aws.registry import SsmRegistry
from controller.core.contract import (
    StackRecord,
    route_parameter_name,
    stack_parameter_name,
)
from controller.core.errors import AwsCallFailed, StranglerError, UnknownRoute
from tests.aws_fixtures import STACK, AlbWorld, CallCounter, ErrorInjector

ARN = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012"


def stack_record(routes: tuple[str, ...]) -> StackRecord:
    return StackRecord(
        stack=STACK,
        table_name="strangler-test-state",
        state_machine_arn="arn:aws:states:ap-northeast-1:123456789012:stateMachine:strangler-test",
        topic_arn="arn:aws:sns:ap-northeast-1:123456789012:strangler-test-alerts",
        controller_function_name="strangler-test-controller",
        dashboard_name="strangler-test",
        routes=routes,
    )


def fake_world() -> AlbWorld:
    """Only the ARNs matter to the registry; no ALB is needed."""
    return AlbWorld.without_alb(ARN)


def write_registry(factory: ClientFactory, routes: list[str]) -> None:
    ssm = factory.client("ssm")
    ssm.put_parameter(
        Name=stack_parameter_name(STACK),
        Value=stack_record(tuple(routes)).to_json(),
        Type="String",
    )
    base = fake_world().route_record()
    for name in routes:
        record = replace(base, route=name, function_name=f"strangler-{STACK}-{name}")
        ssm.put_parameter(
            Name=route_parameter_name(STACK, name), Value=record.to_json(), Type="String"
        )


def test_reads_the_stack_record(factory: ClientFactory) -> None:
    write_registry(factory, ["map-tile"])
    registry = SsmRegistry(factory.client("ssm"), STACK)
    assert registry.stack() == stack_record(("map-tile",))


def test_reads_every_route_across_pages(factory: ClientFactory) -> None:
    # GetParametersByPath returns at most 10 per page: 23 routes need 3 pages.
    names = [f"route-{i:02d}" for i in range(23)]
    write_registry(factory, names)
    ssm = factory.client("ssm")
    counter = CallCounter(ssm)
    registry = SsmRegistry(ssm, STACK)

    routes = registry.routes()

    assert [r.route for r in routes] == names
    assert counter.count("GetParametersByPath") >= 3
    assert registry.route("route-17").function_name == f"strangler-{STACK}-route-17"


def test_route_record_round_trips_all_fields(factory: ClientFactory) -> None:
    write_registry(factory, ["map-tile"])
    expected = fake_world().route_record()
    got = SsmRegistry(factory.client("ssm"), STACK).route("map-tile")
    assert got == replace(expected, function_name=f"strangler-{STACK}-map-tile")


def test_unknown_route_lists_the_known_routes(factory: ClientFactory) -> None:
    write_registry(factory, ["map-tile", "geo-search"])
    registry = SsmRegistry(factory.client("ssm"), STACK)
    with pytest.raises(UnknownRoute) as caught:
        registry.route("map-tiles")
    assert caught.value.route == "map-tiles"
    assert caught.value.known == ("geo-search", "map-tile")
    assert "geo-search, map-tile" in str(caught.value)


def test_unknown_route_on_an_empty_registry_says_none(factory: ClientFactory) -> None:
    registry = SsmRegistry(factory.client("ssm"), STACK)
    with pytest.raises(UnknownRoute) as caught:
        registry.route("map-tile")
    assert caught.value.known == ()


def test_reads_ssm_once_per_instance(factory: ClientFactory) -> None:
    write_registry(factory, ["map-tile", "geo-search"])
    ssm = factory.client("ssm")
    counter = CallCounter(ssm)
    registry = SsmRegistry(ssm, STACK)

    for _ in range(3):
        registry.stack()
        registry.routes()
        registry.route("map-tile")

    assert counter.count("GetParameter") == 1
    assert counter.count("GetParametersByPath") == 1


def test_explicit_path_overrides_the_default(factory: ClientFactory) -> None:
    ssm = factory.client("ssm")
    record = replace(fake_world().route_record(), route="elsewhere")
    ssm.put_parameter(Name="/custom/path/routes/elsewhere", Value=record.to_json(), Type="String")
    registry = SsmRegistry(ssm, STACK, path="/custom/path/")
    assert registry.path == "/custom/path"
    assert registry.route("elsewhere") == record


def test_missing_stack_parameter_names_it(factory: ClientFactory) -> None:
    registry = SsmRegistry(factory.client("ssm"), STACK)
    with pytest.raises(StranglerError, match=f"/strangler/{STACK}/stack not found"):
        registry.stack()


def test_broken_route_value_names_the_parameter(factory: ClientFactory) -> None:
    ssm = factory.client("ssm")
    ssm.put_parameter(
        Name=route_parameter_name(STACK, "map-tile"), Value='{"route": "map-tile"}', Type="String"
    )
    with pytest.raises(StranglerError, match=f"/strangler/{STACK}/routes/map-tile"):
        SsmRegistry(ssm, STACK).routes()


def test_ssm_errors_are_wrapped_and_name_the_path(factory: ClientFactory) -> None:
    ssm = factory.client("ssm")
    ErrorInjector(ssm, "GetParametersByPath", "ThrottlingException")
    registry = SsmRegistry(ssm, STACK)
    with pytest.raises(AwsCallFailed) as caught:
        registry.routes()
    assert caught.value.api_call == "ssm:GetParametersByPath"
    assert caught.value.arn == f"/strangler/{STACK}/routes"
    assert caught.value.transient


def test_a_failed_read_is_not_cached(factory: ClientFactory) -> None:
    write_registry(factory, ["map-tile"])
    ssm = factory.client("ssm")
    ErrorInjector(ssm, "GetParameter", "ThrottlingException")
    registry = SsmRegistry(ssm, STACK)
    with pytest.raises(AwsCallFailed):
        registry.stack()
    assert registry.stack().routes == ("map-tile",)
