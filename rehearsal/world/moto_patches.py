"""The one gap in moto that the twin fills: ``PutCompositeAlarm``.

moto 5.2.5 stores composite alarms (``Alarm.rule``; ``DescribeAlarms`` returns
them under ``CompositeAlarms`` and ``SetAlarmState`` works on them) but has no
handler for the ``PutCompositeAlarm`` action. Its ``put_metric_alarm`` handler
already reads ``AlarmRule`` "to re-use this method for composite alarms as
well", so the missing action is that same handler under the other name. The
patch is installed once per process and only for the pinned moto version: a
newer moto may implement the action itself, and this must then be re-checked.
"""

from __future__ import annotations

import threading

import moto
from moto.cloudwatch.responses import CloudWatchResponse

from rehearsal.errors import RehearsalError

# The version the patch was checked against (requirements.txt pins it).
PATCHED_MOTO_VERSION = "5.2.5"

_lock = threading.Lock()


def install() -> None:
    """Make moto answer ``PutCompositeAlarm`` (idempotent).

    Raises RehearsalError on another moto version, so an upgrade is a
    conscious re-check rather than a silent behaviour change.
    """
    with _lock:
        if getattr(CloudWatchResponse, "put_composite_alarm", None) is not None:
            return
        if moto.__version__ != PATCHED_MOTO_VERSION:
            raise RehearsalError(
                f"rehearsal.world.moto_patches was checked against moto {PATCHED_MOTO_VERSION}, "
                f"found {moto.__version__}: re-check whether PutCompositeAlarm is implemented"
            )
        # The handler dispatches on the snake_case action name.
        CloudWatchResponse.put_composite_alarm = CloudWatchResponse.put_metric_alarm  # type: ignore[attr-defined]
