"""Starting a run of the stack's state machine: the execution's name and input.

Canary runs (:mod:`controller.service`) and release runs
(:mod:`controller.releases`) start the same way.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from controller.core.contract import RouteRecord
from controller.core.ports import ExecutionPort

# Step Functions execution names: 1-80 characters of letters, digits, - and _
# (StartExecution API reference; other characters break CloudWatch logging).
_MAX_EXECUTION_NAME = 80
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(route: str, trigger: str, now: datetime) -> str:
    """A unique, valid Step Functions execution name: ``{route}-{trigger}-{time}-{random}``.

    1-80 letters, digits, ``-`` and ``_``.
    """
    suffix = f"-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    prefix = _NAME_UNSAFE.sub("-", f"{route}-{trigger}")
    return prefix[: _MAX_EXECUTION_NAME - len(suffix)] + suffix


def start_run(
    executions: ExecutionPort,
    record: RouteRecord,
    *,
    route: str,
    trigger: str,
    actor: str,
    now: datetime,
) -> str:
    """Start an execution for ``route`` with the record's plan; returns its ARN."""
    payload = {
        "route": route,
        "trigger": trigger,
        "actor": actor,
        "plan": record.plan.to_input(),
    }
    return executions.start(execution_name(route, trigger, now), payload)
