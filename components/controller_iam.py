"""IAM documents of the canary controller, as pure functions of resolved ARNs.

Every document is built from plain strings, so tests assert the exact JSON a
role gets and lint it with parliament. The component calls these inside
``Output.all(...).apply``; nothing here knows about Pulumi or boto3.

Least privilege: each role gets only the actions its principal calls, on the
stack's own resources. ``"*"`` appears only where the action has no resource
type in the AWS Service Authorization Reference (SAR), or where the API refuses
a narrower scope; every such statement says which.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controller.core.contract import METRIC_NAMESPACE
from controller.core.release import ALIAS_NAME

POLICY_VERSION = "2012-10-17"

# IAM quota: "Role policy size cannot exceed 10,240 characters" (aggregate of the
# inline policies of one role; IAM does not count white space). Each role here
# has exactly one inline policy, so a stack with very many routes fails with
# this message at deploy time instead of an opaque LimitExceeded.
MAX_INLINE_ROLE_POLICY_CHARS = 10_240

# The Service Authorization Reference names the ARN format each action accepts.
# elasticloadbalancing:ModifyRule takes "listener-rule/app/..." (the rule, not
# the listener); states:StopExecution / DescribeExecution take "execution:...".
_LISTENER_RULE_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:elasticloadbalancing:[a-z0-9-]+:\d{12}:"
    r"listener-rule/app/[A-Za-z0-9-]{1,32}/[0-9a-f]+/[0-9a-f]+/[0-9a-f]+$"
)
_STATE_MACHINE_ARN = re.compile(
    r"^(?P<prefix>arn:aws(?:-[a-z]+)*:states:[a-z0-9-]+:\d{12}):stateMachine:(?P<name>[^:]+)$"
)
_LOG_GROUP_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:logs:[a-z0-9-]+:\d{12}:log-group:[^:*]+(?::\*)?$"
)


class PolicyError(ValueError):
    """An ARN does not have the shape an action needs, or a document is too big."""


@dataclass(frozen=True)
class ControllerPolicyInputs:
    """Resolved ARNs the controller Lambda's role is scoped to."""

    stack: str
    partition: str
    region: str
    account: str
    log_group_arn: str
    rule_arns: tuple[str, ...]
    table_arn: str
    state_machine_arn: str
    topic_arn: str
    dlq_arn: str
    check_function_names: tuple[str, ...] = ()
    """The routes' equivalence checkers (components/traffic_check.py) the controller invokes."""
    function_names: tuple[str, ...] = ()
    ecs_services: tuple[tuple[str, str], ...] = ()
    """(cluster, service) of every route's capacity guard (``ecsService``); empty: no guard."""


# The scalable dimension of an ECS service's desired count (Application Auto
# Scaling API Reference, RegisterScalableTarget: ScalableDimension).
ECS_SERVICE_NAMESPACE = "ecs"
ECS_DESIRED_COUNT = "ecs:service:DesiredCount"


# --- ARN helpers ---------------------------------------------------------------


@dataclass(frozen=True)
class ArnScope:
    """Partition, region and account of the stack, as read from one of its ARNs."""

    partition: str
    region: str
    account: str

    @staticmethod
    def of(arn: str) -> ArnScope:
        """The scope of a regional ARN (``arn:<partition>:<service>:<region>:<account>:...``).

        Every resource of a stack is created by the same provider, so any of their
        ARNs tells where the others live; reading it from one avoids a lookup.
        """
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn" or not parts[3] or not parts[4].isdigit():
            raise PolicyError(f"{arn!r} is not a regional ARN with an account id")
        return ArnScope(partition=parts[1], region=parts[3], account=parts[4])

    def alarm_arn(self, alarm_name: str) -> str:
        """The ARN of a CloudWatch alarm of this account and region."""
        return f"arn:{self.partition}:cloudwatch:{self.region}:{self.account}:alarm:{alarm_name}"

    def function_arn(self, function_name: str) -> str:
        """The (unqualified) ARN of a Lambda function of this account and region."""
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{function_name}"


def listener_rule_arn(arn: str, route: str | None = None) -> str:
    """Return ``arn`` if it is an ALB listener-rule ARN, else raise :class:`PolicyError`.

    ``elasticloadbalancing:ModifyRule`` is authorized on the rule's own ARN
    (``listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>``, SAR resource
    type ``listener-rule/app``); a listener ARN there would silently grant
    nothing and the first shift would fail with AccessDenied.
    """
    if not _LISTENER_RULE_ARN.match(arn):
        where = f"route {route!r}: " if route else ""
        raise PolicyError(
            f"{where}{arn!r} is not an ALB listener-rule ARN "
            "(arn:aws:elasticloadbalancing:<region>:<account>:listener-rule/app/<lb>/<id>/"
            "<listener-id>/<rule-id>), which elasticloadbalancing:ModifyRule needs"
        )
    return arn


def state_machine_arn(partition: str, region: str, account: str, name: str) -> str:
    """The ARN Step Functions gives a state machine called ``name``.

    Built from the explicit name, so the controller's policy can name the state
    machine without depending on it (the state machine depends on the
    controller function, whose role this policy is).
    """
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"


def execution_arn_pattern(state_machine: str) -> str:
    """Every execution of one state machine: ``...:execution:<name>:*``.

    StopExecution and DescribeExecution are authorized on execution ARNs (SAR
    resource type ``execution``), not on the state machine's ARN.
    """
    match = _STATE_MACHINE_ARN.match(state_machine)
    if not match:
        raise PolicyError(f"{state_machine!r} is not a Step Functions state machine ARN")
    return f"{match['prefix']}:execution:{match['name']}:*"


def log_streams_arn(log_group_arn: str) -> str:
    """All log streams of one log group: ``...:log-group:<name>:log-stream:*``.

    logs:CreateLogStream and logs:PutLogEvents are authorized on the SAR resource
    type ``log-stream``. Accepts the group ARN with or without a trailing ``:*``
    (the provider's ``arn`` attribute has none; DescribeLogGroups' has one).
    """
    if not _LOG_GROUP_ARN.match(log_group_arn):
        raise PolicyError(f"{log_group_arn!r} is not a CloudWatch Logs log group ARN")
    base = log_group_arn.removesuffix(":*")
    return f"{base}:log-stream:*"


def registry_parameter_arns(partition: str, region: str, account: str, stack: str) -> list[str]:
    """The stack's registry path and everything below it, as SSM parameter ARNs.

    A parameter ARN drops the name's leading slash (``parameter/strangler/...``).
    GetParametersByPath is authorized on the path itself, GetParameter on each
    parameter, so both the path and ``path/*`` are listed; nothing outside
    ``/strangler/<stack>`` is readable.
    """
    base = f"arn:{partition}:ssm:{region}:{account}:parameter/strangler/{stack}"
    return [base, f"{base}/*"]


# --- documents -----------------------------------------------------------------


def ecs_service_arn(partition: str, region: str, account: str, cluster: str, service: str) -> str:
    """An ECS service's ARN in the long format (SAR resource type ``service``:
    ``arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}``)."""
    return f"arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}"


def capacity_guard_statements(inputs: ControllerPolicyInputs) -> list[dict[str, Any]]:
    """The capacity guard's statements; none when no route has ``ecsService``.

    Service Authorization Reference, Application Auto Scaling
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsapplicationautoscaling.html):
    ``DescribeScalableTargets`` has no resource type, so ``"*"`` is the only
    Resource it accepts. ``RegisterScalableTarget`` takes the resource type
    ``scalable-target``, whose ARN ends in an id Application Auto Scaling
    generates when the target is registered (not the ``service/<cluster>/<service>``
    resource id), unknown to the deploy: the statement names every scalable
    target of the account and region and narrows it with the condition keys
    ``application-autoscaling:service-namespace`` and
    ``application-autoscaling:scalable-dimension`` to ECS services' desired counts.
    """
    if not inputs.ecs_services:
        return []
    services = sorted(
        {
            ecs_service_arn(inputs.partition, inputs.region, inputs.account, cluster, service)
            for cluster, service in inputs.ecs_services
        }
    )
    return [
        {
            "Sid": "GuardEcsCapacity",
            "Effect": "Allow",
            "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": services,
        },
        {
            "Sid": "ReadScalableTargets",
            "Effect": "Allow",
            "Action": "application-autoscaling:DescribeScalableTargets",
            "Resource": "*",
        },
        {
            "Sid": "PinMinCapacity",
            "Effect": "Allow",
            "Action": "application-autoscaling:RegisterScalableTarget",
            "Resource": (
                f"arn:{inputs.partition}:application-autoscaling:{inputs.region}:"
                f"{inputs.account}:scalable-target/*"
            ),
            "Condition": {
                "StringEquals": {
                    "application-autoscaling:service-namespace": ECS_SERVICE_NAMESPACE,
                    "application-autoscaling:scalable-dimension": ECS_DESIRED_COUNT,
                }
            },
        },
    ]


def _document(statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def assume_role_policy(service: str, source_account: str | None = None) -> dict[str, Any]:
    """Trust policy letting one AWS service principal assume a role.

    With ``source_account``, the service may assume the role only on behalf of
    resources in that account (``aws:SourceAccount``), the confused-deputy guard
    the Step Functions and EventBridge Scheduler guides recommend.
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return _document([statement])


def alias_arn(partition: str, region: str, account: str, function_name: str) -> str:
    """The ARN of a route function's alias ``live`` (a qualified function ARN)."""
    return f"arn:{partition}:lambda:{region}:{account}:function:{function_name}:{ALIAS_NAME}"


def _alias_statements(inputs: ControllerPolicyInputs) -> list[dict[str, Any]]:
    """Release runs read and move each route function's alias ``live``, and nothing else.

    GetAlias and UpdateAlias address the alias through its function
    (``/functions/FunctionName/aliases/Name``) and an alias's ARN is the
    qualified function ARN (AliasConfiguration.AliasArn,
    https://docs.aws.amazon.com/lambda/latest/api/API_AliasConfiguration.html),
    so the grant is the alias ARN itself.
    The metric reads of the release judge (GetMetricData) are in
    ReadAlarmsAndMetrics.
    """
    if not inputs.function_names:
        return []
    aliases = sorted(
        {
            alias_arn(inputs.partition, inputs.region, inputs.account, name)
            for name in inputs.function_names
        }
    )
    return [
        {
            "Sid": "ReleaseFunctionVersions",
            "Effect": "Allow",
            "Action": ["lambda:GetAlias", "lambda:UpdateAlias"],
            "Resource": aliases,
        }
    ]


def controller_policy(inputs: ControllerPolicyInputs) -> dict[str, Any]:
    """The controller Lambda's permissions: exactly what controller/aws/*.py call."""
    if not inputs.rule_arns:
        raise PolicyError(f"stack {inputs.stack!r}: the controller needs at least one rule ARN")
    rules = sorted({listener_rule_arn(arn) for arn in inputs.rule_arns})
    return _document(
        [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": log_streams_arn(inputs.log_group_arn),
            },
            {
                "Sid": "ShiftRouteWeights",
                "Effect": "Allow",
                "Action": "elasticloadbalancing:ModifyRule",
                "Resource": rules,
            },
            {
                # SAR: elasticloadbalancing:DescribeRules has no resource type, so
                # "*" is the only accepted Resource.
                "Sid": "ReadRouteWeights",
                "Effect": "Allow",
                "Action": "elasticloadbalancing:DescribeRules",
                "Resource": "*",
            },
            *_alias_statements(inputs),
            {
                # SAR: cloudwatch:GetMetricData has no resource type. DescribeAlarms
                # lists the "alarm" type, but the CloudWatch API Reference
                # (DescribeAlarms) says composite alarms are returned only when the
                # permission is scoped to "*", and the controller reads the
                # route's composite alarm.
                "Sid": "ReadAlarmsAndMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"],
                "Resource": "*",
            },
            {
                # SAR: cloudwatch:PutMetricData has no resource type; the
                # cloudwatch:namespace condition key limits it to our namespace.
                "Sid": "PublishCanaryWeight",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
            },
            {
                # controller/aws/state.py writes state and history in one
                # TransactWriteItems of two conditional Puts; DynamoDB authorizes a
                # transaction item by item, so PutItem covers it (there is no
                # TransactWriteItems IAM action).
                "Sid": "RouteStateAndHistory",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                "Resource": inputs.table_arn,
            },
            {
                "Sid": "StartAndListRuns",
                "Effect": "Allow",
                "Action": ["states:ListExecutions", "states:StartExecution"],
                "Resource": inputs.state_machine_arn,
            },
            {
                "Sid": "StopAndDescribeRuns",
                "Effect": "Allow",
                "Action": ["states:DescribeExecution", "states:StopExecution"],
                "Resource": execution_arn_pattern(inputs.state_machine_arn),
            },
            {
                "Sid": "Notify",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": inputs.topic_arn,
            },
            {
                "Sid": "ReadRegistry",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParametersByPath"],
                "Resource": registry_parameter_arns(
                    inputs.partition, inputs.region, inputs.account, inputs.stack
                ),
            },
            {
                # Lambda sends an asynchronous event (the alarm's failback) that
                # failed all its retries to the on-failure destination with the
                # function's own role.
                "Sid": "FailedEventsToDeadLetterQueue",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": inputs.dlq_arn,
            },
            *_check_statements(inputs),
            {
                # SAR: xray:PutTraceSegments and xray:PutTelemetryRecords have no
                # resource type (active tracing).
                "Sid": "Tracing",
                "Effect": "Allow",
                "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Resource": "*",
            },
            *capacity_guard_statements(inputs),
        ]
    )


def _check_statements(inputs: ControllerPolicyInputs) -> list[dict[str, Any]]:
    """Invoke the routes' equivalence checkers (controller/aws/verify.py), when any has one."""
    if not inputs.check_function_names:
        return []
    scope = ArnScope(inputs.partition, inputs.region, inputs.account)
    return [
        {
            "Sid": "RunTrafficChecks",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": sorted({scope.function_arn(n) for n in inputs.check_function_names}),
        }
    ]


def state_machine_policy(controller_function_arn: str) -> dict[str, Any]:
    """The state machine's permissions: invoke the controller, log, trace."""
    return _document(
        [
            {
                "Sid": "InvokeController",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": controller_function_arn,
            },
            {
                # Step Functions Developer Guide, "IAM policies for logging to
                # CloudWatch Logs": these log-delivery actions have no resource
                # type in the SAR, so the guide's policy (and this one) uses "*".
                "Sid": "DeliverExecutionLogs",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:DescribeLogGroups",
                    "logs:DescribeResourcePolicies",
                    "logs:GetLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:UpdateLogDelivery",
                ],
                "Resource": "*",
            },
            {
                # SAR: none of these X-Ray actions has a resource type; they are the
                # four the Step Functions guide lists for X-Ray tracing.
                "Sid": "Tracing",
                "Effect": "Allow",
                "Action": [
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:PutTelemetryRecords",
                    "xray:PutTraceSegments",
                ],
                "Resource": "*",
            },
        ]
    )


def scheduler_policy(state_machine: str, dlq_arn: str) -> dict[str, Any]:
    """The schedules' role: start the stack's state machine, dead-letter failures.

    EventBridge Scheduler sends a failed invocation to the schedule's DLQ with
    the schedule's execution role (Scheduler User Guide, "Configuring a
    schedule's dead-letter queue").
    """
    return _document(
        [
            {
                "Sid": "StartCanaryRun",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": state_machine,
            },
            {
                "Sid": "FailedStartsToDeadLetterQueue",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": dlq_arn,
            },
        ]
    )


def dead_letter_queue_policy(queue_arn: str, event_rule_arns: Sequence[str]) -> dict[str, Any]:
    """The DLQ's resource policy: EventBridge may send, only for the stack's rules.

    ``event_rule_arns`` are every rule that targets the controller with this
    queue as its dead-letter queue: each route's failback rule and the
    registry-sync rule.
    EventBridge delivers to a rule target's DLQ as ``events.amazonaws.com``; the
    ``aws:SourceArn`` condition keeps other rules (any account's) out (EventBridge
    User Guide, "Granting permissions to the dead-letter queue").
    """
    if not event_rule_arns:
        raise PolicyError(f"{queue_arn}: the dead-letter queue policy needs at least one rule")
    return _document(
        [
            {
                "Sid": "FailedDeliveriesFromStackRules",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(set(event_rule_arns))}},
            }
        ]
    )


def render_policy(document: dict[str, Any], *, role: str = "") -> str:
    """Serialise a document for an inline role policy, refusing one over the IAM limit."""
    text = json.dumps(document, sort_keys=True)
    compact = json.dumps(document, separators=(",", ":"))
    if len(compact) > MAX_INLINE_ROLE_POLICY_CHARS:
        raise PolicyError(
            f"inline policy of role {role or '?'} is {len(compact)} characters; IAM allows "
            f"{MAX_INLINE_ROLE_POLICY_CHARS} per role (too many routes in one stack?)"
        )
    return text
