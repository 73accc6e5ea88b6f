"""CanaryController under Pulumi mocks: its sub-components, wiring, archive and aliases."""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import pulumi
import pytest
from moto.events.models import EventPattern

from components import naming
from components.config import POWERTOOLS_VERSION, StackConfig
from components.controller import (
    TYPE_TOKEN,
    CanaryController,
    CanaryControllerArgs,
    ControllerConfigError,
    ControllerRoute,
)
from components.controller_function import (
    CONTROLLER_SOURCE,
    HANDLER,
    controller_archive,
)
from components.controller_iam import (
    ControllerPolicyInputs,
    assume_role_policy,
    controller_policy,
    dead_letter_queue_policy,
    scheduler_policy,
    state_machine_policy,
)
from components.packaging import pinned_version, read_requirements
from components.registry_sync import registry_sync_event_pattern
from controller.core.contract import (
    CapacityRecord,
    PlanRecord,
    RouteRecord,
    StackRecord,
    StagePlanRecord,
    route_parameter_name,
    stack_parameter_name,
)
from controller.core.release import ReleasePlanRecord
from controller.core.state_machine import build_definition
from rehearsal.world.bridge.archive import archive_to_zip
from tests.example_stack import RELEASE_FUNCTION_VERSIONS, STATE_TABLE_INPUTS, placeholder_route
from tests.processes import run_python
from tests.pulumi_mocks import (
    MOCK_LAYER_VERSION,
    PROJECT_ROOT,
    RecordedResource,
    by_name,
    by_type,
    install_mocks,
    run_program_full,
)

STACK = "prod"
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
LISTENER = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/common-api/"
    "50dc6c495c0c9188/f2f7dc8efc522ab2"
)
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:strangler-prod-alerts"
LAYER = (
    f"arn:aws:lambda:{REGION}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27"
)
ECS_TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/map-ecs/73e2d6bc24d8a067"

# What the mocks answer for the controller's own resources (tests/pulumi_mocks.py).
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:strangler-prod-controller"
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/strangler-prod-controller"
SM_LOG_GROUP_ARN = (
    f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/strangler-prod-canary"
)
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/strangler-prod-state"
SM_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:strangler-prod-canary"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:strangler-prod-controller-dlq"
DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/strangler-prod-controller-dlq"

TILE_PLAN = PlanRecord(
    stages=(
        StagePlanRecord(weight=1.0, bake_seconds=600),
        StagePlanRecord(weight=10.0, bake_seconds=1200),
        StagePlanRecord(weight=100.0, bake_seconds=0),
    ),
    stages_per_run=1,
    min_requests=50,
)
STYLE_PLAN = PlanRecord(stages=(StagePlanRecord(weight=100.0),))
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENTS = Path(__file__).resolve().parents[1] / "events"


def rule_arn(route_id: str) -> str:
    return LISTENER.replace(":listener/", ":listener-rule/") + f"/{route_id}"


def lambda_tg(route: str) -> str:
    return (
        f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/sl-prod-{route}/"
        "0123456789abcdef"
    )


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def make_route(
    name: str,
    route_id: str,
    plan: PlanRecord,
    schedule: str | None = None,
    timezone: str | None = None,
) -> ControllerRoute:
    return ControllerRoute(
        name=name,
        listener_arn=LISTENER,
        plan=plan,
        rule_arn=rule_arn(route_id),
        ecs_target_group_arn=ECS_TG,
        lambda_target_group_arn=pulumi.Output.from_input(lambda_tg(name)),
        function_name=f"strangler-prod-{name}",
        composite_alarm_name=f"strangler-prod-{name}-composite",
        composite_alarm_arn=alarm_arn(f"strangler-prod-{name}-composite"),
        alarm_names=pulumi.Output.from_input(
            [f"strangler-prod-{name}-errors", f"strangler-prod-{name}-throttles"]
        ),
        schedule=schedule,
        timezone=timezone,
    )


def default_routes() -> list[ControllerRoute]:
    return [
        make_route(
            "map-tile", "9683b2d02a6cabee", TILE_PLAN, "cron(0 10 ? * MON-FRI *)", "Asia/Tokyo"
        ),
        make_route("map-style", "0a1b2c3d4e5f6071", STYLE_PLAN),
    ]


def declare(
    source_dir: Path, routes=None, calls: list | None = None, **overrides
) -> list[RecordedResource]:
    """Build one CanaryController against fresh recording mocks; return what it declared.

    ``calls``, if given, receives the provider functions the controller invoked.
    """
    monitor = install_mocks(stack=STACK, region=REGION)
    values = {
        "stack": STACK,
        "routes": default_routes() if routes is None else routes,
        "topic_arn": TOPIC,
        "powertools_layer_arn": LAYER,
        "source_dir": source_dir,
    }
    values.update(overrides)
    args = CanaryControllerArgs(**values)

    @pulumi.runtime.test
    def program():
        controller = CanaryController("canary", args)
        return pulumi.Output.all(controller.dlq_url, controller.state_machine_arn)

    program()
    if calls is not None:
        calls.extend(monitor.recording_mocks.calls)
    return list(monitor.recorded)


def fake_controller_package(folder: Path) -> Path:
    """A ``controller/`` folder shaped like the real one, with the CLI and stray files."""
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    (folder / "__main__.py").write_text("from controller.cli.main import main\n")
    (folder / "README.txt").write_text("not a module\n")
    for package in ("core", "aws", "cli"):
        (folder / package).mkdir()
        (folder / package / "__init__.py").write_text("")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"stale")
    return folder


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory) -> Path:
    return fake_controller_package(tmp_path_factory.mktemp("src") / "controller")


@pytest.fixture(scope="module")
def declared(source_dir) -> list[RecordedResource]:
    return declare(source_dir)


def one(resources: list[RecordedResource], typ: str) -> RecordedResource:
    found = by_type(resources, typ)
    assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
    return found[0]


def policy_of(resources: list[RecordedResource], name: str) -> dict:
    return json.loads(by_name(resources, name).inputs["policy"])


# --- inventory ------------------------------------------------------------------------


def test_declares_every_controller_resource_once_per_stack_or_route(declared):
    counts: dict[str, int] = {}
    for resource in declared:
        counts[resource.type] = counts.get(resource.type, 0) + 1
    assert counts == {
        TYPE_TOKEN: 1,
        "strangler:controller_function:ControllerFunction": 1,
        "strangler:canary_state_machine:CanaryStateMachine": 1,
        "strangler:dead_letter_queue:DeadLetterQueue": 1,
        "strangler:failback:FailbackRule": 2,
        "strangler:registry_sync:RegistrySyncRule": 1,
        "strangler:canary_schedules:CanarySchedules": 1,
        "strangler:registry:ControllerRegistry": 1,
        "aws:lambda/function:Function": 1,
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": 1,
        "aws:cloudwatch/logGroup:LogGroup": 2,
        "aws:iam/role:Role": 3,
        "aws:iam/rolePolicy:RolePolicy": 3,
        "aws:sfn/stateMachine:StateMachine": 1,
        "aws:dynamodb/table:Table": 1,
        "aws:sqs/queue:Queue": 1,
        "aws:sqs/queuePolicy:QueuePolicy": 1,
        "aws:cloudwatch/metricAlarm:MetricAlarm": 1,
        "aws:cloudwatch/eventRule:EventRule": 3,
        "aws:cloudwatch/eventTarget:EventTarget": 3,
        "aws:lambda/permission:Permission": 3,
        "aws:scheduler/schedule:Schedule": 1,
        "aws:cloudwatch/dashboard:Dashboard": 1,
        "aws:ssm/parameter:Parameter": 3,
    }


def test_children_are_parented_and_named_after_their_component(declared):
    component = one(declared, TYPE_TOKEN)
    assert component.name == "canary"
    components = {r.name for r in declared if not r.custom}
    for resource in declared:
        if resource is component:
            continue
        assert resource.parent in components, resource.name
        assert resource.name.startswith(f"{resource.parent}-"), resource.name
    for sub in (r for r in declared if not r.custom):
        assert sub.registered_outputs, f"{sub.name} registers no outputs"
    assert {r.parent for r in declared if r.custom} == components


# Where each resource was declared before the controller was split into
# sub-components: directly under the CanaryController, with these names.
FORMER_LAYOUT = [
    ("aws:dynamodb/table:Table", "canary-table"),
    ("aws:sqs/queue:Queue", "canary-dlq"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "canary-dlq-alarm"),
    ("aws:sqs/queuePolicy:QueuePolicy", "canary-dlq-policy"),
    ("aws:cloudwatch/logGroup:LogGroup", "canary-function-logs"),
    ("aws:iam/role:Role", "canary-function-role"),
    ("aws:iam/rolePolicy:RolePolicy", "canary-function-policy"),
    ("aws:lambda/function:Function", "canary-function"),
    ("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "canary-function-async"),
    ("aws:cloudwatch/logGroup:LogGroup", "canary-state-machine-logs"),
    ("aws:iam/role:Role", "canary-state-machine-role"),
    ("aws:iam/rolePolicy:RolePolicy", "canary-state-machine-policy"),
    ("aws:sfn/stateMachine:StateMachine", "canary-state-machine"),
    *[
        (typ, f"canary-{route}-failback-{part}")
        for route in ("map-tile", "map-style")
        for typ, part in (
            ("aws:cloudwatch/eventRule:EventRule", "rule"),
            ("aws:lambda/permission:Permission", "permission"),
            ("aws:cloudwatch/eventTarget:EventTarget", "target"),
        )
    ],
    ("aws:iam/role:Role", "canary-scheduler-role"),
    ("aws:iam/rolePolicy:RolePolicy", "canary-scheduler-policy"),
    ("aws:scheduler/schedule:Schedule", "canary-map-tile-schedule"),
    ("aws:cloudwatch/dashboard:Dashboard", "canary-dashboard"),
    ("aws:ssm/parameter:Parameter", "canary-map-tile-record"),
    ("aws:ssm/parameter:Parameter", "canary-map-style-record"),
    ("aws:ssm/parameter:Parameter", "canary-stack-record"),
]


#: Resources added after the split: they had no former place, so no alias.
ADDED_AFTER_THE_SPLIT = {
    "canary-registry-sync-rule",
    "canary-registry-sync-permission",
    "canary-registry-sync-target",
}


def test_every_resource_keeps_its_former_urn_or_an_alias_to_it(declared):
    """An update moves the resources into the sub-components instead of replacing them."""
    custom = [r for r in declared if r.custom and r.name not in ADDED_AFTER_THE_SPLIT]
    assert len(custom) == len(FORMER_LAYOUT), "the split adds or drops no AWS resource"
    added = [r for r in declared if r.name in ADDED_AFTER_THE_SPLIT]
    assert [r.alias_urns for r in added] == [[], [], []]
    for typ, name in FORMER_LAYOUT:
        former = f"urn:pulumi:{STACK}::strangler::{TYPE_TOKEN}${typ}::{name}"
        matches = [r for r in custom if former == r.urn or former in r.alias_urns]
        assert [r.type for r in matches] == [typ], f"{name}: {[r.name for r in matches]}"


def test_component_registers_its_outputs(declared):
    outputs = one(declared, TYPE_TOKEN).registered_outputs
    assert outputs["state_machine_arn"] == SM_ARN
    assert outputs["table_name"] == "strangler-prod-state"
    assert outputs["dashboard_name"] == "strangler-prod"
    assert outputs["dlq_url"] == DLQ_URL
    assert outputs["registry_path"] == "/strangler/prod"
    assert set(outputs["failback_rule_arns"]) == {"map-tile", "map-style"}
    assert (
        outputs["registry_sync_rule_arn"]
        == (by_name(declared, "canary-registry-sync-rule").outputs["arn"])
    )
    assert set(outputs["schedule_arns"]) == {"map-tile"}


# --- the function ------------------------------------------------------------------------


def test_controller_function(declared, source_dir):
    function = one(declared, "aws:lambda/function:Function")
    inputs = function.inputs
    assert inputs["name"] == "strangler-prod-controller"
    assert inputs["runtime"] == "python3.12"
    assert inputs["handler"] == HANDLER == "controller.handler.lambda_handler"
    assert inputs["layers"] == [LAYER]
    assert inputs["architectures"] == ["x86_64"]
    assert inputs["tracingConfig"] == {"mode": "Active"}
    assert inputs["timeout"] == 30
    assert inputs["memorySize"] == 512
    assert inputs["reservedConcurrentExecutions"] == 10
    assert inputs["role"] == by_name(declared, "canary-function-role").outputs["arn"]
    assert function.name == "canary-function-lambda"
    assert inputs["environment"] == {
        "variables": {
            "STRANGLER_STACK": "prod",
            "STRANGLER_REGISTRY_PATH": "/strangler/prod",
            "POWERTOOLS_SERVICE_NAME": "strangler-controller",
            "POWERTOOLS_METRICS_NAMESPACE": "Strangler",
        }
    }
    # The zip holds the package as controller/, so controller.handler imports.
    code = inputs["code"]
    assert isinstance(code, pulumi.AssetArchive)
    assert set(code.assets) == {"controller"}
    assert Path(code.assets["controller"].assets["handler.py"].path) == source_dir / "handler.py"
    # Its log group and permissions exist before it can run.
    assert {"canary-function-logs", "canary-function-policy"} <= set(function.depends_on)


def test_without_a_stack_layer_the_controller_uses_the_layer_of_the_pinned_release(source_dir):
    calls: list = []
    resources = declare(source_dir, calls=calls, powertools_layer_arn="")
    function = one(resources, "aws:lambda/function:Function")
    assert function.inputs["layers"] == [
        f"arn:aws:lambda:{REGION}:017000801446:layer:"
        f"AWSLambdaPowertoolsPythonV3-python312-x86_64:{MOCK_LAYER_VERSION}"
    ]
    assert [c.args["name"] for c in calls if c.token == "aws:ssm/getParameter:getParameter"] == [
        f"/aws/service/powertools/python/x86_64/python3.12/{POWERTOOLS_VERSION}"
    ]


def test_the_controllers_powertools_release_is_the_one_the_tests_run():
    root = PROJECT_ROOT / "requirements.txt"
    pinned = [line for line in root.read_text().splitlines() if line.startswith("aws_lambda_")]
    assert pinned == [f"aws_lambda_powertools=={POWERTOOLS_VERSION}"]
    proxy = read_requirements(PROJECT_ROOT / "functions" / "map_proxy" / "requirements.txt")
    assert pinned_version(proxy, "aws-lambda-powertools") == POWERTOOLS_VERSION


def _archive_entries(archive: pulumi.Archive) -> dict[str, str]:
    """Entry name -> kind of an AssetArchive, nested archives flattened with '/'."""
    assert isinstance(archive, pulumi.AssetArchive)
    found: dict[str, str] = {}
    for name, item in archive.assets.items():
        if isinstance(item, pulumi.AssetArchive):
            found.update({f"{name}/{k}": v for k, v in _archive_entries(item).items()})
        else:
            found[name] = type(item).__name__
    return found


def test_the_archive_ships_modules_and_packages_but_not_the_cli(source_dir):
    assert _archive_entries(controller_archive(source_dir)) == {
        "controller/__init__.py": "FileAsset",
        "controller/handler.py": "FileAsset",
        "controller/core": "FileArchive",
        "controller/aws": "FileArchive",
    }


def test_the_real_archive_has_no_cli_and_its_handler_imports_without_it(tmp_path):
    """Unzipped alone, the shipped package imports the handler; the CLI is not there."""
    shipped = _archive_entries(controller_archive(CONTROLLER_SOURCE))
    assert {"controller/core", "controller/aws", "controller/handler.py"} <= set(shipped)
    assert {"controller/service.py", "controller/events.py", "controller/__init__.py"} <= set(
        shipped
    )
    code = tmp_path / "code"
    with zipfile.ZipFile(
        io.BytesIO(archive_to_zip(controller_archive(CONTROLLER_SOURCE), tmp_path))
    ) as zipped:
        names = zipped.namelist()
        zipped.extractall(code)
    assert not [n for n in names if n.startswith("controller/cli/")], names
    assert "controller/__main__.py" not in names
    probe = (
        "import sys, controller, controller.handler\n"
        "assert controller.__file__.startswith(sys.argv[1]), controller.__file__\n"
        "assert callable(controller.handler.lambda_handler)\n"
        "assert not [m for m in sys.modules if m.startswith('controller.cli')]\n"
        "try:\n"
        "    import controller.cli\n"
        "except ModuleNotFoundError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('controller.cli is importable from the zip')\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(code),
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "STRANGLER_STACK": STACK,
    }
    result = run_python("-c", probe, str(code), cwd=code, env=env)
    assert result.returncode == 0, result.stderr


def test_the_handler_setting_names_the_real_entry_point():
    """Lambda imports "<module>.<function>" from the zip root, which holds controller/."""
    module, function = HANDLER.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), function))


def test_default_source_is_the_controller_package():
    root = Path(__file__).resolve().parents[2]
    assert root / "controller" == CONTROLLER_SOURCE
    assert (CONTROLLER_SOURCE / "core" / "contract.py").is_file()


def test_function_log_group_has_retention(declared):
    group = by_name(declared, "canary-function-logs")
    assert group.inputs["name"] == "/aws/lambda/strangler-prod-controller"
    assert group.inputs["retentionInDays"] == 30


def test_failed_async_events_go_to_the_dlq(declared):
    config = one(declared, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert config.inputs == {
        "functionName": "strangler-prod-controller",
        "maximumRetryAttempts": 2,
        "maximumEventAgeInSeconds": 600,
        "destinationConfig": {"onFailure": {"destination": DLQ_ARN}},
    }
    assert "canary-function-policy" in config.depends_on


# The documents themselves are checked statement by statement in
# tests/aws/test_controller_iam.py; here, that each role gets its document for
# the stack's own resources.


def test_controller_role_trusts_lambda_only(declared):
    role = by_name(declared, "canary-function-role")
    assert json.loads(role.inputs["assumeRolePolicy"]) == assume_role_policy("lambda.amazonaws.com")


def test_controller_policy_is_scoped_to_the_stack_resources(declared):
    assert by_name(declared, "canary-function-policy").inputs["role"] == "canary-function-role-id"
    assert policy_of(declared, "canary-function-policy") == controller_policy(
        ControllerPolicyInputs(
            stack=STACK,
            partition="aws",
            region=REGION,
            account=ACCOUNT,
            log_group_arn=LOG_GROUP_ARN,
            rule_arns=(rule_arn("9683b2d02a6cabee"), rule_arn("0a1b2c3d4e5f6071")),
            table_arn=TABLE_ARN,
            state_machine_arn=SM_ARN,
            topic_arn=TOPIC,
            dlq_arn=DLQ_ARN,
            function_names=("strangler-prod-map-tile", "strangler-prod-map-style"),
        )
    )
    # Release runs move each route function's alias `live`, and nothing else.
    statements = {s["Sid"]: s for s in policy_of(declared, "canary-function-policy")["Statement"]}
    assert statements["ReleaseFunctionVersions"] == RELEASE_FUNCTION_VERSIONS


def test_the_constructed_state_machine_arn_is_the_real_one(declared):
    """The controller's policy names the state machine by a built ARN (no cycle)."""
    machine = one(declared, "aws:sfn/stateMachine:StateMachine")
    statements = {s["Sid"]: s for s in policy_of(declared, "canary-function-policy")["Statement"]}
    assert statements["StartAndListRuns"]["Resource"] == machine.outputs["arn"]


# --- the state machine ---------------------------------------------------------------------


def test_state_machine(declared):
    machine = one(declared, "aws:sfn/stateMachine:StateMachine")
    inputs = machine.inputs
    assert inputs["name"] == "strangler-prod-canary"
    assert inputs["type"] == "STANDARD"
    assert inputs["roleArn"] == by_name(declared, "canary-state-machine-role").outputs["arn"]
    assert json.loads(inputs["definition"]) == build_definition(FUNCTION_ARN)
    assert inputs["loggingConfiguration"] == {
        "logDestination": f"{SM_LOG_GROUP_ARN}:*",
        "includeExecutionData": True,
        "level": "ALL",
    }
    assert inputs["tracingConfiguration"] == {"enabled": True}
    assert "canary-state-machine-policy" in machine.depends_on
    group = by_name(declared, "canary-state-machine-logs")
    assert group.inputs["name"] == "/aws/vendedlogs/states/strangler-prod-canary"
    assert group.inputs["retentionInDays"] == 30


def test_state_machine_role_may_invoke_the_controller_and_trusts_the_account(declared):
    assert policy_of(declared, "canary-state-machine-policy") == state_machine_policy(FUNCTION_ARN)
    role = by_name(declared, "canary-state-machine-role")
    assert json.loads(role.inputs["assumeRolePolicy"]) == assume_role_policy(
        "states.amazonaws.com", ACCOUNT
    )


def _invoked_functions(node) -> set[str]:
    """Every FunctionName a lambda:invoke task of the definition names."""
    found: set[str] = set()
    if isinstance(node, dict):
        if str(node.get("Resource", "")).startswith("arn:aws:states:::lambda:invoke"):
            found.add(node["Parameters"]["FunctionName"])
        for value in node.values():
            found |= _invoked_functions(value)
    elif isinstance(node, list):
        for value in node:
            found |= _invoked_functions(value)
    return found


def test_state_machine_may_invoke_exactly_the_functions_its_definition_calls(declared):
    machine = one(declared, "aws:sfn/stateMachine:StateMachine")
    invoked = _invoked_functions(json.loads(machine.inputs["definition"]))
    statement = policy_of(declared, "canary-state-machine-policy")["Statement"][0]
    assert invoked == {statement["Resource"]}


# --- table -----------------------------------------------------------------------------------


def test_table_has_pitr_and_the_contract_keys(declared):
    table = one(declared, "aws:dynamodb/table:Table")
    assert table.inputs == STATE_TABLE_INPUTS


# --- failback path -----------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["map-tile", "map-style"])
def test_failback_rule_matches_the_composite_alarm_entering_alarm(declared, route):
    rule = by_name(declared, f"canary-{route}-failback-rule")
    assert rule.inputs["name"] == f"strangler-prod-{route}-failback"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [alarm_arn(f"strangler-prod-{route}-composite")],
        "detail": {"state": {"value": ["ALARM"]}},
    }


def controller_target(rule: RecordedResource) -> dict:
    """A rule's target: the controller, Lambda's retries, the stack's DLQ; no input change."""
    return {
        "rule": rule.outputs["name"],
        "targetId": "controller",
        "arn": FUNCTION_ARN,
        "retryPolicy": {"maximumEventAgeInSeconds": 300, "maximumRetryAttempts": 185},
        "deadLetterConfig": {"arn": DLQ_ARN},
    }


@pytest.mark.parametrize("route", ["map-tile", "map-style"])
def test_failback_target_retries_then_dead_letters(declared, route):
    rule = by_name(declared, f"canary-{route}-failback-rule")
    target = by_name(declared, f"canary-{route}-failback-target")
    assert target.inputs == controller_target(rule)
    assert f"canary-{route}-failback-permission" in target.depends_on


@pytest.mark.parametrize("route", ["map-tile", "map-style"])
def test_eventbridge_may_invoke_the_controller_only_from_the_route_rule(declared, route):
    rule = by_name(declared, f"canary-{route}-failback-rule")
    permission = by_name(declared, f"canary-{route}-failback-permission")
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "strangler-prod-controller",
        "principal": "events.amazonaws.com",
        "sourceArn": rule.outputs["arn"],
    }


# --- registry sync ------------------------------------------------------------------------------


def parameter_store_change(name: str, operation: str = "Update") -> dict:
    """A Parameter Store Change event as SSM sends it to EventBridge's default bus."""
    return {
        "version": "0",
        "id": "5b2d2e4e-63f2-4f1f-9d5e-0c4f0c6a1f11",
        "detail-type": "Parameter Store Change",
        "source": "aws.ssm",
        "account": ACCOUNT,
        "time": "2026-12-02T06:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"],
        "detail": {"name": name, "type": "String", "operation": operation},
    }


def sync_pattern(declared) -> EventPattern:
    rule = by_name(declared, "canary-registry-sync-rule")
    return EventPattern.load(rule.inputs["eventPattern"])


def test_registry_sync_rule_matches_the_stack_route_records(declared):
    rule = by_name(declared, "canary-registry-sync-rule")
    assert rule.parent == "canary-registry-sync"
    assert by_name(declared, "canary-registry-sync").type == (
        "strangler:registry_sync:RegistrySyncRule"
    )
    assert rule.inputs["name"] == "strangler-prod-registry-sync"
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.ssm"],
        "detail-type": ["Parameter Store Change"],
        "detail": {
            "name": [{"prefix": "/strangler/prod/routes/"}],
            "operation": ["Create", "Update"],
        },
    }
    assert registry_sync_event_pattern(STACK) == json.loads(rule.inputs["eventPattern"])


@pytest.mark.parametrize("operation", ["Create", "Update"])
@pytest.mark.parametrize("route", ["map-tile", "map-style"])
def test_a_route_record_change_matches(declared, route, operation):
    event = parameter_store_change(route_parameter_name(STACK, route), operation)
    assert sync_pattern(declared).matches_event(event)


@pytest.mark.parametrize(
    "event",
    [
        # The stack record is not a route record.
        parameter_store_change(stack_parameter_name(STACK)),
        # Another stack's route records, including one whose name extends this one's.
        parameter_store_change(route_parameter_name("staging", "map-tile")),
        parameter_store_change(route_parameter_name("prod-eu", "map-tile")),
        parameter_store_change("/strangler/prodx/routes/map-tile"),
        # A deleted route has no rule left to reconcile; labels change no value.
        parameter_store_change(route_parameter_name(STACK, "map-tile"), "Delete"),
        parameter_store_change(route_parameter_name(STACK, "map-tile"), "LabelParameterVersion"),
        # Not SSM at all.
        {
            **parameter_store_change(route_parameter_name(STACK, "map-tile")),
            "source": "aws.cloudwatch",
        },
    ],
    ids=[
        "stack-record",
        "other-stack",
        "longer-stack",
        "prefix-stack",
        "delete",
        "label",
        "source",
    ],
)
def test_other_parameter_changes_do_not_match(declared, event):
    assert not sync_pattern(declared).matches_event(event)


def test_the_sample_parameter_store_event_matches_its_stack_pattern_only():
    """tests/events/ssm_parameter_store_change.json is the event the handler is tested with."""
    event = json.loads((EVENTS / "ssm_parameter_store_change.json").read_text())
    assert EventPattern.load(json.dumps(registry_sync_event_pattern("three"))).matches_event(event)
    assert not EventPattern.load(json.dumps(registry_sync_event_pattern("prod"))).matches_event(
        event
    )


def test_registry_sync_target_passes_the_event_unchanged_and_dead_letters(declared):
    rule = by_name(declared, "canary-registry-sync-rule")
    target = by_name(declared, "canary-registry-sync-target")
    assert target.inputs == controller_target(rule)
    assert "input" not in target.inputs and "inputTransformer" not in target.inputs
    assert "canary-registry-sync-permission" in target.depends_on
    # The same delivery policy as the failback rules.
    failback = by_name(declared, "canary-map-tile-failback-target")
    assert target.inputs["retryPolicy"] == failback.inputs["retryPolicy"]
    assert target.inputs["deadLetterConfig"] == failback.inputs["deadLetterConfig"]


def test_eventbridge_may_invoke_the_controller_from_the_registry_sync_rule(declared):
    rule = by_name(declared, "canary-registry-sync-rule")
    permission = by_name(declared, "canary-registry-sync-permission")
    assert permission.inputs == {
        "action": "lambda:InvokeFunction",
        "function": "strangler-prod-controller",
        "principal": "events.amazonaws.com",
        "sourceArn": rule.outputs["arn"],
    }


def test_the_controller_may_reconcile_what_a_sync_event_names(declared):
    """The event names a route record; the controller may read it and rewrite that rule."""
    statements = {s["Sid"]: s for s in policy_of(declared, "canary-function-policy")["Statement"]}
    read = statements["ReadRegistry"]
    parameter_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter" + route_parameter_name(
        STACK, "map-tile"
    )
    assert "ssm:GetParameter" in read["Action"]
    assert any(
        re.fullmatch(pattern.replace("*", ".*"), parameter_arn) for pattern in read["Resource"]
    )
    assert statements["ReadRouteWeights"]["Action"] == "elasticloadbalancing:DescribeRules"
    assert set(statements["ShiftRouteWeights"]["Resource"]) == {
        rule_arn("9683b2d02a6cabee"),
        rule_arn("0a1b2c3d4e5f6071"),
    }


def test_dlq_and_its_policy(declared):
    queue = one(declared, "aws:sqs/queue:Queue")
    assert queue.inputs == {
        "name": "strangler-prod-controller-dlq",
        "messageRetentionSeconds": 1_209_600,
        "sqsManagedSseEnabled": True,
    }
    policy = one(declared, "aws:sqs/queuePolicy:QueuePolicy")
    assert policy.inputs["queueUrl"] == DLQ_URL
    rules = [
        by_name(declared, f"canary-{route}-failback-rule").outputs["arn"]
        for route in ("map-tile", "map-style")
    ]
    sync = by_name(declared, "canary-registry-sync-rule").outputs["arn"]
    assert json.loads(policy.inputs["policy"]) == dead_letter_queue_policy(DLQ_ARN, [*rules, sync])
    # Every rule that dead-letters to the queue is admitted by its policy.
    admitted = json.loads(policy.inputs["policy"])["Statement"][0]["Condition"]["ArnEquals"][
        "aws:SourceArn"
    ]
    targets = by_type(declared, "aws:cloudwatch/eventTarget:EventTarget")
    rule_arns = {r.outputs["name"]: r.outputs["arn"] for r in by_type(declared, EVENT_RULE)}
    dead_lettered = {
        rule_arns[t.inputs["rule"]]
        for t in targets
        if t.inputs["deadLetterConfig"] == {"arn": DLQ_ARN}
    }
    assert dead_lettered == set(admitted) and len(dead_lettered) == 3


def test_a_dead_letter_pages_the_topic(declared):
    alarm = one(declared, "aws:cloudwatch/metricAlarm:MetricAlarm")
    inputs = alarm.inputs
    assert inputs["name"] == "strangler-prod-controller-dlq"
    assert (inputs["namespace"], inputs["metricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert inputs["dimensions"] == {"QueueName": "strangler-prod-controller-dlq"}
    assert (inputs["statistic"], inputs["period"], inputs["evaluationPeriods"]) == (
        "Maximum",
        60,
        1,
    )
    assert (inputs["threshold"], inputs["comparisonOperator"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert inputs["treatMissingData"] == "notBreaching"
    assert inputs["alarmActions"] == [TOPIC]
    assert inputs["okActions"] == [TOPIC]
    assert "rollback" in inputs["alarmDescription"]


# --- schedules ---------------------------------------------------------------------------------


def test_schedule_starts_the_state_machine_in_the_route_timezone(declared):
    schedule = one(declared, "aws:scheduler/schedule:Schedule")
    inputs = schedule.inputs
    assert schedule.name == "canary-scheduler-map-tile"
    assert inputs["name"] == "strangler-prod-map-tile-canary"
    assert inputs["groupName"] == "default"
    assert inputs["scheduleExpression"] == "cron(0 10 ? * MON-FRI *)"
    assert inputs["scheduleExpressionTimezone"] == "Asia/Tokyo"
    assert inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    target = inputs["target"]
    assert target["arn"] == SM_ARN
    assert target["roleArn"] == by_name(declared, "canary-scheduler-role").outputs["arn"]
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 5}
    assert target["deadLetterConfig"] == {"arn": DLQ_ARN}
    assert json.loads(target["input"]) == {
        "route": "map-tile",
        "trigger": "schedule",
        "actor": "schedule",
        "plan": {
            "stages": [
                {"weight": 1.0, "bakeSeconds": 600},
                {"weight": 10.0, "bakeSeconds": 1200},
                {"weight": 100.0, "bakeSeconds": 0},
            ],
            "stagesPerRun": 1,
            "minRequests": 50,
        },
    }
    assert PlanRecord.from_input(json.loads(target["input"])["plan"]) == TILE_PLAN
    assert "canary-scheduler-policy" in schedule.depends_on


def test_scheduler_role_may_start_the_state_machine_and_trusts_the_account(declared):
    role = by_name(declared, "canary-scheduler-role")
    assert json.loads(role.inputs["assumeRolePolicy"]) == assume_role_policy(
        "scheduler.amazonaws.com", ACCOUNT
    )
    assert policy_of(declared, "canary-scheduler-policy") == scheduler_policy(SM_ARN, DLQ_ARN)


def test_no_schedule_no_scheduler_role(source_dir):
    resources = declare(
        source_dir, routes=[make_route("map-style", "0a1b2c3d4e5f6071", STYLE_PLAN)]
    )
    assert by_type(resources, "aws:scheduler/schedule:Schedule") == []
    assert sorted(r.name for r in by_type(resources, "aws:iam/role:Role")) == [
        "canary-function-role",
        "canary-state-machine-role",
    ]


def test_schedule_without_timezone_runs_in_utc(source_dir):
    route = make_route("map-tile", "9683b2d02a6cabee", TILE_PLAN, "rate(1 day)")
    resources = declare(source_dir, routes=[route])
    schedule = one(resources, "aws:scheduler/schedule:Schedule")
    assert schedule.inputs["scheduleExpressionTimezone"] == "UTC"


def test_a_release_schedule_starts_release_runs_at_its_times(source_dir):
    route = replace(
        make_route("map-style", "0a1b2c3d4e5f6071", STYLE_PLAN),
        release=ReleasePlanRecord(schedule="cron(0 3 * * ? *)"),
    )
    (schedule,) = by_type(declare(source_dir, routes=[route]), "aws:scheduler/schedule:Schedule")
    assert schedule.name == "canary-scheduler-map-style-release"
    assert schedule.inputs["name"] == "strangler-prod-map-style-release"
    assert schedule.inputs["scheduleExpression"] == "cron(0 3 * * ? *)"
    started = json.loads(schedule.inputs["target"]["input"])
    assert (started["trigger"], started["route"]) == ("release-schedule", "map-style")


# --- dashboard ---------------------------------------------------------------------------------


def _metrics(body: dict) -> list[list]:
    return [m for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]


def test_dashboard_shows_each_route(declared):
    dashboard = one(declared, "aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == "strangler-prod"
    body = json.loads(dashboard.inputs["dashboardBody"])
    metrics = _metrics(body)
    lb = "app/common-api/50dc6c495c0c9188"
    ecs = "targetgroup/map-ecs/73e2d6bc24d8a067"
    for route in ("map-tile", "map-style"):
        tg = f"targetgroup/sl-prod-{route}/0123456789abcdef"
        expected = [
            ["Strangler", "CanaryWeight", "route", route],
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb, "TargetGroup", ecs],
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb, "TargetGroup", tg],
            ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", lb, "TargetGroup", tg],
            [
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count",
                "LoadBalancer",
                lb,
                "TargetGroup",
                tg,
            ],
            ["AWS/Lambda", "Errors", "FunctionName", f"strangler-prod-{route}"],
            ["AWS/Lambda", "Throttles", "FunctionName", f"strangler-prod-{route}"],
            ["Strangler", "Rollbacks", "route", route, "service", "strangler-controller"],
            ["Strangler", "AppErrors", "route", route],
        ]
        for metric in expected:
            assert any(m[: len(metric)] == metric for m in metrics), (route, metric)
        alarms = [
            w["properties"]["alarms"]
            for w in body["widgets"]
            if w["type"] == "alarm" and w["properties"]["title"].startswith(route)
        ]
        assert alarms == [
            [
                alarm_arn(f"strangler-prod-{route}-composite"),
                alarm_arn(f"strangler-prod-{route}-errors"),
                alarm_arn(f"strangler-prod-{route}-throttles"),
            ]
        ]
    assert [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "strangler-prod-controller-dlq",
    ] in metrics
    assert all(w["properties"].get("region", REGION) == REGION for w in body["widgets"])


# --- registry ----------------------------------------------------------------------------------


def test_registry_route_records(declared):
    tile = by_name(declared, "canary-registry-route-map-tile")
    assert tile.inputs["name"] == "/strangler/prod/routes/map-tile"
    assert tile.inputs["type"] == "String"
    assert tile.inputs["tier"] == "Standard"
    assert RouteRecord.from_json(tile.inputs["insecureValue"]) == RouteRecord(
        route="map-tile",
        listener_arn=LISTENER,
        rule_arn=rule_arn("9683b2d02a6cabee"),
        ecs_target_group_arn=ECS_TG,
        lambda_target_group_arn=lambda_tg("map-tile"),
        function_name="strangler-prod-map-tile",
        composite_alarm_name="strangler-prod-map-tile-composite",
        composite_alarm_arn=alarm_arn("strangler-prod-map-tile-composite"),
        alarm_names=("strangler-prod-map-tile-errors", "strangler-prod-map-tile-throttles"),
        plan=TILE_PLAN,
        schedule_name="strangler-prod-map-tile-canary",
        schedule="cron(0 10 ? * MON-FRI *)",
        timezone="Asia/Tokyo",
    )
    style = RouteRecord.from_json(
        by_name(declared, "canary-registry-route-map-style").inputs["insecureValue"]
    )
    assert (style.route, style.plan, style.schedule_name, style.schedule, style.timezone) == (
        "map-style",
        STYLE_PLAN,
        None,
        None,
        None,
    )
    assert style.rule_arn == rule_arn("0a1b2c3d4e5f6071")


def test_registry_stack_record(declared):
    parameter = by_name(declared, "canary-registry-stack")
    assert parameter.inputs["name"] == "/strangler/prod/stack"
    assert StackRecord.from_json(parameter.inputs["insecureValue"]) == StackRecord(
        stack="prod",
        table_name="strangler-prod-state",
        state_machine_arn=SM_ARN,
        topic_arn=TOPIC,
        controller_function_name="strangler-prod-controller",
        dashboard_name="strangler-prod",
        routes=("map-style", "map-tile"),
    )


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"stack": "pr.od"}, "stack 'pr.od': must be letters"),
        ({"routes": []}, "routes: the controller needs at least one route"),
        ({"powertools_layer_arn": "layer"}, "powertools_layer_arn 'layer': not a layer ARN"),
        ({"architecture": "sparc"}, "architecture 'sparc'"),
        ({"timeout_seconds": 901}, "timeout_seconds 901: must be 1..900"),
        ({"reserved_concurrency": 0}, "reserved_concurrency 0: must be >= 1"),
        ({"memory_mb": 64}, "memory_mb 64"),
    ],
)
def test_bad_arguments_fail_before_any_resource(source_dir, overrides, message):
    monitor = install_mocks(stack=STACK)
    values = {
        "stack": STACK,
        "routes": default_routes(),
        "topic_arn": TOPIC,
        "powertools_layer_arn": LAYER,
        "source_dir": source_dir,
    }
    values.update(overrides)
    with pytest.raises(ControllerConfigError) as error:
        CanaryController("canary", CanaryControllerArgs(**values))
    assert any(message in problem for problem in error.value.problems), error.value.problems
    assert monitor.recorded == []


def test_route_problems_are_all_reported(source_dir):
    routes = [
        make_route("map-tile", "9683b2d02a6cabee", TILE_PLAN, timezone="Asia/Tokyo"),
        make_route("map-tile", "0a1b2c3d4e5f6071", STYLE_PLAN),
        make_route("Bad_Name", "0a1b2c3d4e5f6072", PlanRecord(stages=())),
    ]
    monitor = install_mocks(stack=STACK)
    args = CanaryControllerArgs(
        stack=STACK,
        routes=routes,
        topic_arn=TOPIC,
        powertools_layer_arn=LAYER,
        source_dir=source_dir,
    )
    with pytest.raises(ControllerConfigError) as error:
        CanaryController("canary", args)
    assert error.value.problems == (
        "routes[0] ('map-tile'): timezone 'Asia/Tokyo' is set without a schedule",
        "routes[1] ('map-tile'): duplicate route name",
        "routes[2] ('Bad_Name'): name must match ^[a-z][a-z0-9-]{0,23}$",
        "routes[2] ('Bad_Name'): the plan has no stages",
    )
    assert monitor.recorded == []


# Physical names the controller sets, with the service limit each must fit.
NAME_LIMITS = {
    ("aws:lambda/function:Function", "name"): naming.MAX_FUNCTION_NAME,
    ("aws:sfn/stateMachine:StateMachine", "name"): naming.MAX_STATE_MACHINE_NAME,
    ("aws:sqs/queue:Queue", "name"): naming.MAX_QUEUE_NAME,
    ("aws:cloudwatch/eventRule:EventRule", "name"): naming.MAX_RULE_NAME,
    ("aws:scheduler/schedule:Schedule", "name"): naming.MAX_SCHEDULE_NAME,
    ("aws:dynamodb/table:Table", "name"): naming.MAX_TABLE_NAME,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "name"): naming.MAX_ALARM_NAME,
    ("aws:cloudwatch/dashboard:Dashboard", "dashboardName"): naming.MAX_DASHBOARD_NAME,
}


def test_long_names_are_fitted_like_every_other_name(source_dir):
    """One rule for all names: too long is shortened with a hash, never refused."""
    stack = "s" * 70
    route = make_route("r" * 24, "9683b2d02a6cabee", TILE_PLAN, "rate(1 day)")
    resources = declare(source_dir, routes=[route], stack=stack)
    shortened = set()
    for (typ, key), limit in NAME_LIMITS.items():
        for resource in by_type(resources, typ):
            value = resource.inputs[key]
            assert len(value) <= limit, (typ, value)
            if re.search(r"-[0-9a-f]{7}$", value):
                shortened.add(typ)
    assert shortened == {
        "aws:lambda/function:Function",
        "aws:sfn/stateMachine:StateMachine",
        "aws:sqs/queue:Queue",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:scheduler/schedule:Schedule",
    }
    function = one(resources, "aws:lambda/function:Function")
    assert function.inputs["name"] == naming.controller_function_name(stack)
    machine = one(resources, "aws:sfn/stateMachine:StateMachine")
    statements = {s["Sid"]: s for s in policy_of(resources, "canary-function-policy")["Statement"]}
    assert statements["StartAndListRuns"]["Resource"] == machine.outputs["arn"]
    record = RouteRecord.from_json(
        by_name(resources, f"canary-registry-route-{route.name}").inputs["insecureValue"]
    )
    assert record.schedule_name == one(resources, "aws:scheduler/schedule:Schedule").inputs["name"]


def test_a_source_without_handler_is_refused(tmp_path):
    args = CanaryControllerArgs(
        stack=STACK,
        routes=default_routes(),
        topic_arn=TOPIC,
        powertools_layer_arn=LAYER,
        source_dir=tmp_path,
    )
    with pytest.raises(ControllerConfigError, match=r"has no handler\.py"):
        args.validate()


# --- from the stack config --------------------------------------------------------------------


@dataclass(frozen=True)
class FakeCanary:
    schedule: str | None
    timezone: str | None
    plan: PlanRecord
    concurrency_headroom_percent: float | None = None
    expected_peak_rps: float | None = None

    def plan_record(self) -> PlanRecord:
        return self.plan


@dataclass(frozen=True)
class FakeFunction:
    reserved_concurrency: int = 200
    timeout_seconds: int = 10


@dataclass(frozen=True)
class FakeRouteConfig:
    canary: FakeCanary
    release: ReleasePlanRecord = field(default_factory=ReleasePlanRecord)
    function: FakeFunction = FakeFunction()
    ecs_service: None = None


@dataclass(frozen=True)
class FakeStackRoute:
    """The attributes of a StranglerRoute the controller reads."""

    name: str
    config: FakeRouteConfig
    rule_arn: str
    ecs_target_group_arn: str = ECS_TG
    lambda_target_group_arn: str = "tg"
    function_name: str = "fn"
    composite_alarm_name: str = "composite"
    composite_alarm_arn: str = "composite-arn"
    alarm_names: tuple[str, ...] = ("a",)
    check_function_name: str | None = None
    function_version: str = "1"
    alias_name: str = "live"


def test_args_for_a_stack_config():
    route = FakeStackRoute(
        name="map-tile",
        config=FakeRouteConfig(FakeCanary("rate(1 day)", "Asia/Tokyo", TILE_PLAN)),
        rule_arn=rule_arn("9683b2d02a6cabee"),
    )
    config = StackConfig(region=REGION, listener_arn=LISTENER, routes=(), log_retention_days=90)
    args = CanaryControllerArgs.for_stack("prod", config, [route], TOPIC)
    assert args.powertools_layer_arn == "", "no stack layer: the release's layer, looked up"
    assert (args.stack, args.topic_arn, args.log_retention_days) == ("prod", TOPIC, 90)
    assert args.routes == [
        placeholder_route(
            LISTENER,
            ECS_TG,
            TILE_PLAN,
            rule_arn("9683b2d02a6cabee"),
            schedule="rate(1 day)",
            timezone="Asia/Tokyo",
            function_version="1",
            alias_name="live",
            release=ReleasePlanRecord(),
        )
    ]
    pinned = replace(config, powertools_layer_arn=LAYER.replace(":27", ":30"))
    assert CanaryControllerArgs.for_stack("prod", pinned, [route], TOPIC).powertools_layer_arn == (
        LAYER.replace(":27", ":30")
    )


# --- in the program -------------------------------------------------------------------------


def test_the_program_builds_the_controller_from_the_real_routes():
    """Pulumi.prod.yaml: the registry and the policies carry the route components' outputs."""
    run = run_program_full("Pulumi.prod.yaml")
    rule = by_name(run.resources, "map-tile-traffic-rule")
    composite = one(run.resources, "aws:cloudwatch/compositeAlarm:CompositeAlarm")
    record = RouteRecord.from_json(
        by_name(run.resources, "controller-registry-route-map-tile").inputs["insecureValue"]
    )
    assert record.rule_arn == rule.outputs["arn"]
    assert record.composite_alarm_arn == composite.outputs["arn"]
    assert record.schedule == "cron(0 10 ? * MON-FRI *)"
    statements = {
        s["Sid"]: s for s in policy_of(run.resources, "controller-function-policy")["Statement"]
    }
    assert statements["ShiftRouteWeights"]["Resource"] == [rule.outputs["arn"]]
    pattern = json.loads(
        by_name(run.resources, "controller-map-tile-failback-rule").inputs["eventPattern"]
    )
    assert pattern["resources"] == [composite.outputs["arn"]]
    assert run.outputs["controller"]["registryPath"] == "/strangler/prod"


# --- the capacity guard --------------------------------------------------------------------


def test_no_capacity_tick_without_an_ecs_service(declared):
    names = {r.name for r in declared}
    assert not {n for n in names if "capacity-tick" in n}
    statements = {s["Sid"] for s in policy_of(declared, "canary-function-policy")["Statement"]}
    assert "GuardEcsCapacity" not in statements


def test_an_ecs_service_adds_the_tick_rule_and_the_ecs_grants(source_dir):
    guarded = replace(
        make_route("map-tile", "9683b2d02a6cabee", TILE_PLAN),
        capacity=CapacityRecord(cluster="common-api", service="common-api-svc", hold_hours=72),
    )
    declared = declare(source_dir, routes=[guarded])
    rule = by_name(declared, "canary-capacity-tick-rule")
    assert rule.parent == "canary-capacity-tick"
    assert rule.inputs["name"] == "strangler-prod-capacity-tick"
    assert rule.inputs["scheduleExpression"] == "rate(15 minutes)"
    target = by_name(declared, "canary-capacity-tick-target")
    assert target.inputs["rule"] == "strangler-prod-capacity-tick"
    assert target.inputs["deadLetterConfig"] == {"arn": DLQ_ARN}
    permission = by_name(declared, "canary-capacity-tick-permission")
    assert permission.inputs["sourceArn"] == rule.outputs["arn"]
    assert permission.inputs["principal"] == "events.amazonaws.com"
    statements = {s["Sid"]: s for s in policy_of(declared, "canary-function-policy")["Statement"]}
    assert statements["GuardEcsCapacity"]["Resource"] == [
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/common-api/common-api-svc"
    ]
    dlq = json.loads(one(declared, "aws:sqs/queuePolicy:QueuePolicy").inputs["policy"])
    admitted = dlq["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert rule.outputs["arn"] in admitted
    # The registry record carries the guard for the controller.
    parameter = by_name(declared, "canary-registry-route-map-tile")
    record = RouteRecord.from_json(parameter.inputs["insecureValue"])
    assert record.capacity == guarded.capacity
