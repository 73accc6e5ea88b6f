"""The Pulumi program under mocks: what it declares for the example stacks.

Runs the real ``__main__.py`` for ``Pulumi.prod.yaml`` (and a 3-route stack)
and asserts on the inputs the provider would receive (camelCase names).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import naming
from components.alarm_specs import ALARM_SPECS, AlarmSpec, Dimensions, RateOfSums, SingleMetric
from components.alarms import composite_rule
from components.config import RouteConfig, StackConfig, parse_stack_config
from components.route import StranglerRoute, StranglerRouteArgs
from tests.pulumi_mocks import (
    MOCK_LAYER_VERSION,
    PROJECT_ROOT,
    ProgramRun,
    RecordedResource,
    SourceArchives,
    by_name,
    by_type,
    children_of,
    install_mocks,
    load_stack_config,
    run_program,
    run_program_full,
    without_subtree,
)

PROD = PROJECT_ROOT / "Pulumi.prod.yaml"
THREE = PROJECT_ROOT / "tests" / "stacks" / "Pulumi.three.yaml"
ECS_TG = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/map-ecs/6d0ecf831eec9f09"
)
LOAD_BALANCER = "app/common-api/50dc6c495c0c9188"

RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"

PREVIEW_AND_CHECK = ("strangler:preview:PreviewRule", "strangler:check:TrafficCheck")

#: Every stack file the program is run for in the tests.
STACK_FILES = [PROD, *sorted((PROJECT_ROOT / "tests" / "stacks").glob("Pulumi.*.yaml"))]


def route_resources_only(run: ProgramRun) -> ProgramRun:
    """The run without the stack's controller, which tests/test_controller_component.py covers,
    and without each route's preview rule and checker (tests/unit/test_preview_program.py)."""
    resources = without_subtree(run.resources, "controller")
    for component in [r.name for r in resources if r.type in PREVIEW_AND_CHECK]:
        resources = without_subtree(resources, component)
    return dataclasses.replace(run, resources=resources)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return route_resources_only(run_program_full(PROD))


@pytest.fixture(scope="module")
def three() -> ProgramRun:
    return route_resources_only(run_program_full(THREE))


def parsed_config(path: Path) -> StackConfig:
    """The stack file's ``strangler`` config, parsed as the program parses it."""
    raw = load_stack_config(path)
    return parse_stack_config(
        {key.split(":", 1)[1]: value for key, value in raw.items() if key.startswith("strangler:")},
        region="ap-northeast-1",
        project_root=PROJECT_ROOT,
    )


@pytest.fixture(scope="module")
def tile() -> RouteConfig:
    return parsed_config(PROD).route("map-tile")


def one(run: ProgramRun, typ: str) -> RecordedResource:
    found = by_type(run.resources, typ)
    assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
    return found[0]


def resolve(data: Any, path: str) -> Any:
    """Follow a Pulumi property path such as ``actions[0].forward.targetGroups[1].weight``."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        data = data[int(part[1:-1])] if part.startswith("[") else data[part]
    return data


def alarm(run: ProgramRun, kind: str, route: str = "map-tile") -> RecordedResource:
    name = f"strangler-{run.stack}-{route}-{kind}"
    matches = [r for r in by_type(run.resources, ALARM) if r.inputs.get("name") == name]
    assert len(matches) == 1, f"alarm {name}: {len(matches)} found"
    return matches[0]


# --- the listener rule -----------------------------------------------------------------


def test_rule_forwards_all_traffic_to_ecs_on_create(prod: ProgramRun) -> None:
    rule = one(prod, RULE)
    lambda_tg = one(prod, TARGET_GROUP)
    (action,) = rule.inputs["actions"]
    assert action["type"] == "forward"
    groups = action["forward"]["targetGroups"]
    assert [g["arn"] for g in groups] == [ECS_TG, lambda_tg.outputs["arn"]]
    assert [g["weight"] for g in groups] == [1, 0], "ECS 1 / Lambda 0 (all on ECS) on create"


def test_rule_ignores_exactly_the_whole_action_list(prod: ProgramRun) -> None:
    """Pulumi sets the forward action on create only; the controller owns it afterwards.

    The target groups of a forward action are a set in the provider, so no
    path into them is reliable (pulumi-terraform-bridge #2240, #1756).
    """
    rule = one(prod, RULE)
    assert rule.ignore_changes == ["actions"]
    assert isinstance(resolve(rule.inputs, rule.ignore_changes[0]), list)
    # Conditions, priority, listener and tags stay Pulumi's.
    assert {"conditions", "priority", "listenerArn", "tags"} <= set(rule.inputs)


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: path.name)
def test_no_ignored_path_indexes_into_a_list(stack_file: Path) -> None:
    """Not one resource of the program ignores a positional path (``x[0].y``)."""
    resources = run_program(stack_file)
    assert by_type(resources, RULE), "the run declared the rules"
    positional = {
        r.name: r.ignore_changes for r in resources if any("[" in path for path in r.ignore_changes)
    }
    assert positional == {}


def test_rule_conditions_priority_and_listener(prod: ProgramRun) -> None:
    rule = one(prod, RULE)
    assert rule.inputs["listenerArn"].endswith(
        "listener/app/common-api/50dc6c495c0c9188/f2f7dc8efc522ab2"
    )
    assert rule.inputs["priority"] == 100
    assert rule.inputs["conditions"] == [
        {"pathPattern": {"values": ["/map/v1/tile/*"]}},
        {"httpRequestMethod": {"values": ["GET", "HEAD"]}},
    ]


# --- the Lambda target group --------------------------------------------------------


def test_lambda_target_group_has_health_checks_on(prod: ProgramRun) -> None:
    tg = one(prod, TARGET_GROUP)
    assert tg.inputs["targetType"] == "lambda"
    assert tg.inputs["lambdaMultiValueHeadersEnabled"] is True
    hc = tg.inputs["healthCheck"]
    assert hc["enabled"] is True, "lambda target groups have health checks off by default"
    assert hc["path"] == "/map/v1/tile/health"
    assert hc["interval"] > one(prod, FUNCTION).inputs["timeout"]
    assert hc["timeout"] < hc["interval"]
    assert hc["matcher"] == "200"
    assert tg.inputs["name"] == "sl-prod-map-tile"


def test_permission_is_scoped_to_the_target_group(prod: ProgramRun) -> None:
    permission = one(prod, PERMISSION)
    tg = one(prod, TARGET_GROUP)
    assert permission.inputs["principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == tg.outputs["arn"]
    assert permission.inputs["sourceAccount"] == "123456789012"
    assert permission.inputs["function"] == "strangler-prod-map-tile"


def test_attachment_registers_the_function_after_the_permission(prod: ProgramRun) -> None:
    attachment = one(prod, ATTACHMENT)
    assert attachment.inputs["targetGroupArn"] == one(prod, TARGET_GROUP).outputs["arn"]
    # The target is the alias `live`, and the permission is granted on that qualifier.
    assert attachment.inputs["targetId"] == one(prod, ALIAS).outputs["arn"]
    assert attachment.inputs["targetId"] == one(prod, FUNCTION).outputs["arn"] + ":live"
    assert one(prod, PERMISSION).inputs["qualifier"] == "live"
    assert one(prod, PERMISSION).name in attachment.depends_on


def test_the_function_publishes_versions_and_the_alias_ignores_what_the_controller_owns(
    prod: ProgramRun,
) -> None:
    assert one(prod, FUNCTION).inputs["publish"] is True
    alias = one(prod, ALIAS)
    assert alias.inputs["name"] == "live"
    assert alias.inputs["functionName"] == "strangler-prod-map-tile"
    assert alias.inputs["functionVersion"] == one(prod, FUNCTION).outputs["version"]
    # Whole top-level properties (a scalar and a map), never a path into them.
    assert sorted(alias.ignore_changes) == ["functionVersion", "routingConfig"]


# --- the function -------------------------------------------------------------------


def test_function_settings(prod: ProgramRun) -> None:
    fn = one(prod, FUNCTION)
    assert fn.inputs["name"] == "strangler-prod-map-tile"
    assert fn.inputs["reservedConcurrentExecutions"] == 200
    assert fn.inputs["tracingConfig"] == {"mode": "Active"}
    assert fn.inputs["runtime"] == "python3.12"
    assert fn.inputs["handler"] == "app.handler"
    assert fn.inputs["memorySize"] == 512
    assert fn.inputs["timeout"] == 10
    assert fn.inputs["architectures"] == ["x86_64"]
    assert fn.inputs.get("layers", []) == [], "Powertools is in the archive, not in a layer"
    assert fn.inputs["vpcConfig"] == {
        "subnetIds": ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"],
        "securityGroupIds": ["sg-0c3d4e5f60718293a"],
    }


def test_function_environment(prod: ProgramRun) -> None:
    env = one(prod, FUNCTION).inputs["environment"]["variables"]
    assert env == {
        "UPSTREAM_URL": "http://internal-map-delivery.example.local",
        "ROUTE_NAME": "map-tile",
        "HEALTH_CHECK_PATH": "/map/v1/tile/health",
        "POWERTOOLS_SERVICE_NAME": "map-tile",
        "POWERTOOLS_METRICS_NAMESPACE": "Strangler",
    }


def test_function_code_is_the_archive_built_for_its_runtime_and_architecture(
    prod: ProgramRun, source_archives: SourceArchives
) -> None:
    # tests/unit/conftest.py builds every program's archives with source_archives.
    code = one(prod, FUNCTION).inputs["code"]
    assert isinstance(code, pulumi.FileArchive)
    assert Path(code.path) == source_archives.cache_dir / "map_proxy-python3.12-x86_64.zip"
    source = PROJECT_ROOT / "functions" / "map_proxy"
    assert (source, source / "requirements.txt") in {
        (r.source_dir, r.requirements) for r in source_archives.requests
    }


def test_log_group_exists_before_the_function_with_retention(prod: ProgramRun) -> None:
    logs = one(prod, LOG_GROUP)
    assert logs.inputs["name"] == "/aws/lambda/strangler-prod-map-tile"
    assert logs.inputs["retentionInDays"] == 30
    assert logs.name in one(prod, FUNCTION).depends_on


def test_role_policy_is_least_privilege(prod: ProgramRun) -> None:
    trust = json.loads(one(prod, ROLE).inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    policy = json.loads(one(prod, ROLE_POLICY).inputs["policy"])
    # The policy is a JSON string: mypy cannot check its keys, so spell them here.
    assert policy["Version"] == "2012-10-17"
    assert all(set(s) == {"Sid", "Effect", "Action", "Resource"} for s in policy["Statement"])
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    log_group_arn = one(prod, LOG_GROUP).outputs["arn"]
    assert statements["OwnLogGroup"]["Resource"] == f"{log_group_arn}:*"
    assert statements["OwnLogGroup"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statements["XRayWrite"]["Action"] == [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    ]
    assert all("*" not in action for s in policy["Statement"] for action in s["Action"])


def test_vpc_access_only_with_a_vpc(prod: ProgramRun, three: ProgramRun) -> None:
    attachment = one(prod, POLICY_ATTACHMENT)
    assert attachment.inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    )
    assert attachment.name in one(prod, FUNCTION).depends_on
    assert by_type(three.resources, POLICY_ATTACHMENT) == []
    assert all("vpcConfig" not in fn.inputs for fn in by_type(three.resources, FUNCTION))


# --- alarms -----------------------------------------------------------------------------


def test_every_alarm_notifies_the_topic_and_chooses_missing_data(prod: ProgramRun) -> None:
    topic_arn = one(prod, TOPIC).outputs["arn"]
    alarms = by_type(prod.resources, ALARM)
    assert sorted(a.inputs["name"] for a in alarms) == sorted(
        f"strangler-prod-map-tile-{kind}" for kind in naming.ALARM_KINDS
    )
    for a in alarms:
        assert a.inputs["alarmActions"] == [topic_arn], a.name
    # No traffic is not an error; a lost health signal is neither fine nor a
    # failure (see components.alarms.MISSING_HEALTH_IS_UNKNOWN).
    assert {a.inputs["name"]: a.inputs["treatMissingData"] for a in alarms} == {
        f"strangler-prod-map-tile-{kind}": "missing" if kind == "healthy-hosts" else "notBreaching"
        for kind in naming.ALARM_KINDS
    }


def test_error_rate_divides_lambda_errors_by_the_target_group_requests(prod: ProgramRun) -> None:
    """ALB health checks are Lambda invocations; the ALB's RequestCount does not hold them.

    ``Errors / Invocations`` would be diluted toward 0 % by the health checks
    at a low canary weight.
    """
    errors = alarm(prod, "errors")
    queries = {q["id"]: q for q in errors.inputs["metricQueries"]}
    assert queries["rate"]["expression"] == "100 * FILL(failures, 0) / total"
    assert queries["rate"]["returnData"] is True
    assert queries["failures"]["metric"] == {
        "namespace": "AWS/Lambda",
        "metricName": "Errors",
        "dimensions": {"FunctionName": "strangler-prod-map-tile"},
        "period": 60,
        "stat": "Sum",
    }
    assert queries["total"]["metric"] == {
        "namespace": "AWS/ApplicationELB",
        "metricName": "RequestCount",
        "dimensions": {
            "TargetGroup": one(prod, TARGET_GROUP).outputs["arnSuffix"],
            "LoadBalancer": LOAD_BALANCER,
        },
        "period": 60,
        "stat": "Sum",
    }
    denominators = [
        q["metric"]["metricName"]
        for a in by_type(prod.resources, ALARM)
        for q in a.inputs.get("metricQueries", [])
        if q["id"] == "total"
    ]
    assert denominators and "Invocations" not in denominators
    assert errors.inputs["threshold"] == 1
    assert errors.inputs["treatMissingData"] == "notBreaching"

    throttles = alarm(prod, "throttles")
    assert throttles.inputs["namespace"] == "AWS/Lambda"
    assert throttles.inputs["metricName"] == "Throttles"
    assert throttles.inputs["dimensions"] == {"FunctionName": "strangler-prod-map-tile"}
    assert throttles.inputs["statistic"] == "Sum"
    assert throttles.inputs["period"] == 60
    assert throttles.inputs["threshold"] == 1
    assert throttles.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_app_error_alarm_is_high_resolution_on_the_route_dimension(prod: ProgramRun) -> None:
    app = alarm(prod, "app-errors")
    queries = {q["id"]: q for q in app.inputs["metricQueries"]}
    for query_id, metric_name in (("failures", "AppErrors"), ("total", "Requests")):
        metric = queries[query_id]["metric"]
        assert metric["namespace"] == "Strangler"
        assert metric["metricName"] == metric_name
        assert metric["dimensions"] == {"route": "map-tile"}
        assert metric["stat"] == "Sum"
        assert metric["period"] == 10
    assert queries["rate"]["expression"] == "100 * FILL(failures, 0) / total"
    assert app.inputs["threshold"] == 1
    assert app.inputs["evaluationPeriods"] * 10 <= 60
    assert app.inputs["treatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    ("kind", "metric_name", "statistic_key", "statistic"),
    [
        ("target-5xx", "HTTPCode_Target_5XX_Count", "statistic", "Sum"),
        ("lambda-user-errors", "LambdaUserError", "statistic", "Sum"),
        ("healthy-hosts", "HealthyHostCount", "statistic", "Minimum"),
        ("p99-latency", "TargetResponseTime", "extendedStatistic", "p99"),
    ],
)
def test_alb_alarm_dimensions(
    prod: ProgramRun, kind: str, metric_name: str, statistic_key: str, statistic: str
) -> None:
    a = alarm(prod, kind)
    assert a.inputs["namespace"] == "AWS/ApplicationELB"
    assert a.inputs["metricName"] == metric_name
    assert a.inputs[statistic_key] == statistic
    other = "extendedStatistic" if statistic_key == "statistic" else "statistic"
    assert other not in a.inputs, f"{kind}: statistic and extendedStatistic are exclusive"
    assert a.inputs["period"] == 60
    # A Lambda target group's metrics carry both dimensions; with only one the
    # alarm would watch a metric that does not exist.
    assert a.inputs["dimensions"] == {
        "TargetGroup": one(prod, TARGET_GROUP).outputs["arnSuffix"],
        "LoadBalancer": LOAD_BALANCER,
    }


def test_healthy_host_alarm_outlasts_the_health_check_warm_up(
    prod: ProgramRun, three: ProgramRun
) -> None:
    a = alarm(prod, "healthy-hosts")
    assert a.inputs["comparisonOperator"] == "LessThanThreshold"
    assert a.inputs["threshold"] == 1
    assert a.inputs["treatMissingData"] == "missing", "an absent metric must not roll back"
    # Prod: interval 35 s x healthy threshold 2 = 70 s of warm-up -> 2 minutes + 1.
    assert (a.inputs["evaluationPeriods"], a.inputs["datapointsToAlarm"]) == (3, 3)
    # route-search: interval 90 s x 2 = 180 s -> 3 minutes + 1.
    slow = alarm(three, "healthy-hosts", route="route-search")
    assert (slow.inputs["evaluationPeriods"], slow.inputs["datapointsToAlarm"]) == (4, 4)


def test_p99_latency_alarm_threshold_is_in_seconds(prod: ProgramRun) -> None:
    a = alarm(prod, "p99-latency")
    assert a.inputs["threshold"] == 2.0, "2000 ms, in seconds"
    assert a.inputs["comparisonOperator"] == "GreaterThanThreshold"


def test_composite_alarm_ors_every_child(prod: ProgramRun) -> None:
    composite = one(prod, COMPOSITE)
    topic_arn = one(prod, TOPIC).outputs["arn"]
    children = [f"strangler-prod-map-tile-{kind}" for kind in naming.ALARM_KINDS]
    assert composite.inputs["alarmName"] == "strangler-prod-map-tile-composite"
    assert composite.inputs["alarmRule"] == " OR ".join(f'ALARM("{c}")' for c in children)
    assert composite.inputs["alarmActions"] == [topic_arn]
    assert composite.inputs["okActions"] == [topic_arn]
    alarm_resources = {a.name for a in by_type(prod.resources, ALARM)}
    assert alarm_resources <= set(composite.depends_on)


@pytest.mark.parametrize("spec", ALARM_SPECS, ids=lambda spec: spec.kind)
def test_each_row_of_the_alarm_table_is_declared_as_it_says(
    prod: ProgramRun, tile: RouteConfig, spec: AlarmSpec
) -> None:
    """The one MetricAlarm call carries every setting of its row, and nothing else."""
    a = alarm(prod, spec.kind)
    assert a.name == f"map-tile-alarms-{spec.kind}"
    window = spec.window(tile)
    assert a.inputs["comparisonOperator"] == spec.comparison
    assert a.inputs["threshold"] == spec.threshold(tile)
    assert (a.inputs["evaluationPeriods"], a.inputs["datapointsToAlarm"]) == (
        window.evaluation_periods,
        window.datapoints_to_alarm,
    )
    assert a.inputs["treatMissingData"] == spec.treat_missing_data
    assert a.inputs["alarmDescription"] == spec.description(tile)
    assert a.inputs["alarmDescription"].startswith("map-tile: ")
    single_keys = {"namespace", "metricName", "dimensions", "period"}
    if isinstance(spec.source, SingleMetric):
        assert "metricQueries" not in a.inputs
        assert (a.inputs["namespace"], a.inputs["metricName"], a.inputs["period"]) == (
            spec.source.namespace,
            spec.source.metric_name,
            spec.source.period,
        )
        assert a.inputs.get("statistic") == spec.source.statistic
        assert a.inputs.get("extendedStatistic") == spec.source.extended_statistic
    else:
        assert isinstance(spec.source, RateOfSums)
        assert not single_keys & set(a.inputs), "metric math sets the metric on its queries"
        queries = {q["id"]: q for q in a.inputs["metricQueries"]}
        assert queries["rate"] == {
            "id": "rate",
            "expression": "100 * FILL(failures, 0) / total",
            "label": spec.source.label,
            "returnData": True,
        }
        dimension_keys = {
            Dimensions.FUNCTION: {"FunctionName"},
            Dimensions.TARGET_GROUP: {"TargetGroup", "LoadBalancer"},
            Dimensions.ROUTE: {"route"},
        }
        for query_id, ref in (("failures", spec.source.failures), ("total", spec.source.total)):
            metric = queries[query_id]["metric"]
            assert queries[query_id]["returnData"] is False
            assert (metric["namespace"], metric["metricName"], metric["period"]) == (
                ref.namespace,
                ref.metric_name,
                spec.source.period,
            )
            assert set(metric["dimensions"]) == dimension_keys[ref.dimensions]
            assert metric["stat"] == "Sum"


def test_alarm_kinds_are_distinct_name_suffixes() -> None:
    kinds = [spec.kind for spec in ALARM_SPECS]
    assert list(naming.ALARM_KINDS) == kinds
    assert len(set(kinds)) == len(kinds)
    # "composite" names the composite alarm; a kind of that name would collide.
    assert "composite" not in kinds
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", kind) for kind in kinds), kinds


def test_composite_rule_syntax() -> None:
    assert composite_rule(["a", "b"]) == 'ALARM("a") OR ALARM("b")'


# --- alerts, outputs, structure ------------------------------------------------------


def test_topic_and_email_subscriptions(prod: ProgramRun) -> None:
    assert one(prod, TOPIC).inputs["name"] == "strangler-prod-alerts"
    subscription = one(prod, SUBSCRIPTION)
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "ops@example.com"
    assert subscription.inputs["topic"] == one(prod, TOPIC).outputs["arn"]


def test_stack_outputs_per_route(prod: ProgramRun) -> None:
    outputs = prod.outputs["routes"]["map-tile"]
    assert outputs == {
        "ruleArn": one(prod, RULE).outputs["arn"],
        "lambdaTargetGroupArn": one(prod, TARGET_GROUP).outputs["arn"],
        "ecsTargetGroupArn": ECS_TG,
        "functionName": "strangler-prod-map-tile",
        "compositeAlarmName": "strangler-prod-map-tile-composite",
        "topicArn": one(prod, TOPIC).outputs["arn"],
    }
    assert prod.outputs["topicArn"] == one(prod, TOPIC).outputs["arn"]


def test_components_parent_their_children_and_register_outputs(prod: ProgramRun) -> None:
    components = [r for r in prod.resources if not r.custom]
    assert {c.type for c in components} >= {
        "strangler:route:StranglerRoute",
        "strangler:function:RouteFunction",
        "strangler:traffic:RouteTraffic",
        "strangler:alarms:RouteAlarms",
        "strangler:alerts:AlertTopic",
    }
    component_names = {c.name for c in components}
    for resource in prod.resources:
        if resource.custom:
            assert resource.parent in component_names, f"{resource.name} has no component parent"
        if resource.parent:
            assert resource.name.startswith(f"{resource.parent}-"), resource.name
    for component in components:
        assert component.registered_outputs, f"{component.name} registers no outputs"
    route_children = {c.type for c in children_of(prod.resources, "map-tile")}
    assert route_children - set(PREVIEW_AND_CHECK) == {
        "strangler:alias:RouteAlias",
        "strangler:function:RouteFunction",
        "strangler:traffic:RouteTraffic",
        "strangler:alarms:RouteAlarms",
    }


# --- three routes ---------------------------------------------------------------------


def test_three_routes_declare_three_of_everything(three: ProgramRun) -> None:
    for typ in (RULE, TARGET_GROUP, ATTACHMENT, PERMISSION, FUNCTION, LOG_GROUP, ROLE,
                ROLE_POLICY, COMPOSITE):  # fmt: skip
        assert len(by_type(three.resources, typ)) == 3, typ
    assert len(by_type(three.resources, ALARM)) == 3 * len(naming.ALARM_KINDS)
    assert len(by_type(three.resources, TOPIC)) == 1
    assert len(by_type(three.resources, SUBSCRIPTION)) == 2
    assert sorted(three.outputs["routes"]) == ["map-poi", "map-tile", "route-search"]


def test_three_routes_share_no_names(three: ProgramRun) -> None:
    urns = [r.urn for r in three.resources]
    assert len(urns) == len(set(urns))
    physical = [
        r.inputs.get("name") or r.inputs.get("alarmName")
        for r in three.resources
        if r.type in (TARGET_GROUP, FUNCTION, LOG_GROUP, ALARM, COMPOSITE)
    ]
    assert None not in physical
    assert len(physical) == len(set(physical)), physical
    priorities = [r.inputs["priority"] for r in by_type(three.resources, RULE)]
    assert sorted(priorities) == [100, 110, 120]
    assert len({r.inputs["sourceArn"] for r in by_type(three.resources, PERMISSION)}) == 3
    for route in ("map-tile", "map-poi", "route-search"):
        composite = by_name(three.resources, f"{route}-alarms-composite")
        assert composite.inputs["alarmRule"] == composite_rule(
            [f"strangler-three-{route}-{kind}" for kind in naming.ALARM_KINDS]
        ), f"{route}: the composite must OR exactly its own route's alarms"


def test_three_routes_use_their_own_settings(three: ProgramRun) -> None:
    poi = by_name(three.resources, "map-poi-fn-function")
    assert poi.inputs["architectures"] == ["arm64"]
    # powertoolsLayer: the layer of the release requirements.txt pins, read from
    # its public SSM parameter (the mocks answer with a made-up layer number).
    assert poi.inputs["layers"] == [
        "arn:aws:lambda:ap-northeast-1:017000801446:layer:"
        f"AWSLambdaPowertoolsPythonV3-python312-arm64:{MOCK_LAYER_VERSION}"
    ]
    (lookup,) = [
        call.args["name"]
        for call in three.calls
        if call.token == "aws:ssm/getParameter:getParameter" and "arm64" in call.args["name"]
    ]
    assert lookup == "/aws/service/powertools/python/arm64/python3.12/3.37.0"
    assert by_name(three.resources, "map-tile-fn-function").inputs.get("layers", []) == []
    assert poi.inputs["code"].path.endswith("map_proxy-python3.12-arm64-without-powertools.zip")
    search_tg = by_name(three.resources, "route-search-traffic-tg")
    assert search_tg.inputs["healthCheck"]["path"] == "/route/ping"
    assert search_tg.inputs["healthCheck"]["interval"] == 90
    search_rule = by_name(three.resources, "route-search-traffic-rule")
    assert search_rule.inputs["conditions"] == [
        {"pathPattern": {"values": ["/route/*"]}},
        {"hostHeader": {"values": ["search.example.com"]}},
    ]
    latency = alarm(three, "p99-latency", route="map-poi")
    assert latency.inputs["threshold"] == 0.8


# --- bad config: nothing is declared --------------------------------------------------


def test_bad_config_fails_before_any_resource() -> None:
    routes = load_stack_config(PROD)["strangler:routes"]
    routes[0]["function"]["reservedConcurency"] = routes[0]["function"].pop("reservedConcurrency")
    routes[0]["priority"] = 0
    with pytest.raises(pulumi.RunError) as caught:
        run_program(PROD, config_overrides={"strangler:routes": routes})
    message = str(caught.value)
    assert (
        "routes[0].function.reservedConcurency: unknown key (did you mean reservedConcurrency?)"
        in message
    )
    assert "routes[0].priority: 0 is below the minimum 1" in message
    assert caught.value.recorded_resources == []  # type: ignore[attr-defined]


def test_unknown_top_level_key_in_the_namespace_is_reported() -> None:
    with pytest.raises(
        pulumi.RunError, match=r"alertEmail: unknown key \(did you mean alertEmails\?\)"
    ):
        run_program(PROD, config_overrides={"strangler:alertEmail": ["x@example.com"]})


def test_missing_listener_is_reported_with_the_other_problems() -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_program(
            PROD, config_overrides={"strangler:listenerArn": "", "strangler:logRetentionDays": 10}
        )
    assert "listenerArn: must be a non-empty string" in str(caught.value)
    assert "logRetentionDays: 10 is not a CloudWatch Logs retention value" in str(caught.value)


# --- the route component on its own -----------------------------------------------------


def test_route_component_exposes_the_names_the_controller_uses() -> None:
    config = parsed_config(PROD)
    monitor = install_mocks(stack="unit", config=load_stack_config(PROD))

    @pulumi.runtime.test
    def check() -> pulumi.Output[Any]:
        route = StranglerRoute(
            "map-tile",
            StranglerRouteArgs(
                route=config.routes[0],
                stack=config,
                stack_name="unit",
                topic_arn="arn:aws:sns:ap-northeast-1:123456789012:t",
            ),
        )
        assert route.name == "map-tile"
        assert route.config is config.routes[0]

        def verify(values: list[Any]) -> None:
            rule_arn, lambda_tg, ecs_tg, fn_name, fn_arn, composite, composite_arn, names = values
            assert ":listener-rule/app/common-api/" in rule_arn
            assert ":targetgroup/sl-unit-map-tile/" in lambda_tg
            assert ecs_tg == ECS_TG
            assert fn_name == "strangler-unit-map-tile"
            assert fn_arn.endswith(":function:strangler-unit-map-tile")
            assert composite == "strangler-unit-map-tile-composite"
            assert composite_arn.endswith(":alarm:strangler-unit-map-tile-composite")
            assert names == [f"strangler-unit-map-tile-{k}" for k in naming.ALARM_KINDS]

        return pulumi.Output.all(
            route.rule_arn,
            route.lambda_target_group_arn,
            route.ecs_target_group_arn,
            route.function_name,
            route.function_arn,
            route.composite_alarm_name,
            route.composite_alarm_arn,
            route.alarm_names,
        ).apply(verify)

    check()
    functions = sorted(r.name for r in by_type(monitor.recorded, FUNCTION))
    assert functions == ["map-tile-check-function", "map-tile-fn-function"]
