"""Tests of rehearsal/world/twin.py: brownfield plus program in one call (three routes)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from rehearsal.world.emulator import in_process
from rehearsal.world.lambda_runtime import deployed_package, function_config
from rehearsal.world.twin import build_twin

PROJECT = Path(__file__).resolve().parents[2]
THREE = PROJECT / "tests" / "stacks" / "Pulumi.three.yaml"


def test_three_routes_on_one_listener():
    with in_process("ap-northeast-1") as emulator:
        twin = build_twin("three", PROJECT, emulator, stack_file=THREE)
        assert twin.emulator is emulator
        assert len(twin.route_names) == 3
        elbv2 = emulator.client("elbv2")
        rules = [
            r
            for r in elbv2.describe_rules(ListenerArn=twin.brownfield.listener_arn)["Rules"]
            if not r["IsDefault"]
        ]
        assert len(rules) == 3
        for route in twin.route_names:
            [rule] = twin.applied.route_resources(route, "aws:lb/listenerRule:ListenerRule")
            [described] = [r for r in rules if r["RuleArn"] == rule.id]
            groups = described["Actions"][0]["ForwardConfig"]["TargetGroups"]
            ecs = twin.brownfield.ecs_target_group_arns[route]
            assert {g["TargetGroupArn"]: g["Weight"] for g in groups}[ecs] == 1, route
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
