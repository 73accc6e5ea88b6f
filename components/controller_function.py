"""The controller Lambda: its package, log group, role, function and async-invoke config.

The zip holds the parts of ``controller/`` that run in Lambda (``core/``,
``aws/``, the handler, the service and the modules they import), under
``controller/`` so that the handler ``controller.handler.lambda_handler``
imports as in the repository. The operator CLI (``controller/cli/`` and
``controller/__main__.py``, which imports it) is left out: it runs on an
operator's machine with the operator's credentials, and what is not in the zip
cannot be imported by the function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import naming
from components.config import POWERTOOLS_VERSION
from components.controller_iam import (
    ArnScope,
    ControllerPolicyInputs,
    controller_policy,
    render_policy,
    state_machine_arn,
)
from components.function_code import powertools_layer_arn
from components.moved import FormerParent, MovedComponent
from components.outputs import register_attributes
from components.service_role import service_role
from controller.core.contract import (
    CONTROLLER_SERVICE,
    ENV_REGISTRY_PATH,
    ENV_STACK,
    METRIC_NAMESPACE,
    registry_path,
)

TYPE_TOKEN = "strangler:controller_function:ControllerFunction"

#: The ``controller/`` package folder of the repository.
CONTROLLER_SOURCE = Path(__file__).resolve().parent.parent / "controller"
#: What of ``controller/`` stays out of the zip: the operator CLI, and
#: ``__main__.py``, which imports it. Everything else the package holds (its
#: modules and sub-packages) is shipped, so a module the handler starts to
#: import is never missing in Lambda.
LEFT_OUT = frozenset({"cli", "__main__.py"})

HANDLER = "controller.handler.lambda_handler"
RUNTIME = "python3.12"
SERVICE_NAME = CONTROLLER_SERVICE

# The controller answers Step Functions tasks and alarm events. Its AWS clients
# time out after 2 s (connect) / 5 s (read) with 3 attempts
# (controller/aws/clients.py): a healthy rollback takes about a second, and 30 s
# leaves its first write (ModifyRule) room for all its retries. Past that,
# Lambda retries the alarm event and Step Functions the task; a longer timeout
# would only delay those retries.
CONTROLLER_TIMEOUT_SECONDS = 30
# More memory is more CPU: a cold start (boto3 + Powertools imports) is on the
# failback path.
CONTROLLER_MEMORY_MB = 512
# Reserved concurrency guarantees the failback can run even when other functions
# of the account use up the unreserved pool (a traffic flood is exactly when the
# alarm fires); it also caps the controller's own parallelism. Lambda keeps
# throttled asynchronous events and retries them.
CONTROLLER_RESERVED_CONCURRENCY = 10

# Lambda's own retries of an asynchronous event whose invocation failed (function
# error): 2 is the maximum, waiting about 1 then 2 minutes; then the DLQ.
ASYNC_MAX_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE_SECONDS = 600


def shipped_paths(source_dir: Path) -> list[Path]:
    """The modules and sub-packages of ``source_dir`` that go into the zip, sorted."""
    shipped = [
        path
        for path in source_dir.iterdir()
        if path.name not in LEFT_OUT
        and (
            (path.is_file() and path.suffix == ".py")
            or (path.is_dir() and (path / "__init__.py").is_file())
        )
    ]
    return sorted(shipped, key=lambda path: path.name)


def controller_archive(source_dir: Path) -> pulumi.AssetArchive:
    """The function's code: the shipped parts of ``source_dir`` under ``controller/``.

    One entry per module (a file) and per sub-package (a folder), so what is
    left out is left out by name.
    """
    entries: dict[str, pulumi.Asset | pulumi.Archive] = {}
    for path in shipped_paths(source_dir):
        entries[path.name] = (
            pulumi.FileArchive(str(path)) if path.is_dir() else pulumi.FileAsset(str(path))
        )
    return pulumi.AssetArchive({"controller": pulumi.AssetArchive(entries)})


@dataclass
class ControllerFunctionArgs:
    """Inputs of :class:`ControllerFunction`.

    The ARNs are what the function's role is scoped to (see
    :func:`components.controller_iam.controller_policy`).
    """

    stack: str
    # Empty: the official layer of POWERTOOLS_VERSION (components/function_code.py).
    powertools_layer_arn: str
    architecture: str
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int | None
    log_retention_days: int
    source_dir: Path
    rule_arns: Sequence[pulumi.Input[str]]
    table_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]
    former_parent: FormerParent | None = None
    check_function_names: Sequence[str] = ()
    # The route functions whose alias `live` the controller moves (release runs).
    function_names: Sequence[pulumi.Input[str]] = ()
    ecs_services: Sequence[tuple[str, str]] = ()
    """(cluster, service) of each route's capacity guard: the role may resize them."""


class ControllerFunction(MovedComponent):
    """The controller Lambda with its log group, least-privilege role and DLQ destination.

    ``scope`` is the stack's partition, region and account, read from the
    log group's ARN; the other parts of the controller build ARNs from it.
    """

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    scope: pulumi.Output[ArnScope]

    def __init__(
        self, name: str, args: ControllerFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, args.former_parent, opts)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=naming.controller_log_group_name(args.stack),
            retention_in_days=args.log_retention_days,
            opts=self.child("function-logs", delete_before_replace=True),
        )
        # Partition, region and account, read from the first ARN the stack has. The
        # state machine's ARN is built from its explicit name, so the controller's
        # policy need not wait for the state machine (which waits for the function).
        scope = log_group.arn.apply(ArnScope.of)
        machine_arn = scope.apply(
            lambda s: state_machine_arn(
                s.partition, s.region, s.account, naming.state_machine_name(args.stack)
            )
        )
        role, policy = service_role(
            self,
            name,
            service="lambda.amazonaws.com",
            source_account=None,
            description=f"Strangler canary controller of stack {args.stack}",
            policy=pulumi.Output.all(
                scope,
                log_group.arn,
                pulumi.Output.all(*args.rule_arns),
                args.table_arn,
                machine_arn,
                args.topic_arn,
                args.dlq_arn,
                pulumi.Output.all(*args.function_names),
            ).apply(
                lambda v: render_policy(
                    controller_policy(
                        ControllerPolicyInputs(
                            stack=args.stack,
                            partition=v[0].partition,
                            region=v[0].region,
                            account=v[0].account,
                            log_group_arn=v[1],
                            rule_arns=tuple(v[2]),
                            table_arn=v[3],
                            state_machine_arn=v[4],
                            topic_arn=v[5],
                            dlq_arn=v[6],
                            check_function_names=tuple(args.check_function_names),
                            function_names=tuple(v[7]),
                            ecs_services=tuple(args.ecs_services),
                        )
                    ),
                    role="controller function",
                )
            ),
            former_prefix="function",
        )
        function = aws.lambda_.Function(
            f"{name}-lambda",
            name=naming.controller_function_name(args.stack),
            role=role.arn,
            runtime=RUNTIME,
            handler=HANDLER,
            architectures=[args.architecture],
            code=controller_archive(args.source_dir),
            layers=[
                args.powertools_layer_arn
                or powertools_layer_arn(args.architecture, RUNTIME, POWERTOOLS_VERSION, parent=self)
            ],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            tracing_config={"mode": "Active"},
            environment={
                "variables": {
                    ENV_STACK: args.stack,
                    ENV_REGISTRY_PATH: registry_path(args.stack),
                    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                    "POWERTOOLS_METRICS_NAMESPACE": METRIC_NAMESPACE,
                }
            },
            # The log group first (else Lambda creates it, without retention), and the
            # policy first so the very first alarm event finds its permissions.
            opts=self.child(
                "function",
                depends_on=[log_group, policy],
                delete_before_replace=True,
            ),
        )
        # One configuration per function: a replacement put before the old one is
        # deleted would be deleted with it, so the old one goes first.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=function.name,
            maximum_retry_attempts=ASYNC_MAX_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_SECONDS,
            # An alarm event the function failed on, after Lambda's retries: to the
            # DLQ, whose alarm pages. Lambda checks the role may send there.
            destination_config={"on_failure": {"destination": args.dlq_arn}},
            opts=self.child("function-async", depends_on=[policy], delete_before_replace=True),
        )

        self.function_name = function.name
        self.function_arn = function.arn
        self.scope = scope
        register_attributes(self, "function_name", "function_arn")
