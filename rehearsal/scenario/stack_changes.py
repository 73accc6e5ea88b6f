"""Changes to a live stack the rehearsal makes during a bake: a redeploy and a rule reordered.

**Redeploy.** A ``pulumi up`` in the middle of a canary (the program
re-applied by rehearsal/world/twin.py) rewrites the route records in SSM.
In AWS, Parameter Store then sends a "Parameter Store Change" event to the
default event bus; moto sends none, so the twin plays Parameter Store:

1. :func:`changed_route_parameters` finds the route records the apply
   updated (or created) among its changes;
2. :func:`parameter_change_event` builds the event SSM would send for each;
3. :func:`deliver_parameter_change` delivers it through every rule of the
   default bus whose own pattern matches (the program's registry-sync rule),
   to that rule's targets, as rehearsal/scenario/faults.py delivers the
   alarm event through the failback rules.

**Reorder.** :func:`reverse_forward_order` rewrites the rule by hand with
the forward action's target groups in the reverse order and the same
weights, as a console edit or a ``pulumi refresh`` of a set may leave them:
nothing that reads the rule by ARN may see a change.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.core.contract import route_parameter_name
from rehearsal.scenario.faults import (
    DEFAULT_BUS,
    Delivery,
    FaultError,
    MatchedRule,
    deliver,
    matching_rules,
)
from rehearsal.world.changes import CREATE, UPDATE, ResourceChange

__all__ = [
    "PARAMETER_EVENT_DETAIL_TYPE",
    "PARAMETER_EVENT_SOURCE",
    "ParameterChange",
    "changed_route_parameters",
    "deliver_parameter_change",
    "parameter_change_event",
    "reverse_forward_order",
]

PARAMETER_EVENT_SOURCE = "aws.ssm"
PARAMETER_EVENT_DETAIL_TYPE = "Parameter Store Change"
PARAMETER_TYPE = "aws:ssm/parameter:Parameter"
# The event's operation for each thing an apply did to a parameter.
_OPERATIONS = {CREATE: "Create", UPDATE: "Update"}


@dataclass(frozen=True)
class ParameterChange:
    """A route record an apply wrote: its name, ARN, type, description and the SSM operation."""

    name: str
    arn: str
    type: str
    description: str
    operation: str


def changed_route_parameters(
    changes: Iterable[ResourceChange], stack: str
) -> list[ParameterChange]:
    """The route records of ``stack`` among ``changes`` that an apply created or updated.

    The name and ARN come from the parameter's state after the apply.
    """
    prefix = route_parameter_name(stack, "")
    found: list[ParameterChange] = []
    for change in changes:
        operation = _OPERATIONS.get(change.operation)
        if change.type != PARAMETER_TYPE or operation is None:
            continue
        outputs: Mapping[str, Any] = change.outputs or {}
        name = str(outputs.get("name") or "")
        if not name.startswith(prefix):
            continue
        found.append(
            ParameterChange(
                name=name,
                arn=str(outputs.get("arn") or ""),
                type=str(outputs.get("type") or "String"),
                description=str(outputs.get("description") or ""),
                operation=operation,
            )
        )
    return found


def parameter_change_event(
    parameter: ParameterChange,
    *,
    at: datetime,
    region: str,
    account_id: str,
    event_id: str,
) -> dict[str, Any]:
    """The EventBridge event Parameter Store sends for ``parameter``.

    Shape from the EventBridge User Guide ("Amazon EventBridge events for
    Parameter Store", Parameter Store Change): the parameter's ARN in
    ``resources``; its name, type, description and the operation in
    ``detail``.
    """
    return {
        "version": "0",
        "id": event_id,
        "detail-type": PARAMETER_EVENT_DETAIL_TYPE,
        "source": PARAMETER_EVENT_SOURCE,
        "account": account_id,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [parameter.arn],
        "detail": {
            "operation": parameter.operation,
            "name": parameter.name,
            "type": parameter.type,
            "description": parameter.description,
        },
    }


def deliver_parameter_change(
    events: Any, lambda_client: Any, event: Mapping[str, Any]
) -> tuple[list[MatchedRule], list[Delivery]]:
    """Deliver ``event`` through every matching rule of the default bus; the rules and deliveries.

    Raises :class:`FaultError` when no rule matches: a redeploy the
    controller never hears of cannot be rehearsed, and leaving it out
    silently would make the run lie.
    """
    rules = matching_rules(events, event)
    if not rules:
        name = (event.get("detail") or {}).get("name")
        raise FaultError(
            f"no EventBridge rule on the {DEFAULT_BUS} bus matches the "
            f"{PARAMETER_EVENT_DETAIL_TYPE!r} event of {name}: the registry sync path is not wired"
        )
    return rules, deliver(events, lambda_client, event, rules=rules)


def deliver_route_records(
    emulator: Any, stack: str, changes: Iterable[ResourceChange], *, event_id_prefix: str
) -> tuple[list[str], list[str]]:
    """Parameter Store's change events of the route records an apply wrote, delivered.

    Returns the records' names and the names of the rules the events went through.
    """
    parameters = changed_route_parameters(changes, stack)
    rules: list[str] = []
    for parameter in parameters:
        event = parameter_change_event(
            parameter,
            at=datetime.now(UTC),
            region=emulator.region,
            account_id=emulator.account_id,
            event_id=f"{event_id_prefix}-{int(time.time() * 1000)}",
        )
        matched, _ = deliver_parameter_change(
            emulator.client("events"), emulator.client("lambda"), event
        )
        rules += [rule.name for rule in matched if rule.name not in rules]
    return [p.name for p in parameters], rules


def reverse_forward_order(elbv2: Any, rule_arn: str) -> list[str]:
    """``ModifyRule`` with the forward target groups reversed, weights kept; the new order.

    Everything else of the rule's actions is kept as ``DescribeRules``
    returned it (``ModifyRule`` replaces the whole action list).
    """
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    actions = []
    order: list[str] = []
    for action in rule.get("Actions", []):
        action = {key: value for key, value in action.items() if key != "TargetGroupArn"}
        if action.get("Type") == "forward":
            forward = dict(action.get("ForwardConfig") or {})
            groups = [dict(group) for group in reversed(forward.get("TargetGroups", []))]
            forward["TargetGroups"] = groups
            action["ForwardConfig"] = forward
            order = [str(group["TargetGroupArn"]) for group in groups]
        actions.append(action)
    if not order:
        raise FaultError(f"rule {rule_arn} has no forward action to reorder")
    elbv2.modify_rule(RuleArn=rule_arn, Actions=actions)
    return order
