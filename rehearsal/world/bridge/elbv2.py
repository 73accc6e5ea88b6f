"""ELBv2: the Lambda target group, its attachment, and the weighted listener rule.

moto does not validate forward weights (0..999) nor the limit of 5 target
groups per forward action; the controller's weight arithmetic owns those
limits (controller/core/weights.py), so the bridge passes the values through.
moto never runs health checks and routes no traffic: the health-check
settings are stored for the describe calls, and the rehearsal picks targets
by the rule's weights itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rehearsal.errors import BridgeError
from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Change, Created, PlanContext, Translation

TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
TARGET_GROUP_ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"

# Target group names: at most 32 characters (ELB quotas).
TARGET_GROUP_NAME_MAX = 32
# The principal an ALB invokes Lambda targets as.
ELB_PRINCIPAL = "elasticloadbalancing.amazonaws.com"


def arn_suffix(arn: str) -> str:
    """The CloudWatch dimension form of an ELB ARN (``targetgroup/name/id``).

    pulumi-aws exports it as ``arnSuffix``: everything after the resource
    type separator ``:`` of the ARN.
    """
    return arn.split(":", 5)[5]


def _health_check(inputs: Mapping[str, Any]) -> dict[str, Any]:
    check = inputs.get("healthCheck") or {}
    arguments: dict[str, Any] = {}
    if "enabled" in check:
        arguments["HealthCheckEnabled"] = bool(check["enabled"])
    mapping = {
        "path": "HealthCheckPath",
        "port": "HealthCheckPort",
        "protocol": "HealthCheckProtocol",
        "interval": "HealthCheckIntervalSeconds",
        "timeout": "HealthCheckTimeoutSeconds",
        "healthyThreshold": "HealthyThresholdCount",
        "unhealthyThreshold": "UnhealthyThresholdCount",
    }
    for key, aws in mapping.items():
        if check.get(key) not in (None, ""):
            value = check[key]
            arguments[aws] = int(value) if aws.endswith(("Seconds", "Count")) else str(value)
    if check.get("matcher"):
        arguments["Matcher"] = {"HttpCode": str(check["matcher"])}
    return arguments


def _attributes(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    """Target group attributes, set by ``ModifyTargetGroupAttributes`` after create."""
    attributes: list[dict[str, str]] = []
    if inputs.get("lambdaMultiValueHeadersEnabled") is not None:
        attributes.append(
            {
                "Key": "lambda.multi_value_headers.enabled",
                "Value": str(bool(inputs["lambdaMultiValueHeadersEnabled"])).lower(),
            }
        )
    if inputs.get("deregistrationDelay") is not None:
        attributes.append(
            {
                "Key": "deregistration_delay.timeout_seconds",
                "Value": str(int(inputs["deregistrationDelay"])),
            }
        )
    if inputs.get("slowStart") is not None:
        attributes.append(
            {"Key": "slow_start.duration_seconds", "Value": str(int(inputs["slowStart"]))}
        )
    if inputs.get("loadBalancingAlgorithmType"):
        attributes.append(
            {
                "Key": "load_balancing.algorithm.type",
                "Value": str(inputs["loadBalancingAlgorithmType"]),
            }
        )
    stickiness = inputs.get("stickiness") or {}
    if stickiness:
        attributes.append(
            {"Key": "stickiness.enabled", "Value": str(bool(stickiness.get("enabled"))).lower()}
        )
        if stickiness.get("type"):
            attributes.append({"Key": "stickiness.type", "Value": str(stickiness["type"])})
    return attributes


def create_target_group(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateTargetGroup``, then ``ModifyTargetGroupAttributes`` for the attributes."""
    resource = base.Registration(TARGET_GROUP, name, inputs)
    elbv2 = ctx.client("elbv2")
    group_name = resource.physical_name(TARGET_GROUP_NAME_MAX)
    target_type = str(inputs.get("targetType") or "instance")
    is_lambda = target_type == "lambda"
    # Lambda target groups take no port, protocol or VPC (CreateTargetGroup
    # rejects them in AWS); the other types need all three.
    response = resource.call(
        "elasticloadbalancing:CreateTargetGroup",
        elbv2.create_target_group,
        Name=group_name,
        TargetType=target_type,
        Protocol=None if is_lambda else inputs.get("protocol"),
        ProtocolVersion=None if is_lambda else inputs.get("protocolVersion"),
        Port=None if is_lambda or inputs.get("port") is None else int(inputs["port"]),
        VpcId=None if is_lambda else inputs.get("vpcId"),
        IpAddressType=inputs.get("ipAddressType"),
        **_health_check(inputs),
    )
    group = response["TargetGroups"][0]
    arn = str(group["TargetGroupArn"])
    attributes = _attributes(inputs)
    if attributes:
        resource.call(
            "elasticloadbalancing:ModifyTargetGroupAttributes",
            elbv2.modify_target_group_attributes,
            TargetGroupArn=arn,
            Attributes=attributes,
        )
    return resource.created(
        arn,
        arn=arn,
        arnSuffix=arn_suffix(arn),
        name=group_name,
        targetType=target_type,
        loadBalancerArns=list(group.get("LoadBalancerArns") or []),
    )


def _grants_elb_invoke(policy_text: str, target_group_arn: str) -> bool:
    """Whether a function policy lets this target group's ALB invoke the function."""
    for statement in json.loads(policy_text).get("Statement", []):
        principal = statement.get("Principal") or {}
        service = principal.get("Service") if isinstance(principal, dict) else principal
        services = service if isinstance(service, list) else [service]
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if ELB_PRINCIPAL not in services or statement.get("Effect") != "Allow":
            continue
        if not {"lambda:InvokeFunction", "lambda:*"}.intersection(actions):
            continue
        condition = statement.get("Condition") or {}
        source = condition.get("ArnLike", {}).get("AWS:SourceArn") or condition.get(
            "ArnEquals", {}
        ).get("AWS:SourceArn")
        if source is None or source == target_group_arn:
            return True
    return False


def create_target_group_attachment(
    ctx: BridgeContext, name: str, inputs: Mapping[str, Any]
) -> Created:
    """``RegisterTargets`` with one target.

    For a Lambda target, AWS refuses the registration unless the function's
    policy already lets ``elasticloadbalancing.amazonaws.com`` invoke it
    (the ELB docs, "Lambda functions as targets": "you must grant Elastic
    Load Balancing permission to invoke your Lambda function"). moto does not
    check; the bridge does, so a program that registers the target before
    the permission exists (a missing ``depends_on``) fails here as in AWS.
    """
    resource = base.Registration(TARGET_GROUP_ATTACHMENT, name, inputs)
    elbv2 = ctx.client("elbv2")
    group_arn = str(resource.required("targetGroupArn"))
    target_id = str(resource.required("targetId"))
    if target_id.startswith("arn:aws:lambda:"):
        try:
            policy = ctx.client("lambda").get_policy(FunctionName=target_id)["Policy"]
        except ctx.client("lambda").exceptions.ResourceNotFoundException:
            policy = '{"Statement": []}'
        if not _grants_elb_invoke(policy, group_arn):
            raise resource.error(
                f"the policy of {target_id} does not let {ELB_PRINCIPAL} invoke it for "
                f"{group_arn}; AWS refuses RegisterTargets until the lambda permission "
                "exists (declare the attachment with depends_on=[permission])",
                "elasticloadbalancing:RegisterTargets",
            )
    target: dict[str, Any] = {"Id": target_id}
    if inputs.get("port") is not None:
        target["Port"] = int(inputs["port"])
    if inputs.get("availabilityZone"):
        target["AvailabilityZone"] = str(inputs["availabilityZone"])
    resource.call(
        "elasticloadbalancing:RegisterTargets",
        elbv2.register_targets,
        TargetGroupArn=group_arn,
        Targets=[target],
    )
    return resource.created(f"{group_arn}-{target_id}")


def _condition(condition: Mapping[str, Any]) -> dict[str, Any]:
    if condition.get("pathPattern"):
        return {
            "Field": "path-pattern",
            "PathPatternConfig": {"Values": list(condition["pathPattern"]["values"])},
        }
    if condition.get("hostHeader"):
        return {
            "Field": "host-header",
            "HostHeaderConfig": {"Values": list(condition["hostHeader"]["values"])},
        }
    if condition.get("httpRequestMethod"):
        return {
            "Field": "http-request-method",
            "HttpRequestMethodConfig": {"Values": list(condition["httpRequestMethod"]["values"])},
        }
    if condition.get("httpHeader"):
        header = condition["httpHeader"]
        return {
            "Field": "http-header",
            "HttpHeaderConfig": {
                "HttpHeaderName": header["httpHeaderName"],
                "Values": list(header["values"]),
            },
        }
    if condition.get("queryStrings"):
        return {
            "Field": "query-string",
            "QueryStringConfig": {
                "Values": [
                    {k: v for k, v in (("Key", q.get("key")), ("Value", q["value"])) if v}
                    for q in condition["queryStrings"]
                ]
            },
        }
    if condition.get("sourceIp"):
        return {
            "Field": "source-ip",
            "SourceIpConfig": {"Values": list(condition["sourceIp"]["values"])},
        }
    raise BridgeError(f"condition {dict(condition)} has no field the bridge translates")


def _action(action: Mapping[str, Any]) -> dict[str, Any]:
    if action.get("type") != "forward":
        # Only the weighted forward is declared by the program; any other
        # action type must get its own translation rather than be dropped.
        raise BridgeError(f"listener rule action type {action.get('type')!r} is not translated")
    translated: dict[str, Any] = {"Type": "forward"}
    if action.get("order") is not None:
        translated["Order"] = int(action["order"])
    forward = action.get("forward")
    if forward:
        config: dict[str, Any] = {
            "TargetGroups": [
                {"TargetGroupArn": group["arn"], "Weight": int(group.get("weight", 1))}
                for group in forward["targetGroups"]
            ]
        }
        stickiness = forward.get("stickiness")
        if stickiness:
            config["TargetGroupStickinessConfig"] = {
                "Enabled": bool(stickiness.get("enabled")),
                **(
                    {"DurationSeconds": int(stickiness["duration"])}
                    if stickiness.get("duration")
                    else {}
                ),
            }
        translated["ForwardConfig"] = config
    elif action.get("targetGroupArn"):
        translated["TargetGroupArn"] = action["targetGroupArn"]
    else:
        raise BridgeError("forward action has neither forward.targetGroups nor targetGroupArn")
    return translated


def _rule_body(resource: base.Registration) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rule's conditions and actions in the ELB API's shape."""
    try:
        conditions = [_condition(c) for c in resource.inputs.get("conditions") or []]
        actions = [_action(a) for a in resource.required("actions")]
    except BridgeError as error:
        raise resource.error(str(error)) from error
    return conditions, actions


def create_listener_rule(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateRule`` with the conditions, the (weighted) forward action and the rule's tags.

    The tags go with the creation, as the provider sends them, so that a rule
    reads back tagged (``preflight`` tells a stack's rules by their tags).
    """
    resource = base.Registration(LISTENER_RULE, name, inputs)
    conditions, actions = _rule_body(resource)
    tags = resource.inputs.get("tags") or {}
    response = resource.call(
        "elasticloadbalancing:CreateRule",
        ctx.client("elbv2").create_rule,
        ListenerArn=resource.required("listenerArn"),
        Priority=int(resource.required("priority")),
        Conditions=conditions,
        Actions=actions,
        Tags=[{"Key": str(k), "Value": str(v)} for k, v in tags.items()] or None,
    )
    arn = str(response["Rules"][0]["RuleArn"])
    return resource.created(arn, arn=arn)


def update_listener_rule(ctx: BridgeContext, change: Change) -> Created:
    """``ModifyRule`` for changed conditions or actions, ``SetRulePriorities`` for the priority.

    As the provider does it: ``ModifyRule`` replaces the whole list it is
    given, so a changed action list is sent whole, with the weights the
    inputs hold (the declared ones, unless ``ignore_changes`` kept older
    ones). That is how a ``pulumi up`` can move traffic when the actions
    are not ignored. Another listener is another rule (not updatable).
    """
    resource = change.registration()
    elbv2 = ctx.client("elbv2")
    conditions, actions = _rule_body(resource)
    if change.changed & {"conditions", "actions"}:
        resource.call(
            "elasticloadbalancing:ModifyRule",
            elbv2.modify_rule,
            RuleArn=change.existing.id,
            Conditions=conditions if "conditions" in change.changed else None,
            Actions=actions if "actions" in change.changed else None,
        )
    if "priority" in change.changed:
        resource.call(
            "elasticloadbalancing:SetRulePriorities",
            elbv2.set_rule_priorities,
            RulePriorities=[
                {"RuleArn": change.existing.id, "Priority": int(resource.required("priority"))}
            ],
        )
    return change.updated()


def fabricate_target_group(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's target group: the name ``create_target_group`` would give it; the ARN is the id."""
    group_name = base.physical_name(inputs, name, TARGET_GROUP_NAME_MAX)
    suffix = f"targetgroup/{group_name}/{base.stable_hex(name)}"
    arn = ctx.arn("elasticloadbalancing", suffix)
    return base.created(arn, inputs, name=group_name, arn=arn, arnSuffix=suffix)


def fabricate_listener_rule(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's listener rule: an ARN under its listener's, as ELB names rules."""
    listener = str(inputs.get("listenerArn") or "")
    arn = f"{listener.replace(':listener/', ':listener-rule/', 1)}/{base.stable_hex(name)}"
    return base.created(arn, inputs, arn=arn)


def forward_weights(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each forwarded target group with its weight, for the plan."""
    return [
        {"targetGroupArn": group.get("arn"), "weight": group.get("weight")}
        for action in inputs.get("actions") or []
        for group in (action.get("forward") or {}).get("targetGroups") or []
    ]


TRANSLATIONS = (
    Translation(
        token=TARGET_GROUP,
        create=create_target_group,
        handled=frozenset(
            {
                "name",
                "namePrefix",
                "targetType",
                "protocol",
                "protocolVersion",
                "port",
                "vpcId",
                "ipAddressType",
                "healthCheck",
                "lambdaMultiValueHeadersEnabled",
                "deregistrationDelay",
                "slowStart",
                "loadBalancingAlgorithmType",
                "stickiness",
            }
        ),
        fabricate=fabricate_target_group,
        key_inputs=(
            "name",
            "targetType",
            "healthCheck.enabled",
            "healthCheck.path",
            "lambdaMultiValueHeadersEnabled",
        ),
    ),
    Translation(
        token=TARGET_GROUP_ATTACHMENT,
        create=create_target_group_attachment,
        handled=frozenset({"targetGroupArn", "targetId", "port", "availabilityZone"}),
        fabricate=base.fabricate_arn("lb"),
        key_inputs=("targetGroupArn", "targetId"),
    ),
    Translation(
        token=LISTENER_RULE,
        create=create_listener_rule,
        handled=frozenset({"listenerArn", "priority", "conditions", "actions"}),
        fabricate=fabricate_listener_rule,
        key_inputs=("listenerArn", "priority", "conditions"),
        derived_key_inputs={"weights": forward_weights},
        update=update_listener_rule,
        updatable=frozenset({"priority", "conditions", "actions"}),
    ),
)
