"""How the program's resources can be replaced, recorded through the mock monitor.

Pulumi replaces a resource by creating the new one before deleting the old one,
unless the resource says ``deleteBeforeReplace``. A resource with a fixed
physical name (or an identity fixed by its inputs) cannot be created while the
old one still exists, so it must say it. The Lambda target group is the one
exception: it must never be replaced at all (see components/traffic.py).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.pulumi_mocks import (
    PROJECT_ROOT,
    RecordedResource,
    by_type,
    load_stack_config,
    run_program,
)

PROD = PROJECT_ROOT / "Pulumi.prod.yaml"
THREE = PROJECT_ROOT / "tests" / "stacks" / "Pulumi.three.yaml"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"

#: Inputs that carry a resource's physical name.
NAME_KEYS = ("name", "alarmName", "dashboardName")

#: Every AWS type the program declares, and whether its replacement deletes first.
DELETE_BEFORE_REPLACE: dict[str, bool] = {
    # A fixed physical name (components/naming.py).
    "aws:cloudwatch/logGroup:LogGroup": True,
    "aws:lambda/function:Function": True,
    "aws:cloudwatch/metricAlarm:MetricAlarm": True,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": True,
    "aws:sns/topic:Topic": True,
    "aws:dynamodb/table:Table": True,
    "aws:sqs/queue:Queue": True,
    "aws:sfn/stateMachine:StateMachine": True,
    "aws:cloudwatch/eventRule:EventRule": True,
    "aws:scheduler/schedule:Schedule": True,
    "aws:cloudwatch/dashboard:Dashboard": True,
    "aws:ssm/parameter:Parameter": True,
    "aws:lambda/alias:Alias": True,
    # An identity fixed by the inputs: created first, the new one would be
    # overwritten or removed together with the old one.
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": True,
    "aws:cloudwatch/eventTarget:EventTarget": True,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": True,
    "aws:sqs/queuePolicy:QueuePolicy": True,
    # Never replaced: a replacement stops at CreateTargetGroup (duplicate name)
    # before anything is deleted (components/traffic.py).
    TARGET_GROUP: False,
    # Names or ids the provider generates, or a new identity on every
    # replacement (a new listener for a rule, a new role for a policy).
    "aws:lb/listenerRule:ListenerRule": False,
    "aws:iam/role:Role": False,
    "aws:iam/rolePolicy:RolePolicy": False,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": False,
    "aws:lambda/permission:Permission": False,
    "aws:sns/topicSubscription:TopicSubscription": False,
}


@pytest.fixture(scope="module", params=[PROD, THREE], ids=lambda path: path.name)
def resources(request: pytest.FixtureRequest) -> list[RecordedResource]:
    return [r for r in run_program(request.param) if r.custom]


def test_every_declared_type_has_a_replacement_decision(resources: list[RecordedResource]) -> None:
    assert {r.type for r in resources} <= set(DELETE_BEFORE_REPLACE)


def test_replacements_delete_first_exactly_where_a_name_is_fixed(
    resources: list[RecordedResource],
) -> None:
    wrong = {
        r.name: r.delete_before_replace
        for r in resources
        if r.delete_before_replace != DELETE_BEFORE_REPLACE[r.type]
    }
    assert wrong == {}


def test_every_named_resource_but_the_target_group_deletes_first(
    resources: list[RecordedResource],
) -> None:
    named = [r for r in resources if any(key in r.inputs for key in NAME_KEYS)]
    assert {r.type for r in named} >= {
        "aws:lambda/function:Function",
        "aws:dynamodb/table:Table",
        "aws:sfn/stateMachine:StateMachine",
        TARGET_GROUP,
    }
    assert [r.name for r in named if not r.delete_before_replace] == [
        r.name for r in named if r.type == TARGET_GROUP
    ]


# --- the Lambda target group is never replaced ---------------------------------------------

#: The TargetGroup inputs whose change replaces it (CreateTargetGroup parameters
#: that ModifyTargetGroup cannot change).
TARGET_GROUP_REPLACEMENT_INPUTS = (
    "name",
    "namePrefix",
    "targetType",
    "port",
    "protocol",
    "protocolVersion",
    "vpcId",
    "ipAddressType",
)
OTHER_ECS_TG = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/map-ecs-2/"
    "0f1e2d3c4b5a6978"
)
OTHER_LISTENER = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/other-api/"
    "1a2b3c4d5e6f7081/92a3b4c5d6e7f809"
)


def everything_but_the_names_changed() -> dict[str, Any]:
    """Pulumi.prod.yaml with every setting of the stack and the route changed except names."""
    config = load_stack_config(PROD)
    routes = copy.deepcopy(config["strangler:routes"])
    tile = routes[0]
    tile["priority"] = 200
    tile["match"] = {"pathPatterns": ["/map/v2/tile/*"], "hostHeaders": ["maps.example.com"]}
    tile["ecsTargetGroupArn"] = OTHER_ECS_TG
    tile["function"].update(
        {
            "memoryMb": 1024,
            "timeoutSeconds": 20,
            "reservedConcurrency": 20,
            "architecture": "arm64",
            "runtime": "python3.13",
            "environment": {"UPSTREAM_URL": "http://elsewhere.example.local"},
        }
    )
    tile["healthCheck"] = {
        "path": "/map/v2/tile/ping",
        "intervalSeconds": 60,
        "timeoutSeconds": 15,
        "healthyThreshold": 3,
        "unhealthyThreshold": 4,
        "matcher": "200-299",
    }
    tile["canary"] = {
        "stages": [{"weight": 5, "bakeMinutes": 1}, {"weight": 100}],
        "stagesPerRun": 1,
        "minRequests": 10,
        "alarms": {"errorRatePercent": 5, "p99LatencyMs": 500, "throttles": 3},
    }
    return {
        "strangler:routes": routes,
        "strangler:listenerArn": OTHER_LISTENER,
        "strangler:vpc": None,
        "strangler:alertEmails": ["someone-else@example.com"],
        "strangler:logRetentionDays": 90,
    }


def replacement_inputs(stack_file: Path, overrides: dict[str, Any] | None = None) -> dict:
    (target_group,) = by_type(run_program(stack_file, config_overrides=overrides), TARGET_GROUP)
    return {key: target_group.inputs.get(key) for key in TARGET_GROUP_REPLACEMENT_INPUTS}


def test_no_config_change_but_the_names_replaces_the_target_group() -> None:
    before = replacement_inputs(PROD)
    after = replacement_inputs(PROD, everything_but_the_names_changed())
    assert (
        before
        == after
        == {
            "name": "sl-prod-map-tile",
            "namePrefix": None,
            "targetType": "lambda",
            "port": None,
            "protocol": None,
            "protocolVersion": None,
            "vpcId": None,
            "ipAddressType": None,
        }
    )


def test_the_changed_config_does_reach_the_target_group() -> None:
    """The run above is not vacuous: the health check is an in-place update."""
    (target_group,) = by_type(
        run_program(PROD, config_overrides=everything_but_the_names_changed()), TARGET_GROUP
    )
    assert target_group.inputs["healthCheck"]["path"] == "/map/v2/tile/ping"
    assert target_group.inputs["healthCheck"]["interval"] == 60
