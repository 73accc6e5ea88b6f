"""controller/aws/clients.py: client factory settings and AWS error classification."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from hypothesis import given
from hypothesis import strategies as st

from controller.aws.clients import (
    ACCESS_DENIED_ERROR_CODES,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_READ_TIMEOUT_SECONDS,
    AwsAccessDenied,
    AwsSettings,
    ClientFactory,
    access_denied,
    aws_call,
    is_transient,
    wrap_error,
)
from controller.core.errors import TRANSIENT_ERROR_CODES, AwsCallFailed, StranglerError
from tests.aws_fixtures import REGION, fake_aws_env

RULE = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener-rule/app/x/1/2/3"


def client_error(code: str, status: int = 400, operation: str = "ModifyRule") -> ClientError:
    """A botocore ClientError shaped like a parsed AWS error response."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


# --- classification ---------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"],
)
def test_throttling_codes_are_transient(code: str) -> None:
    wrapped = wrap_error(
        client_error(code), api_call="elasticloadbalancing:ModifyRule", resource=RULE
    )
    assert wrapped.transient, f"{code} must be retried"
    assert not access_denied(wrapped)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_5xx_and_429_are_transient_whatever_the_code(status: int) -> None:
    assert is_transient(client_error("SomethingNew", status=status))


@pytest.mark.parametrize(
    "code",
    ["ValidationError", "RuleNotFound", "ConditionalCheckFailedException", "ParameterNotFound"],
)
def test_client_mistakes_are_permanent(code: str) -> None:
    wrapped = wrap_error(client_error(code), api_call="x:Y", resource="r")
    assert not wrapped.transient
    assert not isinstance(wrapped, AwsAccessDenied)
    assert wrapped.error_code == code


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://elasticloadbalancing.example"),
        ConnectTimeoutError(endpoint_url="https://elasticloadbalancing.example"),
        ReadTimeoutError(endpoint_url="https://elasticloadbalancing.example"),
    ],
    ids=["endpoint", "connect-timeout", "read-timeout"],
)
def test_connection_errors_are_transient(error: Exception) -> None:
    wrapped = wrap_error(error, api_call="elasticloadbalancing:ModifyRule", resource=RULE)
    assert wrapped.transient
    assert wrapped.error_code is None
    assert type(error).__name__ in str(wrapped)


@pytest.mark.parametrize(
    "error",
    [NoCredentialsError(), ParamValidationError(report="Weight must be an integer")],
    ids=["no-credentials", "param-validation"],
)
def test_local_botocore_errors_are_permanent(error: Exception) -> None:
    assert not is_transient(error)


@pytest.mark.parametrize("code", sorted(ACCESS_DENIED_ERROR_CODES))
def test_access_denied_is_flagged_and_names_the_iam_action(code: str) -> None:
    wrapped = wrap_error(
        client_error(code, status=403),
        api_call="elasticloadbalancing:ModifyRule",
        resource=RULE,
        route="map-tile",
    )
    assert isinstance(wrapped, AwsAccessDenied)
    assert isinstance(wrapped, AwsCallFailed)
    assert wrapped.access_denied and access_denied(wrapped)
    assert not wrapped.transient
    assert "lacks elasticloadbalancing:ModifyRule" in str(wrapped)


@given(code=st.sampled_from(sorted(TRANSIENT_ERROR_CODES)), status=st.sampled_from([400, 500]))
def test_every_shared_transient_code_is_transient(code: str, status: int) -> None:
    assert is_transient(client_error(code, status=status))


@given(status=st.integers(min_value=400, max_value=499).filter(lambda s: s != 429))
def test_unknown_4xx_code_is_permanent(status: int) -> None:
    assert not is_transient(client_error("UnheardOfError", status=status))


def test_message_names_route_call_resource_and_code() -> None:
    wrapped = wrap_error(
        client_error("Throttling"),
        api_call="elasticloadbalancing:ModifyRule",
        resource=RULE,
        route="map-tile",
    )
    text = str(wrapped)
    for part in ("route map-tile", "elasticloadbalancing:ModifyRule", RULE, "Throttling"):
        assert part in text, f"{part!r} missing from {text!r}"
    assert wrapped.route == "map-tile"
    assert wrapped.arn == RULE
    assert wrapped.api_call == "elasticloadbalancing:ModifyRule"


# --- aws_call ---------------------------------------------------------------------


def test_aws_call_wraps_and_chains_the_botocore_error() -> None:
    original = client_error("ThrottlingException")
    with pytest.raises(AwsCallFailed) as caught, aws_call("dynamodb:GetItem", "table/t"):
        raise original
    assert caught.value.__cause__ is original
    assert caught.value.transient


def test_aws_call_lets_our_own_errors_through() -> None:
    ours = StranglerError("rule has no forward action", route="map-tile")
    with pytest.raises(StranglerError) as caught, aws_call("x:Y", "r"):
        raise ours
    assert caught.value is ours


def test_aws_call_wraps_a_real_moto_error(factory: ClientFactory) -> None:
    elbv2 = factory.client("elbv2")
    with (
        pytest.raises(AwsCallFailed) as caught,
        aws_call("elasticloadbalancing:DescribeRules", RULE, route="map-tile"),
    ):
        elbv2.describe_rules(RuleArns=[RULE])
    assert caught.value.error_code == "RuleNotFound"
    assert not caught.value.transient
    assert RULE in str(caught.value)


def test_unreachable_endpoint_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_aws_env(monkeypatch)
    # Port 1 on loopback refuses at once; one attempt keeps the test fast.
    factory = ClientFactory(
        AwsSettings(region=REGION, endpoint_url="http://127.0.0.1:1", max_attempts=1)
    )
    with pytest.raises(AwsCallFailed) as caught, aws_call("ssm:GetParameter", "/strangler/x"):
        factory.client("ssm").get_parameter(Name="/strangler/x")
    assert caught.value.transient
    assert isinstance(caught.value.__cause__, EndpointConnectionError)


# --- factory ----------------------------------------------------------------------


def test_factory_applies_region_endpoint_retries_and_timeouts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_aws_env(monkeypatch)
    factory = ClientFactory(
        AwsSettings(region="eu-west-1", endpoint_url="http://localhost:5000", retry_mode="adaptive")
    )
    client: Any = factory.client("elbv2")
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://localhost:5000"
    config = client.meta.config
    assert config.retries["mode"] == "adaptive"
    assert config.retries["total_max_attempts"] == 3
    assert config.connect_timeout == DEFAULT_CONNECT_TIMEOUT_SECONDS
    assert config.read_timeout == DEFAULT_READ_TIMEOUT_SECONDS


def test_factory_caches_one_client_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_aws_env(monkeypatch)
    factory = ClientFactory(AwsSettings(region=REGION))
    assert factory.client("sns") is factory.client("sns")
    assert factory.client("sns") is not factory.client("sqs")


def test_factory_default_region_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_aws_env(monkeypatch)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert ClientFactory().client("ssm").meta.region_name == "us-west-2"
