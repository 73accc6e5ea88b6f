"""components.config: parsing, defaults, and one test per kind of bad input."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components import naming
from components.config import (
    ROUTE_FUNCTION_DEFAULT_MEMORY_MB,
    ROUTE_FUNCTION_DEFAULT_TIMEOUT_SECONDS,
    ConfigError,
    StackConfig,
    default_health_check_path,
    load_balancer_dimension,
    parse_stack_config,
    stage_weights,
)
from components.controller import CanaryControllerArgs, ControllerConfigError
from components.limits import MAX_STACK_NAME_LENGTH
from controller.core.contract import PlanRecord, StagePlanRecord
from controller.core.weights import MAX_WEIGHT, Weights
from tests.example_stack import placeholder_route
from tests.pulumi_mocks import PROJECT_ROOT, run_program

REGION = "ap-northeast-1"
LISTENER = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:"
    "listener/app/common-api/50dc6c495c0c9188/f2f7dc8efc522ab2"
)
ECS_TG = (
    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/map-ecs/6d0ecf831eec9f09"
)


def route(name: str = "map-tile", priority: int = 100, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "priority": priority,
        "match": {"pathPatterns": [f"/{name}/v1/*"], "httpMethods": ["GET", "HEAD"]},
        "ecsTargetGroupArn": ECS_TG,
        "function": {
            "source": "fn",
            "handler": "app.handler",
            "memoryMb": 512,
            "timeoutSeconds": 10,
            "reservedConcurrency": 200,
            "environment": {"UPSTREAM_URL": "http://internal-map-delivery.example.local"},
        },
        "canary": {
            "stages": [
                {"weight": 1, "bakeMinutes": 10},
                {"weight": 10, "bakeMinutes": 20},
                {"weight": 50, "bakeMinutes": 30},
                {"weight": 100},
            ],
            "schedule": "cron(0 10 ? * MON-FRI *)",
            "timezone": "Asia/Tokyo",
        },
    }
    data.update(overrides)
    return data


def raw_config(*routes: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "listenerArn": LISTENER,
        "alertEmails": ["ops@example.com"],
        "routes": list(routes) or [route()],
    }
    data.update(overrides)
    return data


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "fn").mkdir()
    return tmp_path


def parse(raw: dict[str, Any], project: Path, region: str | None = REGION) -> StackConfig:
    return parse_stack_config(copy.deepcopy(raw), region=region, project_root=project)


def problems(raw: dict[str, Any], project: Path, region: str | None = REGION) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw, project, region)
    return caught.value.messages


def assert_problem(raw: dict[str, Any], project: Path, expected: str) -> None:
    found = problems(raw, project)
    assert any(expected in message for message in found), f"{expected!r} not in {found}"


# --- valid input and defaults -----------------------------------------------------


def test_valid_config_parses_with_defaults(project: Path) -> None:
    config = parse(raw_config(), project)
    (r,) = config.routes
    assert r.name == "map-tile" and r.priority == 100
    assert r.function.runtime == "python3.12"
    assert r.function.architecture == "x86_64"
    assert r.function.reserved_concurrency == 200
    assert r.function.source_path == project / "fn"
    assert dict(r.function.environment) == {
        "UPSTREAM_URL": "http://internal-map-delivery.example.local"
    }
    assert r.canary.min_requests == 50, "no evidence is not a pass: minRequests defaults to 50"
    assert r.canary.stages_per_run == 0
    assert r.canary.alarms.error_rate_percent == 1
    assert r.canary.alarms.p99_latency_ms == 2000
    assert r.health_check.path == "/map-tile/v1/health"
    assert r.health_check.interval_seconds > r.function.timeout_seconds
    assert config.log_retention_days == 30
    assert config.vpc is None
    assert config.load_balancer_dimension == "app/common-api/50dc6c495c0c9188"


def test_bake_minutes_become_seconds_and_weights_become_alb_weights(project: Path) -> None:
    stages = parse(raw_config(), project).routes[0].canary.stages
    assert [s.bake_seconds for s in stages] == [600, 1200, 1800, 0]
    assert [(s.weights.ecs, s.weights.lambda_) for s in stages] == [(99, 1), (9, 1), (1, 1), (0, 1)]
    assert [s.weight for s in stages] == [1, 10, 50, 100]


def test_plan_record_matches_the_contract(project: Path) -> None:
    plan = parse(raw_config(), project).routes[0].canary.plan_record()
    assert plan.to_input() == {
        "stages": [
            {"weight": 1.0, "bakeSeconds": 600},
            {"weight": 10.0, "bakeSeconds": 1200},
            {"weight": 50.0, "bakeSeconds": 1800},
            {"weight": 100.0, "bakeSeconds": 0},
        ],
        "stagesPerRun": 0,
        "minRequests": 50,
    }


PINS = "aws-lambda-powertools[tracer]==3.37.0\nurllib3==2.8.0\n"


def with_layer(**function: Any) -> dict[str, Any]:
    data = route()
    data["function"].update({"powertoolsLayer": True, **function})
    return data


def test_by_default_powertools_is_packaged_and_no_layer_is_used(project: Path) -> None:
    (project / "fn" / "requirements.txt").write_text(PINS)
    fn = parse(raw_config(), project).routes[0].function
    assert fn.requirements_path == project / "fn" / "requirements.txt"
    assert (fn.powertools_layer, fn.powertools_version, fn.powertools_layer_arn) == (False, "", "")


def test_a_function_without_requirements_has_no_dependencies(project: Path) -> None:
    assert parse(raw_config(), project).routes[0].function.requirements_path is None


def test_powertools_layer_takes_the_release_the_requirements_pin(project: Path) -> None:
    (project / "fn" / "requirements.txt").write_text(PINS)
    fn = parse(raw_config(with_layer()), project).routes[0].function
    assert (fn.powertools_layer, fn.powertools_version, fn.powertools_layer_arn) == (
        True,
        "3.37.0",
        "",
    )


def test_layer_can_be_pinned_per_stack_and_per_route(project: Path) -> None:
    (project / "fn" / "requirements.txt").write_text(PINS)
    stack_layer = "arn:aws:lambda:ap-northeast-1:123456789012:layer:my-powertools:3"
    route_layer = "arn:aws:lambda:ap-northeast-1:123456789012:layer:other:9"
    second = with_layer(powertoolsLayerArn=route_layer)
    second["name"], second["priority"] = "map-poi", 101
    config = parse(raw_config(with_layer(), second, powertoolsLayerArn=stack_layer), project)
    assert config.routes[0].function.powertools_layer_arn == stack_layer
    assert config.routes[1].function.powertools_layer_arn == route_layer


def test_a_stack_layer_does_not_apply_to_a_function_that_packages_powertools(
    project: Path,
) -> None:
    stack_layer = "arn:aws:lambda:ap-northeast-1:123456789012:layer:my-powertools:3"
    fn = parse(raw_config(powertoolsLayerArn=stack_layer), project).routes[0].function
    assert fn.powertools_layer_arn == ""


FN = "routes[0].function"
A_LAYER = "arn:aws:lambda:ap-northeast-1:123456789012:layer:x:1"


@pytest.mark.parametrize(
    ("pins", "function", "expected"),
    [
        (PINS, {"powertoolsLayer": "yes"}, f"{FN}.powertoolsLayer: must be true or false"),
        (
            None,
            {"powertoolsLayer": True},
            f"{FN}.powertoolsLayer: needs requirements.txt in the function's folder",
        ),
        ("urllib3==2.8.0\n", {"powertoolsLayer": True}, "does not pin aws-lambda-powertools"),
        (
            "aws-lambda-powertools==3.37.0rc1\n",
            {"powertoolsLayer": True},
            f"{FN}.powertoolsLayer: Powertools version '3.37.0rc1' is not a release",
        ),
        ("urllib3>=2\n", {}, f"{FN}.source: "),
        (
            PINS,
            {"powertoolsLayerArn": A_LAYER},
            f"{FN}.powertoolsLayerArn: names a layer, but powertoolsLayer is not true",
        ),
    ],
)
def test_powertools_layer_and_requirements_are_validated(
    project: Path, pins: str | None, function: dict[str, Any], expected: str
) -> None:
    if pins is not None:
        (project / "fn" / "requirements.txt").write_text(pins)
    data = route()
    data["function"].update(function)
    assert_problem(raw_config(data), project, expected)


def test_scalar_strings_from_pulumi_are_accepted_for_integers(project: Path) -> None:
    # Pulumi hands top-level scalars over as strings.
    config = parse(raw_config(logRetentionDays="90"), project)
    assert config.log_retention_days == 90


def test_vpc_is_parsed(project: Path) -> None:
    vpc = {"subnetIds": ["subnet-0a1b2c3d"], "securityGroupIds": ["sg-0c3d4e5f"]}
    config = parse(raw_config(vpc=vpc), project)
    assert config.vpc is not None
    assert config.vpc.subnet_ids == ("subnet-0a1b2c3d",)


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["/map/v1/tile/*"], "/map/v1/tile/health"),
        (["/map/v1/tile/"], "/map/v1/tile/health"),
        (["/api*"], "/health"),
        (["/a/*/b"], "/a/health"),
        ([], "/health"),
    ],
)
def test_default_health_check_path_stays_inside_the_prefix(
    patterns: list[str], expected: str
) -> None:
    assert default_health_check_path(patterns) == expected


def test_load_balancer_dimension_comes_from_the_listener_arn() -> None:
    assert load_balancer_dimension(LISTENER) == "app/common-api/50dc6c495c0c9188"
    with pytest.raises(ValueError, match="listener ARN"):
        load_balancer_dimension(ECS_TG)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=1000))
def test_stage_weights_are_within_alb_limits_and_exact(tenths: int) -> None:
    weights = stage_weights(tenths / 10)
    assert 0 <= weights.ecs <= MAX_WEIGHT and 0 <= weights.lambda_ <= MAX_WEIGHT
    assert weights.lambda_ * 1000 == tenths * weights.total


def test_stage_weights_are_the_smallest_exact_pairs() -> None:
    assert stage_weights(50).same_pair(Weights(ecs=1, lambda_=1))
    assert stage_weights(33.3).same_pair(Weights(ecs=667, lambda_=333))
    assert stage_weights(100).same_pair(Weights(ecs=0, lambda_=1))


# --- bad input: one test per kind of problem ---------------------------------------


def test_missing_listener_arn(project: Path) -> None:
    raw = raw_config()
    del raw["listenerArn"]
    assert_problem(raw, project, "listenerArn: required")


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/net/nlb/1a2b/3c4d",
        "arn:aws:elasticloadbalancing:ap-northeast-1:12345:listener/app/x/1a2b/3c4d",
        ECS_TG,
    ],
)
def test_malformed_listener_arn(project: Path, arn: str) -> None:
    assert_problem(
        raw_config(listenerArn=arn), project, "is not an Application Load Balancer listener ARN"
    )


def test_listener_in_another_region(project: Path) -> None:
    arn = LISTENER.replace("ap-northeast-1", "eu-west-1")
    assert_problem(raw_config(listenerArn=arn), project, "listenerArn: is in eu-west-1")


def test_missing_target_group_arn(project: Path) -> None:
    r = route()
    del r["ecsTargetGroupArn"]
    assert_problem(raw_config(r), project, "routes[0].ecsTargetGroupArn: required")


def test_malformed_target_group_arn(project: Path) -> None:
    r = route(ecsTargetGroupArn="arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:tg/x")
    assert_problem(raw_config(r), project, "routes[0].ecsTargetGroupArn: 'arn:aws")
    assert_problem(raw_config(r), project, "is not a target group ARN")


def test_target_group_in_another_account(project: Path) -> None:
    r = route(ecsTargetGroupArn=ECS_TG.replace("123456789012", "210987654321"))
    assert_problem(raw_config(r), project, "routes[0].ecsTargetGroupArn: is in ap-northeast-1/210")


def test_duplicate_route_names(project: Path) -> None:
    raw = raw_config(route("map-tile", 100), route("map-tile", 101))
    assert problems(raw, project) == ["routes[1].name: 'map-tile' is already used by routes[0]"]


def test_duplicate_priorities(project: Path) -> None:
    raw = raw_config(route("map-tile", 100), route("map-poi", 100))
    assert problems(raw, project) == ["routes[1].priority: 100 is already used by routes[0]"]


@pytest.mark.parametrize(
    ("priority", "message"),
    [(0, "0 is below the minimum 1"), (50001, "50001 is above the maximum 50000")],
)
def test_priority_outside_range(project: Path, priority: int, message: str) -> None:
    assert problems(raw_config(route(priority=priority)), project) == [
        f"routes[0].priority: {message}"
    ]


def test_more_than_five_condition_values(project: Path) -> None:
    match = {
        "pathPatterns": ["/a/*", "/b/*", "/c/*"],
        "hostHeaders": ["api.example.com"],
        "httpMethods": ["GET", "HEAD"],
    }
    assert problems(raw_config(route(match=match)), project) == [
        "routes[0].match: 6 condition values; an ALB rule allows at most 5 "
        "(pathPatterns + hostHeaders + httpMethods)"
    ]


@pytest.mark.parametrize(
    "match", [{}, {"httpMethods": ["GET"]}, {"pathPatterns": [], "hostHeaders": []}]
)
def test_no_condition(project: Path, match: dict[str, Any]) -> None:
    assert problems(raw_config(route(match=match)), project) == [
        "routes[0].match: no condition: set pathPatterns and/or hostHeaders"
    ]


def test_missing_match(project: Path) -> None:
    r = route()
    del r["match"]
    assert_problem(raw_config(r), project, "routes[0].match: required")


def stages(*weights: float, bake: float = 1) -> dict[str, Any]:
    return {"stages": [{"weight": w, "bakeMinutes": bake} for w in weights]}


def test_stage_weights_must_increase(project: Path) -> None:
    raw = raw_config(route(canary=stages(1, 10, 50, 50, 100)))
    assert problems(raw, project) == [
        "routes[0].canary.stages[3].weight: must be greater than the previous stage (50)"
    ]


def test_key_path_names_route_stage_and_field(project: Path) -> None:
    raw = raw_config(route("map-tile", 100), route("map-poi", 101, canary=stages(10, 50, 40, 100)))
    assert problems(raw, project) == [
        "routes[1].canary.stages[2].weight: must be greater than the previous stage (50)"
    ]


@pytest.mark.parametrize(
    ("weight", "message"),
    [(0, "must be greater than 0, got 0"), (-5, "must be greater than 0, got -5"),
     (100.5, "must be at most 100, got 100.5")],
)  # fmt: skip
def test_stage_weight_outside_0_100(project: Path, weight: float, message: str) -> None:
    raw = raw_config(route(canary=stages(weight, 100) if weight < 100 else stages(10, weight)))
    index = 0 if weight < 100 else 1
    assert f"routes[0].canary.stages[{index}].weight: {message}" in problems(raw, project)


def test_stages_must_end_at_100(project: Path) -> None:
    assert problems(raw_config(route(canary=stages(1, 10, 50))), project) == [
        "routes[0].canary.stages[2].weight: the last stage must be 100 (all traffic on Lambda), "
        "got 50"
    ]


def test_neighbouring_tenths_are_distinct_stages(project: Path) -> None:
    # Each 0.1 % step has its own exact ratio: 50 and 50.1 are two splits.
    parsed = parse(raw_config(route(canary=stages(50, 50.1, 100))), project)
    first, second, _ = parsed.routes[0].canary.stages
    assert first.weights != second.weights


def test_stage_weight_finer_than_a_tenth(project: Path) -> None:
    assert problems(raw_config(route(canary=stages(1.25, 100))), project) == [
        "routes[0].canary.stages[0].weight: 1.25 is not a multiple of 0.1 percent"
    ]


def test_negative_bake_time(project: Path) -> None:
    canary = {"stages": [{"weight": 1, "bakeMinutes": -5}, {"weight": 100}]}
    assert problems(raw_config(route(canary=canary)), project) == [
        "routes[0].canary.stages[0].bakeMinutes: must not be negative, got -5"
    ]


def test_route_function_defaults(project: Path) -> None:
    r = route()
    del r["function"]["memoryMb"], r["function"]["timeoutSeconds"]
    (parsed,) = parse(raw_config(r), project).routes
    assert (parsed.function.memory_mb, parsed.function.timeout_seconds) == (
        ROUTE_FUNCTION_DEFAULT_MEMORY_MB,
        ROUTE_FUNCTION_DEFAULT_TIMEOUT_SECONDS,
    )


def _controller_problems(memory_mb: int, timeout_seconds: int) -> list[str]:
    args = CanaryControllerArgs(
        stack="prod",
        routes=[
            placeholder_route(
                LISTENER, ECS_TG, PlanRecord(stages=(StagePlanRecord(weight=100.0),)), "rule"
            )
        ],
        topic_arn="topic",
        memory_mb=memory_mb,
        timeout_seconds=timeout_seconds,
    )
    try:
        args.validate()
    except ControllerConfigError as error:
        return list(error.problems)
    return []


@pytest.mark.parametrize(
    ("memory_mb", "timeout_seconds"),
    [(127, 10), (128, 1), (10240, 10), (10241, 10), (512, 0), (512, 900), (512, 901)],
)
def test_route_functions_and_the_controller_obey_the_same_lambda_quotas(
    project: Path, memory_mb: int, timeout_seconds: int
) -> None:
    r = route()
    r["function"].update(memoryMb=memory_mb, timeoutSeconds=timeout_seconds)
    try:
        parse(raw_config(r), project)
        found: list[str] = []
    except ConfigError as error:
        found = error.messages
    # Only the quota's own messages: a long timeout also leaves no room for the
    # health check interval, which is the route's problem alone.
    out_of_range = [m.split(":")[0] for m in found if " is above the maximum " in m
                    or " is below the minimum " in m]  # fmt: skip
    controller = [p.split(" ")[0] for p in _controller_problems(memory_mb, timeout_seconds)]
    assert ("routes[0].function.memoryMb" in out_of_range) == ("memory_mb" in controller)
    assert ("routes[0].function.timeoutSeconds" in out_of_range) == (
        "timeout_seconds" in controller
    )
    assert bool(out_of_range) == (memory_mb in (127, 10241) or timeout_seconds in (0, 901))


def test_missing_reserved_concurrency(project: Path) -> None:
    r = route()
    del r["function"]["reservedConcurrency"]
    assert problems(raw_config(r), project) == ["routes[0].function.reservedConcurrency: required"]


@pytest.mark.parametrize("value", [0, -1])
def test_reserved_concurrency_below_one(project: Path, value: int) -> None:
    r = route()
    r["function"]["reservedConcurrency"] = value
    assert problems(raw_config(r), project) == [
        f"routes[0].function.reservedConcurrency: {value} is below the minimum 1"
    ]


def test_timeout_above_900(project: Path) -> None:
    r = route()
    r["function"]["timeoutSeconds"] = 901
    assert problems(raw_config(r), project) == [
        "routes[0].function.timeoutSeconds: 901 is above the maximum 900"
    ]


def test_timeout_that_leaves_no_health_check_interval(project: Path) -> None:
    r = route()
    r["function"]["timeoutSeconds"] = 300
    assert problems(raw_config(r), project) == [
        "routes[0].function.timeoutSeconds: the health check interval (300 s) must be greater "
        "than the function timeout (300 s) for a lambda target group; the interval is at most "
        "300 s"
    ]


def test_missing_source_folder(project: Path) -> None:
    r = route()
    r["function"]["source"] = "functions/nope"
    assert problems(raw_config(r), project) == [
        f"routes[0].function.source: folder 'functions/nope' does not exist under {project}"
    ]


def test_unknown_key_suggests_the_close_match(project: Path) -> None:
    r = route()
    r["function"]["reservedConcurency"] = r["function"].pop("reservedConcurrency")
    assert problems(raw_config(r), project) == [
        "routes[0].function.reservedConcurency: unknown key (did you mean reservedConcurrency?)",
        "routes[0].function.reservedConcurrency: required",
    ]


def test_unknown_top_level_key(project: Path) -> None:
    raw = raw_config(alertEmail=["ops@example.com"])
    assert problems(raw, project) == ["alertEmail: unknown key (did you mean alertEmails?)"]


def test_unknown_key_without_a_close_match_lists_the_known_ones(project: Path) -> None:
    raw = raw_config(route(colour="blue"))
    (message,) = problems(raw, project)
    assert message.startswith("routes[0].colour: unknown key (known keys: name, priority")


def test_reserved_environment_key(project: Path) -> None:
    r = route()
    r["function"]["environment"]["ROUTE_NAME"] = "other"
    assert problems(raw_config(r), project) == [
        "routes[0].function.environment.ROUTE_NAME: is set by the program itself and cannot be "
        "overridden"
    ]


def test_log_retention_must_be_a_cloudwatch_value(project: Path) -> None:
    (message,) = problems(raw_config(logRetentionDays=10), project)
    assert message.startswith("logRetentionDays: 10 is not a CloudWatch Logs retention value")


def test_missing_region(project: Path) -> None:
    assert "aws:region: required (the Region of the listener)" in problems(
        raw_config(), project, region=None
    )


def test_every_problem_is_reported_at_once(project: Path) -> None:
    bad = route("Map_Tile", 0, ecsTargetGroupArn="nope", canary=stages(10, 5))
    bad["function"]["timeoutSeconds"] = 901
    bad["function"]["reservedConcurency"] = bad["function"].pop("reservedConcurrency")
    raw = raw_config(bad, route("map-poi", 101), listenerArn="nope", logRetentionDays=10)
    found = problems(raw, project)
    paths = sorted(message.split(":", 1)[0] for message in found)
    assert paths == sorted(
        [
            "listenerArn",
            "logRetentionDays",
            "routes[0].function.reservedConcurency",
            "routes[0].name",
            "routes[0].priority",
            "routes[0].ecsTargetGroupArn",
            "routes[0].function.timeoutSeconds",
            "routes[0].function.reservedConcurrency",
            "routes[0].canary.stages[1].weight",
        ]
    ), found
    with pytest.raises(ConfigError) as caught:
        parse(raw, project)
    assert str(caught.value).startswith("invalid strangler config (9 problems):")


# --- the stack's name -------------------------------------------------------------------
#
# The stack's name is part of every physical name; the Lambda target group's name
# (sl-<stack>-<route>) allows only letters, digits and hyphens, at most 32
# characters, not beginning or ending with a hyphen (ELB CreateTargetGroup).


def stack_problems(stack: str, project: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw_config(), region=REGION, project_root=project, stack=stack)
    return caught.value.messages


@pytest.mark.parametrize("stack", ["prod", "dev2", "Prod-Tokyo", "a", "x" * MAX_STACK_NAME_LENGTH])
def test_stack_names_a_target_group_name_can_hold(project: Path, stack: str) -> None:
    config = parse_stack_config(raw_config(), region=REGION, project_root=project, stack=stack)
    assert config.routes[0].name == "map-tile"
    name = naming.target_group_name(stack, "map-tile")
    assert re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?", name), name


@pytest.mark.parametrize("stack", ["my_stack", "prod.eu", "prod eu", "-prod", "prod-", "prød"])
def test_a_stack_name_a_target_group_name_cannot_hold_is_refused(project: Path, stack: str) -> None:
    found = stack_problems(stack, project)
    assert found == [
        f"stack {stack!r}: must be letters, digits and '-', not beginning or ending with "
        "'-' (it is part of the Lambda target group names, which allow nothing else)"
    ]


def test_a_stack_name_too_long_for_meaningful_names_is_refused(project: Path) -> None:
    stack = "x" * (MAX_STACK_NAME_LENGTH + 1)
    found = stack_problems(stack, project)
    assert found == [
        f"stack {stack!r}: is {MAX_STACK_NAME_LENGTH + 1} characters, at most "
        f"{MAX_STACK_NAME_LENGTH} (a target group name sl-<stack>-<route> has 32; a longer "
        "stack name would leave no room for the route's name)"
    ]


def test_the_longest_stack_name_keeps_the_stack_and_the_route_in_target_group_names() -> None:
    """At the limit, even a 24-character route keeps its first 8 characters."""
    stack = "s" * MAX_STACK_NAME_LENGTH
    route_name = "abcdefgh" + "r" * 16
    name = naming.target_group_name(stack, route_name)
    assert len(name) == naming.MAX_TARGET_GROUP_NAME
    assert name.startswith(f"sl-{stack}-abcdefgh")
    # One character more and the route would lose a character of its prefix.
    longer = naming.target_group_name(stack + "s", route_name)
    assert not longer.startswith(f"sl-{stack}s-abcdefgh")


def test_stack_problems_are_reported_with_the_others(project: Path) -> None:
    raw = raw_config(route(priority=0))
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw, region=REGION, project_root=project, stack="my_stack")
    assert caught.value.messages[0].startswith("stack 'my_stack': must be letters")
    assert "routes[0].priority: 0 is below the minimum 1" in caught.value.messages


def test_the_program_refuses_a_bad_stack_name_before_any_resource() -> None:
    with pytest.raises(pulumi.RunError, match=r"stack 'my_stack': must be letters") as caught:
        run_program(PROJECT_ROOT / "Pulumi.prod.yaml", stack="my_stack")
    assert caught.value.recorded_resources == []  # type: ignore[attr-defined]


# --- function.forwardHeaders ---------------------------------------------------------


def with_forward_headers(*names: Any) -> dict[str, Any]:
    data = route()
    data["function"]["forwardHeaders"] = list(names)
    return raw_config(data)


def test_forward_headers_are_lower_cased_and_reach_the_function_environment(
    project: Path,
) -> None:
    from components.function import function_environment

    parsed = parse(with_forward_headers("Accept-Language", "User-Agent"), project).routes[0]
    assert parsed.function.forward_headers == ("accept-language", "user-agent")
    assert function_environment(parsed)["FORWARD_HEADERS"] == "accept-language,user-agent"


def test_without_forward_headers_the_function_environment_has_none(project: Path) -> None:
    from components.function import function_environment

    assert "FORWARD_HEADERS" not in function_environment(parse(raw_config(), project).routes[0])


def test_hop_by_hop_forward_headers_are_refused(project: Path) -> None:
    assert problems(with_forward_headers("Accept-Language", "Connection"), project) == [
        "routes[0].function.forwardHeaders[1]: 'Connection' is hop-by-hop or set by the "
        "upstream connection itself; it is never forwarded"
    ]


def test_forward_headers_must_be_header_names_listed_once(project: Path) -> None:
    found = problems(with_forward_headers("Accept Language", "user-agent", "User-Agent"), project)
    assert found == [
        "routes[0].function.forwardHeaders[0]: 'Accept Language' is not an HTTP header name",
        "routes[0].function.forwardHeaders[2]: 'User-Agent' is listed twice "
        "(header names ignore case)",
    ]


def test_forward_headers_cannot_be_set_through_the_environment(project: Path) -> None:
    data = route()
    data["function"]["environment"]["FORWARD_HEADERS"] = "cookie"
    assert_problem(
        raw_config(data),
        project,
        "routes[0].function.environment.FORWARD_HEADERS: is set by the program itself",
    )


# --- capacity guard and concurrency gate ------------------------------------------------


def test_ecs_service_capacity_and_gate_are_optional_and_parsed(project: Path) -> None:
    plain = parse(raw_config(), project).routes[0]
    assert plain.ecs_service is None
    assert plain.canary.concurrency_headroom_percent is None
    canary = {**route()["canary"], "concurrencyHeadroomPercent": 80, "expectedPeakRps": 900}
    guarded = parse(
        raw_config(
            route(
                ecsService={"cluster": "common-api", "service": "common-api-svc"},
                capacity={"holdHours": 48},
                canary=canary,
            )
        ),
        project,
    ).routes[0]
    assert guarded.ecs_service is not None
    assert (guarded.ecs_service.cluster, guarded.ecs_service.service) == (
        "common-api",
        "common-api-svc",
    )
    assert guarded.ecs_service.hold_hours == 48
    assert guarded.canary.concurrency_headroom_percent == 80
    assert guarded.canary.expected_peak_rps == 900
    default_hold = parse(
        raw_config(route(ecsService={"cluster": "c", "service": "s"})), project
    ).routes[0]
    assert default_hold.ecs_service is not None and default_hold.ecs_service.hold_hours == 72


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"capacity": {"holdHours": 1}}, "routes[0].capacity: needs ecsService"),
        ({"ecsService": {"cluster": "c"}}, "routes[0].ecsService.service: required"),
        (
            {"ecsService": {"cluster": "c", "service": "bad name"}},
            "routes[0].ecsService.service: 'bad name' is not an ECS service name",
        ),
        (
            {"ecsService": {"cluster": "c", "service": "s"}, "capacity": {"holdHours": -1}},
            "routes[0].capacity.holdHours: must not be negative, got -1",
        ),
        (
            {"ecsService": {"cluster": "c", "service": "s"}, "capacity": {"holdHour": 1}},
            "routes[0].capacity.holdHour: unknown key",
        ),
    ],
)
def test_bad_capacity_config(project: Path, overrides: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(raw_config(route(**overrides)), project)), (
        problems(raw_config(route(**overrides)), project)
    )


@pytest.mark.parametrize(
    "canary, expected",
    [
        ({"concurrencyHeadroomPercent": 0}, "routes[0].canary.concurrencyHeadroomPercent: must be"),
        ({"concurrencyHeadroomPercent": 120}, "routes[0].canary.concurrencyHeadroomPercent: must"),
        ({"expectedPeakRps": 10}, "routes[0].canary.expectedPeakRps: needs concurrencyHeadroom"),
    ],
)
def test_bad_gate_config(project: Path, canary: dict[str, Any], expected: str) -> None:
    raw = raw_config(route(canary={**route()["canary"], **canary}))
    assert any(p.startswith(expected) for p in problems(raw, project)), problems(raw, project)
