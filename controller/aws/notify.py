"""NotifyPort on SNS: publish a subject and a JSON message to the stack's alert topic.

The message is JSON so that both a human (email) and a machine (an SQS or
Lambda subscriber) can read it; ``route`` and ``event`` also go out as message
attributes so subscribers can filter without parsing the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from controller.aws.clients import aws_call

PUBLISH = "sns:Publish"

# SNS Subject: ASCII text beginning with a letter, number or punctuation mark,
# no line breaks or control characters, at most 100 characters (SNS API
# reference, Publish).
MAX_SUBJECT = 100
DEFAULT_SUBJECT = "[strangler] notification"
# Message: at most 256 KB in UTF-8 (262,144 bytes; SNS API reference, Publish).
MAX_MESSAGE_BYTES = 262_144
# Message attributes we add when the message has them (filter policies use these).
ATTRIBUTE_KEYS = ("route", "event")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_LEADING_NON_PRINTABLE = re.compile(r"^[^A-Za-z0-9!-/:-@\[-`{-~]+")


def sns_subject(subject: str) -> str:
    """``subject`` made acceptable to SNS: ASCII, one line, at most 100 characters."""
    text = subject.encode("ascii", "replace").decode("ascii")
    text = _CONTROL.sub(" ", text).strip()
    text = _LEADING_NON_PRINTABLE.sub("", text)
    if not text:
        return DEFAULT_SUBJECT
    if len(text) > MAX_SUBJECT:
        text = text[: MAX_SUBJECT - 3].rstrip() + "..."
    return text


def sns_message(message: dict[str, Any]) -> str:
    """The message as indented JSON (stable key order); shortened to fit SNS's 256 KB.

    Values JSON has no type for (datetimes, enums, dataclasses) are written
    with ``str``, so a notification never fails on formatting.
    """
    text = json.dumps(message, sort_keys=True, indent=2, default=str, ensure_ascii=False)
    if len(text.encode("utf-8")) <= MAX_MESSAGE_BYTES:
        return text
    kept = {key: message[key] for key in ATTRIBUTE_KEYS if key in message}
    kept["truncated"] = True
    # Leave generous room for the envelope and for multi-byte characters.
    kept["excerpt"] = text[: MAX_MESSAGE_BYTES // 8]
    return json.dumps(kept, sort_keys=True, indent=2, default=str, ensure_ascii=False)


def sns_attributes(message: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``route`` / ``event`` of the message as String message attributes (empty ones left out)."""
    attributes: dict[str, dict[str, str]] = {}
    for key in ATTRIBUTE_KEYS:
        value = message.get(key)
        if value is None or str(value) == "":
            continue  # SNS refuses an attribute with an empty value
        attributes[key] = {"DataType": "String", "StringValue": str(value)}
    return attributes


class SnsNotify:
    """:class:`~controller.core.ports.NotifyPort` on an SNS client.

    IAM: ``sns:Publish`` on the topic ARN.
    """

    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        """``sns_client``: a boto3 ``sns`` client; ``topic_arn``: the stack's alert topic."""
        self._sns = sns_client
        self._topic_arn = topic_arn

    @property
    def topic_arn(self) -> str:
        """The topic this adapter publishes to."""
        return self._topic_arn

    def notify(self, subject: str, message: dict[str, Any]) -> None:
        """Publish ``message`` as JSON with ``subject`` (sanitised for SNS) and attributes."""
        route = message.get("route")
        request: dict[str, Any] = {
            "TopicArn": self._topic_arn,
            "Subject": sns_subject(subject),
            "Message": sns_message(message),
        }
        attributes = sns_attributes(message)
        if attributes:
            request["MessageAttributes"] = attributes
        with aws_call(PUBLISH, self._topic_arn, route=str(route) if route is not None else None):
            self._sns.publish(**request)
