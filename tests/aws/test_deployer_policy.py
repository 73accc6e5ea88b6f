"""The deploying identity's policy, docs/deployer-policy.json: exact actions, size, parliament.

Each AWS resource type the program declares has its row in ``DEPLOY_ACTIONS``:
the calls the Pulumi AWS provider makes to create, read, update and delete it.
The policy grants exactly the rows of the declared types plus the calls of
``python -m controller preflight``, which the same identity runs first: a new
resource type fails here until its row and its actions are added.
"""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from pathlib import Path

from parliament import analyze_policy_string

from rehearsal.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
# Two customer managed policies: the scoped statements, and the calls that take no
# narrower resource (each document must fit the managed policy size limit).
POLICY_PATHS = (
    ROOT / "docs" / "deployer-policy.json",
    ROOT / "docs" / "deployer-policy-unscoped.json",
)
# "The size of each customer managed policy cannot exceed 6,144 characters"
# (whitespace not counted): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MAX_MANAGED_POLICY_CHARS = 6144

_EVENT_INVOKE = ("Put", "Update", "Get", "Delete")
_LOG_DELIVERY = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}  # fmt: skip
DEPLOY_ACTIONS: dict[str, set[str]] = {
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": {
        "cloudwatch:PutCompositeAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
        "cloudwatch:ListTagsForResource", "cloudwatch:TagResource", "cloudwatch:UntagResource",
    },
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
        "cloudwatch:ListTagsForResource", "cloudwatch:TagResource", "cloudwatch:UntagResource",
    },
    "aws:cloudwatch/dashboard:Dashboard": {
        "cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards",
    },
    "aws:cloudwatch/eventRule:EventRule": {
        "events:PutRule", "events:DescribeRule", "events:DeleteRule",
        "events:ListTagsForResource", "events:TagResource", "events:UntagResource",
    },
    "aws:cloudwatch/eventTarget:EventTarget": {
        "events:PutTargets", "events:ListTargetsByRule", "events:RemoveTargets",
    },
    "aws:cloudwatch/logGroup:LogGroup": {
        "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:DescribeLogGroups",
        "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
        "logs:ListTagsForResource", "logs:TagResource", "logs:UntagResource",
    },
    "aws:dynamodb/table:Table": {
        "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
        "dynamodb:DeleteTable", "dynamodb:DescribeContinuousBackups",
        "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeTimeToLive",
        "dynamodb:ListTagsOfResource", "dynamodb:TagResource", "dynamodb:UntagResource",
    },
    "aws:iam/role:Role": {
        "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateAssumeRolePolicy",
        "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole", "iam:TagRole", "iam:UntagRole",
    },
    "aws:iam/rolePolicy:RolePolicy": {
        "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
    },
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
        "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies",
    },
    "aws:lambda/function:Function": {
        "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
        "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration", "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency", "lambda:ListVersionsByFunction",
        "lambda:GetFunctionCodeSigningConfig", "lambda:ListTags", "lambda:TagResource",
        "lambda:UntagResource", "lambda:GetLayerVersion", "iam:PassRole",
        # publish = true: every change of code or configuration publishes a version.
        "lambda:PublishVersion",
        # VPC access: Lambda checks the subnets and security groups with the caller's rights.
        "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
    },
    "aws:lambda/alias:Alias": {
        "lambda:CreateAlias", "lambda:DeleteAlias", "lambda:GetAlias", "lambda:UpdateAlias",
    },
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": {
        f"lambda:{verb}FunctionEventInvokeConfig" for verb in _EVENT_INVOKE
    },
    "aws:lambda/permission:Permission": {
        "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy",
    },
    "aws:lb/listenerRule:ListenerRule": {
        "elasticloadbalancing:CreateRule", "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities",
        "elasticloadbalancing:DeleteRule", "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
    },
    "aws:lb/targetGroup:TargetGroup": {
        "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
    },
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": {
        "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
        "elasticloadbalancing:DescribeTargetHealth",
    },
    "aws:scheduler/schedule:Schedule": {
        "scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule", "iam:PassRole",
    },
    # Logging to CloudWatch Logs needs the log-delivery actions from the caller
    # (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
    "aws:sfn/stateMachine:StateMachine": {
        "states:CreateStateMachine", "states:DescribeStateMachine",
        "states:UpdateStateMachine", "states:DeleteStateMachine",
        "states:ListStateMachineVersions", "states:ListTagsForResource",
        "states:TagResource", "states:UntagResource", "iam:PassRole", *_LOG_DELIVERY,
    },
    "aws:sns/topic:Topic": {
        "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
        "sns:ListTagsForResource", "sns:TagResource", "sns:UntagResource",
    },
    "aws:sns/topicSubscription:TopicSubscription": {
        "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
    },
    "aws:sqs/queue:Queue": {
        "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
        "sqs:GetQueueUrl", "sqs:ListQueueTags", "sqs:TagQueue", "sqs:UntagQueue",
    },
    "aws:sqs/queuePolicy:QueuePolicy": {"sqs:SetQueueAttributes", "sqs:GetQueueAttributes"},
    "aws:ssm/parameter:Parameter": {
        "ssm:PutParameter", "ssm:GetParameter", "ssm:GetParameters", "ssm:DescribeParameters",
        "ssm:DeleteParameter", "ssm:ListTagsForResource", "ssm:AddTagsToResource",
        "ssm:RemoveTagsFromResource",
    },
}  # fmt: skip

# boto3 client names whose IAM service prefix differs from the name.
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "stepfunctions": "states"}
PREFLIGHT_MODULE = ROOT / "controller" / "cli" / "preflight_aws.py"

# parliament 1.6 findings that are not defects here, each with its reason:
# - PERMISSIONS_MANAGEMENT_ACTIONS, PRIVILEGE_ESCALATION: a deploy creates roles,
#   policies, topics and functions; that is its job. The roles are scoped by
#   iam:PassedToService and the policy attachment by iam:PolicyARN.
# - RESOURCE_MISMATCH for the listener rule actions: parliament wants the
#   Network Load Balancer forms too (duo-labs/parliament issue #48); the ALB form applies.
# - RESOURCE_STAR for cloudwatch:DescribeAlarms: composite alarms are returned
#   only to a permission scoped to "*" (CloudWatch API Reference, DescribeAlarms).
ACCEPTED_ISSUES = {"PERMISSIONS_MANAGEMENT_ACTIONS", "PRIVILEGE_ESCALATION"}
ACCEPTED_RESOURCE_STAR = {"cloudwatch:DescribeAlarms"}


@cache
def documents() -> list[dict]:
    return [json.loads(path.read_text()) for path in POLICY_PATHS]


def policy() -> dict:
    """Both documents as one: what the deploying identity is granted."""
    statements = [statement for document in documents() for statement in document["Statement"]]
    return {"Version": "2012-10-17", "Statement": statements}


def granted(document: dict) -> set[str]:
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow", statement["Sid"]
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


@cache
def declared_types() -> frozenset[str]:
    """Every AWS resource type the program declares, for the example and the three-route stack."""
    plans = [
        build_plan("prod", ROOT),
        build_plan("three", ROOT, stack_file=ROOT / "tests" / "stacks" / "Pulumi.three.yaml"),
    ]
    return frozenset(r.type for plan in plans for r in plan.resources if r.custom)


def preflight_source() -> str:
    """The preflight reader's source, and that of the controller/aws functions it calls."""
    from controller.cli import preflight_aws

    parts = [PREFLIGHT_MODULE.read_text()]
    for value in vars(preflight_aws).values():
        if inspect.isfunction(value) and value.__module__.startswith("controller.aws."):
            parts.append(inspect.getsource(value))
    return "\n".join(parts)


def preflight_actions() -> set[str]:
    """IAM actions of the boto3 calls the preflight makes."""
    import boto3

    source = preflight_source()
    services = set(re.findall(r"client\(\s*\"([a-z0-9-]+)\"\s*\)", source))
    assert services, "the preflight's boto3 clients were not found"
    actions = set()
    for service in sorted(services):
        prefix = IAM_PREFIX.get(service, service)
        client = boto3.session.Session(region_name="ap-northeast-1").client(service)
        for method, operation in client.meta.method_to_api_mapping.items():
            if re.search(rf"\.{method}\(|get_paginator\(\s*\"{method}\"", source):
                actions.add(f"{prefix}:{operation}")
    return actions


def test_every_declared_resource_type_has_its_deploy_actions():
    missing = sorted(declared_types() - set(DEPLOY_ACTIONS))
    assert not missing, (
        f"the program declares {missing}: add each type's create/read/update/delete actions "
        "to DEPLOY_ACTIONS and to docs/deployer-policy.json"
    )


def test_the_policy_grants_exactly_what_the_deploy_and_preflight_call():
    wanted = set().union(*(DEPLOY_ACTIONS[t] for t in declared_types())) | preflight_actions()
    allowed = granted(policy())
    assert not wanted - allowed, f"missing from the deployer policy: {sorted(wanted - allowed)}"
    assert not allowed - wanted, f"granted but never needed: {sorted(allowed - wanted)}"


def test_preflight_scan_is_live():
    assert {
        "elasticloadbalancing:DescribeRules",
        "lambda:GetAccountSettings",
        "ecs:DescribeServices",
        "application-autoscaling:DescribeScalableTargets",
    } <= preflight_actions()


def test_the_policy_fits_a_customer_managed_policy():
    for path, document in zip(POLICY_PATHS, documents(), strict=True):
        compact = json.dumps(document, separators=(",", ":"))
        assert len(compact) <= MAX_MANAGED_POLICY_CHARS, (path.name, len(compact))


def test_every_statement_has_a_unique_sid():
    sids = [statement["Sid"] for statement in policy()["Statement"]]
    assert len(sids) == len(set(sids)), sids


def test_roles_are_passed_only_to_their_services():
    (passing,) = [s for s in policy()["Statement"] if "iam:PassRole" in s["Action"]]
    assert passing["Action"] == ["iam:PassRole"]
    assert sorted(passing["Condition"]["StringEquals"]["iam:PassedToService"]) == [
        "lambda.amazonaws.com",
        "scheduler.amazonaws.com",
        "states.amazonaws.com",
    ]


def test_parliament_finds_nothing_of_consequence():
    analysed = analyze_policy_string(json.dumps(policy()), include_community_auditors=True)
    unexpected = []
    for finding in analysed.findings:
        if finding.issue in ACCEPTED_ISSUES:
            continue
        if finding.issue == "RESOURCE_MISMATCH" and all(
            item["action"].startswith("elasticloadbalancing:")
            and "/net/" in item["required_format"]
            for item in finding.detail
        ):
            continue
        if finding.issue == "RESOURCE_STAR" and set(finding.detail) <= ACCEPTED_RESOURCE_STAR:
            continue
        unexpected.append((finding.issue, finding.detail))
    assert not unexpected, unexpected
