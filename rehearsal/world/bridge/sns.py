"""SNS: the stack's alert topic and its (email) subscriptions.

moto accepts email subscriptions without sending mail; in AWS each address
must confirm before it receives anything (``pendingConfirmation``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Created, Translation

TOPIC = "aws:sns/topic:Topic"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"

# Topic names: at most 256 characters (SNS quotas).
TOPIC_NAME_MAX = 256

_TOPIC_ATTRIBUTES = {
    "displayName": "DisplayName",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "deliveryPolicy": "DeliveryPolicy",
    "signatureVersion": "SignatureVersion",
    "tracingConfig": "TracingConfig",
}
_SUBSCRIPTION_ATTRIBUTES = {
    "filterPolicy": "FilterPolicy",
    "filterPolicyScope": "FilterPolicyScope",
    "redrivePolicy": "RedrivePolicy",
    "deliveryPolicy": "DeliveryPolicy",
    "subscriptionRoleArn": "SubscriptionRoleArn",
    "replayPolicy": "ReplayPolicy",
}


def create_topic(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateTopic`` with the attributes the inputs set."""
    resource = base.Registration(TOPIC, name, inputs)
    fifo = bool(inputs.get("fifoTopic"))
    topic_name = resource.physical_name(TOPIC_NAME_MAX - (5 if fifo else 0))
    if fifo and not topic_name.endswith(".fifo"):
        # pulumi-aws appends the suffix AWS requires for FIFO topics.
        topic_name += ".fifo"
    attributes = {
        aws: str(inputs[key]) for key, aws in _TOPIC_ATTRIBUTES.items() if inputs.get(key)
    }
    if inputs.get("policy"):
        attributes["Policy"] = base.as_json_text(inputs["policy"])
    if fifo:
        attributes["FifoTopic"] = "true"
        if inputs.get("contentBasedDeduplication"):
            attributes["ContentBasedDeduplication"] = "true"
    response = resource.call(
        "sns:CreateTopic",
        ctx.client("sns").create_topic,
        Name=topic_name,
        Attributes=attributes or None,
    )
    arn = str(response["TopicArn"])
    return resource.created(arn, arn=arn, name=topic_name, owner=ctx.account_id)


def create_topic_subscription(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``Subscribe`` with ``ReturnSubscriptionArn`` (pulumi-aws needs the ARN as the id)."""
    resource = base.Registration(TOPIC_SUBSCRIPTION, name, inputs)
    attributes = {
        aws: base.as_json_text(inputs[key])
        for key, aws in _SUBSCRIPTION_ATTRIBUTES.items()
        if inputs.get(key)
    }
    if inputs.get("rawMessageDelivery") is not None:
        attributes["RawMessageDelivery"] = str(bool(inputs["rawMessageDelivery"])).lower()
    protocol = str(resource.required("protocol"))
    response = resource.call(
        "sns:Subscribe",
        ctx.client("sns").subscribe,
        TopicArn=resource.required("topic"),
        Protocol=protocol,
        Endpoint=resource.required("endpoint"),
        Attributes=attributes or None,
        ReturnSubscriptionArn=True,
    )
    arn = str(response["SubscriptionArn"])
    return resource.created(
        arn,
        arn=arn,
        ownerId=ctx.account_id,
        # Email (and HTTP) endpoints must confirm in AWS; moto confirms at once.
        pendingConfirmation=protocol in ("email", "email-json", "http", "https"),
        confirmationWasAuthenticated=False,
    )


TRANSLATIONS = (
    Translation(
        token=TOPIC,
        create=create_topic,
        handled=frozenset(
            {
                "name",
                "namePrefix",
                "policy",
                "fifoTopic",
                "contentBasedDeduplication",
                *_TOPIC_ATTRIBUTES,
            }
        ),
        fabricate=base.fabricate_named("sns", "{name}", TOPIC_NAME_MAX, id_is_arn=True),
        key_inputs=("name",),
    ),
    Translation(
        token=TOPIC_SUBSCRIPTION,
        create=create_topic_subscription,
        handled=frozenset(
            {"topic", "protocol", "endpoint", "rawMessageDelivery", *_SUBSCRIPTION_ATTRIBUTES}
        ),
        ignored={
            "endpointAutoConfirms": "only tells pulumi-aws whether to wait for an HTTP(S) "
            "endpoint to confirm; moto confirms at once",
            "confirmationTimeoutInMinutes": "only how long pulumi-aws waits for an HTTP(S) "
            "confirmation; moto confirms at once",
        },
        fabricate=base.fabricate_arn("sns"),
        key_inputs=("protocol", "endpoint"),
    ),
)
