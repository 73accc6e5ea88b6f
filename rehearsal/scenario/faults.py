"""Faults the rehearsal injects: a route's alarms going off, and weights changed by hand.

**Alarm.** moto never evaluates alarms and never emits their state-change
events, so the twin plays CloudWatch and EventBridge:

1. :func:`set_route_alarms` moves one child alarm and the composite to
   ``ALARM`` with ``SetAlarmState`` (the composite does not follow its
   children in moto, so it is set too);
2. :func:`alarm_state_change_event` builds the "CloudWatch Alarm State
   Change" event CloudWatch would send for the composite;
3. :func:`deliver` does EventBridge's part with the rules the program
   declared: every rule of the default bus whose own ``EventPattern`` matches
   the event (matched by moto's EventBridge pattern engine) gets it delivered
   to each of its targets (``ListTargetsByRule``). A Lambda target is invoked
   asynchronously, as EventBridge does. So the failback that follows is the
   real path: the program's pattern, target and permission wiring, then the
   real controller handler.

**Drift.** :func:`change_weights_by_hand` rewrites the rule's forward weights
with ``ModifyRule``, keeping everything else of the rule, as a person in the
console would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from controller.core.contract import RouteRecord
from controller.core.weights import ALL_ECS, Weights
from rehearsal.errors import RehearsalError

if TYPE_CHECKING:
    from rehearsal.world.emulator import Emulator

__all__ = [
    "ALARM_EVENT_DETAIL_TYPE",
    "Delivery",
    "FaultError",
    "FiredAlarm",
    "MatchedRule",
    "alarm_state_change_event",
    "change_weights_by_hand",
    "deliver",
    "describe_composite",
    "drift_weights",
    "fire_alarm",
    "matching_rules",
    "pattern_matches",
    "set_route_alarms",
    "wait_for_all_ecs",
]

ALARM_EVENT_SOURCE = "aws.cloudwatch"
ALARM_EVENT_DETAIL_TYPE = "CloudWatch Alarm State Change"
# AWS services send their events to the account's default event bus.
DEFAULT_BUS = "default"
# The child alarm a failing upstream trips first: the function's AppErrors.
PREFERRED_CHILD_SUFFIX = "-app-errors"
# The share a "human" moves the canary to; far from every stage weight of the
# example stacks, so the drift cannot be mistaken for a controller write.
DRIFT_PERCENTS = (33.3, 66.6)
# How often the failback is looked for (DescribeRules) after the alarm.
FAILBACK_POLL_SECONDS = 0.002


class FaultError(RehearsalError):
    """A fault could not be injected (an alarm, a rule or a target the twin cannot handle)."""


@dataclass(frozen=True)
class MatchedRule:
    """An EventBridge rule whose pattern matched an event."""

    name: str
    arn: str
    event_bus: str
    pattern: str


@dataclass(frozen=True)
class Delivery:
    """One event delivered to one target of a matching rule."""

    rule: str
    target_id: str
    target_arn: str
    status_code: int


def _iso_ms(at: datetime) -> str:
    """CloudWatch's timestamp format in alarm events: ``2024-05-01T10:00:00.123+0000``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def alarm_state_change_event(
    alarm: Mapping[str, Any],
    *,
    state: str,
    previous_state: str,
    reason: str,
    at: datetime,
    region: str,
    account_id: str,
    event_id: str,
) -> dict[str, Any]:
    """The EventBridge event of ``alarm`` (a DescribeAlarms entry) entering ``state``.

    Shape from the CloudWatch documentation ("Alarm events and EventBridge",
    the composite alarm example): the alarm's ARN in ``resources``, the new
    and previous state in ``detail``, and for a composite alarm its rule in
    ``detail.configuration.alarmRule``.
    """
    configuration: dict[str, Any] = {"description": alarm.get("AlarmDescription", "")}
    if "AlarmRule" in alarm:
        configuration["alarmRule"] = alarm["AlarmRule"]
        configuration["actionsSuppressor"] = alarm.get("ActionsSuppressor", "")
    return {
        "version": "0",
        "id": event_id,
        "detail-type": ALARM_EVENT_DETAIL_TYPE,
        "source": ALARM_EVENT_SOURCE,
        "account": account_id,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [str(alarm["AlarmArn"])],
        "detail": {
            "alarmName": str(alarm["AlarmName"]),
            "state": {"value": state, "reason": reason, "timestamp": _iso_ms(at)},
            "previousState": {
                "value": previous_state,
                "reason": "rehearsal: before the injected fault",
                "timestamp": _iso_ms(at),
            },
            "configuration": configuration,
        },
    }


def pattern_matches(pattern: str, event: Mapping[str, Any]) -> bool:
    """Whether an EventBridge pattern (JSON text) matches ``event``, by moto's own engine."""
    from moto.events.models import EventPattern

    matcher: Any = EventPattern.load(pattern)
    return bool(matcher.matches_event(dict(event)))


def matching_rules(events: Any, event: Mapping[str, Any]) -> list[MatchedRule]:
    """Every enabled rule of the default bus whose event pattern matches ``event``."""
    matched: list[MatchedRule] = []
    for page in events.get_paginator("list_rules").paginate(EventBusName=DEFAULT_BUS):
        for rule in page.get("Rules", []):
            pattern = rule.get("EventPattern")
            if not pattern or rule.get("State", "ENABLED") != "ENABLED":
                continue
            if pattern_matches(pattern, event):
                matched.append(
                    MatchedRule(
                        name=str(rule["Name"]),
                        arn=str(rule["Arn"]),
                        event_bus=DEFAULT_BUS,
                        pattern=str(pattern),
                    )
                )
    return matched


def _target_payload(target: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    """What EventBridge sends the target: the event, or the target's constant ``Input``."""
    if target.get("InputTransformer") or target.get("InputPath"):
        raise FaultError(
            f"target {target.get('Id')} ({target.get('Arn')}) transforms its input; the "
            "twin delivers whole events or a constant Input only"
        )
    if target.get("Input"):
        return json.loads(str(target["Input"]))
    return event


def deliver(
    events: Any,
    lambda_client: Any,
    event: Mapping[str, Any],
    *,
    rules: list[MatchedRule] | None = None,
    on_delivered: Callable[[Delivery], None] | None = None,
) -> list[Delivery]:
    """Deliver ``event`` to every target of every matching rule; returns the deliveries.

    A Lambda target is invoked with ``InvocationType=Event``, as EventBridge
    invokes functions asynchronously (EventBridge documentation, "Amazon
    EventBridge targets"). Any other kind of target is refused loudly rather
    than skipped: a failback rule that the twin silently did not deliver would
    make the rehearsal lie. Raises :class:`FaultError` when no rule matches.
    """
    matched = matching_rules(events, event) if rules is None else rules
    if not matched:
        resources = ", ".join(event.get("resources") or []) or "no resources"
        raise FaultError(
            f"no EventBridge rule on the {DEFAULT_BUS} bus matches the "
            f"{event.get('detail-type')!r} event of {resources}: the failback path is not wired"
        )
    deliveries: list[Delivery] = []
    for rule in matched:
        targets = events.list_targets_by_rule(Rule=rule.name, EventBusName=rule.event_bus)
        for target in targets.get("Targets", []):
            arn = str(target["Arn"])
            if ":lambda:" not in arn or ":function:" not in arn:
                raise FaultError(
                    f"rule {rule.name}: target {target.get('Id')} is {arn}; the twin delivers "
                    "to Lambda functions only"
                )
            response = lambda_client.invoke(
                FunctionName=arn,
                InvocationType="Event",
                Payload=json.dumps(_target_payload(target, event)),
            )
            delivery = Delivery(
                rule=rule.name,
                target_id=str(target.get("Id")),
                target_arn=arn,
                status_code=int(response.get("StatusCode", 0)),
            )
            deliveries.append(delivery)
            if on_delivered is not None:
                on_delivered(delivery)
    return deliveries


def _child_alarm(record: RouteRecord) -> str | None:
    for name in record.alarm_names:
        if name.endswith(PREFERRED_CHILD_SUFFIX):
            return name
    return record.alarm_names[0] if record.alarm_names else None


def describe_composite(cloudwatch: Any, record: RouteRecord) -> dict[str, Any]:
    """The DescribeAlarms entry of the route's composite alarm."""
    described = cloudwatch.describe_alarms(
        AlarmNames=[record.composite_alarm_name], AlarmTypes=["CompositeAlarm"]
    ).get("CompositeAlarms", [])
    if not described:
        raise FaultError(
            f"route {record.route}: composite alarm {record.composite_alarm_name} does not exist"
        )
    return dict(described[0])


def set_route_alarms(
    cloudwatch: Any, record: RouteRecord, *, state: str, reason: str
) -> dict[str, Any]:
    """Move one child alarm and then the composite alarm of the route to ``state``.

    Returns the composite's DescribeAlarms entry from before the change (its
    ``StateValue`` is the previous state of the event). The child goes first,
    as in AWS, where the composite only changes because a child did.
    """
    composite = describe_composite(cloudwatch, record)
    child = _child_alarm(record)
    if child is not None:
        cloudwatch.set_alarm_state(AlarmName=child, StateValue=state, StateReason=reason)
    cloudwatch.set_alarm_state(
        AlarmName=record.composite_alarm_name, StateValue=state, StateReason=reason
    )
    return composite


def drift_weights(current: Weights) -> Weights:
    """Weights a human might set by hand: a canary share unlike ``current``'s."""
    for percent in DRIFT_PERCENTS:
        candidate = Weights.from_percent(percent)
        if candidate != current:
            return candidate
    raise AssertionError("unreachable: the drift shares differ from each other")


def change_weights_by_hand(elbv2: Any, record: RouteRecord, weights: Weights) -> None:
    """``ModifyRule`` with only the route's two forward weights replaced."""
    rule = elbv2.describe_rules(RuleArns=[record.rule_arn])["Rules"][0]
    wanted = {
        record.ecs_target_group_arn: weights.ecs,
        record.lambda_target_group_arn: weights.lambda_,
    }
    actions = []
    for action in rule.get("Actions", []):
        action = {key: value for key, value in action.items() if key != "TargetGroupArn"}
        if action.get("Type") == "forward":
            forward = dict(action.get("ForwardConfig") or {})
            forward["TargetGroups"] = [
                {**group, "Weight": wanted.get(group["TargetGroupArn"], group.get("Weight", 1))}
                for group in forward.get("TargetGroups", [])
            ]
            action["ForwardConfig"] = forward
        actions.append(action)
    elbv2.modify_rule(RuleArn=record.rule_arn, Actions=actions)


@dataclass
class FiredAlarm:
    """A route's alarms set to ALARM, their event on its way through EventBridge.

    ``changed`` (``time.perf_counter``) and ``changed_mono`` (``time.monotonic``)
    are the instant of the composite's state change; ``rules`` the rules whose
    pattern matched the event. :meth:`join` waits for the delivery and
    raises what it hit.
    """

    record: RouteRecord
    changed: float
    changed_mono: float
    rules: list[MatchedRule]
    _sender: threading.Thread | None = field(default=None, repr=False)
    _errors: list[BaseException] = field(default_factory=list, repr=False)

    def join(self, timeout: float) -> None:
        """Wait for the delivery to end; raise its error, if any."""
        if self._sender is not None:
            self._sender.join(timeout=timeout)
        if self._errors:
            raise self._errors[0]


def fire_alarm(
    emulator: Emulator, record: RouteRecord, *, reason: str, event_id: str
) -> FiredAlarm:
    """Play CloudWatch and EventBridge for the route's composite alarm entering ALARM.

    The alarms change (:func:`set_route_alarms`), the state-change event is
    built and matched against the program's rules, then delivered in a
    thread: EventBridge invokes the target asynchronously, so the caller can
    watch the weights change while the delivery is still in flight.
    """
    composite = set_route_alarms(
        emulator.client("cloudwatch"), record, state="ALARM", reason=reason
    )
    changed = time.perf_counter()
    changed_mono = time.monotonic()
    event = alarm_state_change_event(
        composite,
        state="ALARM",
        previous_state=str(composite.get("StateValue", "OK")),
        reason=reason,
        at=datetime.now(UTC),
        region=emulator.region,
        account_id=emulator.account_id,
        event_id=event_id,
    )
    rules = matching_rules(emulator.client("events"), event)
    fired = FiredAlarm(record=record, changed=changed, changed_mono=changed_mono, rules=rules)

    def send() -> None:
        try:
            deliver(emulator.client("events"), emulator.client("lambda"), event, rules=rules)
        except BaseException as error:
            fired._errors.append(error)

    fired._sender = threading.Thread(target=send, name=f"eventbridge-{record.route}", daemon=True)
    fired._sender.start()
    return fired


def wait_for_all_ecs(
    read: Callable[[], Weights], *, since: float, timeout_seconds: float
) -> float | None:
    """Read the weights until they are ECS 100 %; the ``perf_counter`` instant, or None.

    ``since`` is a ``time.perf_counter`` instant (the alarm's state change);
    None when ``timeout_seconds`` after it the rule still sends to Lambda.
    """
    deadline = since + timeout_seconds
    while time.perf_counter() < deadline:
        if read() == ALL_ECS:
            return time.perf_counter()
        time.sleep(FAILBACK_POLL_SECONDS)
    return None
