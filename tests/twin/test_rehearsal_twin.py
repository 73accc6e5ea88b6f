"""Tests of rehearsal/world/twin.py: brownfield plus program in one call (three routes).

The stack is the session's shared twin (``tests/stacks/Pulumi.three.yaml``
applied by :func:`rehearsal.world.twin.build_twin`; see tests/conftest.py),
read only.
"""

from __future__ import annotations

import io
import zipfile

from rehearsal.world.lambda_runtime import deployed_package, function_config
from tests.aws_fixtures import TwinWorld


def test_three_routes_on_one_listener(twin: TwinWorld) -> None:
    emulator = twin.emulator
    assert twin.applied.stack == "three"
    assert len(twin.applied.route_names) == 3
    elbv2 = emulator.client("elbv2")
    rules = [
        r
        for r in elbv2.describe_rules(ListenerArn=twin.brownfield.listener_arn)["Rules"]
        if not r["IsDefault"]
    ]
    assert len(rules) == 6, "per route a weighted rule and a preview rule"
    for route in twin.applied.route_names:
        declared = twin.applied.route_resources(route, "aws:lb/listenerRule:ListenerRule")
        by_name = {r.name: r for r in declared}
        traffic = by_name[f"{route}-traffic-rule"]
        [described] = [r for r in rules if r["RuleArn"] == traffic.id]
        groups = described["Actions"][0]["ForwardConfig"]["TargetGroups"]
        ecs = twin.brownfield.ecs_target_group_arns[route]
        assert ecs in {g["TargetGroupArn"] for g in groups}, route
        # The fixture puts every rule back at ECS before a test, so the deploy's
        # own weights are read from what the rule was created with.
        [forward] = traffic.inputs["actions"]
        created = {g["arn"]: g["weight"] for g in forward["forward"]["targetGroups"]}
        assert created.pop(ecs) == 1 and list(created.values()) == [0], route
        [preview] = [r for r in rules if r["RuleArn"] == by_name[f"{route}-preview-rule"].id]
        [group] = preview["Actions"][0]["ForwardConfig"]["TargetGroups"]
        assert group["TargetGroupArn"] != ecs, f"{route}: the preview rule skips ECS"
        header = [c for c in preview["Conditions"] if c["Field"] == "http-header"]
        assert header[0]["HttpHeaderConfig"]["Values"] == [route]
    # map-poi sets powertoolsLayer: its archive leaves Powertools out, and the
    # layer is the one the public parameter of the pinned release names.
    poi = function_config(emulator, "strangler-three-map-poi")
    with zipfile.ZipFile(io.BytesIO(deployed_package(emulator, poi))) as archive:
        names = archive.namelist()
    assert "urllib3/__init__.py" in names
    assert not [name for name in names if name.startswith("aws_lambda_powertools/")]
    parameter = "/aws/service/powertools/python/arm64/python3.12/3.37.0"
    value = emulator.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    assert value.endswith(":layer:AWSLambdaPowertoolsPythonV3-python312-arm64:1")
    [function] = twin.applied.route_resources("map-poi", "aws:lambda/function:Function")
    assert function.inputs["layers"] == [value]
