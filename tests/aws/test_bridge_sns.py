"""Tests of rehearsal/world/bridge/sns.py against moto through real boto3 clients."""

from __future__ import annotations

REGION = "ap-northeast-1"


def test_topic_with_explicit_name(bridge):
    created = bridge.create(
        "aws:sns/topic:Topic", "alerts-topic", {"name": "strangler-prod-alerts", "displayName": "x"}
    )
    arn = f"arn:aws:sns:{REGION}:123456789012:strangler-prod-alerts"
    assert created.id == created.outputs["arn"] == arn
    attributes = bridge.context.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "x"


def test_auto_named_topic(bridge):
    created = bridge.create("aws:sns/topic:Topic", "alerts-topic", {})
    assert created.outputs["name"].startswith("alerts-topic-")
    topics = bridge.context.client("sns").list_topics()["Topics"]
    assert [t["TopicArn"] for t in topics] == [created.id]


def test_email_subscription(bridge):
    topic = bridge.create("aws:sns/topic:Topic", "t", {"name": "alerts"})
    created = bridge.create(
        "aws:sns/topicSubscription:TopicSubscription",
        "alerts-email-0",
        {"topic": topic.id, "protocol": "email", "endpoint": "ops@example.com"},
    )
    subscriptions = bridge.context.client("sns").list_subscriptions_by_topic(TopicArn=topic.id)
    [subscription] = subscriptions["Subscriptions"]
    assert subscription["Endpoint"] == "ops@example.com"
    assert subscription["Protocol"] == "email"
    assert created.outputs["pendingConfirmation"] is True


def test_sqs_subscription_delivers(bridge):
    sqs = bridge.context.client("sqs")
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = bridge.create("aws:sns/topic:Topic", "t", {"name": "alerts"})
    bridge.create(
        "aws:sns/topicSubscription:TopicSubscription",
        "s",
        {"topic": topic.id, "protocol": "sqs", "endpoint": queue_arn, "rawMessageDelivery": True},
    )
    bridge.context.client("sns").publish(TopicArn=topic.id, Message="hello")
    messages = sqs.receive_message(QueueUrl=url)["Messages"]
    assert messages[0]["Body"] == "hello", "raw delivery: the body is the message itself"
