"""VerifyPort on Lambda: invoke the route's checker (functions/traffic_check) and read its report.

The checker runs in the route's VPC, where it can reach the ALB; the
controller only invokes it synchronously and reads the answer. IAM:
``lambda:InvokeFunction`` on the stack's checker functions
(components/controller_iam.py, statement RunTrafficChecks).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config

from controller.aws.clients import ClientFactory, aws_call
from controller.core.contract import RouteRecord
from controller.core.errors import StranglerError
from controller.core.verify import VerifyReport, report_from_answer

INVOKE = "lambda:InvokeFunction"
# The checker's own timeout is 18 s (components/traffic_check.py); wait a
# little longer than that, and inside the controller's 30 s. A timed-out check
# is not repeated here: the state machine retries transient errors itself.
CHECK_READ_TIMEOUT_SECONDS = 22.0

__all__ = ["CHECK_READ_TIMEOUT_SECONDS", "CheckFailed", "LambdaVerify", "check_client"]


class CheckFailed(StranglerError):
    """The check could not run: no checker, or the checker itself failed."""


def check_client(factory: ClientFactory) -> Any:
    """A Lambda client for the synchronous check: the factory's settings, a longer read."""
    config = factory.settings.botocore_config().merge(
        Config(read_timeout=CHECK_READ_TIMEOUT_SECONDS, retries={"total_max_attempts": 1})
    )
    return factory.session().client(
        "lambda", endpoint_url=factory.settings.endpoint_url, config=config
    )


class LambdaVerify:
    """:class:`~controller.core.ports.VerifyPort` on a boto3 ``lambda`` client."""

    def __init__(self, lambda_client: Any) -> None:
        self._lambda = lambda_client

    def run_check(self, route: RouteRecord) -> VerifyReport:
        """Invoke the route's checker and return its report.

        :class:`CheckFailed` when the route has no checker or the checker
        raised; ``AwsCallFailed`` when Lambda refused the call.
        """
        name = route.check_function_name
        if not name:
            raise CheckFailed(
                "the route has no checker: add routes[].verify to the stack config and deploy",
                route=route.route,
            )
        with aws_call(INVOKE, name, route=route.route):
            response = self._lambda.invoke(
                FunctionName=name,
                InvocationType="RequestResponse",
                Payload=json.dumps({"route": route.route}).encode(),
            )
            body = response["Payload"].read()
        try:
            answer = json.loads(body or b"null")
        except ValueError as error:
            raise CheckFailed(
                f"the checker answered something that is not JSON: {body[:200]!r}",
                route=route.route,
                arn=name,
            ) from error
        if response.get("FunctionError"):
            detail = answer if not isinstance(answer, dict) else answer.get("errorMessage", answer)
            raise CheckFailed(
                f"the checker failed ({response['FunctionError']}): {detail}",
                route=route.route,
                arn=name,
                api_call=INVOKE,
            )
        return report_from_answer(route.route, answer)
