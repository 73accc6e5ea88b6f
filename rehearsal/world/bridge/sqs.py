"""SQS: the dead-letter queue of the EventBridge target, and its queue policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Created, PlanContext, Translation

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
            attributes[aws] = base.as_json_text(inputs[key])
    for key, aws in _BOOLEAN_ATTRIBUTES.items():
        if inputs.get(key) is not None:
            attributes[aws] = str(bool(inputs[key])).lower()
    return attributes


def create_queue(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateQueue`` with the attributes, then ``GetQueueAttributes`` for the ARN."""
    resource = base.Registration(QUEUE, name, inputs)
    sqs = ctx.client("sqs")
    fifo = bool(inputs.get("fifoQueue"))
    queue_name = resource.physical_name(QUEUE_NAME_MAX - (5 if fifo else 0))
    if fifo and not queue_name.endswith(".fifo"):
        # AWS requires the suffix on FIFO queues; pulumi-aws adds it to auto-names.
        queue_name += ".fifo"
    url = resource.call(
        "sqs:CreateQueue",
        sqs.create_queue,
        QueueName=queue_name,
        Attributes=_attributes(inputs) or None,
    )["QueueUrl"]
    arn = resource.call(
        "sqs:GetQueueAttributes",
        sqs.get_queue_attributes,
        QueueUrl=url,
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    return resource.created(url, url=url, arn=arn, name=queue_name)


def create_queue_policy(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``SetQueueAttributes`` with ``Policy``; the id is the queue URL, like pulumi-aws's."""
    resource = base.Registration(QUEUE_POLICY, name, inputs)
    url = str(resource.required("queueUrl"))
    resource.call(
        "sqs:SetQueueAttributes",
        ctx.client("sqs").set_queue_attributes,
        QueueUrl=url,
        Attributes={"Policy": base.as_json_text(resource.required("policy"))},
    )
    return resource.created(url)


def fabricate_queue(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's queue: the name ``create_queue`` would give it; the URL is the id."""
    queue_name = base.physical_name(inputs, name, QUEUE_NAME_MAX)
    url = f"https://sqs.{ctx.region}.amazonaws.com/{ctx.account_id}/{queue_name}"
    return base.created(url, inputs, name=queue_name, url=url, arn=ctx.arn("sqs", queue_name))


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
        fabricate=fabricate_queue,
        key_inputs=("name", "messageRetentionSeconds"),
    ),
    Translation(
        token=QUEUE_POLICY,
        create=create_queue_policy,
        handled=frozenset({"queueUrl", "policy"}),
        fabricate=base.fabricate_arn("sqs"),
        key_inputs=("queueUrl",),
    ),
)
