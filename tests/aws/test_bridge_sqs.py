"""Tests of rehearsal/world/bridge/sqs.py against moto through real boto3 clients."""

from __future__ import annotations

import json

# The region of the emulator the `bridge` fixture (tests/aws/conftest.py) starts.
REGION = "ap-northeast-1"


def test_queue_with_attributes(bridge):
    created = bridge.create(
        "aws:sqs/queue:Queue",
        "controller-dlq",
        {
            "name": "strangler-prod-controller-dlq",
            "messageRetentionSeconds": 1209600.0,
            "sqsManagedSseEnabled": True,
        },
    )
    sqs = bridge.context.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=created.id, AttributeNames=["All"])["Attributes"]
    assert created.outputs["url"] == created.id
    assert created.outputs["arn"] == attributes["QueueArn"]
    assert created.outputs["name"] == "strangler-prod-controller-dlq"
    assert attributes["MessageRetentionPeriod"] == "1209600"
    assert attributes["SqsManagedSseEnabled"] == "true"


def test_fifo_queue_gets_the_suffix(bridge):
    created = bridge.create("aws:sqs/queue:Queue", "q", {"fifoQueue": True})
    assert created.outputs["name"].endswith(".fifo")


def test_queue_policy(bridge):
    queue = bridge.create("aws:sqs/queue:Queue", "dlq", {"name": "dlq"})
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue.outputs["arn"],
            }
        ],
    }
    created = bridge.create(
        "aws:sqs/queuePolicy:QueuePolicy",
        "dlq-policy",
        {"queueUrl": queue.id, "policy": json.dumps(policy)},
    )
    stored = bridge.context.client("sqs").get_queue_attributes(
        QueueUrl=queue.id, AttributeNames=["Policy"]
    )["Attributes"]["Policy"]
    assert json.loads(stored) == policy
    assert created.id == queue.id
