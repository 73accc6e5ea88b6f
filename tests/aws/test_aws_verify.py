"""controller/aws/verify.py on moto: the checker invoked through real boto3, its answer read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from moto import mock_aws

from controller.aws.clients import AwsSettings, ClientFactory
from controller.aws.verify import CheckFailed, LambdaVerify, check_client
from controller.core.errors import AwsCallFailed
from controller.core.verify import VerifyAnswerInvalid
from rehearsal.world.moto_lambda import route_lambda_invocations
from tests.aws.test_moto_lambda import MOTO_CONFIG, create_function
from tests.aws_fixtures import REGION, fake_aws_env
from tests.fakes import route_record

CHECKER = "strangler-test-map-tile-check"
RECORD = replace(route_record("map-tile"), check_function_name=CHECKER)
PASSED = {
    "route": "map-tile",
    "mode": "status",
    "passed": True,
    "samples": [
        {
            "sample": "#1 GET /t.png",
            "lambda": {"status": 200, "bodyLength": 0},
            "ecs": {"status": 200, "bodyLength": 0},
            "differences": [],
        }
    ],
    "differences": [],
}


@pytest.fixture(name="factory")
def _factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """An empty moto account (Lambda without Docker) with the checker deployed; the router
    runs the test's handler in its place."""
    fake_aws_env(monkeypatch)
    with mock_aws(config=MOTO_CONFIG):
        create_function(CHECKER)
        yield ClientFactory(AwsSettings(region=REGION))


def test_the_checker_is_invoked_with_the_route_and_its_report_read(factory: Any) -> None:
    events: list[Any] = []

    def checker(event: Any, context: Any) -> Any:
        events.append(event)
        return PASSED

    with route_lambda_invocations({CHECKER: checker}):
        report = LambdaVerify(check_client(factory)).run_check(RECORD)
    assert events == [{"route": "map-tile"}]
    assert report.passed and report.mode == "status"
    assert report.samples[0].lambda_status == "200"


def test_a_checker_that_raises_is_a_check_that_could_not_run(factory: Any) -> None:
    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("no route to the ALB")

    with route_lambda_invocations({CHECKER: broken}), pytest.raises(CheckFailed) as caught:
        LambdaVerify(check_client(factory)).run_check(RECORD)
    assert "the checker failed (Unhandled): no route to the ALB" in str(caught.value)


def test_a_malformed_answer_and_a_missing_checker_are_named(factory: Any) -> None:
    verify = LambdaVerify(check_client(factory))
    with route_lambda_invocations({CHECKER: lambda event, context: {"passed": True}}):
        with pytest.raises(VerifyAnswerInvalid):
            verify.run_check(RECORD)
        with pytest.raises(
            AwsCallFailed, match=r"lambda:InvokeFunction: nobody: ResourceNotFoundException"
        ):
            verify.run_check(replace(RECORD, check_function_name="nobody"))
    with pytest.raises(CheckFailed, match=r"add routes\[\]\.verify"):
        verify.run_check(replace(RECORD, check_function_name=None))
