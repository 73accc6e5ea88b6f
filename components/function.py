"""The route's Lambda function: role, log group, function.

One function per API, each with its own reserved concurrency: requests above
the cap are throttled (the ALB answers 502) instead of piling up on the
upstream, so a flood on one API cannot congest the backends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.config import (
    ENV_POWERTOOLS_METRICS_NAMESPACE,
    ENV_POWERTOOLS_SERVICE_NAME,
    RouteConfig,
    StackConfig,
)
from components.controller_iam import assume_role_policy
from components.function_code import function_archive, route_function_layers
from components.outputs import register_attributes
from components.route_scope import RouteScope
from controller.core.contract import (
    ENV_FORWARD_HEADERS,
    ENV_HEALTH_CHECK_PATH,
    ENV_ROUTE_NAME,
    METRIC_NAMESPACE,
)

# Keys in document order (not sorted): the text the route roles were created with.
LAMBDA_ASSUME_ROLE_POLICY = json.dumps(assume_role_policy("lambda.amazonaws.com"))


@dataclass(frozen=True)
class FunctionAccess:
    """What a route's function (or its checker) runs with, declared before it.

    ``depends_on`` is what the function must wait for: its log group (else
    Lambda creates it, without retention, on the first invocation), its inline
    policy and, in a VPC, the ENI permissions.
    """

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    vpc_config: aws.lambda_.FunctionVpcConfigArgs | None
    depends_on: list[pulumi.Resource]

    def function_opts(self, owner: pulumi.Resource) -> pulumi.ResourceOptions:
        """The function's options: after ``depends_on``, and deleted before its replacement."""
        return pulumi.ResourceOptions(
            parent=owner, depends_on=self.depends_on, delete_before_replace=True
        )


def function_access(
    owner: pulumi.Resource,
    name: str,
    stack: StackConfig,
    *,
    log_group_name: str,
    description: str,
    policy: Callable[[str], str],
) -> FunctionAccess:
    """The log group ``<name>-logs``, the role ``<name>-role`` and its policy ``<name>-policy``.

    ``policy`` renders the inline policy from the log group's ARN. For a stack
    with a VPC the role also gets ``<name>-vpc-access``: the managed policy is
    the documented minimum (ec2:CreateNetworkInterface etc. take no
    resource-level scope).
    """
    child = pulumi.ResourceOptions(parent=owner)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=log_group_name,
        retention_in_days=stack.log_retention_days,
        # A fixed name (components/naming.py): the old one goes before the new one.
        opts=pulumi.ResourceOptions(parent=owner, delete_before_replace=True),
    )
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=LAMBDA_ASSUME_ROLE_POLICY,
        description=description,
        opts=child,
    )
    role_policy = aws.iam.RolePolicy(
        f"{name}-policy", role=role.id, policy=log_group.arn.apply(policy), opts=child
    )
    depends_on: list[pulumi.Resource] = [log_group, role_policy]
    vpc_config = None
    if stack.vpc is not None:
        depends_on.append(
            aws.iam.RolePolicyAttachment(
                f"{name}-vpc-access",
                role=role.name,
                policy_arn=f"arn:{stack.partition}:iam::aws:policy/service-role/"
                "AWSLambdaVPCAccessExecutionRole",
                opts=child,
            )
        )
        vpc_config = aws.lambda_.FunctionVpcConfigArgs(
            subnet_ids=list(stack.vpc.subnet_ids),
            security_group_ids=list(stack.vpc.security_group_ids),
        )
    return FunctionAccess(log_group, role, vpc_config, depends_on)


def function_environment(route: RouteConfig) -> dict[str, str]:
    """The function's environment: the config's variables plus the program's own.

    The program's keys are reserved (config validation refuses them), so the
    config cannot point the function at another route's metrics.
    """
    env = dict(route.function.environment)
    env.update(
        {
            ENV_ROUTE_NAME: route.name,
            ENV_HEALTH_CHECK_PATH: route.health_check.path,
            ENV_POWERTOOLS_SERVICE_NAME: route.name,
            ENV_POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        }
    )
    if route.function.forward_headers:
        env[ENV_FORWARD_HEADERS] = ",".join(route.function.forward_headers)
    return env


def own_logs_policy(log_group_arn: str) -> str:
    """The route function's policy: write to its own log group, send X-Ray segments.

    Least privilege instead of AWSLambdaBasicExecutionRole: the group exists,
    so no CreateLogGroup; active tracing needs the X-Ray writes.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OwnLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:*",
                },
                {
                    # X-Ray accepts no resource-level scope for these.
                    "Sid": "XRayWrite",
                    "Effect": "Allow",
                    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    "Resource": "*",
                },
            ],
        }
    )


class RouteFunction(pulumi.ComponentResource):
    """Lambda function of one route, with its own role and log group."""

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    version: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RouteScope, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        route = args.route
        fn = route.function
        if not fn.source_path.is_dir():
            raise ValueError(
                f"routes[{route.index}].function.source: {fn.source_path} is not a folder"
            )
        super().__init__("strangler:function:RouteFunction", name, None, opts)
        function_name = naming.function_name(args.stack_name, route.name)
        access = function_access(
            self,
            name,
            args.stack,
            log_group_name=naming.log_group_name(args.stack_name, route.name),
            description=f"Strangler route {route.name}: its function only",
            policy=own_logs_policy,
        )

        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            role=access.role.arn,
            runtime=fn.runtime,
            handler=fn.handler,
            architectures=[fn.architecture],
            code=function_archive(function_name, fn),
            memory_size=fn.memory_mb,
            timeout=fn.timeout_seconds,
            reserved_concurrent_executions=fn.reserved_concurrency,
            layers=route_function_layers(fn, parent=self),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=function_environment(route)),
            vpc_config=access.vpc_config,
            description=f"Strangler route {route.name} ({', '.join(route.match.path_patterns)})",
            # Every change of code or configuration publishes a new version;
            # the alias `live` (components/alias.py) decides which one serves.
            publish=True,
            opts=access.function_opts(self),
        )

        self.function_name = function.name
        self.function_arn = function.arn
        self.version = function.version
        self.role_arn = access.role.arn
        self.log_group_name = access.log_group.name
        register_attributes(
            self, "function_name", "function_arn", "version", "role_arn", "log_group_name"
        )
