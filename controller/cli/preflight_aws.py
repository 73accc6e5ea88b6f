"""The AWS reads of ``preflight``: boto3 calls in, plain facts out.

Read-only, with the operator's credentials: ELB (DescribeListeners,
DescribeLoadBalancers, DescribeTargetGroups, DescribeRules, DescribeTags),
SSM (GetParametersByPath on every stack's registry, to know whose rule holds
a priority), Lambda (GetAccountSettings, GetFunctionConcurrency), ECS
(DescribeServices) and Application Auto Scaling (DescribeScalableTargets) for
each route's ``ecsService``. "Not found"
answers become ``None`` facts for the checks in :mod:`controller.cli.preflight`
to judge; every other error leaves as
:class:`~controller.core.errors.AwsCallFailed` naming the API call (exit 3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components.config import MatchConfig, StackConfig
from controller.aws.capacity import DESCRIBE_SERVICES, read_scalable_target, service_resource_id
from controller.aws.clients import ClientFactory, aws_call, error_code
from controller.cli.aws_session import cli_client, open_factory
from controller.cli.preflight import (
    AccountFacts,
    ConcurrencyFacts,
    EcsServiceFacts,
    ListenerFacts,
    LoadBalancerFacts,
    RuleClaim,
    RuleFacts,
    ScalableTargetFacts,
    TargetGroupFacts,
)
from controller.cli.types import EXIT_AWS, CliError, Options
from controller.core.contract import registry_path
from controller.core.errors import AwsCallFailed

# ELB DescribeTags takes at most 20 resource ARNs per call (ELB API Reference).
TAGS_BATCH = 20
# Codes that mean "no such resource": a fact for the checks, not an AWS failure.
LISTENER_NOT_FOUND = frozenset({"ListenerNotFound"})
LOAD_BALANCER_NOT_FOUND = frozenset({"LoadBalancerNotFound"})
TARGET_GROUP_NOT_FOUND = frozenset({"TargetGroupNotFound"})
FUNCTION_NOT_FOUND = frozenset({"ResourceNotFoundException"})
# ECS API Reference, DescribeServices, Errors: ClusterNotFoundException, "The
# specified cluster could not be found." A missing service is no error: the
# answer lists it under ``failures`` with reason MISSING (ECS Developer Guide,
# API failure reasons: for DescribeServices, MISSING means the service was not
# found in that cluster and Region). An INACTIVE service may later be purged,
# and DescribeServices then answers ServiceNotFoundException (DeleteService).
CLUSTER_NOT_FOUND = frozenset({"ClusterNotFoundException"})
SERVICE_NOT_FOUND = frozenset({"ServiceNotFoundException"})
# Where every stack's registry lives: /strangler/<stack>/... (controller.core.contract).
REGISTRY_ROOT = registry_path("").rstrip("/")


@dataclass
class AwsAccountReader:
    """:class:`controller.cli.preflight.AccountReader` on boto3, in one Region."""

    region: str
    factory: ClientFactory

    @classmethod
    def connect(cls, options: Options, region: str) -> AwsAccountReader:
        """Clients for ``region``, ``--profile`` and ``--endpoint-url``; a bad profile: exit 2."""
        factory, _ = open_factory(options, region)
        return cls(region=region, factory=factory)

    def _client(self, service: str) -> Any:
        return cli_client(self.factory, service)

    # ------------------------------------------------------------------ ELB

    def listener(self, arn: str) -> ListenerFacts | None:
        """The listener and its load balancer; ``None`` when the listener does not exist."""
        elbv2 = self._client("elbv2")
        found = _unless_missing(
            "elasticloadbalancing:DescribeListeners",
            arn,
            LISTENER_NOT_FOUND,
            lambda: elbv2.describe_listeners(ListenerArns=[arn])["Listeners"],
        )
        if not found:
            return None
        balancer_arn = str(found[0]["LoadBalancerArn"])
        return ListenerFacts(
            arn=arn, load_balancer_arn=balancer_arn, load_balancer=self.load_balancer(balancer_arn)
        )

    def load_balancer(self, arn: str) -> LoadBalancerFacts | None:
        """DescribeLoadBalancers of one ARN; ``None`` when it does not exist."""
        elbv2 = self._client("elbv2")
        found = _unless_missing(
            "elasticloadbalancing:DescribeLoadBalancers",
            arn,
            LOAD_BALANCER_NOT_FOUND,
            lambda: elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"],
        )
        if not found:
            return None
        balancer = found[0]
        return LoadBalancerFacts(
            arn=arn,
            name=str(balancer.get("LoadBalancerName", "")),
            type=str(balancer.get("Type", "")),
            vpc_id=balancer.get("VpcId"),
        )

    def target_group(self, arn: str) -> TargetGroupFacts | None:
        """DescribeTargetGroups of one ARN; ``None`` when it does not exist."""
        elbv2 = self._client("elbv2")
        found = _unless_missing(
            "elasticloadbalancing:DescribeTargetGroups",
            arn,
            TARGET_GROUP_NOT_FOUND,
            lambda: elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"],
        )
        if not found:
            return None
        group = found[0]
        return TargetGroupFacts(
            arn=arn,
            name=str(group.get("TargetGroupName", "")),
            target_type=str(group.get("TargetType", "")),
            vpc_id=group.get("VpcId"),
        )

    def rules(self, listener_arn: str) -> list[RuleFacts]:
        """Every non-default rule of the listener, with its conditions and tags."""
        elbv2 = self._client("elbv2")
        raw: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"ListenerArn": listener_arn}
            if marker:
                kwargs["Marker"] = marker
            with aws_call("elasticloadbalancing:DescribeRules", listener_arn):
                page = elbv2.describe_rules(**kwargs)
            raw.extend(page.get("Rules", []))
            marker = page.get("NextMarker")
            if not marker:
                break
        rules = [r for r in raw if not r.get("IsDefault") and str(r.get("Priority")).isdigit()]
        tags = self._tags([str(r["RuleArn"]) for r in rules])
        return [
            RuleFacts(
                arn=str(rule["RuleArn"]),
                priority=int(rule["Priority"]),
                match=rule_match(rule.get("Conditions", [])),
                tags=tags.get(str(rule["RuleArn"]), {}),
                headers=rule_headers(rule.get("Conditions", [])),
            )
            for rule in rules
        ]

    def _tags(self, arns: Sequence[str]) -> dict[str, dict[str, str]]:
        elbv2 = self._client("elbv2")
        tags: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), TAGS_BATCH):
            batch = list(arns[start : start + TAGS_BATCH])
            with aws_call("elasticloadbalancing:DescribeTags", ", ".join(batch)):
                descriptions = elbv2.describe_tags(ResourceArns=batch)["TagDescriptions"]
            for description in descriptions:
                tags[str(description["ResourceArn"])] = {
                    str(t["Key"]): str(t.get("Value", "")) for t in description.get("Tags", [])
                }
        return tags

    # ------------------------------------------------------------------ SSM

    def rule_claims(self) -> dict[str, RuleClaim]:
        """Rule ARN -> the stack and route whose registry records it, for every stack.

        Reads every ``/strangler/<stack>/routes/<route>`` parameter of the
        account and Region (none before the first deploy of any stack).
        """
        ssm = self._client("ssm")
        path = REGISTRY_ROOT
        found: dict[str, RuleClaim] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Path": path, "Recursive": True}
            if token:
                kwargs["NextToken"] = token
            with aws_call("ssm:GetParametersByPath", path):
                page = ssm.get_parameters_by_path(**kwargs)
            for parameter in page.get("Parameters", []):
                claim = _claim(str(parameter.get("Name", "")), parameter.get("Value"))
                if claim is not None:
                    found[claim[0]] = claim[1]
            token = page.get("NextToken")
            if not token:
                return found

    # ------------------------------------------------------------------ Lambda

    def concurrency(self, function_names: Sequence[str]) -> ConcurrencyFacts:
        """GetAccountSettings, and the reserved concurrency of the named functions that exist."""
        lam = self._client("lambda")
        try:
            settings = lam.get_account_settings()
        except (ClientError, BotoCoreError) as error:
            # Without the account's unreserved concurrency the check cannot be
            # decided; an error here is never a pass (moto 5.2.5 answers 404
            # "Not yet implemented").
            raise CliError(
                f"lambda:GetAccountSettings failed ({error_code(error) or type(error).__name__}: "
                f"{_message(error)}): the account's unreserved concurrency cannot be read, so "
                "the concurrency check cannot be decided",
                EXIT_AWS,
                "check --region, --endpoint-url and that the credentials may call "
                "lambda:GetAccountSettings, then retry",
            ) from error
        limit = settings.get("AccountLimit", {})
        held: dict[str, int] = {}
        for name in function_names:
            answer = _unless_missing(
                "lambda:GetFunctionConcurrency",
                name,
                FUNCTION_NOT_FOUND,
                lambda name=name: lam.get_function_concurrency(FunctionName=name),
            )
            if answer is not None:
                held[name] = int(answer.get("ReservedConcurrentExecutions") or 0)
        total = limit.get("ConcurrentExecutions")
        return ConcurrencyFacts(
            account_limit=int(total) if total is not None else None,
            unreserved=int(limit.get("UnreservedConcurrentExecutions", 0)),
            held=held,
        )

    # ------------------------------------------------------------------ ECS

    def ecs_service(self, cluster: str, service: str) -> EcsServiceFacts:
        """DescribeServices of one service and, when found, its scalable target.

        The scalable target is read as the capacity guard reads it
        (:func:`controller.aws.capacity.read_scalable_target`): resource id
        ``service/<cluster>/<service>`` (Application Auto Scaling API Reference,
        DescribeScalableTargets, ResourceIds: for an ECS service "the resource
        type is service and the unique identifier is the cluster name and
        service name").
        """
        resource = service_resource_id(cluster, service)
        ecs = self._client("ecs")
        try:
            with aws_call(DESCRIBE_SERVICES, resource):
                answer = ecs.describe_services(cluster=cluster, services=[service])
        except AwsCallFailed as error:
            code = error_code(error.__cause__) if error.__cause__ is not None else None
            if code in CLUSTER_NOT_FOUND:
                return EcsServiceFacts(
                    cluster, service, None, missing=str(code), cluster_exists=False
                )
            if code in SERVICE_NOT_FOUND:
                return EcsServiceFacts(cluster, service, None, missing=str(code))
            raise
        found = answer.get("services") or []
        if not found:
            reasons = ", ".join(str(f.get("reason", "?")) for f in answer.get("failures") or [])
            return EcsServiceFacts(cluster, service, None, missing=reasons)
        status = str(found[0].get("status", ""))
        target = read_scalable_target(self._client("application-autoscaling"), resource)
        facts = ScalableTargetFacts(*target) if target is not None else None
        return EcsServiceFacts(cluster, service, status, scalable_target=facts)

    # ------------------------------------------------------------------ all

    def gather(self, config: StackConfig, function_names: Sequence[str]) -> AccountFacts:
        """Every fact the checks need, read in the order a human would look."""
        listener = self.listener(config.listener_arn)
        target_groups = {
            arn: self.target_group(arn)
            for arn in dict.fromkeys(route.ecs_target_group_arn for route in config.routes)
        }
        rules = self.rules(config.listener_arn) if listener is not None else None
        services = dict.fromkeys(
            (route.ecs_service.cluster, route.ecs_service.service)
            for route in config.routes
            if route.ecs_service is not None
        )
        return AccountFacts(
            listener=listener,
            target_groups=target_groups,
            rules=rules,
            rule_claims=self.rule_claims(),
            concurrency=self.concurrency(function_names),
            ecs_services={key: self.ecs_service(*key) for key in services},
        )


def rule_match(conditions: Sequence[Mapping[str, Any]]) -> MatchConfig:
    """A rule's path, host and method conditions as the config spells them."""
    found: dict[str, list[str]] = {"path-pattern": [], "host-header": [], "http-request-method": []}
    configs = {
        "path-pattern": "PathPatternConfig",
        "host-header": "HostHeaderConfig",
        "http-request-method": "HttpRequestMethodConfig",
    }
    for condition in conditions:
        field_name = str(condition.get("Field", ""))
        if field_name not in found:
            continue  # another kind of condition: the config cannot express it
        values = condition.get(configs[field_name], {}).get("Values") or condition.get("Values")
        found[field_name].extend(str(v) for v in values or [])
    return MatchConfig(
        path_patterns=tuple(found["path-pattern"]),
        host_headers=tuple(found["host-header"]),
        http_methods=tuple(found["http-request-method"]),
    )


def rule_headers(conditions: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """A rule's ``http-header`` conditions: lower-cased header name -> values."""
    found: dict[str, tuple[str, ...]] = {}
    for condition in conditions:
        if condition.get("Field") != "http-header":
            continue
        config = condition.get("HttpHeaderConfig") or {}
        name = str(config.get("HttpHeaderName", "")).lower()
        found[name] = found.get(name, ()) + tuple(str(v) for v in config.get("Values") or [])
    return found


def _unless_missing(api_call: str, resource: str, missing: frozenset[str], call: Any) -> Any:
    """``call()``, or ``None`` when AWS answers with one of the ``missing`` codes."""
    try:
        with aws_call(api_call, resource):
            return call()
    except AwsCallFailed as error:
        cause = error.__cause__
        if cause is not None and error_code(cause) in missing:
            return None
        raise


def _message(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message") or error)
    return str(error)


def _claim(name: str, value: Any) -> tuple[str, RuleClaim] | None:
    """``(rule ARN, claim)`` of a route record ``/strangler/<stack>/routes/<route>``."""
    parts = name.strip("/").split("/")
    if len(parts) != 4 or parts[0] != REGISTRY_ROOT.strip("/") or parts[2] != "routes":
        return None
    rule_arn = _json_object(value).get("rule_arn")
    if not isinstance(rule_arn, str) or not rule_arn:
        return None
    return rule_arn, RuleClaim(stack=parts[1], route=parts[3])


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
