"""The stack's alert topic: every alarm and the controller notify it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import naming
from components.outputs import register_attributes


@dataclass
class AlertTopicArgs:
    """Inputs of :class:`AlertTopic`."""

    stack_name: str
    emails: tuple[str, ...] = field(default_factory=tuple)


def subscription_name(component: str, email: str) -> str:
    """The logical name of the subscription of ``email``: keyed by the address itself."""
    return f"{component}-email-{email}"


def former_subscription_name(component: str, index: int) -> str:
    """The logical name subscriptions had when they were keyed by position in the list."""
    return f"{component}-email-{index}"


class AlertTopic(pulumi.ComponentResource):
    """An SNS topic with one email subscription per address."""

    topic_arn: pulumi.Output[str]
    topic_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        duplicates = sorted({e for e in args.emails if args.emails.count(e) > 1})
        if duplicates:
            raise ValueError(f"alertEmails: duplicate addresses {duplicates}")
        super().__init__("strangler:alerts:AlertTopic", name, None, opts)
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=naming.topic_name(args.stack_name),
            # A fixed name (components/naming.py): the old one goes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        # Email subscriptions stay "pending confirmation" until the recipient
        # clicks the link AWS sends; until then nothing is delivered to them.
        # Each is named after its address, so reordering the list, or adding
        # or removing one address, leaves the others alone (a re-created
        # subscription would need confirming again).
        for index, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                subscription_name(name, email),
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # Stacks deployed while subscriptions were named by position:
                    # the first deploy with address names takes them over in place
                    # (as long as that deploy does not reorder the list too).
                    aliases=[pulumi.Alias(name=former_subscription_name(name, index))],
                ),
            )
        self.topic_arn = topic.arn
        self.topic_name = topic.name
        register_attributes(self, "topic_arn", "topic_name")
