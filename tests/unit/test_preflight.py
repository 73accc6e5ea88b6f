"""controller/cli/preflight.py: each check's decision on plain facts, without AWS.

The adapter's parsing helpers (controller/cli/preflight_aws.py) are tested
here too, on the shapes boto3 returns; tests/twin/test_cli_preflight.py runs
the real entry point against moto.
"""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from components import naming
from components.config import MatchConfig, StackConfig, parse_stack_config
from controller.cli import preflight
from controller.cli.main import main, parse_options
from controller.cli.preflight import (
    ALARM_NAME,
    FAIL,
    FUNCTION_NAME,
    PASS,
    SKIPPED,
    TARGET_GROUP_NAME,
    AccountFacts,
    ConcurrencyFacts,
    EcsServiceFacts,
    ListenerFacts,
    LoadBalancerFacts,
    PlannedName,
    RuleClaim,
    RuleFacts,
    ScalableTargetFacts,
    TargetGroupFacts,
    check_capacity,
    check_concurrency,
    check_listener,
    check_names,
    check_priorities,
    check_target_groups,
    evaluate,
    planned_names,
    run_preflight,
)
from controller.cli.preflight_aws import AwsAccountReader, _claim, rule_headers, rule_match
from controller.cli.types import EXIT_AWS, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError, Options
from tests.example_stack import PROJECT, REGION, STACK

ACCOUNT = "123456789012"
ELB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
LISTENER = f"{ELB}:listener/app/common-api/50dc6c495c0c9188/f2f7dc8efc522ab2"
BALANCER = f"{ELB}:loadbalancer/app/common-api/50dc6c495c0c9188"
ECS_TG = f"{ELB}:targetgroup/map-ecs/6d0ecf831eec9f09"
OTHER_TG = f"{ELB}:targetgroup/geo-ecs/0d0ecf831eec9f09"
RULE = f"{ELB}:listener-rule/app/common-api/50dc6c495c0c9188/f2f7dc8efc522ab2/aaaa"
CONTROLLER = 10


def route(name: str = "map-tile", priority: int = 100, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": name,
        "priority": priority,
        "match": {"pathPatterns": ["/map/v1/tile/*"], "httpMethods": ["GET", "HEAD"]},
        "ecsTargetGroupArn": ECS_TG,
        "function": {"source": "functions/map_proxy", "reservedConcurrency": 200},
        "canary": {"stages": [{"weight": 10, "bakeMinutes": 5}, {"weight": 100}]},
    }
    raw.update(changes)
    return raw


def config(*routes: dict[str, Any], stack: str = STACK) -> StackConfig:
    return parse_stack_config(
        {"listenerArn": LISTENER, "routes": list(routes) or [route()]},
        region=REGION,
        project_root=PROJECT,
        stack=stack,
    )


def alb(vpc: str = "vpc-a", kind: str = "application") -> ListenerFacts:
    return ListenerFacts(
        arn=LISTENER,
        load_balancer_arn=BALANCER,
        load_balancer=LoadBalancerFacts(arn=BALANCER, name="common-api", type=kind, vpc_id=vpc),
    )


def ecs_group(arn: str = ECS_TG, vpc: str | None = "vpc-a", kind: str = "ip") -> TargetGroupFacts:
    return TargetGroupFacts(arn=arn, name=arn.split("/")[1], target_type=kind, vpc_id=vpc)


TILE_MATCH = MatchConfig(path_patterns=("/map/v1/tile/*",), http_methods=("GET", "HEAD"))


def rule(
    priority: int = 100,
    arn: str = RULE,
    match: MatchConfig = TILE_MATCH,
    tags: dict[str, str] | None = None,
    headers: dict[str, tuple[str, ...]] | None = None,
) -> RuleFacts:
    return RuleFacts(
        arn=arn, priority=priority, match=match, tags=tags or {}, headers=headers or {}
    )


def lines(result: preflight.CheckResult) -> list[str]:
    return [problem.line() for problem in result.problems]


# --------------------------------------------------------------------------- listener


def test_listener_of_an_application_load_balancer_passes():
    result = check_listener(config(), alb())
    assert (result.status, result.problems) == (PASS, ())
    assert "common-api" in result.summary and "vpc-a" in result.summary


def test_missing_listener_fails_on_listener_arn():
    result = check_listener(config(), None)
    assert result.status == FAIL
    assert lines(result) == [
        f"listenerArn: listener {LISTENER} does not exist in this account/Region"
    ]


def test_listener_without_its_load_balancer_fails():
    gone = ListenerFacts(arn=LISTENER, load_balancer_arn=BALANCER, load_balancer=None)
    result = check_listener(config(), gone)
    assert lines(result) == [f"listenerArn: the listener's load balancer {BALANCER} does not exist"]


@pytest.mark.parametrize("kind", ["network", "gateway"])
def test_listener_of_another_load_balancer_type_fails(kind):
    result = check_listener(config(), alb(kind=kind))
    assert result.status == FAIL
    (line,) = lines(result)
    assert line.startswith("listenerArn: the listener belongs to load balancer common-api")
    assert f"of type {kind}, not an Application Load Balancer" in line


# --------------------------------------------------------------------------- target groups


def test_target_group_in_the_albs_vpc_with_ip_or_instance_targets_passes():
    for kind in ("ip", "instance"):
        result = check_target_groups(config(), alb(), {ECS_TG: ecs_group(kind=kind)})
        assert result.status == PASS, lines(result)


def test_missing_target_group_fails_on_its_key():
    result = check_target_groups(config(), alb(), {ECS_TG: None})
    assert lines(result) == [f"routes[0].ecsTargetGroupArn: target group {ECS_TG} does not exist"]


def test_target_group_in_another_vpc_names_both_vpcs():
    result = check_target_groups(config(), alb("vpc-a"), {ECS_TG: ecs_group(vpc="vpc-b")})
    assert lines(result) == [
        "routes[0].ecsTargetGroupArn: target group map-ecs is in vpc-b, the ALB is in vpc-a"
    ]


@pytest.mark.parametrize("kind", ["lambda", "alb"])
def test_target_group_of_a_non_ecs_type_fails(kind):
    result = check_target_groups(config(), alb(), {ECS_TG: ecs_group(kind=kind, vpc=None)})
    assert result.status == FAIL
    assert any(f"has target type {kind}; an ECS target group has ip or instance" in line
               for line in lines(result))  # fmt: skip


def test_each_route_is_reported_under_its_own_index():
    stack = config(route(), route("map-geo", 110, ecsTargetGroupArn=OTHER_TG))
    result = check_target_groups(
        stack, alb(), {ECS_TG: ecs_group(), OTHER_TG: ecs_group(OTHER_TG, vpc="vpc-z")}
    )
    assert [p.key for p in result.problems] == ["routes[1].ecsTargetGroupArn"]


def test_without_a_readable_alb_the_vpc_is_not_compared():
    result = check_target_groups(config(), None, {ECS_TG: ecs_group(vpc="vpc-b")})
    assert result.status == PASS


# --------------------------------------------------------------------------- priorities


def test_free_priority_passes():
    result = check_priorities(config(), STACK, [rule(priority=5)], {})
    assert result.status == PASS
    # The route's rule (100) and its preview rule (99).
    assert result.summary.startswith("2 free, 0 held")


def test_priority_held_by_the_rule_this_stacks_registry_records_passes():
    claims = {RULE: RuleClaim(STACK, "map-tile")}
    result = check_priorities(config(), STACK, [rule(match=MatchConfig(("/old/*",)))], claims)
    assert result.status == PASS
    assert "1 held by this stack's own rules" in result.summary


def test_priority_taken_by_a_foreign_rule_fails():
    result = check_priorities(config(), STACK, [rule(match=MatchConfig(("/billing/*",)))], {})
    assert lines(result) == [
        "routes[0].priority: priority 100 is taken on the listener by a rule of no "
        f"Strangler stack: {RULE}"
    ]


def test_unrecorded_rule_with_the_routes_tag_and_conditions_is_the_stacks_own():
    # What an interrupted first deploy leaves: the rule exists, the registry does not.
    tagged = rule(
        match=MatchConfig(path_patterns=("/map/v1/tile/*",), http_methods=("HEAD", "GET")),
        tags={"strangler:route": "map-tile"},
    )
    assert check_priorities(config(), STACK, [tagged], {}).status == PASS


def test_tag_without_the_same_conditions_is_not_enough():
    tagged = rule(match=MatchConfig(("/map/v1/*",)), tags={"strangler:route": "map-tile"})
    result = check_priorities(config(), STACK, [tagged], {})
    assert result.status == FAIL
    assert "(tagged strangler:route=map-tile)" in lines(result)[0]


def test_rule_recorded_by_another_stack_is_foreign_even_with_the_same_tag_and_conditions():
    tagged = rule(tags={"strangler:route": "map-tile"})
    result = check_priorities(config(), STACK, [tagged], {RULE: RuleClaim("staging", "map-tile")})
    assert lines(result) == [
        "routes[0].priority: priority 100 is taken on the listener by stack staging's rule "
        f"for route map-tile: {RULE}"
    ]


def test_when_the_registry_records_another_rule_a_lookalike_is_foreign():
    claims = {f"{RULE}-recorded": RuleClaim(STACK, "map-tile")}
    lookalike = rule(tags={"strangler:route": "map-tile"})
    assert check_priorities(config(), STACK, [lookalike], claims).status == FAIL


PREVIEW_RULE = f"{RULE}-preview"
PREVIEW_TAGS = {"strangler:route": "map-tile", "strangler:rule": "preview"}
PREVIEW_HEADER = {"x-strangler-preview": ("map-tile",)}


def preview_rule(**changes: Any) -> RuleFacts:
    """The route's preview rule as components/preview.py declares it, at the derived 99."""
    settings: dict[str, Any] = {
        "priority": 99, "arn": PREVIEW_RULE, "tags": PREVIEW_TAGS, "headers": PREVIEW_HEADER,
    }  # fmt: skip
    settings.update(changes)
    return rule(**settings)


def test_preview_priority_taken_by_a_foreign_rule_fails():
    foreign = rule(priority=99, arn=PREVIEW_RULE, match=MatchConfig(("/billing/*",)))
    result = check_priorities(config(), STACK, [foreign], {})
    assert lines(result) == [
        "routes[0].preview.priority: priority 99 of the route's preview rule is taken on the "
        f"listener by a rule of no Strangler stack: {PREVIEW_RULE}"
    ]


def test_explicit_preview_priority_is_the_one_checked():
    stack = config(route(preview={"priority": 50}))
    foreign = rule(priority=50, arn=PREVIEW_RULE, match=MatchConfig(("/billing/*",)))
    assert [p.key for p in check_priorities(stack, STACK, [foreign], {}).problems] == [
        "routes[0].preview.priority"
    ]
    assert check_priorities(stack, STACK, [rule(priority=99, arn=PREVIEW_RULE)], {}).ok


def test_preview_priority_held_by_the_stacks_own_preview_rule_passes():
    claims = {RULE: RuleClaim(STACK, "map-tile")}
    result = check_priorities(config(), STACK, [rule(), preview_rule()], claims)
    assert result.status == PASS, lines(result)
    assert result.summary.startswith("0 free, 2 held by this stack's own rules")
    # Before any registry record (an interrupted first deploy) it is this stack's too.
    assert check_priorities(config(), STACK, [preview_rule()], {}).status == PASS


def test_preview_rule_next_to_another_stacks_recorded_rule_is_that_stacks():
    claims = {RULE: RuleClaim("staging", "map-tile")}
    result = check_priorities(config(), STACK, [rule(), preview_rule()], claims)
    assert lines(result) == [
        "routes[0].priority: priority 100 is taken on the listener by stack staging's rule "
        f"for route map-tile: {RULE}",
        "routes[0].preview.priority: priority 99 of the route's preview rule is taken on the "
        f"listener by stack staging's preview rule for route map-tile: {PREVIEW_RULE}",
    ]


def test_untagged_rule_at_the_preview_priority_is_foreign():
    # The route's conditions and header, but no tags: nothing says it is a Strangler rule.
    untagged = preview_rule(tags={})
    result = check_priorities(config(), STACK, [untagged], {})
    assert [p.key for p in result.problems] == ["routes[0].preview.priority"]
    assert "by a rule of no Strangler stack:" in lines(result)[0]


@pytest.mark.parametrize(
    "changes",
    [
        {"headers": {"x-strangler-preview": ("map-geo",)}},
        {"headers": {}},
        {"match": MatchConfig(("/map/v1/*",))},
        {"tags": {"strangler:route": "map-tile"}},
        {"tags": {"strangler:route": "map-geo", "strangler:rule": "preview"}},
    ],
    ids=["other-header-value", "no-header", "other-conditions", "weighted-tag", "other-route"],
)
def test_preview_rule_must_match_tags_conditions_and_header(changes):
    result = check_priorities(config(), STACK, [preview_rule(**changes)], {})
    assert [p.key for p in result.problems] == ["routes[0].preview.priority"]


def test_priorities_are_skipped_without_the_listeners_rules():
    result = check_priorities(config(), STACK, None, {})
    assert (result.status, result.ok) == (SKIPPED, True)


# --------------------------------------------------------------------------- capacity

CLUSTER, SERVICE = "common-api", "common-api-svc"
GUARDED = {"cluster": CLUSTER, "service": SERVICE}
TARGET = ScalableTargetFacts(min_capacity=2, max_capacity=40)


def ecs_service(
    status: str | None = "ACTIVE",
    target: ScalableTargetFacts | None = TARGET,
    **changes: Any,
) -> dict[tuple[str, str], EcsServiceFacts]:
    facts = EcsServiceFacts(CLUSTER, SERVICE, status, scalable_target=target, **changes)
    return {(CLUSTER, SERVICE): facts}


def test_active_service_with_a_scalable_target_passes():
    result = check_capacity(config(route(ecsService=GUARDED)), ecs_service())
    assert (result.status, result.problems) == (PASS, ())
    assert result.summary == "1 ECS service ACTIVE, each with a scalable target"


def test_a_stack_without_ecs_service_passes_trivially():
    result = check_capacity(config(), {})
    assert (result.status, result.summary) == (PASS, "no route holds ECS capacity")


def test_missing_service_fails_on_its_key():
    result = check_capacity(
        config(route(ecsService=GUARDED)), ecs_service(None, None, missing="MISSING")
    )
    assert lines(result) == [
        f"routes[0].ecsService.service: service {SERVICE} does not exist in cluster {CLUSTER} "
        "(MISSING)"
    ]


def test_service_not_read_counts_as_missing():
    result = check_capacity(config(route(ecsService=GUARDED)), {})
    assert [p.key for p in result.problems] == ["routes[0].ecsService.service"]


def test_missing_cluster_fails_on_the_cluster_key():
    facts = ecs_service(None, None, missing="ClusterNotFoundException", cluster_exists=False)
    result = check_capacity(config(route(ecsService=GUARDED)), facts)
    assert lines(result) == [
        f"routes[0].ecsService.cluster: cluster {CLUSTER} does not exist (ClusterNotFoundException)"
    ]


@pytest.mark.parametrize("status", ["DRAINING", "INACTIVE"])
def test_service_that_is_not_active_fails(status):
    result = check_capacity(config(route(ecsService=GUARDED)), ecs_service(status))
    assert lines(result) == [
        f"routes[0].ecsService.service: service {SERVICE} in cluster {CLUSTER} is {status}, "
        "not ACTIVE"
    ]


def test_service_without_a_scalable_target_fails():
    result = check_capacity(config(route(ecsService=GUARDED)), ecs_service(target=None))
    (line,) = lines(result)
    assert line.startswith(
        f"routes[0].ecsService: service {SERVICE} in cluster {CLUSTER} has no Application Auto "
        f"Scaling scalable target (service/{CLUSTER}/{SERVICE}, ecs:service:DesiredCount)"
    )


def test_each_guarded_route_is_reported_under_its_own_index():
    other = {"cluster": CLUSTER, "service": "geo-svc"}
    stack = config(route(), route("map-geo", 110, ecsService=other))
    facts = {(CLUSTER, "geo-svc"): EcsServiceFacts(CLUSTER, "geo-svc", "ACTIVE")}
    result = check_capacity(stack, facts)
    assert [p.key for p in result.problems] == ["routes[1].ecsService"]


# --------------------------------------------------------------------------- concurrency


def test_concurrency_passes_with_exactly_100_left():
    # 200 (route) + 10 (controller) reserved; 310 unreserved leaves 100.
    result = check_concurrency(config(), STACK, CONTROLLER, ConcurrencyFacts(1000, 310))
    assert result.status == PASS


def test_concurrency_fails_with_99_left_naming_the_key():
    result = check_concurrency(config(), STACK, CONTROLLER, ConcurrencyFacts(1000, 309))
    (line,) = lines(result)
    assert line.startswith("routes[0].function.reservedConcurrency: the stack reserves 210")
    assert "routes[0].function.reservedConcurrency 200 + controller 10" in line
    assert "leave 99 unreserved" in line and "reserve at most 209" in line


def test_what_the_stacks_functions_hold_already_comes_back():
    # Deployed: the account reports 40 unreserved because the stack holds 210.
    held = {
        naming.function_name(STACK, "map-tile"): 200,
        naming.controller_function_name(STACK): 10,
    }
    facts = ConcurrencyFacts(250, 40, held)
    result = check_concurrency(config(), STACK, CONTROLLER, facts)
    assert result.status == FAIL
    assert "plus 210 that this stack's functions hold now" in lines(result)[0]
    ok = check_concurrency(config(), STACK, CONTROLLER, ConcurrencyFacts(1000, 790, held))
    assert ok.status == PASS


def test_functions_of_other_stacks_are_not_added_back():
    facts = ConcurrencyFacts(1000, 309, {"strangler-other-map-tile": 500})
    assert check_concurrency(config(), STACK, CONTROLLER, facts).status == FAIL


def test_several_routes_report_the_sum_under_one_key():
    stack = config(route(), route("map-geo", 110))
    result = check_concurrency(stack, STACK, CONTROLLER, ConcurrencyFacts(1000, 400))
    assert [p.key for p in result.problems] == ["routes[*].function.reservedConcurrency"]
    assert "the stack reserves 410" in lines(result)[0]


# --------------------------------------------------------------------------- names


def test_every_name_of_the_example_stack_fits():
    result = check_names(planned_names(config(), STACK))
    assert result.status == PASS, lines(result)


def _naming_arguments(function: Any) -> tuple[str, ...]:
    parameters = list(inspect.signature(function).parameters)
    values = {"stack": STACK, "route": "map-tile", "kind": naming.ALARM_KINDS[0]}
    return tuple(values[p] for p in parameters)


def test_every_name_components_naming_derives_is_checked():
    """A name added to components/naming.py without a rule here fails this test."""
    scheduled = route(
        canary={"stages": [{"weight": 100}], "schedule": "rate(1 day)"},
        verify={"samples": [{"path": "/map/v1/tile/1/2/3.png"}]},
        release={"schedule": "rate(7 days)"},
        ecsService={"cluster": "common-api", "service": "common-api-svc"},
    )
    planned = {p.name for p in planned_names(config(scheduled), STACK)}
    derived = {
        name: function(*_naming_arguments(function))
        for name, function in vars(naming).items()
        if inspect.isfunction(function) and name.endswith("_name")
    }
    assert derived, "components.naming has no *_name functions any more"
    missing = {name: value for name, value in derived.items() if value not in planned}
    assert not missing


def test_schedule_name_only_for_a_scheduled_route():
    names = {p.name for p in planned_names(config(), STACK)}
    assert naming.schedule_name(STACK, "map-tile") not in names


def test_target_group_name_rules():
    assert TARGET_GROUP_NAME.problems("sl-prod-map-tile") == []
    assert TARGET_GROUP_NAME.problems("x" * 33)[0].endswith(
        "is 33 characters; ELB CreateTargetGroup Name allows 1-32"
    )
    assert TARGET_GROUP_NAME.problems("-sl-prod")
    assert TARGET_GROUP_NAME.problems("sl-prod-")
    assert TARGET_GROUP_NAME.problems("sl_prod")


def test_function_and_alarm_name_rules():
    assert FUNCTION_NAME.problems("strangler-prod_x") == []
    assert FUNCTION_NAME.problems("a" * 65)
    assert FUNCTION_NAME.problems("strangler.prod")
    assert ALARM_NAME.problems("a" * 255) == []
    assert ALARM_NAME.problems("a" * 256)
    assert ALARM_NAME.problems("bad\nname")


def test_a_name_too_long_is_reported_under_its_key():
    long_name = "sl-" + "x" * 40
    result = check_names([PlannedName("routes[0].name", long_name, TARGET_GROUP_NAME)])
    assert lines(result) == [
        f"routes[0].name: target group name {long_name!r} is 43 characters; "
        "ELB CreateTargetGroup Name allows 1-32"
    ]


# --------------------------------------------------------------------------- the command


def passing_facts() -> AccountFacts:
    return AccountFacts(
        listener=alb(),
        target_groups={ECS_TG: ecs_group()},
        rules=[],
        rule_claims={},
        concurrency=ConcurrencyFacts(1000, 1000),
    )


class FakeReader:
    region = REGION

    def __init__(self, facts: AccountFacts) -> None:
        self.facts = facts
        self.function_names: Sequence[str] = ()

    def gather(self, config: StackConfig, function_names: Sequence[str]) -> AccountFacts:
        self.function_names = function_names
        return self.facts


def write_stack(tmp_path: Path, routes: list[dict[str, Any]] | None = None) -> Path:
    import yaml

    path = tmp_path / "Pulumi.prod.yaml"
    data = {
        "config": {
            "aws:region": REGION,
            "strangler:listenerArn": LISTENER,
            "strangler:routes": routes or [route()],
        }
    }
    path.write_text(yaml.safe_dump(data))
    return path


def options(path: Path, *, json_out: bool = False, region: str | None = None) -> Options:
    return Options(
        command="preflight",
        stack=STACK,
        region=region,
        profile=None,
        endpoint_url=None,
        json=json_out,
        actor="operator:test",
        project_dir=str(PROJECT),
        stack_file=str(path),
    )


def run(opts: Options, facts: AccountFacts) -> tuple[int, str, str, FakeReader]:
    reader = FakeReader(facts)
    out, err = io.StringIO(), io.StringIO()
    code = run_preflight(opts, out, err, reader_factory=lambda _options, _region: reader)
    return code, out.getvalue(), err.getvalue(), reader


def test_all_checks_pass_exit_0_and_the_reader_gets_the_stacks_functions(tmp_path):
    code, out, _, reader = run(options(write_stack(tmp_path)), passing_facts())
    assert code == EXIT_OK
    assert out.splitlines()[-1] == "preflight passed: ready for pulumi up"
    assert sorted(reader.function_names) == [
        "strangler-prod-controller",
        "strangler-prod-map-tile",
    ]


def test_a_failed_check_exits_1_with_one_line_per_problem(tmp_path):
    facts = passing_facts()
    facts = AccountFacts(
        listener=facts.listener,
        target_groups={ECS_TG: ecs_group(vpc="vpc-b", kind="lambda")},
        rules=[rule(match=MatchConfig(("/billing/*",)))],
        rule_claims={},
        concurrency=ConcurrencyFacts(1000, 250),
    )
    code, out, _, _ = run(options(write_stack(tmp_path)), facts)
    assert code == EXIT_REFUSED
    problems = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert [p.split(":")[0] for p in problems] == [
        "routes[0].ecsTargetGroupArn",
        "routes[0].ecsTargetGroupArn",
        "routes[0].priority",
        "routes[0].function.reservedConcurrency",
    ]
    assert out.splitlines()[-1] == "preflight failed: target-groups, priorities, concurrency"


def test_json_prints_every_check_and_its_result(tmp_path):
    code, out, _, _ = run(options(write_stack(tmp_path), json_out=True), passing_facts())
    document = json.loads(out)
    assert code == EXIT_OK and document["ok"] is True
    assert [c["check"] for c in document["checks"]] == [
        "listener",
        "target-groups",
        "priorities",
        "capacity",
        "concurrency",
        "names",
    ]
    assert all(c["status"] == PASS and c["problems"] == [] for c in document["checks"])


def test_config_error_exits_2_naming_the_key(tmp_path):
    broken = route(function={"source": "functions/map_proxy", "reservedConcurency": 200})
    path = write_stack(tmp_path, [broken])
    code, out, err, _ = run(options(path, json_out=True), passing_facts())
    assert code == EXIT_USAGE
    assert "routes[0].function.reservedConcurency: unknown key" in err
    keys = [p["key"] for p in json.loads(out)["problems"]]
    assert "routes[0].function.reservedConcurrency" in keys


def test_missing_stack_file_is_a_usage_error(tmp_path):
    with pytest.raises(CliError) as raised:
        run(options(tmp_path / "Pulumi.nope.yaml"), passing_facts())
    assert raised.value.exit_code == EXIT_USAGE
    assert "no stack file" in raised.value.message


def test_region_other_than_the_stacks_is_a_usage_error(tmp_path):
    with pytest.raises(CliError) as raised:
        run(options(write_stack(tmp_path), region="eu-west-1"), passing_facts())
    assert raised.value.exit_code == EXIT_USAGE


def test_evaluate_runs_every_check_in_order():
    results = evaluate(config(), STACK, CONTROLLER, passing_facts())
    assert [r.check for r in results] == [
        "listener",
        "target-groups",
        "priorities",
        "capacity",
        "concurrency",
        "names",
    ]


def test_the_parser_knows_preflight_and_its_file_options():
    parsed = parse_options(
        ["preflight", "--stack", "three", "--project-dir", "/p", "--stack-file", "/p/x.yaml"], {}
    )
    assert (parsed.command, parsed.stack, parsed.project_dir, parsed.stack_file) == (
        "preflight",
        "three",
        "/p",
        "/p/x.yaml",
    )


def test_preflight_help_lists_every_check_and_its_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["preflight", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # the help is wrapped at 79 columns
    for fragment in (
        "Application Load Balancer",
        "ecsTargetGroupArn",
        "priority",
        "preview rule's",
        "ecsService is ACTIVE and has a scalable target",
        "at least 100",
        "--stack-file",
        "1 a check failed",
    ):
        assert fragment in text


def test_controller_concurrency_is_the_programs():
    from components.controller_function import CONTROLLER_RESERVED_CONCURRENCY

    assert preflight.controller_reserved_concurrency() == CONTROLLER_RESERVED_CONCURRENCY


# --------------------------------------------------------------------------- adapter helpers


def test_rule_match_reads_the_three_condition_kinds():
    conditions = [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a/*", "/b/*"]}},
        {"Field": "host-header", "Values": ["api.example.com"]},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}},
        {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}},
    ]
    assert rule_match(conditions) == MatchConfig(
        path_patterns=("/a/*", "/b/*"), host_headers=("api.example.com",), http_methods=("GET",)
    )


def test_rule_headers_reads_http_header_conditions():
    conditions = [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a/*"]}},
        {
            "Field": "http-header",
            "HttpHeaderConfig": {"HttpHeaderName": "X-Strangler-Preview", "Values": ["map-tile"]},
        },
    ]
    assert rule_headers(conditions) == {"x-strangler-preview": ("map-tile",)}
    assert rule_headers(conditions[:1]) == {}


def test_claims_come_from_route_records_only():
    value = json.dumps({"route": "map-tile", "rule_arn": RULE})
    assert _claim("/strangler/prod/routes/map-tile", value) == (RULE, RuleClaim("prod", "map-tile"))
    assert _claim("/strangler/prod/stack", value) is None
    assert _claim("/strangler/prod/routes/map-tile", "not json") is None


class _UnimplementedLambda:
    def get_account_settings(self) -> dict[str, Any]:
        raise ClientError(
            {
                "Error": {"Code": "404", "Message": "Not yet implemented"},
                "ResponseMetadata": {"HTTPStatusCode": 404},
            },
            "GetAccountSettings",
        )


class _Factory:
    def client(self, service: str) -> Any:
        return _UnimplementedLambda()


def test_get_account_settings_failure_is_an_aws_error():
    reader = AwsAccountReader(region=REGION, factory=_Factory())  # type: ignore[arg-type]
    with pytest.raises(CliError) as raised:
        reader.concurrency(["strangler-prod-map-tile"])
    assert raised.value.exit_code == EXIT_AWS
    assert "lambda:GetAccountSettings failed (404: Not yet implemented)" in raised.value.message


def test_a_key_in_a_misspelled_namespace_exits_2_naming_it(tmp_path):
    import yaml

    path = write_stack(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["config"]["stranger:logRetentionDays"] = 7
    path.write_text(yaml.safe_dump(data))
    code, _, err, _ = run(options(path), passing_facts())
    assert code == EXIT_USAGE
    assert (
        "stranger:logRetentionDays: unknown namespace 'stranger': only strangler:, aws:, "
        "pulumi: are read (did you mean strangler:logRetentionDays?)"
    ) in err
