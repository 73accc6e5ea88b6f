"""The route's Lambda function: role, log group, function.

One function per API, each with its own reserved concurrency: requests above
the cap are throttled (the ALB answers 502) instead of piling up on the
upstream, so a flood on one API cannot congest the backends.
"""

from __future__ import annotations

import json
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
from controller.core.contract import (
    ENV_FORWARD_HEADERS,
    ENV_HEALTH_CHECK_PATH,
    ENV_ROUTE_NAME,
    METRIC_NAMESPACE,
)

# Keys in document order (not sorted): the text the route roles were created with.
LAMBDA_ASSUME_ROLE_POLICY = json.dumps(assume_role_policy("lambda.amazonaws.com"))


def logs_and_role(
    owner: pulumi.Resource,
    name: str,
    *,
    log_group_name: str,
    retention_days: int,
    description: str,
) -> tuple[aws.cloudwatch.LogGroup, aws.iam.Role]:
    """A function's log group ``<name>-logs`` (fixed name) and its role ``<name>-role``.

    The log group is created before the function, so that Lambda does not
    create it itself (without retention) on the first invocation.
    """
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=log_group_name,
        retention_in_days=retention_days,
        # A fixed name (components/naming.py): the old one goes before the new one.
        opts=pulumi.ResourceOptions(parent=owner, delete_before_replace=True),
    )
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=LAMBDA_ASSUME_ROLE_POLICY,
        description=description,
        opts=pulumi.ResourceOptions(parent=owner),
    )
    return log_group, role


def vpc_access(
    owner: pulumi.Resource, name: str, stack: StackConfig, role: aws.iam.Role
) -> tuple[list[pulumi.Resource], aws.lambda_.FunctionVpcConfigArgs | None]:
    """For a stack with a VPC: the role's ENI permissions ``<name>-vpc-access`` and the config.

    The managed policy is the documented minimum (ec2:CreateNetworkInterface
    etc. take no resource-level scope). Without a VPC: nothing and ``None``.
    """
    if stack.vpc is None:
        return [], None
    attachment = aws.iam.RolePolicyAttachment(
        f"{name}-vpc-access",
        role=role.name,
        policy_arn=f"arn:{stack.partition}:iam::aws:policy/service-role/"
        "AWSLambdaVPCAccessExecutionRole",
        opts=pulumi.ResourceOptions(parent=owner),
    )
    config = aws.lambda_.FunctionVpcConfigArgs(
        subnet_ids=list(stack.vpc.subnet_ids),
        security_group_ids=list(stack.vpc.security_group_ids),
    )
    return [attachment], config


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


@dataclass
class RouteFunctionArgs:
    """Inputs of :class:`RouteFunction`."""

    route: RouteConfig
    stack: StackConfig
    stack_name: str


class RouteFunction(pulumi.ComponentResource):
    """Lambda function of one route, with its own role and log group."""

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    version: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RouteFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        route, stack = args.route, args.stack
        fn = route.function
        if not fn.source_path.is_dir():
            raise ValueError(
                f"routes[{route.index}].function.source: {fn.source_path} is not a folder"
            )
        super().__init__("strangler:function:RouteFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        function_name = naming.function_name(args.stack_name, route.name)
        log_group, role = logs_and_role(
            self,
            name,
            log_group_name=naming.log_group_name(args.stack_name, route.name),
            retention_days=stack.log_retention_days,
            description=f"Strangler route {route.name}: its function only",
        )
        # Least privilege instead of AWSLambdaBasicExecutionRole: write to this
        # function's own log group only (the group exists, so no CreateLogGroup),
        # and send X-Ray segments for active tracing.
        policy_document = log_group.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OwnLogGroup",
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": f"{arn}:*",
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
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-policy", role=role.id, policy=policy_document, opts=child
        )
        vpc_permissions, vpc_config = vpc_access(self, name, stack, role)
        permissions: list[pulumi.Resource] = [role_policy, *vpc_permissions]

        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            role=role.arn,
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
            vpc_config=vpc_config,
            description=f"Strangler route {route.name} ({', '.join(route.match.path_patterns)})",
            # Every change of code or configuration publishes a new version;
            # the alias `live` (components/alias.py) decides which one serves.
            publish=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, *permissions], delete_before_replace=True
            ),
        )

        self.function_name = function.name
        self.function_arn = function.arn
        self.version = function.version
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "version": self.version,
                "role_arn": self.role_arn,
                "log_group_name": self.log_group_name,
            }
        )
