"""Tests of rehearsal/world/apply.py: the example stack applied to moto.

One apply of ``Pulumi.prod.yaml`` (on its brownfield) is shared by the
module; every assertion reads moto back through real boto3 describe calls.

Until ``__main__.py`` declares the canary controller, the stack is applied
with a wrapper program that runs the real ``__main__.py`` unchanged and then
declares the controller for its routes the way the program will; once the
program declares it, the wrapper is not used.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from components.config import POWERTOOLS_VERSION
from components.function_code import BUILD_DIR
from components.naming import ALARM_KINDS
from controller.core.contract import (
    RouteRecord,
    StackRecord,
    route_parameter_name,
    stack_parameter_name,
)
from rehearsal.errors import RehearsalError
from rehearsal.world.apply import AppliedStack, apply_program
from rehearsal.world.brownfield import Brownfield, create_brownfield
from rehearsal.world.emulator import Emulator, in_process
from rehearsal.world.lambda_runtime import deployed_package, function_config
from rehearsal.world.records import ResourceRecord
from rehearsal.world.stack_files import load_stack_config
from tests.example_stack import PROJECT, REGION, ROUTE, STACK

pytestmark = pytest.mark.own_stack

CONTROLLER_TYPE = "strangler:controller:CanaryController"


@pytest.fixture(scope="module")
def deployed() -> tuple[AppliedStack, Brownfield]:
    with in_process(REGION) as emulator:
        brownfield = create_brownfield(load_stack_config(PROJECT, STACK), emulator)
        applied = apply_program(
            STACK,
            PROJECT,
            brownfield.config_overrides,
            emulator=emulator,
        )
        yield applied, brownfield


@pytest.fixture
def applied(deployed) -> AppliedStack:
    return deployed[0]


@pytest.fixture
def brownfield(deployed) -> Brownfield:
    return deployed[1]


def one(applied: AppliedStack, token: str, route: str | None = ROUTE) -> ResourceRecord:
    """The route's one resource of ``token``, outside its preview rule and its checker."""
    found = applied.route_resources(route, token) if route else applied.by_type(token)
    if route:
        found = [r for r in found if r.parent not in (f"{route}-preview", f"{route}-check")]
    assert len(found) == 1, f"expected one {token} for route {route}, got {len(found)}"
    return found[0]


# --- every declared resource exists in moto ------------------------------------------


def _role_policy(e: Emulator, r: ResourceRecord) -> Any:
    role, policy = str(r.id).split(":", 1)
    return e.client("iam").get_role_policy(RoleName=role, PolicyName=policy)


def _attachment(e: Emulator, r: ResourceRecord) -> Any:
    attached = e.client("iam").list_attached_role_policies(RoleName=r.inputs["role"])
    assert r.inputs["policyArn"] in [p["PolicyArn"] for p in attached["AttachedPolicies"]]


def _permission(e: Emulator, r: ResourceRecord) -> Any:
    policy = json.loads(
        e.client("lambda").get_policy(
            FunctionName=r.inputs["function"],
            **({"Qualifier": r.inputs["qualifier"]} if r.inputs.get("qualifier") else {}),
        )["Policy"]
    )
    assert r.id in [s["Sid"] for s in policy["Statement"]]


def _alias(e: Emulator, r: ResourceRecord) -> Any:
    alias = e.client("lambda").get_alias(FunctionName=r.inputs["functionName"], Name="live")
    assert alias["AliasArn"] == r.id


def _target(e: Emulator, r: ResourceRecord) -> Any:
    health = e.client("elbv2").describe_target_health(TargetGroupArn=r.inputs["targetGroupArn"])
    assert r.inputs["targetId"] in [d["Target"]["Id"] for d in health["TargetHealthDescriptions"]]


def _metric_alarm(e: Emulator, r: ResourceRecord) -> Any:
    alarms = e.client("cloudwatch").describe_alarms(AlarmNames=[r.id])["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == [r.id]


def _composite_alarm(e: Emulator, r: ResourceRecord) -> Any:
    alarms = e.client("cloudwatch").describe_alarms(
        AlarmNames=[r.id], AlarmTypes=["CompositeAlarm"]
    )["CompositeAlarms"]
    assert [a["AlarmName"] for a in alarms] == [r.id]


def _event_target(e: Emulator, r: ResourceRecord) -> Any:
    targets = e.client("events").list_targets_by_rule(Rule=r.inputs["rule"])["Targets"]
    assert r.outputs["targetId"] in [t["Id"] for t in targets]


def _queue_policy(e: Emulator, r: ResourceRecord) -> Any:
    attributes = e.client("sqs").get_queue_attributes(QueueUrl=r.id, AttributeNames=["Policy"])[
        "Attributes"
    ]
    assert json.loads(attributes["Policy"]) == json.loads(r.inputs["policy"])


def _schedule(e: Emulator, r: ResourceRecord) -> Any:
    group, name = str(r.id).split("/", 1)
    return e.client("scheduler").get_schedule(Name=name, GroupName=group)


def _log_group(e: Emulator, r: ResourceRecord) -> Any:
    groups = e.client("logs").describe_log_groups(logGroupNamePrefix=r.id)["logGroups"]
    assert r.id in [g["logGroupName"] for g in groups]


VERIFIERS: dict[str, Callable[[Emulator, ResourceRecord], Any]] = {
    "aws:iam/role:Role": lambda e, r: e.client("iam").get_role(RoleName=r.id),
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _attachment,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:lambda/function:Function": lambda e, r: e.client("lambda").get_function(FunctionName=r.id),
    "aws:lambda/permission:Permission": _permission,
    "aws:lambda/alias:Alias": _alias,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": lambda e, r: e.client(
        "lambda"
    ).get_function_event_invoke_config(FunctionName=r.inputs["functionName"]),
    "aws:lb/targetGroup:TargetGroup": lambda e, r: e.client("elbv2").describe_target_groups(
        TargetGroupArns=[r.id]
    ),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": _target,
    "aws:lb/listenerRule:ListenerRule": lambda e, r: e.client("elbv2").describe_rules(
        RuleArns=[r.id]
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _composite_alarm,
    "aws:cloudwatch/dashboard:Dashboard": lambda e, r: e.client("cloudwatch").get_dashboard(
        DashboardName=r.id
    ),
    "aws:sns/topic:Topic": lambda e, r: e.client("sns").get_topic_attributes(TopicArn=r.id),
    "aws:sns/topicSubscription:TopicSubscription": lambda e, r: e.client(
        "sns"
    ).get_subscription_attributes(SubscriptionArn=r.id),
    "aws:dynamodb/table:Table": lambda e, r: e.client("dynamodb").describe_table(TableName=r.id),
    "aws:sfn/stateMachine:StateMachine": lambda e, r: e.client(
        "stepfunctions"
    ).describe_state_machine(stateMachineArn=r.id),
    "aws:cloudwatch/eventRule:EventRule": lambda e, r: e.client("events").describe_rule(
        Name=r.outputs["name"]
    ),
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:sqs/queue:Queue": lambda e, r: e.client("sqs").get_queue_attributes(QueueUrl=r.id),
    "aws:sqs/queuePolicy:QueuePolicy": _queue_policy,
    "aws:scheduler/schedule:Schedule": _schedule,
    "aws:ssm/parameter:Parameter": lambda e, r: e.client("ssm").get_parameter(Name=r.id),
}


def test_every_declared_resource_exists_in_moto(applied):
    custom = applied.custom_resources
    assert len(custom) > 40, "the example stack declares the route and the controller"
    unverified = {r.type for r in custom} - set(VERIFIERS)
    assert not unverified, f"add a describe check for {unverified}"
    for record in custom:
        VERIFIERS[record.type](applied.emulator, record)


def test_components_are_recorded_with_parents(applied):
    assert applied.route_names == [ROUTE]
    kinds = {r.type for r in applied.resources if r.is_component}
    assert {
        "strangler:route:StranglerRoute",
        "strangler:function:RouteFunction",
        "strangler:traffic:RouteTraffic",
        "strangler:alarms:RouteAlarms",
        "strangler:alerts:AlertTopic",
        CONTROLLER_TYPE,
    } <= kinds
    function = one(applied, "aws:lambda/function:Function")
    assert (function.parent, function.parent_type) == (
        f"{ROUTE}-fn",
        "strangler:function:RouteFunction",
    )
    with pytest.raises(KeyError, match="no route"):
        applied.route_resources("nope")
    with pytest.raises(KeyError, match="known"):
        applied.by_name("nope")


# --- the route ---------------------------------------------------------------------------


def test_rule_forwards_by_weight_on_the_brownfield_listener(applied, brownfield):
    rule_record = one(applied, "aws:lb/listenerRule:ListenerRule")
    target_group = one(applied, "aws:lb/targetGroup:TargetGroup")
    rules = applied.emulator.client("elbv2").describe_rules(ListenerArn=brownfield.listener_arn)[
        "Rules"
    ]
    [rule] = [r for r in rules if r["RuleArn"] == rule_record.id]
    assert rule["Priority"] == "100"
    forward = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in forward}
    assert weights == {brownfield.ecs_target_group_arns[ROUTE]: 1, target_group.id: 0}
    conditions = {c["Field"]: c for c in rule["Conditions"]}
    assert conditions["path-pattern"]["PathPatternConfig"]["Values"] == ["/map/v1/tile/*"]
    assert applied.exports["routes"][ROUTE]["ruleArn"] == rule_record.id


def test_lambda_target_group_has_health_checks_and_the_function(applied):
    target_group = one(applied, "aws:lb/targetGroup:TargetGroup")
    function = one(applied, "aws:lambda/function:Function")
    elbv2 = applied.emulator.client("elbv2")
    [group] = elbv2.describe_target_groups(TargetGroupArns=[target_group.id])["TargetGroups"]
    assert group["TargetType"] == "lambda"
    assert group["HealthCheckEnabled"] is True
    assert group["HealthCheckPath"] == "/map/v1/tile/health"
    health = elbv2.describe_target_health(TargetGroupArn=target_group.id)
    # The target is the function's alias `live`, which the controller moves.
    assert [d["Target"]["Id"] for d in health["TargetHealthDescriptions"]] == [
        function.outputs["arn"] + ":live"
    ]


def test_function_is_configured_from_the_stack(applied, brownfield):
    function = one(applied, "aws:lambda/function:Function")
    described = applied.emulator.client("lambda").get_function(FunctionName=function.id)
    config = described["Configuration"]
    assert function.id == f"strangler-{STACK}-{ROUTE}"
    assert config["Environment"]["Variables"]["ROUTE_NAME"] == ROUTE
    assert config["Environment"]["Variables"]["UPSTREAM_URL"].startswith("http://")
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert described["Concurrency"]["ReservedConcurrentExecutions"] == 200
    assert config["VpcConfig"]["SubnetIds"] == list(brownfield.subnet_ids)
    assert config["VpcConfig"]["SecurityGroupIds"] == list(brownfield.security_group_ids)


def test_the_function_runs_the_archive_built_from_its_pinned_requirements(applied):
    function = one(applied, "aws:lambda/function:Function")
    config = function_config(applied.emulator, function.id)
    package = deployed_package(applied.emulator, config)
    built = [path for path in BUILD_DIR.glob("map_proxy-*.zip") if path.read_bytes() == package]
    assert built, "the deployed package is not an archive the builder made"
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = set(archive.namelist())
    assert {"app.py", "urllib3/__init__.py", "aws_lambda_powertools/__init__.py"} <= names
    assert "requirements.txt" not in names
    assert not function.inputs.get("layers"), "Powertools is in the archive, not in a layer"


def test_the_controller_uses_the_layer_its_public_parameter_names(applied):
    (controller,) = [
        f
        for f in applied.by_type("aws:lambda/function:Function")
        if f.id == f"strangler-{STACK}-controller"
    ]
    parameter = f"/aws/service/powertools/python/x86_64/python3.12/{POWERTOOLS_VERSION}"
    value = applied.emulator.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    # The bridge does not pass layers to moto (rehearsal/world/bridge/awslambda.py).
    assert controller.inputs["layers"] == [value]


def test_alarms_exist_with_their_names_and_notify_the_topic(applied):
    topic = one(applied, "aws:sns/topic:Topic", route=None)
    cloudwatch = applied.emulator.client("cloudwatch")
    names = [f"strangler-{STACK}-{ROUTE}-{kind}" for kind in ALARM_KINDS]
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(names)
    assert all(a["AlarmActions"] == [topic.id] for a in alarms)
    composite_name = f"strangler-{STACK}-{ROUTE}-composite"
    [composite] = cloudwatch.describe_alarms(
        AlarmNames=[composite_name], AlarmTypes=["CompositeAlarm"]
    )["CompositeAlarms"]
    assert all(f'ALARM("{name}")' in composite["AlarmRule"] for name in names)


def test_creation_order_followed_the_dependency_graph(applied):
    order = {r.name: r.order for r in applied.resources}
    fn = f"{ROUTE}-fn"
    assert order[f"{fn}-role"] < order[f"{fn}-function"]
    assert order[f"{fn}-policy"] < order[f"{fn}-function"], "depends_on=[policy]"
    assert order[f"{fn}-logs"] < order[f"{fn}-function"], "depends_on=[log_group]"
    assert order[f"{ROUTE}-traffic-invoke"] < order[f"{ROUTE}-traffic-attachment"]
    composite = order[f"{ROUTE}-alarms-composite"]
    assert all(order[f"{ROUTE}-alarms-{kind}"] < composite for kind in ALARM_KINDS)
    for record in applied.resources:
        for dependency in record.dependencies:
            assert order[dependency.rsplit("::", 1)[1]] < record.order, record.name


# --- the controller ----------------------------------------------------------------------


def test_state_table_and_state_machine(applied):
    table = one(applied, "aws:dynamodb/table:Table", route=None)
    described = applied.emulator.client("dynamodb").describe_table(TableName=table.id)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    machine = one(applied, "aws:sfn/stateMachine:StateMachine", route=None)
    definition = json.loads(
        applied.emulator.client("stepfunctions").describe_state_machine(stateMachineArn=machine.id)[
            "definition"
        ]
    )
    [component] = applied.by_type(CONTROLLER_TYPE)
    [controller] = [
        r for r in applied.descendants(component.name) if r.type == "aws:lambda/function:Function"
    ]
    assert controller.outputs["arn"] in json.dumps(definition), (
        "the definition calls the controller function"
    )


def test_registry_parameters_parse(applied):
    ssm = applied.emulator.client("ssm")
    stack = StackRecord.from_json(
        ssm.get_parameter(Name=stack_parameter_name(STACK))["Parameter"]["Value"]
    )
    assert stack.routes == (ROUTE,)
    machine = one(applied, "aws:sfn/stateMachine:StateMachine", route=None)
    assert stack.state_machine_arn == machine.id
    route = RouteRecord.from_json(
        ssm.get_parameter(Name=route_parameter_name(STACK, ROUTE))["Parameter"]["Value"]
    )
    assert route.rule_arn == one(applied, "aws:lb/listenerRule:ListenerRule").id
    assert route.function_name == f"strangler-{STACK}-{ROUTE}"
    assert route.composite_alarm_name == f"strangler-{STACK}-{ROUTE}-composite"
    assert len(route.alarm_names) == len(ALARM_KINDS)


def _event_rule(applied: AppliedStack, name_suffix: str) -> tuple[ResourceRecord, Any]:
    """The one EventBridge rule whose name ends with ``name_suffix``, and its pattern in moto."""
    rules = [
        r
        for r in applied.by_type("aws:cloudwatch/eventRule:EventRule")
        if str(r.outputs["name"]).endswith(name_suffix)
    ]
    assert len(rules) == 1, [r.outputs["name"] for r in rules]
    described = applied.emulator.client("events").describe_rule(Name=rules[0].outputs["name"])
    return rules[0], json.loads(described["EventPattern"])


def test_failback_rule_pattern_names_the_composite_alarm(applied):
    _, pattern = _event_rule(applied, f"{ROUTE}-failback")
    composite = applied.by_name(f"{ROUTE}-alarms-composite")
    assert composite.outputs["arn"] in json.dumps(pattern)


def test_registry_sync_rule_matches_route_record_changes_and_targets_the_controller(applied):
    rule, pattern = _event_rule(applied, "registry-sync")
    assert pattern["source"] == ["aws.ssm"]
    assert pattern["detail-type"] == ["Parameter Store Change"]
    assert pattern["detail"]["name"] == [{"prefix": f"/strangler/{STACK}/routes/"}]
    targets = applied.emulator.client("events").list_targets_by_rule(Rule=rule.outputs["name"])
    controller = StackRecord.from_json(
        applied.emulator.client("ssm").get_parameter(Name=stack_parameter_name(STACK))["Parameter"][
            "Value"
        ]
    ).controller_function_name
    assert [t["Arn"].split(":function:")[-1] for t in targets["Targets"]] == [controller]


# --- refusals ----------------------------------------------------------------------------


def test_a_stack_in_another_region_is_refused(tmp_path):
    with (
        in_process("us-east-1", managed_policies=False) as emulator,
        pytest.raises(RehearsalError, match="ap-northeast-1 but the emulator is in us-east-1"),
    ):
        apply_program(STACK, PROJECT, emulator=emulator)
