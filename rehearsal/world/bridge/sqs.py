"""SQS: the dead-letter queue of the EventBridge target, and its queue policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge.base import (
    BridgeContext,
    Created,
    Translation,
    as_json_text,
    call,
    physical_name,
    required,
    with_outputs,
)

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"

# Queue names: at most 80 characters (SQS quotas).
QUEUE_NAME_MAX = 80

_NUMERIC_ATTRIBUTES = {
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
}
_TEXT_ATTRIBUTES = {
    "kmsMasterKeyId": "KmsMasterKeyId",
    "deduplicationScope": "DeduplicationScope",
    "fifoThroughputLimit": "FifoThroughputLimit",
}
_DOCUMENT_ATTRIBUTES = {
    "policy": "Policy",
    "redrivePolicy": "RedrivePolicy",
    "redriveAllowPolicy": "RedriveAllowPolicy",
}
_BOOLEAN_ATTRIBUTES = {
    "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
}


def _attributes(inputs: Mapping[str, Any]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for key, aws in _NUMERIC_ATTRIBUTES.items():
        if inputs.get(key) is not None:
            attributes[aws] = str(int(inputs[key]))
    for key, aws in _TEXT_ATTRIBUTES.items():
        if inputs.get(key):
            attributes[aws] = str(inputs[key])
    for key, aws in _DOCUMENT_ATTRIBUTES.items():
        if inputs.get(key):
            attributes[aws] = as_json_text(inputs[key])
    for key, aws in _BOOLEAN_ATTRIBUTES.items():
        if inputs.get(key) is not None:
            attributes[aws] = str(bool(inputs[key])).lower()
    return attributes


def create_queue(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateQueue`` with the attributes, then ``GetQueueAttributes`` for the ARN."""
    sqs = ctx.client("sqs")
    fifo = bool(inputs.get("fifoQueue"))
    queue_name = physical_name(inputs, name, QUEUE_NAME_MAX - (5 if fifo else 0))
    if fifo and not queue_name.endswith(".fifo"):
        # AWS requires the suffix on FIFO queues; pulumi-aws adds it to auto-names.
        queue_name += ".fifo"
    url = call(
        QUEUE,
        name,
        "sqs:CreateQueue",
        sqs.create_queue,
        QueueName=queue_name,
        Attributes=_attributes(inputs) or None,
    )["QueueUrl"]
    arn = call(
        QUEUE,
        name,
        "sqs:GetQueueAttributes",
        sqs.get_queue_attributes,
        QueueUrl=url,
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    return Created(id=url, outputs=with_outputs(inputs, url=url, arn=arn, name=queue_name))


def create_queue_policy(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``SetQueueAttributes`` with ``Policy``; the id is the queue URL, like pulumi-aws's."""
    url = str(required(QUEUE_POLICY, name, inputs, "queueUrl"))
    call(
        QUEUE_POLICY,
        name,
        "sqs:SetQueueAttributes",
        ctx.client("sqs").set_queue_attributes,
        QueueUrl=url,
        Attributes={"Policy": as_json_text(required(QUEUE_POLICY, name, inputs, "policy"))},
    )
    return Created(id=url, outputs=with_outputs(inputs))


TRANSLATIONS = (
    Translation(
        token=QUEUE,
        create=create_queue,
        handled=frozenset(
            {
                "name",
                "namePrefix",
                *_NUMERIC_ATTRIBUTES,
                *_TEXT_ATTRIBUTES,
                *_DOCUMENT_ATTRIBUTES,
                *_BOOLEAN_ATTRIBUTES,
            }
        ),
    ),
    Translation(
        token=QUEUE_POLICY,
        create=create_queue_policy,
        handled=frozenset({"queueUrl", "policy"}),
    ),
)
