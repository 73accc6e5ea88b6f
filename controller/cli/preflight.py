"""``python -m controller preflight``: what a first ``pulumi up`` needs from the account.

Run before anyone deploys. It reads the stack config from
``Pulumi.<stack>.yaml`` (validated by :func:`components.config.parse_stack_config`,
as ``__main__.py`` validates it), reads the account through
:mod:`controller.cli.preflight_aws`, and decides with the pure checks below:

- ``listener``: the listener exists and belongs to an Application Load Balancer;
- ``target-groups``: each route's ``ecsTargetGroupArn`` exists, is in the ALB's
  VPC and has target type ``ip`` or ``instance``;
- ``priorities``: each route's priority is free on the listener, or held by
  this stack's own rule for that route; the priority of the route's preview
  rule is free too, or held by this stack's own preview rule for that route;
- ``capacity``: each route's ``ecsService`` exists in its cluster, is ACTIVE,
  and has an Application Auto Scaling scalable target, whose ``MinCapacity``
  the capacity guard pins during a canary;
- ``concurrency``: after the stack's reserved concurrency the account keeps at
  least 100 unreserved;
- ``names``: every physical name the program gives a resource fits its
  service's rules.

The checks take plain facts (dataclasses) and return :class:`CheckResult`;
nothing here calls AWS, so every decision is testable without it.

Exit codes: 0 every check passed; 1 a check failed (one line per problem,
naming the config key); 2 the stack file or its config is invalid; 3 an AWS
call failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import yaml

from components import naming
from components.config import ConfigError, MatchConfig, StackConfig, parse_stack_config
from controller.cli.types import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError, Options
from controller.core.contract import route_parameter_name, stack_parameter_name

COMMAND = "preflight"

#: The repository root: where ``Pulumi.yaml``, the stack files and the
#: functions' source folders are, unless ``--project-dir`` says otherwise.
DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[2]

#: The tag :mod:`components.traffic` puts on every listener rule it declares.
#: It names the route only; no tag names the stack (see :func:`rule_owner`).
ROUTE_TAG = "strangler:route"
#: The preview rule (:mod:`components.preview`) carries ``ROUTE_TAG`` and this
#: tag with the value ``preview``; the weighted rule carries ``ROUTE_TAG`` only.
RULE_KIND_TAG = "strangler:rule"
PREVIEW_RULE_KIND = "preview"

#: Target types an ECS service registers with a target group: ``ip`` (awsvpc
#: network mode, Fargate) or ``instance`` (bridge/host mode). A ``lambda`` or
#: ``alb`` target group cannot hold the monolith's tasks.
ECS_TARGET_TYPES = ("ip", "instance")

#: Lambda developer guide, "Configuring reserved concurrency": "You can reserve
#: up to the Unreserved account concurrency value minus 100." The 100 stay for
#: the functions without reserved concurrency.
MIN_UNRESERVED_CONCURRENCY = 100

#: ECS API Reference, Service ``status``: ACTIVE, DRAINING or INACTIVE. A
#: deleted service moves from ACTIVE to DRAINING, then INACTIVE, and
#: DescribeServices still lists it in those states (DeleteService); only an
#: ACTIVE service runs the monolith's tasks.
ECS_SERVICE_ACTIVE = "ACTIVE"

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"

EXIT_CODES_HELP = """\
exit codes:
  0  every check passed
  1  a check failed: one line per problem, naming the config key
  2  usage or configuration error: bad arguments, no stack file, an invalid
     stack config (every problem is listed with its key)
  3  AWS unreachable, access denied, or an API that did not answer; the
     message names the API call
"""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Problem:
    """One failed condition: the config key it concerns and what is wrong."""

    key: str
    message: str

    def line(self) -> str:
        """``<key>: <message>``, as printed."""
        return f"{self.key}: {self.message}"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: pass, fail (with problems) or skipped (with why)."""

    check: str
    status: str
    summary: str
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True unless the check failed (a skipped check hides nothing: its cause failed)."""
        return self.status != FAIL

    def payload(self) -> dict[str, Any]:
        """The ``--json`` form of the check."""
        return {
            "check": self.check,
            "status": self.status,
            "ok": self.ok,
            "summary": self.summary,
            "problems": [{"key": p.key, "message": p.message} for p in self.problems],
        }


def _result(check: str, problems: Sequence[Problem], passed: str) -> CheckResult:
    if problems:
        count = len(problems)
        return CheckResult(
            check, FAIL, f"{count} problem{'s' if count != 1 else ''}", tuple(problems)
        )
    return CheckResult(check, PASS, passed)


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class LoadBalancerFacts:
    """What DescribeLoadBalancers says about the listener's load balancer."""

    arn: str
    name: str
    type: str
    vpc_id: str | None


@dataclass(frozen=True)
class ListenerFacts:
    """The listener, and its load balancer (``None`` when that is gone)."""

    arn: str
    load_balancer_arn: str
    load_balancer: LoadBalancerFacts | None


@dataclass(frozen=True)
class TargetGroupFacts:
    """What DescribeTargetGroups says about one target group."""

    arn: str
    name: str
    target_type: str
    vpc_id: str | None


@dataclass(frozen=True)
class RuleFacts:
    """One non-default rule of the listener, with its conditions and tags.

    ``headers`` maps the lower-cased name of each ``http-header`` condition
    to its values (the preview rule's ``<header>: <route name>``).
    """

    arn: str
    priority: int
    match: MatchConfig
    tags: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ConcurrencyFacts:
    """Lambda's account concurrency, and what this stack's functions hold today.

    ``held`` maps the names of this stack's functions that already exist to
    their reserved concurrency (0 when they have none): that amount is not in
    ``unreserved`` now and comes back when the deploy sets the new values.
    """

    account_limit: int | None
    unreserved: int
    held: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ScalableTargetFacts:
    """The ECS service's scalable target (DescribeScalableTargets)."""

    min_capacity: int
    max_capacity: int


@dataclass(frozen=True)
class EcsServiceFacts:
    """What DescribeServices and DescribeScalableTargets say about one route's ECS service.

    ``status`` is the service's status, or ``None`` when it was not found:
    ``missing`` then says why (DescribeServices reports a missing service
    under ``failures`` with reason ``MISSING``; a missing cluster is
    ``ClusterNotFoundException``).
    """

    cluster: str
    service: str
    status: str | None
    scalable_target: ScalableTargetFacts | None = None
    missing: str = ""
    cluster_exists: bool = True


# --------------------------------------------------------------------------- checks


def check_listener(config: StackConfig, listener: ListenerFacts | None) -> CheckResult:
    """The listener exists, and DescribeLoadBalancers gives its load balancer Type application."""
    key = "listenerArn"
    if listener is None:
        return _result(
            "listener",
            [Problem(key, f"listener {config.listener_arn} does not exist in this account/Region")],
            "",
        )
    balancer = listener.load_balancer
    if balancer is None:
        return _result(
            "listener",
            [
                Problem(
                    key,
                    f"the listener's load balancer {listener.load_balancer_arn} does not exist",
                )
            ],
            "",
        )
    if balancer.type != "application":
        return _result(
            "listener",
            [
                Problem(
                    key,
                    f"the listener belongs to load balancer {balancer.name} of type "
                    f"{balancer.type}, not an Application Load Balancer (weighted forward "
                    "rules and Lambda targets need an ALB)",
                )
            ],
            "",
        )
    return _result(
        "listener",
        [],
        f"listener of Application Load Balancer {balancer.name} in {balancer.vpc_id}",
    )


def check_target_groups(
    config: StackConfig,
    listener: ListenerFacts | None,
    target_groups: Mapping[str, TargetGroupFacts | None],
) -> CheckResult:
    """Each route's ECS target group exists, is in the ALB's VPC and holds ip/instance targets.

    Without a readable ALB the VPC is not compared (the listener check says why).
    """
    balancer = listener.load_balancer if listener else None
    alb_vpc = balancer.vpc_id if balancer else None
    problems: list[Problem] = []
    for route in config.routes:
        key = f"routes[{route.index}].ecsTargetGroupArn"
        arn = route.ecs_target_group_arn
        group = target_groups.get(arn)
        if group is None:
            problems.append(Problem(key, f"target group {arn} does not exist"))
            continue
        if alb_vpc is not None and group.vpc_id != alb_vpc:
            problems.append(
                Problem(
                    key,
                    f"target group {group.name} is in {group.vpc_id or 'no VPC'}, "
                    f"the ALB is in {alb_vpc}",
                )
            )
        if group.target_type not in ECS_TARGET_TYPES:
            problems.append(
                Problem(
                    key,
                    f"target group {group.name} has target type {group.target_type}; an ECS "
                    f"target group has {' or '.join(ECS_TARGET_TYPES)}",
                )
            )
    count = len(config.routes)
    where = f" in {alb_vpc}" if alb_vpc else ""
    return _result(
        "target-groups",
        problems,
        f"{count} ECS target group{'s' if count != 1 else ''}{where}, target type ip/instance",
    )


def _same_match(left: MatchConfig, right: MatchConfig) -> bool:
    # The values of one condition are ORed, so their order does not matter.
    return (
        set(left.path_patterns) == set(right.path_patterns)
        and {h.lower() for h in left.host_headers} == {h.lower() for h in right.host_headers}
        and set(left.http_methods) == set(right.http_methods)
    )


@dataclass(frozen=True)
class RuleClaim:
    """A stack's registry record naming a rule: which stack, which route."""

    stack: str
    route: str


def rule_owner(
    rule: RuleFacts,
    stack: str,
    route_name: str,
    match: MatchConfig,
    claims: Mapping[str, RuleClaim],
) -> RuleClaim | None:
    """Who holds ``rule``: a stack and route, or ``None`` when nobody is known to.

    The deploy's registry (``/strangler/<stack>/routes/<route>``) names each
    stack's rule by ARN, so a rule some registry records belongs to that stack
    and route. The rule's tags name the route but not the stack
    (:mod:`components.traffic`), so a rule no registry records counts as this
    stack's rule for the route when this stack has no record for the route yet
    and the rule carries the route's ``strangler:route`` tag **and** exactly the
    route's conditions: a rule that claims the same requests for the same route
    is what an interrupted first deploy of this stack leaves behind.
    """
    claim = claims.get(rule.arn)
    if claim is not None:
        return claim
    recorded = RuleClaim(stack, route_name) in claims.values()
    if not recorded and rule.tags.get(ROUTE_TAG) == route_name and _same_match(rule.match, match):
        return RuleClaim(stack, route_name)
    return None


def preview_rule_owner(
    rule: RuleFacts,
    stack: str,
    route_name: str,
    match: MatchConfig,
    header: str,
    rules: Sequence[RuleFacts],
    claims: Mapping[str, RuleClaim],
) -> RuleClaim | None:
    """Who holds ``rule`` where the route's preview rule goes, or ``None`` when nobody is known to.

    A rule some registry records is that stack's (weighted) rule, as in
    :func:`rule_owner`. No registry records a preview rule, and its tags name
    the route, not the stack: a rule tagged ``strangler:route=<route>`` and
    ``strangler:rule=preview`` with exactly the route's conditions plus
    ``<header>: <route>`` is a preview rule of the route. It is another
    stack's when that stack's registry records a weighted rule for the same
    route with the same conditions on this listener (and this stack's does
    not); otherwise it is this stack's: a redeploy's, or what an interrupted
    first deploy leaves behind.
    """
    claim = claims.get(rule.arn)
    if claim is not None:
        return claim
    if (
        rule.tags.get(ROUTE_TAG) != route_name
        or rule.tags.get(RULE_KIND_TAG) != PREVIEW_RULE_KIND
        or not _same_match(rule.match, match)
        or {name.lower(): {v.lower() for v in values} for name, values in rule.headers.items()}
        != {header.lower(): {route_name.lower()}}
    ):
        return None
    holders = {
        claims[other.arn].stack
        for other in rules
        if other.arn in claims
        and claims[other.arn].route == route_name
        and _same_match(other.match, match)
    }
    if holders and stack not in holders:
        return RuleClaim(sorted(holders)[0], route_name)
    return RuleClaim(stack, route_name)


def _held_by(rule: RuleFacts, owner: RuleClaim | None, kind: str) -> str:
    if owner is not None:
        return f"stack {owner.stack}'s {kind}rule for route {owner.route}"
    tag = rule.tags.get(ROUTE_TAG)
    return "a rule of no Strangler stack" + (f" (tagged {ROUTE_TAG}={tag})" if tag else "")


def check_priorities(
    config: StackConfig,
    stack: str,
    rules: Sequence[RuleFacts] | None,
    claims: Mapping[str, RuleClaim],
) -> CheckResult:
    """Each route's priority, and its preview rule's, is free on the listener or this stack's.

    The route's priority must be free or held by this stack's rule for the
    route (:func:`rule_owner`); its preview rule's priority
    (``routes[].preview.priority``, derived by :mod:`components.config` when
    not set) free or held by this stack's preview rule for the route
    (:func:`preview_rule_owner`). ``claims`` maps rule ARNs to the stack and
    route whose registry records them (every Strangler stack of the account
    and Region; empty before the first deploy). ``rules`` is ``None`` when the
    listener could not be read; the check is then skipped.
    """
    if rules is None:
        return CheckResult("priorities", SKIPPED, "the listener's rules could not be read")
    by_priority = {rule.priority: rule for rule in rules}
    problems: list[Problem] = []
    wanted = own = 0
    for route in config.routes:
        own_claim = RuleClaim(stack, route.name)
        wanted += 1
        rule = by_priority.get(route.priority)
        if rule is not None:
            owner = rule_owner(rule, stack, route.name, route.match, claims)
            if owner == own_claim:
                own += 1
            else:
                problems.append(
                    Problem(
                        f"routes[{route.index}].priority",
                        f"priority {route.priority} is taken on the listener by "
                        f"{_held_by(rule, owner, '')}: {rule.arn}",
                    )
                )
        preview = route.preview
        if preview is None:
            continue
        wanted += 1
        rule = by_priority.get(preview.priority)
        if rule is None:
            continue
        owner = preview_rule_owner(
            rule, stack, route.name, route.match, preview.header, rules, claims
        )
        if owner == own_claim:
            own += 1
            continue
        problems.append(
            Problem(
                f"routes[{route.index}].preview.priority",
                f"priority {preview.priority} of the route's preview rule is taken on the "
                f"listener by {_held_by(rule, owner, '' if rule.arn in claims else 'preview ')}: "
                f"{rule.arn}",
            )
        )
    free = wanted - own - len(problems)
    return _result(
        "priorities",
        problems,
        f"{free} free, {own} held by this stack's own rules "
        f"(of {len(rules)} rules on the listener)",
    )


def check_capacity(
    config: StackConfig, services: Mapping[tuple[str, str], EcsServiceFacts | None]
) -> CheckResult:
    """Each route's ``ecsService`` is ACTIVE in its cluster and has a scalable target.

    ``services`` maps ``(cluster, service)`` to what the account says about it.
    During a canary the capacity guard pins the scalable target's
    ``MinCapacity`` (controller/capacity_guard.py), so a service without one
    cannot be guarded. A stack whose routes have no ``ecsService`` passes.
    """
    guarded = [route for route in config.routes if route.ecs_service is not None]
    if not guarded:
        return _result("capacity", [], "no route holds ECS capacity")
    problems: list[Problem] = []
    for route in guarded:
        ecs = route.ecs_service
        assert ecs is not None
        key = f"routes[{route.index}].ecsService"
        found = services.get((ecs.cluster, ecs.service))
        if found is not None and not found.cluster_exists:
            problems.append(
                Problem(f"{key}.cluster", f"cluster {ecs.cluster} does not exist ({found.missing})")
            )
            continue
        if found is None or found.status is None:
            why = f" ({found.missing})" if found is not None and found.missing else ""
            problems.append(
                Problem(
                    f"{key}.service",
                    f"service {ecs.service} does not exist in cluster {ecs.cluster}{why}",
                )
            )
            continue
        if found.status != ECS_SERVICE_ACTIVE:
            problems.append(
                Problem(
                    f"{key}.service",
                    f"service {ecs.service} in cluster {ecs.cluster} is {found.status}, not "
                    f"{ECS_SERVICE_ACTIVE}",
                )
            )
            continue
        if found.scalable_target is None:
            problems.append(
                Problem(
                    key,
                    f"service {ecs.service} in cluster {ecs.cluster} has no Application Auto "
                    f"Scaling scalable target (service/{ecs.cluster}/{ecs.service}, "
                    "ecs:service:DesiredCount): the capacity guard pins its MinCapacity during "
                    "a canary; register one",
                )
            )
    count = len(guarded)
    return _result(
        "capacity",
        problems,
        f"{count} ECS service{'s' if count != 1 else ''} ACTIVE, each with a scalable target",
    )


def stack_reservations(config: StackConfig, stack: str, controller: int) -> dict[str, int]:
    """Function name -> the reserved concurrency the deploy gives it (routes and controller)."""
    reserved = {
        naming.function_name(stack, route.name): route.function.reserved_concurrency
        for route in config.routes
    }
    reserved[naming.controller_function_name(stack)] = controller
    return reserved


def check_concurrency(
    config: StackConfig, stack: str, controller: int, facts: ConcurrencyFacts
) -> CheckResult:
    """After the deploy's reservations, at least 100 of the account's concurrency stays unreserved.

    ``controller`` is the controller function's reserved concurrency. What this
    stack's existing functions hold today is added back to
    ``facts.unreserved``, since the deploy replaces it rather than adds to it.
    """
    wanted = stack_reservations(config, stack, controller)
    total = sum(wanted.values())
    held = sum(facts.held.get(name, 0) for name in wanted)
    available = facts.unreserved + held
    left = available - total
    if left >= MIN_UNRESERVED_CONCURRENCY:
        return _result(
            "concurrency",
            [],
            f"the stack reserves {total}; {left} of the account's concurrency stays "
            f"unreserved (at least {MIN_UNRESERVED_CONCURRENCY})",
        )
    parts = [
        f"routes[{r.index}].function.reservedConcurrency {r.function.reserved_concurrency}"
        for r in config.routes
    ]
    parts.append(f"controller {controller}")
    key = (
        f"routes[{config.routes[0].index}].function.reservedConcurrency"
        if len(config.routes) == 1
        else "routes[*].function.reservedConcurrency"
    )
    unreserved = f"the account has {facts.unreserved} unreserved"
    if facts.account_limit is not None:
        unreserved += f" of its limit {facts.account_limit}"
    if held:
        unreserved += f", plus {held} that this stack's functions hold now"
    return _result(
        "concurrency",
        [
            Problem(
                key,
                f"the stack reserves {total} concurrent executions ({' + '.join(parts)}); "
                f"{unreserved}; that would leave {left} unreserved, and Lambda keeps at least "
                f"{MIN_UNRESERVED_CONCURRENCY}: reserve at most "
                f"{max(available - MIN_UNRESERVED_CONCURRENCY, 0)} in total, or raise the "
                "account's concurrent executions quota",
            )
        ],
        "",
    )


# --- names ----------------------------------------------------------------------


@dataclass(frozen=True)
class NameRule:
    """A service's rule for one kind of name: length and characters, and where it is written."""

    kind: str
    max_length: int
    pattern: re.Pattern[str]
    allowed: str
    source: str
    min_length: int = 1

    def problems(self, name: str) -> list[str]:
        """Why ``name`` breaks this rule (empty when it fits)."""
        found: list[str] = []
        if not self.min_length <= len(name) <= self.max_length:
            found.append(
                f"{self.kind} name {name!r} is {len(name)} characters; {self.source} allows "
                f"{self.min_length}-{self.max_length}"
            )
        if not self.pattern.fullmatch(name):
            found.append(f"{self.kind} name {name!r} must be {self.allowed} ({self.source})")
        return found


# Each rule as its service's API reference states it.
# Lambda API Reference, CreateFunction, FunctionName: the function name alone
# is 1-64 characters of letters, digits, hyphens and underscores.
FUNCTION_NAME = NameRule(
    "Lambda function", naming.MAX_FUNCTION_NAME, re.compile(r"[A-Za-z0-9_-]+"),
    "letters, digits, '-' and '_'", "Lambda CreateFunction FunctionName",
)  # fmt: skip
# ELB API Reference, CreateTargetGroup, Name: "can have a maximum of 32
# characters, must contain only alphanumeric characters or hyphens, and must not
# begin or end with a hyphen".
TARGET_GROUP_NAME = NameRule(
    "target group", naming.MAX_TARGET_GROUP_NAME,
    re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"),
    "letters, digits and '-', not beginning or ending with '-'",
    "ELB CreateTargetGroup Name",
)  # fmt: skip
# CloudWatch API Reference, PutMetricAlarm / PutCompositeAlarm, AlarmName:
# 1-255 characters; UTF-8 without ASCII control characters.
ALARM_NAME = NameRule(
    "alarm", naming.MAX_ALARM_NAME, re.compile(r"[^\x00-\x1f\x7f]+"),
    "free of control characters", "CloudWatch PutMetricAlarm AlarmName",
)  # fmt: skip
# CloudWatch Logs API Reference, CreateLogGroup, logGroupName: 1-512
# characters of [\.\-_/#A-Za-z0-9].
LOG_GROUP_NAME = NameRule(
    "log group", 512, re.compile(r"[.\-_/#A-Za-z0-9]+"),
    "letters, digits and '._-/#'", "CloudWatch Logs CreateLogGroup logGroupName",
)  # fmt: skip
# SNS API Reference, CreateTopic, Name: up to 256 characters of letters,
# digits, hyphens and underscores.
TOPIC_NAME = NameRule(
    "SNS topic", naming.MAX_TOPIC_NAME, re.compile(r"[A-Za-z0-9_-]+"),
    "letters, digits, '-' and '_'", "SNS CreateTopic Name",
)  # fmt: skip
# Step Functions API Reference, CreateStateMachine, name: 1-80 characters; with
# CloudWatch Logs logging on (the stack logs every execution) only
# 0-9, A-Z, a-z, '-' and '_'.
STATE_MACHINE_NAME = NameRule(
    "state machine", naming.MAX_STATE_MACHINE_NAME, re.compile(r"[A-Za-z0-9_-]+"),
    "letters, digits, '-' and '_'", "Step Functions CreateStateMachine name",
)  # fmt: skip
# DynamoDB API Reference, CreateTable, TableName: 3-255 characters of
# [a-zA-Z0-9_.-].
TABLE_NAME = NameRule(
    "DynamoDB table", naming.MAX_TABLE_NAME, re.compile(r"[A-Za-z0-9_.-]+"),
    "letters, digits and '_.-'", "DynamoDB CreateTable TableName", min_length=3,
)  # fmt: skip
# SQS API Reference, CreateQueue, QueueName: up to 80 characters of
# alphanumerics, hyphens and underscores.
QUEUE_NAME = NameRule(
    "SQS queue", naming.MAX_QUEUE_NAME, re.compile(r"[A-Za-z0-9_-]+"),
    "letters, digits, '-' and '_'", "SQS CreateQueue QueueName",
)  # fmt: skip
# CloudWatch API Reference, PutDashboard, DashboardName: up to 255
# characters; "can contain only alphanumerics, dash (-) and underscore (_)".
DASHBOARD_NAME = NameRule(
    "dashboard", naming.MAX_DASHBOARD_NAME, re.compile(r"[A-Za-z0-9_-]+"),
    "letters, digits, '-' and '_'", "CloudWatch PutDashboard DashboardName",
)  # fmt: skip
# EventBridge API Reference, PutRule, Name: 1-64 characters of [\.\-_A-Za-z0-9].
EVENT_RULE_NAME = NameRule(
    "EventBridge rule", naming.MAX_RULE_NAME, re.compile(r"[.\-_A-Za-z0-9]+"),
    "letters, digits and '._-'", "EventBridge PutRule Name",
)  # fmt: skip
# EventBridge Scheduler API Reference, CreateSchedule, Name: 1-64 characters
# of [0-9a-zA-Z-_.].
SCHEDULE_NAME = NameRule(
    "schedule", naming.MAX_SCHEDULE_NAME, re.compile(r"[0-9A-Za-z_.-]+"),
    "letters, digits and '._-'", "EventBridge Scheduler CreateSchedule Name",
)  # fmt: skip
# Systems Manager API Reference, PutParameter, Name: up to 1011 characters
# (the limit counts the whole ARN; the name alone is kept well below it) of
# a-zA-Z0-9_.-/ , at most 15 levels of hierarchy.
SSM_PARAMETER_NAME = NameRule(
    "SSM parameter", 1011, re.compile(r"(?:/[A-Za-z0-9_.-]+){1,15}"),
    "letters, digits and '_.-' in at most 15 '/'-separated levels",
    "Systems Manager PutParameter Name",
)  # fmt: skip


@dataclass(frozen=True)
class PlannedName:
    """A physical name the program gives a resource, the config key it comes from, its rule."""

    key: str
    name: str
    rule: NameRule


def planned_names(config: StackConfig, stack: str) -> list[PlannedName]:
    """Every physical name the program sets explicitly, derived with :mod:`components.naming`.

    Resources Pulumi auto-names (roles, policies, permissions, targets,
    subscriptions) are not listed: the provider derives those from the
    logical name and a random suffix within each service's limit.
    Names that come from the stack name carry the key ``stack``; a route's
    names carry ``routes[i].name``.
    """
    names = [
        PlannedName("stack", naming.topic_name(stack), TOPIC_NAME),
        PlannedName("stack", naming.controller_function_name(stack), FUNCTION_NAME),
        PlannedName("stack", naming.controller_log_group_name(stack), LOG_GROUP_NAME),
        PlannedName("stack", naming.state_machine_name(stack), STATE_MACHINE_NAME),
        PlannedName("stack", naming.state_machine_log_group_name(stack), LOG_GROUP_NAME),
        PlannedName("stack", naming.table_name(stack), TABLE_NAME),
        PlannedName("stack", naming.dlq_name(stack), QUEUE_NAME),
        PlannedName("stack", naming.dlq_alarm_name(stack), ALARM_NAME),
        PlannedName("stack", naming.dashboard_name(stack), DASHBOARD_NAME),
        PlannedName("stack", naming.registry_sync_rule_name(stack), EVENT_RULE_NAME),
        PlannedName("stack", stack_parameter_name(stack), SSM_PARAMETER_NAME),
    ]
    if any(route.ecs_service is not None for route in config.routes):
        names.append(PlannedName("stack", naming.capacity_tick_rule_name(stack), EVENT_RULE_NAME))
    for route in config.routes:
        key = f"routes[{route.index}].name"
        names += [
            PlannedName(key, naming.function_name(stack, route.name), FUNCTION_NAME),
            PlannedName(key, naming.log_group_name(stack, route.name), LOG_GROUP_NAME),
            PlannedName(key, naming.target_group_name(stack, route.name), TARGET_GROUP_NAME),
            PlannedName(key, naming.composite_alarm_name(stack, route.name), ALARM_NAME),
            PlannedName(key, naming.failback_rule_name(stack, route.name), EVENT_RULE_NAME),
            PlannedName(key, route_parameter_name(stack, route.name), SSM_PARAMETER_NAME),
        ]
        names += [
            PlannedName(key, naming.alarm_name(stack, route.name, kind), ALARM_NAME)
            for kind in naming.ALARM_KINDS
        ]
        if route.canary.schedule:
            names.append(PlannedName(key, naming.schedule_name(stack, route.name), SCHEDULE_NAME))
        if route.verify is not None:
            names += [
                PlannedName(key, naming.check_function_name(stack, route.name), FUNCTION_NAME),
                PlannedName(key, naming.check_log_group_name(stack, route.name), LOG_GROUP_NAME),
            ]
        if route.release.schedule:
            names.append(
                PlannedName(key, naming.release_schedule_name(stack, route.name), SCHEDULE_NAME)
            )
    return names


def check_names(names: Sequence[PlannedName]) -> CheckResult:
    """Every planned name fits its service's length and character rules."""
    problems = [
        Problem(planned.key, message)
        for planned in names
        for message in planned.rule.problems(planned.name)
    ]
    return _result("names", problems, f"{len(names)} names fit their services' rules")


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class AccountFacts:
    """Everything the checks read from the account, gathered by the adapter."""

    listener: ListenerFacts | None
    target_groups: Mapping[str, TargetGroupFacts | None]
    rules: Sequence[RuleFacts] | None
    rule_claims: Mapping[str, RuleClaim]
    concurrency: ConcurrencyFacts
    #: ``(cluster, service)`` of each route's ``ecsService`` -> its facts.
    ecs_services: Mapping[tuple[str, str], EcsServiceFacts | None] = field(default_factory=dict)


def evaluate(
    config: StackConfig, stack: str, controller_concurrency: int, facts: AccountFacts
) -> list[CheckResult]:
    """Every check, in a fixed order, on the gathered facts."""
    return [
        check_listener(config, facts.listener),
        check_target_groups(config, facts.listener, facts.target_groups),
        check_priorities(config, stack, facts.rules, facts.rule_claims),
        check_capacity(config, facts.ecs_services),
        check_concurrency(config, stack, controller_concurrency, facts.concurrency),
        check_names(planned_names(config, stack)),
    ]


class AccountReader(Protocol):
    """What preflight reads from AWS; :class:`controller.cli.preflight_aws.AwsAccountReader`."""

    region: str

    def gather(self, config: StackConfig, function_names: Sequence[str]) -> AccountFacts:
        """Every fact the checks need; ``function_names`` are the stack's functions.

        Raises AwsCallFailed or CliError (exit 3) when an AWS call fails.
        """
        ...


# --- the stack file -----------------------------------------------------------------


def stack_file_path(options: Options) -> Path:
    """``--stack-file``, else ``<--project-dir>/Pulumi.<stack>.yaml``."""
    if options.stack_file:
        return Path(options.stack_file)
    return project_dir(options) / f"Pulumi.{options.stack}.yaml"


def project_dir(options: Options) -> Path:
    """``--project-dir``, else the repository this CLI runs from."""
    return Path(options.project_dir) if options.project_dir else DEFAULT_PROJECT_DIR


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``config`` mapping of a Pulumi stack file (CliError, exit 2, when unusable)."""
    if not path.is_file():
        raise CliError(
            f"no stack file {path}",
            EXIT_USAGE,
            "pass --stack for Pulumi.<stack>.yaml in --project-dir, or --stack-file PATH",
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise CliError(f"{path}: not valid YAML: {error}", EXIT_USAGE) from error
    config = data.get("config") if isinstance(data, Mapping) else None
    if not isinstance(config, Mapping):
        raise CliError(f"{path}: expected a mapping with a 'config' mapping", EXIT_USAGE)
    return {str(key): value for key, value in config.items()}


def parse_file_config(file_config: Mapping[str, Any], *, stack: str, root: Path) -> StackConfig:
    """The ``strangler`` namespace and ``aws:region`` of a stack file, validated.

    The same validation ``__main__.py`` runs before declaring anything; raises
    :class:`~components.config.ConfigError` listing every problem.
    """
    prefix = "strangler:"
    raw = {
        key[len(prefix) :]: value for key, value in file_config.items() if key.startswith(prefix)
    }
    region = file_config.get("aws:region")
    return parse_stack_config(
        raw,
        region=str(region) if region else None,
        project_root=root,
        stack=stack,
        other_keys=[key for key in file_config if not key.startswith(prefix)],
    )


def controller_reserved_concurrency() -> int:
    """The controller function's reserved concurrency, as the program declares it."""
    # Imported here: the module declares Pulumi resources and imports pulumi
    # (about half a second), which the CLI's other commands never need.
    from components.controller_function import CONTROLLER_RESERVED_CONCURRENCY

    return CONTROLLER_RESERVED_CONCURRENCY


# --- output ---------------------------------------------------------------------------


def render_text(stack: str, path: Path, region: str, results: Sequence[CheckResult]) -> str:
    """One line per check, then one line per problem (``<key>: <message>``)."""
    lines = [f"preflight of stack {stack} ({region}) from {path}"]
    for result in results:
        lines.append(f"{result.status.upper():7} {result.check:14} {result.summary}")
        lines.extend(f"  {problem.line()}" for problem in result.problems)
    failed = [r.check for r in results if not r.ok]
    lines.append(
        f"preflight failed: {', '.join(failed)}"
        if failed
        else "preflight passed: ready for pulumi up"
    )
    return "\n".join(lines)


def payload(stack: str, path: Path, region: str, results: Sequence[CheckResult]) -> dict[str, Any]:
    """The ``--json`` document: every check and its result."""
    return {
        "stack": stack,
        "stack_file": str(path),
        "region": region,
        "ok": all(r.ok for r in results),
        "checks": [r.payload() for r in results],
    }


def _config_error(
    error: ConfigError, stack: str, path: Path, json_out: bool, stdout: TextIO, stderr: TextIO
) -> int:
    stderr.write(f"error: invalid config for stack {stack} in {path}:\n")
    for line in error.messages:
        stderr.write(f"  {line}\n")
    if json_out:
        document = {
            "error": "config",
            "message": f"invalid config for stack {stack} in {path}",
            "problems": [{"key": key, "message": message} for key, message in error.problems],
            "exit_code": EXIT_USAGE,
        }
        stdout.write(json.dumps(document, indent=2) + "\n")
    return EXIT_USAGE


ReaderFactory = Callable[[Options, str], AccountReader]


def _aws_reader(options: Options, region: str) -> AccountReader:
    # Imported here: boto3 costs ~0.25 s, and a config error needs none of it.
    from controller.cli.preflight_aws import AwsAccountReader

    return AwsAccountReader.connect(options, region)


def run_preflight(
    options: Options,
    stdout: TextIO,
    stderr: TextIO,
    reader_factory: ReaderFactory = _aws_reader,
) -> int:
    """``preflight``: read and validate the stack file, read the account, check, print.

    AWS errors leave as :class:`~controller.core.errors.AwsCallFailed` or
    :class:`CliError` for the CLI to report with exit code 3.
    """
    path = stack_file_path(options)
    file_config = read_stack_file(path)
    try:
        config = parse_file_config(file_config, stack=options.stack, root=project_dir(options))
    except ConfigError as error:
        return _config_error(error, options.stack, path, options.json, stdout, stderr)
    if options.region and options.region != config.region:
        raise CliError(
            f"--region {options.region} differs from aws:region {config.region} of stack "
            f"{options.stack}",
            EXIT_USAGE,
            "leave --region out: preflight checks the Region the stack deploys to",
        )
    reader = reader_factory(options, config.region)
    controller = controller_reserved_concurrency()
    facts = reader.gather(config, sorted(stack_reservations(config, options.stack, controller)))
    results = evaluate(config, options.stack, controller, facts)
    if options.json:
        stdout.write(json.dumps(payload(options.stack, path, reader.region, results), indent=2))
        stdout.write("\n")
    else:
        stdout.write(render_text(options.stack, path, reader.region, results) + "\n")
    return EXIT_OK if all(r.ok for r in results) else EXIT_REFUSED
