"""A stack in a China region: every ARN the program declares is in the aws-cn partition.

ARNs reach the resources three ways: from the stack config (listener, target
groups, layer), from the provider's answers (the mocks answer in the region's
partition, as AWS does), and built by hand (IAM policies, the state machine's
``lambda:invoke`` integration, alarm ARNs on the dashboard, the managed VPC
access policy). The last kind is the one this test is for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from controller.core.state_machine import build_definition, lambda_invoke_resource
from tests.pulumi_mocks import PROJECT_ROOT, ProgramRun, by_type, run_program_full

CHINA = PROJECT_ROOT / "tests" / "stacks" / "Pulumi.china.yaml"
#: ``arn:aws:`` exactly: ``arn:aws-cn:`` does not match.
AWS_PARTITION_ARN = re.compile(r"arn:aws:")


@pytest.fixture(scope="module")
def china() -> ProgramRun:
    return run_program_full(CHINA)


def _json_or_none(text: str) -> Any:
    """The JSON document ``text`` holds, or None when it holds none."""
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def strings(value: Any) -> Iterator[str]:
    """Every string inside an input, JSON documents included (policies, definitions)."""
    if isinstance(value, str):
        yield value
        document = _json_or_none(value)
        if document is not None:
            yield from strings(document)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def test_no_input_names_the_aws_partition(china: ProgramRun) -> None:
    found = {
        resource.name: text
        for resource in china.resources
        for text in strings(resource.inputs)
        if AWS_PARTITION_ARN.search(text)
    }
    assert found == {}


def test_the_hand_built_arns_are_in_the_china_partition(china: ProgramRun) -> None:
    (machine,) = by_type(china.resources, "aws:sfn/stateMachine:StateMachine")
    definition = json.loads(machine.inputs["definition"])
    resources = {
        state["Resource"] for state in definition["States"].values() if state["Type"] == "Task"
    }
    assert resources == {"arn:aws-cn:states:::lambda:invoke"}
    (attachment,) = by_type(china.resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == (
        "arn:aws-cn:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    )
    policies = {
        r.name: json.loads(r.inputs["policy"])
        for r in by_type(china.resources, "aws:iam/rolePolicy:RolePolicy")
    }
    controller = {s["Sid"]: s for s in policies["controller-function-policy"]["Statement"]}
    assert all(
        arn.startswith("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/strangler/china")
        for arn in controller["ReadRegistry"]["Resource"]
    )
    assert controller["StartAndListRuns"]["Resource"].startswith("arn:aws-cn:states:cn-north-1:")
    everything = [text for r in china.resources for text in strings(r.inputs)]
    assert any(text.startswith("arn:aws-cn:") for text in everything)


def test_every_arn_in_the_inputs_is_in_the_china_partition(china: ProgramRun) -> None:
    arns = {
        match
        for resource in china.resources
        for text in strings(resource.inputs)
        for match in re.findall(r"arn:[a-z-]+:", text)
    }
    assert arns == {"arn:aws-cn:"}


@pytest.mark.parametrize(
    ("function_arn", "invoke"),
    [
        (
            "arn:aws:lambda:ap-northeast-1:123456789012:function:f",
            "arn:aws:states:::lambda:invoke",
        ),
        (
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:f",
            "arn:aws-cn:states:::lambda:invoke",
        ),
        (
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
            "arn:aws-us-gov:states:::lambda:invoke",
        ),
    ],
)
def test_the_definition_invokes_lambda_in_the_function_partition(
    function_arn: str, invoke: str
) -> None:
    definition = build_definition(function_arn)
    tasks = [state for state in definition["States"].values() if state["Type"] == "Task"]
    assert tasks and {task["Resource"] for task in tasks} == {invoke}


def test_an_explicit_partition_wins_and_a_bad_one_is_refused() -> None:
    definition = build_definition("strangler-cn-controller", partition="aws-cn")
    assert {s.get("Resource") for s in definition["States"].values() if s["Type"] == "Task"} == {
        lambda_invoke_resource("aws-cn")
    }
    with pytest.raises(ValueError, match="not an ARN"):
        build_definition("strangler-cn-controller")
    with pytest.raises(ValueError, match="not an AWS partition"):
        lambda_invoke_resource("azure")
