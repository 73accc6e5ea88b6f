"""The one place that wires the boto3 adapters into the service's :class:`Ports`.

The controller Lambda (:mod:`controller.handler`) and the operator CLI
(:mod:`controller.cli.backend`) both build their service from
:func:`aws_ports`, so an operator action runs on the very adapters the Lambda
uses. :mod:`controller.service` knows only the ports, never these adapters.
"""

from __future__ import annotations

from controller.aws.alarms import CloudWatchAlarms
from controller.aws.alb import AlbTraffic
from controller.aws.alias import LambdaRelease
from controller.aws.capacity import EcsCapacity
from controller.aws.clients import ClientFactory
from controller.aws.concurrency import LambdaConcurrency
from controller.aws.executions import StepFunctionsExecutions
from controller.aws.metrics import CloudWatchMetrics
from controller.aws.notify import SnsNotify
from controller.aws.state import DynamoState
from controller.aws.verify import LambdaVerify, check_client
from controller.core.ports import Ports, RegistryPort

__all__ = ["aws_ports"]


def aws_ports(factory: ClientFactory, registry: RegistryPort) -> Ports:
    """The boto3 adapters of every port, for the stack that ``registry`` describes.

    Reads the stack record once (table, state machine and topic); the
    clients come from ``factory``, so region, profile and endpoint are the
    caller's.
    """
    stack = registry.stack()
    return Ports(
        registry=registry,
        traffic=AlbTraffic(factory.client("elbv2")),
        alarms=CloudWatchAlarms(factory.client("cloudwatch")),
        metrics=CloudWatchMetrics(factory.client("cloudwatch")),
        state=DynamoState(factory.client("dynamodb"), stack.table_name),
        executions=StepFunctionsExecutions(
            factory.client("stepfunctions"), stack.state_machine_arn
        ),
        notify=SnsNotify(factory.client("sns"), stack.topic_arn),
        verify=LambdaVerify(check_client(factory)),
        release=LambdaRelease(factory.client("lambda"), factory.client("cloudwatch")),
        capacity=EcsCapacity(factory.client),
        concurrency=LambdaConcurrency(factory.client("cloudwatch")),
    )
