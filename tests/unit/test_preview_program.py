"""The preview rule and the traffic checker as the program declares them (Pulumi mocks)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from components.controller_function import CONTROLLER_TIMEOUT_SECONDS
from components.traffic_check import CHECK_TIMEOUT_SECONDS, ENV_CHECK, checker_policy
from controller.aws.verify import CHECK_READ_TIMEOUT_SECONDS
from controller.core.contract import RouteRecord
from tests.example_stack import write_own_logs
from tests.pulumi_mocks import ProgramRun, by_name, run_program_full

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "traffic_check"
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

import check_limits  # noqa: E402

from components.config import MAX_VERIFY_SAMPLES  # noqa: E402

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/strangler-prod-map-tile-check"
HOOK = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tile-hook:live"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program_full("Pulumi.prod.yaml")


def test_the_preview_rule_adds_the_header_and_forwards_only_to_lambda(prod: ProgramRun) -> None:
    weighted = by_name(prod.resources, "map-tile-traffic-rule")
    preview = by_name(prod.resources, "map-tile-preview-rule")
    lambda_tg = by_name(prod.resources, "map-tile-traffic-tg").outputs["arn"]
    assert preview.parent == "map-tile-preview"
    assert preview.inputs["listenerArn"] == weighted.inputs["listenerArn"]
    assert (preview.inputs["priority"], weighted.inputs["priority"]) == (99, 100)
    assert preview.inputs["conditions"] == [
        *weighted.inputs["conditions"],
        {"httpHeader": {"httpHeaderName": "X-Strangler-Preview", "values": ["map-tile"]}},
    ]
    (action,) = preview.inputs["actions"]
    assert action["type"] == "forward"
    assert action["forward"]["targetGroups"] == [{"arn": lambda_tg, "weight": 1}]
    assert preview.ignore_changes == [], "Pulumi owns the preview rule whole"
    assert weighted.ignore_changes == ["actions"]


def test_the_checker_runs_in_the_vpc_and_knows_the_alb_from_the_listener(
    prod: ProgramRun,
) -> None:
    function = by_name(prod.resources, "map-tile-check-function")
    inputs = function.inputs
    assert inputs["name"] == "strangler-prod-map-tile-check"
    assert (inputs["handler"], inputs["runtime"]) == ("check_app.handler", "python3.12")
    assert inputs["timeout"] == CHECK_TIMEOUT_SECONDS
    assert inputs["vpcConfig"] == {
        "subnetIds": ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"],
        "securityGroupIds": ["sg-0c3d4e5f60718293a"],
    }
    assert "tracingConfig" not in inputs, "no X-Ray: the checker's role has no '*'"
    check = json.loads(inputs["environment"]["variables"][ENV_CHECK])
    assert check == {
        "route": "map-tile",
        "baseUrl": f"http://common-api-50dc6c495c.{REGION}.elb.amazonaws.com:80",
        "previewHeader": "X-Strangler-Preview",
        "samples": [
            {"path": "/map/v1/tile/10/905/403.png", "method": "GET"},
            {"path": "/map/v1/tile/10/905/404.png", "method": "HEAD"},
        ],
        "compare": "exact",
        "headers": ["Cache-Control", "Content-Encoding"],
        "hookFunctionArn": None,
        "hostHeader": None,
    }
    attachment = by_name(prod.resources, "map-tile-check-vpc-access")
    assert attachment.inputs["policyArn"].endswith(
        ":policy/service-role/AWSLambdaVPCAccessExecutionRole"
    )


def test_the_checker_may_write_its_logs_and_nothing_else_without_a_hook(prod: ProgramRun) -> None:
    policy = json.loads(by_name(prod.resources, "map-tile-check-policy").inputs["policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [write_own_logs(LOG_GROUP)],
    }


def test_with_a_hook_the_checker_may_invoke_exactly_that_hook() -> None:
    assert checker_policy(LOG_GROUP, HOOK) == {
        "Version": "2012-10-17",
        "Statement": [
            write_own_logs(LOG_GROUP),
            {
                "Sid": "InvokeVerifyHook",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": HOOK,
            },
        ],
    }
    assert "*" not in json.dumps(checker_policy(LOG_GROUP, HOOK)).replace("log-stream:*", "")


def test_the_controller_may_invoke_the_checker_and_the_registry_names_it(
    prod: ProgramRun,
) -> None:
    policy = json.loads(by_name(prod.resources, "controller-function-policy").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["RunTrafficChecks"] == {
        "Sid": "RunTrafficChecks",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:strangler-prod-map-tile-check"],
    }
    record = RouteRecord.from_json(
        by_name(prod.resources, "controller-registry-route-map-tile").inputs["insecureValue"]
    )
    assert record.check_function_name == "strangler-prod-map-tile-check"


def test_the_check_fits_inside_the_controller_that_waits_for_it() -> None:
    worst: Any = (
        MAX_VERIFY_SAMPLES * 2 * check_limits.REQUEST_TIMEOUT_SECONDS
        + check_limits.HOOK_TIMEOUT_SECONDS
    )
    assert worst < check_limits.FUNCTION_TIMEOUT_SECONDS == CHECK_TIMEOUT_SECONDS
    assert CHECK_TIMEOUT_SECONDS < CHECK_READ_TIMEOUT_SECONDS < CONTROLLER_TIMEOUT_SECONDS
