"""The controller's dead-letter queue and the alarm that pages when it holds a message.

Failed alarm events (EventBridge's retries and Lambda's asynchronous retries
exhausted) and failed scheduled starts end up here. Its resource policy admits
the stack's failback rules, so :class:`~components.controller.CanaryController`
declares it once those rules exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.moved import FormerParent, MovedComponent
from components.outputs import register_attributes

TYPE_TOKEN = "strangler:dead_letter_queue:DeadLetterQueue"

# SQS: the longest retention (14 days), so a dead letter outlives a long weekend.
DLQ_RETENTION_SECONDS = 1_209_600


@dataclass
class DeadLetterQueueArgs:
    """Inputs of :class:`DeadLetterQueue`."""

    stack: str
    topic_arn: pulumi.Input[str]
    former_parent: FormerParent | None = None


class DeadLetterQueue(MovedComponent):
    """An SSE-SQS queue with a 14-day retention, and an alarm on its depth."""

    queue_arn: pulumi.Output[str]
    queue_url: pulumi.Output[str]
    queue_name: pulumi.Output[str]
    alarm_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DeadLetterQueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, args.former_parent, opts)

        queue = aws.sqs.Queue(
            f"{name}-sqs",
            name=naming.dlq_name(args.stack),
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            # SSE-SQS: EventBridge can deliver to it without a KMS key policy.
            sqs_managed_sse_enabled=True,
            opts=self.child("dlq", delete_before_replace=True),
        )
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-alarm",
            name=naming.dlq_alarm_name(args.stack),
            alarm_description=(
                f"A failback (alarm event) or a scheduled canary start of stack {args.stack} could "
                f"not be delivered to the controller. Read the messages of queue "
                f"{naming.dlq_name(args.stack)}; if a route's alarm fired, run "
                f"`python -m controller rollback --stack {args.stack} --route <route>`."
            ),
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": queue.name},
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # An empty, idle queue publishes no datapoints: nothing failed.
            treat_missing_data="notBreaching",
            alarm_actions=[args.topic_arn],
            ok_actions=[args.topic_arn],
            opts=self.child("dlq-alarm", delete_before_replace=True),
        )

        self.queue_arn = queue.arn
        self.queue_url = queue.url
        self.queue_name = queue.name
        self.alarm_arn = alarm.arn
        register_attributes(self, "queue_arn", "queue_url", "queue_name", "alarm_arn")
