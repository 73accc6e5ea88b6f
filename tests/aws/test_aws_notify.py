"""controller/aws/notify.py: the NotifyPort on a real boto3 SNS client, delivered to SQS (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.aws.clients import ClientFactory
from controller.aws.notify import (
    DEFAULT_SUBJECT,
    MAX_MESSAGE_BYTES,
    MAX_SUBJECT,
    SnsNotify,
    sns_attributes,
    sns_message,
    sns_subject,
)
from controller.core.errors import AwsCallFailed
from controller.core.lifecycle import Status
from tests.aws_fixtures import REGION, CallCounter, ErrorInjector


@pytest.fixture
def sns(factory: ClientFactory) -> Any:
    return factory.client("sns")


@pytest.fixture
def topic(sns: Any) -> tuple[str, Any, str]:
    """The alert topic with an SQS subscriber: (topic ARN, sqs client, queue URL)."""
    topic_arn = sns.create_topic(Name="strangler-test-alerts")["TopicArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, sqs, queue_url


def delivered(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """The SNS envelopes that reached the queue."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_publishes_json_with_subject_and_attributes(sns: Any, topic: tuple[str, Any, str]) -> None:
    topic_arn, sqs, queue_url = topic
    message = {
        "route": "map-tile",
        "event": "rollback",
        "reason": "composite alarm ALARM",
        "at": datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        "status": Status.ROLLED_BACK,
    }

    SnsNotify(sns, topic_arn).notify("[strangler] map-tile: rolled back", message)

    (envelope,) = delivered(sqs, queue_url)
    assert envelope["Subject"] == "[strangler] map-tile: rolled back"
    body = json.loads(envelope["Message"])
    assert body["route"] == "map-tile"
    assert body["at"] == "2025-03-01 12:00:00+00:00"
    assert body["status"] == "rolled_back"
    assert envelope["MessageAttributes"]["route"] == {"Type": "String", "Value": "map-tile"}
    assert envelope["MessageAttributes"]["event"] == {"Type": "String", "Value": "rollback"}


def test_one_publish_per_notification(sns: Any, topic: tuple[str, Any, str]) -> None:
    counter = CallCounter(sns)
    SnsNotify(sns, topic[0]).notify("s", {"route": "r"})
    assert counter.count("Publish") == 1


def test_long_or_multiline_subject_is_made_valid(sns: Any, topic: tuple[str, Any, str]) -> None:
    topic_arn, sqs, queue_url = topic
    SnsNotify(sns, topic_arn).notify("Rollback ✓\nroute map-tile " + "x" * 200, {"route": "r"})
    (envelope,) = delivered(sqs, queue_url)
    assert len(envelope["Subject"]) == MAX_SUBJECT
    assert "\n" not in envelope["Subject"]
    assert envelope["Subject"].startswith("Rollback ? route map-tile")


def test_publish_failure_is_wrapped_naming_the_topic(sns: Any, topic: tuple[str, Any, str]) -> None:
    ErrorInjector(sns, "Publish", "AuthorizationError", status=403)
    with pytest.raises(AwsCallFailed) as caught:
        SnsNotify(sns, topic[0]).notify("s", {"route": "map-tile"})
    assert caught.value.arn == topic[0]
    assert caught.value.route == "map-tile"
    assert not caught.value.transient
    assert getattr(caught.value, "access_denied", False)


def test_publish_to_a_missing_topic_is_wrapped(sns: Any) -> None:
    missing = f"arn:aws:sns:{REGION}:123456789012:nope"
    with pytest.raises(AwsCallFailed) as caught:
        SnsNotify(sns, missing).notify("s", {})
    assert caught.value.error_code == "NotFound"


# --- pure helpers ----------------------------------------------------------------------


@given(st.text(max_size=300))
def test_any_subject_becomes_valid(subject: str) -> None:
    text = sns_subject(subject)
    assert 1 <= len(text) <= MAX_SUBJECT
    assert text.isascii()
    assert all(32 <= ord(c) < 127 for c in text)
    assert not text[0].isspace()


def test_empty_subject_gets_the_default() -> None:
    assert sns_subject(" \n ") == DEFAULT_SUBJECT


def test_oversized_message_is_shortened_but_keeps_route_and_event() -> None:
    text = sns_message({"route": "r", "event": "e", "blob": "é" * MAX_MESSAGE_BYTES})
    assert len(text.encode("utf-8")) <= MAX_MESSAGE_BYTES
    body = json.loads(text)
    assert body["truncated"] is True
    assert (body["route"], body["event"]) == ("r", "e")


def test_empty_attributes_are_left_out() -> None:
    assert sns_attributes({"route": "", "event": None, "other": "x"}) == {}
