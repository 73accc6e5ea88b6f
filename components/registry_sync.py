"""The registry-change trigger: a route's registry record written invokes the controller.

Pulumi sets a listener rule's forward action only on create (the action is
ignored afterwards, see :mod:`components.traffic`), so when ``pulumi up``
writes a route record with another target group ARN, the rule still forwards to
the old one. The controller reconciles the rule with the record; this rule
tells it when to. SSM sends a "Parameter Store Change" event (source
``aws.ssm``, ``detail.name`` the parameter's name, ``detail.operation`` one of
``Create``, ``Update``, ``Delete``, ``LabelParameterVersion``) for every change
(EventBridge User Guide, "Amazon EventBridge events for Parameter Store"). The
rule matches creates and updates of the stack's route records only and passes
the event on unchanged; deleting a route deletes its rule, so there is nothing
to reconcile.

Delivery is the failback rule's: retries up to the same age, then the stack's
dead-letter queue, whose alarm pages.
"""

from __future__ import annotations

from typing import Any

from components import naming
from components.controller_rule import StackRule
from components.json_text import json_text
from controller.core.contract import route_parameter_name

TYPE_TOKEN = "strangler:registry_sync:RegistrySyncRule"

#: The operations that leave a route record to reconcile with.
SYNC_OPERATIONS = ("Create", "Update")


def route_records_prefix(stack: str) -> str:
    """``/strangler/<stack>/routes/``: every route record of the stack starts with it.

    The trailing slash keeps a stack whose name extends this one's
    (``prod`` and ``prod-eu``) out, and the stack record
    (``/strangler/<stack>/stack``) too.
    """
    return route_parameter_name(stack, "")


def registry_sync_event_pattern(stack: str) -> dict[str, Any]:
    """EventBridge pattern: a route record of ``stack`` was created or updated."""
    return {
        "source": ["aws.ssm"],
        "detail-type": ["Parameter Store Change"],
        "detail": {
            "name": [{"prefix": route_records_prefix(stack)}],
            "operation": list(SYNC_OPERATIONS),
        },
    }


def registry_sync_rule(stack: str) -> StackRule:
    """The rule that tells the controller a route record of ``stack`` was written."""
    return StackRule(
        type_token=TYPE_TOKEN,
        rule_name=naming.registry_sync_rule_name(stack),
        description=f"A route record of stack {stack} changed: reconcile its listener rule",
        event_pattern=json_text(registry_sync_event_pattern(stack)),
    )
