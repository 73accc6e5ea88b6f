"""The capacity guard's clock: a scheduled EventBridge rule that invokes the controller.

A route's capacity hold (``capacity.holdHours`` after a promotion or a
rollback) ends by itself: every ``CAPACITY_TICK_RATE`` the rule sends
EventBridge's "Scheduled Event" (source ``aws.events``) to the controller,
which restores the recorded ``MinCapacity`` of every route whose hold is over
and records it (:meth:`controller.service.CanaryService.capacity_tick`). No
operator has to remember it, and a missed tick only delays the restore to
the next one. The rule exists only when a route has ``ecsService``.

Delivery is the failback rule's: retries, then the stack's dead-letter queue.
"""

from __future__ import annotations

from components import naming
from components.controller_rule import StackRule

TYPE_TOKEN = "strangler:capacity_tick:CapacityTickRule"

#: How often the controller looks for holds that are over. A hold is hours
#: long; a quarter of an hour late is of no consequence, and the invocations
#: cost next to nothing.
CAPACITY_TICK_RATE = "rate(15 minutes)"


def capacity_tick_rule(stack: str) -> StackRule:
    """The scheduled rule that sends the controller a tick every ``CAPACITY_TICK_RATE``."""
    return StackRule(
        type_token=TYPE_TOKEN,
        rule_name=naming.capacity_tick_rule_name(stack),
        description=f"End the capacity holds of stack {stack} that are over",
        schedule_expression=CAPACITY_TICK_RATE,
    )
