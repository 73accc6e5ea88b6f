"""The route's equivalence checker: functions/traffic_check, deployed per route in its VPC.

The controller invokes it before a run's first shift (and ``python -m
controller verify`` on demand). It calls the ALB itself, so it needs the
ALB's address: the program reads it from the listener it already knows
(``aws.lb.get_listener`` gives the load balancer's ARN, port and protocol,
``aws.lb.get_load_balancer`` its DNS name) and hands it over in the
function's environment, with the route's samples and comparison settings
(``STRANGLER_CHECK``). A changed listener is picked up by the next ``pulumi
up``.

Its role may write its own log group and invoke the configured hook
function, and nothing else: no ``*`` in its document. In a VPC it also gets
AWSLambdaVPCAccessExecutionRole, which Lambda needs for the function's
network interfaces (as the route function does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.config import RouteConfig, VerifyConfig
from components.controller_iam import POLICY_VERSION, log_streams_arn, render_policy
from components.function import function_access
from components.outputs import register_attributes
from components.route_scope import RouteScope

CHECK_SOURCE = Path(__file__).resolve().parent.parent / "functions" / "traffic_check"
CHECK_HANDLER = "check_app.handler"
CHECK_RUNTIME = "python3.12"
CHECK_MEMORY_MB = 256
# functions/traffic_check/check_limits.py: FUNCTION_TIMEOUT_SECONDS. Inside the
# controller function's 30 s, which waits for the answer.
CHECK_TIMEOUT_SECONDS = 18
ENV_CHECK = "STRANGLER_CHECK"


def base_url(protocol: str, dns_name: str, port: int) -> str:
    """``http(s)://<ALB DNS name>:<port>`` of the listener."""
    scheme = "https" if protocol.upper() == "HTTPS" else "http"
    return f"{scheme}://{dns_name}:{port}"


def check_environment(route: RouteConfig, verify: VerifyConfig, url: str) -> str:
    """The checker's ``STRANGLER_CHECK``: what to send, where, and how to compare."""
    assert route.preview is not None
    hosts = [h for h in route.match.host_headers if "*" not in h and "?" not in h]
    return json.dumps(
        {
            "route": route.name,
            "baseUrl": url,
            "previewHeader": route.preview.header,
            "samples": [{"path": s.path, "method": s.method} for s in verify.samples],
            "compare": verify.compare,
            "headers": list(verify.headers),
            "hookFunctionArn": verify.hook_function_arn,
            "hostHeader": hosts[0] if hosts else None,
        },
        sort_keys=True,
    )


def checker_policy(log_group_arn: str, hook_function_arn: str | None) -> dict[str, Any]:
    """The checker's permissions: its own log streams, and invoking the hook when set."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_streams_arn(log_group_arn),
        }
    ]
    if hook_function_arn:
        statements.append(
            {
                # Lambda authorizes Invoke on the ARN as called: a qualified hook
                # ARN (an alias or version) is granted as it is, nothing wider.
                "Sid": "InvokeVerifyHook",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": hook_function_arn,
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


class TrafficCheck(pulumi.ComponentResource):
    """The checker function of one route, its log group and its role."""

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: RouteScope, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        route, stack = args.route, args.stack
        verify = route.verify
        if verify is None or route.preview is None:
            raise ValueError(f"routes[{route.index}].verify: the route has no check to deploy")
        super().__init__("strangler:check:TrafficCheck", name, None, opts)
        hook = verify.hook_function_arn
        access = function_access(
            self,
            name,
            stack,
            log_group_name=naming.check_log_group_name(args.stack_name, route.name),
            description=f"Strangler route {route.name}: its equivalence check only",
            policy=lambda arn: render_policy(checker_policy(arn, hook), role="traffic check"),
        )

        # The ALB's address, from the listener the stack config names.
        listener = aws.lb.get_listener_output(
            arn=stack.listener_arn, opts=pulumi.InvokeOptions(parent=self)
        )
        balancer = aws.lb.get_load_balancer_output(
            arn=listener.load_balancer_arn, opts=pulumi.InvokeOptions(parent=self)
        )
        environment = pulumi.Output.all(listener.protocol, balancer.dns_name, listener.port).apply(
            lambda v: {ENV_CHECK: check_environment(route, verify, base_url(v[0], v[1], int(v[2])))}
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=naming.check_function_name(args.stack_name, route.name),
            role=access.role.arn,
            runtime=CHECK_RUNTIME,
            handler=CHECK_HANDLER,
            architectures=[route.function.architecture],
            code=pulumi.FileArchive(str(CHECK_SOURCE)),
            memory_size=CHECK_MEMORY_MB,
            timeout=CHECK_TIMEOUT_SECONDS,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            vpc_config=access.vpc_config,
            description=f"Strangler route {route.name}: does the function answer as ECS does?",
            opts=access.function_opts(self),
        )
        self.function_name = function.name
        self.function_arn = function.arn
        register_attributes(self, "function_name", "function_arn")
