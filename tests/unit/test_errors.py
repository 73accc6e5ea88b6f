"""Tests of controller.core.errors: messages name route, ARN and API call; AWS errors classified."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from controller.core.errors import (
    AwsCallFailed,
    ConcurrentUpdate,
    DriftDetected,
    PlanError,
    StranglerError,
    TransitionRefused,
    UnknownRoute,
    VerificationFailed,
    WeightError,
    is_transient,
)

RULE_ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2/9683b2d02a6cabee"
)


def client_error(code: str, status: int, operation: str = "ModifyRule") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


def test_base_message_names_route_call_and_arn() -> None:
    error = StranglerError(
        "weights did not change", route="map-tile", arn=RULE_ARN, api_call="ModifyRule"
    )
    assert str(error) == f"route map-tile: ModifyRule: {RULE_ARN}: weights did not change"
    assert (error.route, error.arn, error.api_call, error.message) == (
        "map-tile",
        RULE_ARN,
        "ModifyRule",
        "weights did not change",
    )


def test_base_message_without_context_is_the_message() -> None:
    assert str(StranglerError("boom")) == "boom"
    assert str(StranglerError("boom", route="r")) == "route r: boom"


@pytest.mark.parametrize(
    "cls",
    [
        WeightError,
        PlanError,
        TransitionRefused,
        ConcurrentUpdate,
        UnknownRoute,
        VerificationFailed,
        AwsCallFailed,
        DriftDetected,
    ],
)
def test_every_error_is_a_strangler_error(cls: type[Exception]) -> None:
    assert issubclass(cls, StranglerError)


def test_weight_error_is_also_a_value_error_and_names_the_limit() -> None:
    error = WeightError("weight 1000 is outside 0-999", limit="weight 0-999")
    assert isinstance(error, ValueError)
    assert error.limit == "weight 0-999"


def test_plan_error_lists_every_problem() -> None:
    error = PlanError(["plan.stages[0].weight: x", "plan.minRequests: y"], route="map-tile")
    assert error.problems == ("plan.stages[0].weight: x", "plan.minRequests: y")
    assert str(error) == (
        "route map-tile: invalid stage plan: plan.stages[0].weight: x; plan.minRequests: y"
    )


def test_transition_refused_carries_reason_and_hint() -> None:
    error = TransitionRefused(
        "route is rolled_back",
        "an operator runs: python -m controller resume --route map-tile",
        route="map-tile",
        transition="begin",
        status="rolled_back",
    )
    assert (error.reason, error.status, error.transition) == (
        "route is rolled_back",
        "rolled_back",
        "begin",
    )
    assert str(error) == (
        "route map-tile: begin refused: route is rolled_back "
        "(hint: an operator runs: python -m controller resume --route map-tile)"
    )


def test_unknown_route_lists_the_known_routes() -> None:
    error = UnknownRoute("map-tiles", known=["search", "map-tile"])
    assert str(error) == (
        "route map-tiles: unknown route, not in the registry; known routes: map-tile, search"
    )
    assert str(UnknownRoute("x")).endswith("known routes: (none)")
    assert isinstance(error, KeyError)


def test_verification_and_drift_keep_what_was_expected_and_found() -> None:
    error = VerificationFailed(
        "read back ALB weights ecs 999 / lambda 0, wrote ALB weights ecs 899 / lambda 100",
        route="map-tile",
        arn=RULE_ARN,
        api_call="DescribeRules",
        expected="ALB weights ecs 899 / lambda 100",
        actual="ALB weights ecs 999 / lambda 0",
    )
    assert (error.expected, error.actual) == (
        "ALB weights ecs 899 / lambda 100",
        "ALB weights ecs 999 / lambda 0",
    )
    assert "DescribeRules" in str(error) and RULE_ARN in str(error)
    drift = DriftDetected("changed by hand", route="map-tile", live=1, expected=2)
    assert (drift.live, drift.expected) == (1, 2)


def test_concurrent_update_names_the_version() -> None:
    error = ConcurrentUpdate(
        "state changed since version 4",
        route="map-tile",
        api_call="TransactWriteItems",
        expected_version=4,
    )
    assert error.expected_version == 4
    assert str(error) == "route map-tile: TransactWriteItems: state changed since version 4"


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("Throttling", 400, True),
        ("ThrottlingException", 400, True),
        ("ProvisionedThroughputExceededException", 400, True),
        ("InternalFailure", 500, True),
        ("SomethingNew", 503, True),
        ("AccessDenied", 403, False),
        ("ValidationError", 400, False),
        ("ConditionalCheckFailedException", 400, False),
    ],
)
def test_client_errors_are_classified(code: str, status: int, transient: bool) -> None:
    wrapped = AwsCallFailed.from_exception(
        client_error(code, status), api_call="ModifyRule", arn=RULE_ARN, route="map-tile"
    )
    assert wrapped.transient is transient
    assert wrapped.error_code == code
    assert str(wrapped) == f"route map-tile: ModifyRule: {RULE_ARN}: {code}: {code} happened"


def test_connection_errors_are_transient() -> None:
    endpoint = EndpointConnectionError(endpoint_url="https://elasticloadbalancing.eu-west-1")
    wrapped = AwsCallFailed.from_exception(endpoint, api_call="DescribeRules")
    assert wrapped.transient
    assert wrapped.error_code is None
    assert str(wrapped).startswith("DescribeRules: EndpointConnectionError: ")
    timeout = ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1")
    assert AwsCallFailed.from_exception(timeout, api_call="GetItem").transient


def test_other_exceptions_are_not_transient() -> None:
    assert not AwsCallFailed.from_exception(ValueError("bad"), api_call="Publish").transient


def test_is_transient() -> None:
    assert is_transient("Throttling")
    assert is_transient(None, 500)
    assert is_transient(None, 429)
    assert not is_transient("AccessDenied", 403)
    assert not is_transient(None, None)


def test_wrapping_keeps_the_cause() -> None:
    original = client_error("Throttling", 400)
    with pytest.raises(AwsCallFailed) as info:
        try:
            raise original
        except ClientError as exc:
            raise AwsCallFailed.from_exception(exc, api_call="ModifyRule", arn=RULE_ARN) from exc
    assert info.value.__cause__ is original


@pytest.mark.parametrize(
    "cls", [WeightError, ConcurrentUpdate, VerificationFailed, DriftDetected, AwsCallFailed]
)
def test_errors_with_details_take_where_it_happened_like_the_base(
    cls: type[StranglerError],
) -> None:
    error = cls("boom", route="map-tile", arn=RULE_ARN, api_call="ModifyRule")
    assert (error.route, error.arn, error.api_call) == ("map-tile", RULE_ARN, "ModifyRule")
    assert str(error) == f"route map-tile: ModifyRule: {RULE_ARN}: boom"
    assert str(cls("boom")) == "boom"
