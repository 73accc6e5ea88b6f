"""AlarmPort on CloudWatch: the state of a route's composite alarm and its children.

One DescribeAlarms call (per 100 names) asks for the composite and the child
alarms by name, with both alarm types. States are filtered here, in our code:
moto ignores ``StateValue`` whenever ``AlarmNames`` is given, and so does this
module (it never sends ``StateValue``), so the emulator and AWS take the same
code path.
"""

from __future__ import annotations

from typing import Any

from controller.aws.clients import aws_call
from controller.core.contract import RouteRecord
from controller.core.errors import StranglerError
from controller.core.ports import ALARM, AlarmStatus

DESCRIBE_ALARMS = "cloudwatch:DescribeAlarms"

# Without AlarmTypes, DescribeAlarms returns only metric alarms, "even if
# composite alarms exist in the account" (CloudWatch API reference,
# DescribeAlarms). moto returns both kinds regardless.
ALARM_TYPES = ["CompositeAlarm", "MetricAlarm"]

# DescribeAlarms accepts at most 100 AlarmNames per request.
MAX_ALARM_NAMES = 100


def alarm_states(response_pages: list[dict[str, Any]]) -> dict[str, str]:
    """Alarm name -> StateValue over every page of DescribeAlarms (both kinds)."""
    states: dict[str, str] = {}
    for page in response_pages:
        for kind in ("CompositeAlarms", "MetricAlarms"):
            for alarm in page.get(kind, []):
                states[str(alarm["AlarmName"])] = str(alarm["StateValue"])
    return states


def composite_states(response_pages: list[dict[str, Any]]) -> dict[str, str]:
    """Composite alarm name -> StateValue (only the ``CompositeAlarms`` of each page)."""
    return {
        str(alarm["AlarmName"]): str(alarm["StateValue"])
        for page in response_pages
        for alarm in page.get("CompositeAlarms", [])
    }


def status_from_pages(route: RouteRecord, pages: list[dict[str, Any]]) -> AlarmStatus:
    """The route's :class:`AlarmStatus` from DescribeAlarms pages (pure).

    The composite must be there (as a composite alarm); a missing one is an
    error, never "no alarm = healthy". Children that are not found cannot be
    in ALARM and are left out.
    """
    composite = composite_states(pages).get(route.composite_alarm_name)
    if composite is None:
        raise StranglerError(
            f"composite alarm {route.composite_alarm_name} not found: without it the "
            "canary cannot be checked (was it deleted, or is the registry stale?)",
            route=route.route,
            arn=route.composite_alarm_arn,
            api_call=DESCRIBE_ALARMS,
        )
    states = alarm_states(pages)
    in_alarm = tuple(
        sorted(
            name
            for name in set(route.alarm_names)
            if name != route.composite_alarm_name and states.get(name) == ALARM
        )
    )
    return AlarmStatus(composite_state=composite, children_in_alarm=in_alarm)


class CloudWatchAlarms:
    """:class:`~controller.core.ports.AlarmPort` on a CloudWatch client.

    IAM: ``cloudwatch:DescribeAlarms`` on ``*``: information about composite
    alarms is returned only when the permission is scoped to ``*``
    (CloudWatch API reference, DescribeAlarms).
    """

    def __init__(self, cloudwatch_client: Any) -> None:
        """``cloudwatch_client``: a boto3 ``cloudwatch`` client."""
        self._cloudwatch = cloudwatch_client

    def alarm_status(self, route: RouteRecord) -> AlarmStatus:
        """The composite's state and the sorted names of the children in ALARM."""
        names = [route.composite_alarm_name, *dict.fromkeys(route.alarm_names)]
        pages: list[dict[str, Any]] = []
        paginator = self._cloudwatch.get_paginator("describe_alarms")
        with aws_call(DESCRIBE_ALARMS, route.composite_alarm_arn, route=route.route):
            for start in range(0, len(names), MAX_ALARM_NAMES):
                chunk = names[start : start + MAX_ALARM_NAMES]
                pages.extend(paginator.paginate(AlarmNames=chunk, AlarmTypes=ALARM_TYPES))
        return status_from_pages(route, pages)
