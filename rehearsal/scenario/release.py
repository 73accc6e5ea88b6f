"""The release rehearsal: a promoted route gets new function code, released in stages.

``python -m rehearsal run --release`` plays, per route:

1. the route reaches ``promoted``: by the usual canary, or with
   ``--from-promoted`` at once, through the controller's own ``promote
   --full`` (an operator event to the controller function), before any
   request is sent, so ECS gets no traffic at all;
2. a ``pulumi up`` with changed function code (a copy of the function's
   folder with one line added) and a compressed ``release`` block: the
   function publishes version 2, the registry records it, and the twin
   delivers Parameter Store's change event through the program's
   registry-sync rule; the controller syncs and starts the release run;
3. the release run moves the alias ``live`` in stages; the emulated ALB
   splits invocations by the alias's routing config as read from the
   emulator (rehearsal/scenario/alias_routing.py); version 2 runs in its
   own worker with its own code;
4. with ``--fail-at-stage N``, version 2's upstream fails during stage N's
   bake and the route's alarms go to ALARM, delivered through the failback
   rule: the controller fails the release back; ``failback_ms`` runs from
   the alarm to the alias reading back version 1 alone.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.aws.alias import split_from_alias
from controller.aws.state import DynamoState
from controller.core.contract import RouteRecord
from controller.core.lifecycle import RouteState, Status
from controller.core.release import ALIAS_NAME, AliasSplit
from controller.core.release_run import release_key
from rehearsal.errors import RehearsalError
from rehearsal.scenario import faults, stack_changes
from rehearsal.world.ecs_standin import StandinServer

__all__ = ["ReleaseOptions", "ReleasePhase", "changed_source", "release_block"]

# When, within the bake of the failing release stage, version 2 fails and the
# alarm follows (fractions of the bake).
NEW_VERSION_FAILS_AT = 0.2
ALARM_AT = 0.5
FAILBACK_POLL_SECONDS = 0.002
FAILBACK_TIMEOUT_SECONDS = 30.0
# The release stages as rehearsed: the default shares, bakes of --bake-seconds.
REHEARSAL_STAGES = (10.0, 50.0, 100.0)
REHEARSAL_MIN_REQUESTS = 5
ROUTES_KEY = "strangler:routes"


@dataclass(frozen=True)
class ReleaseOptions:
    """How one route's release is rehearsed."""

    from_promoted: bool = False
    fail_at: int | None = None
    bake_seconds: int = 4
    project_dir: Path = Path(".")


def release_block(bake_seconds: int) -> dict[str, Any]:
    """The ``release`` config of the redeploy: the default shares, compressed bakes."""
    stages: list[dict[str, Any]] = [
        {"weight": weight, "bakeMinutes": bake_seconds / 60} for weight in REHEARSAL_STAGES[:-1]
    ]
    stages.append({"weight": REHEARSAL_STAGES[-1]})
    return {"stages": stages, "minRequests": REHEARSAL_MIN_REQUESTS, "maxErrorRateDeltaPercent": 1}


def changed_source(source: Path, marker: str) -> Path:
    """A copy of the function folder ``source`` with one line added: new code, same behaviour."""
    target = Path(tempfile.mkdtemp(prefix="rehearsal-release-")) / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    handler = target / "app.py"
    if handler.exists():
        handler.write_text(handler.read_text() + f"\n# {marker}\n")
    else:
        (target / "release_marker.py").write_text(f"# {marker}\n")
    return target


@dataclass
class ReleasePhase:
    """One route's release: its progress, its fault and its measurements."""

    options: ReleaseOptions
    upstream: StandinServer = field(default_factory=lambda: StandinServer("upstream-v2"))
    started: bool = False
    thread: threading.Thread | None = None
    error: BaseException | None = None
    from_version: str | None = None
    to_version: str | None = None
    execution_arn: str | None = None
    failing: bool = False
    alarm_thread: threading.Thread | None = None
    failback_ms: float | None = None
    ecs_requests_at_start: int | None = None
    ecs_requests_at_end: int | None = None
    final_split: AliasSplit | None = None
    outcome: str | None = None
    started_at_ms: float = 0.0
    temp_dirs: list[Path] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """A redeploy or a fault is still being made in its own thread."""
        threads = (self.thread, self.alarm_thread)
        return any(t is not None and t.is_alive() for t in threads)

    def to_json(self) -> dict[str, Any]:
        """The route entry's ``release`` object."""
        split = self.final_split
        return {
            "outcome": self.outcome,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "final_split": (
                {v: round(split.share(v) * 100, 1) for v in split.versions} if split else None
            ),
            "failback_ms": round(self.failback_ms, 1) if self.failback_ms is not None else None,
            "ecs_requests": (
                None
                if self.ecs_requests_at_start is None or self.ecs_requests_at_end is None
                else self.ecs_requests_at_end - self.ecs_requests_at_start
            ),
        }

    def close(self) -> None:
        """Stop the stand-in and drop the copies of the code."""
        self.upstream.stop()
        for path in self.temp_dirs:
            shutil.rmtree(path.parent, ignore_errors=True)


def promote_at_once(emulator: Any, controller_function: str, route: str) -> dict[str, Any]:
    """``promote --full`` through the controller function (an operator event)."""
    event = {
        "action": "operator",
        "command": "promote",
        "route": route,
        "actor": "operator:rehearsal",
        "reason": "rehearsal --from-promoted",
        "full": True,
    }
    answer = emulator.client("lambda").invoke(
        FunctionName=controller_function, Payload=json.dumps(event)
    )
    payload = json.loads(answer["Payload"].read())
    if answer.get("FunctionError") or payload.get("status") != Status.PROMOTED.value:
        raise RehearsalError(f"route {route}: promote --full did not promote it: {payload}")
    return dict(payload)


def read_split(emulator: Any, record: RouteRecord) -> AliasSplit:
    """The alias ``live`` as the emulator has it."""
    answer = emulator.client("lambda").get_alias(
        FunctionName=record.function_name, Name=record.alias_name or ALIAS_NAME
    )
    return split_from_alias(answer)


def release_state(state: DynamoState, route: str) -> RouteState:
    """The route's release state in the controller's table."""
    return state.load(release_key(route))


def deliver_route_records(
    emulator: Any, stack: str, changes: Any, route: str
) -> tuple[list[str], list[str]]:
    """Parameter Store's change events of the records an apply wrote; (records, rules)."""
    return stack_changes.deliver_route_records(
        emulator, stack, changes, event_id_prefix=f"rehearsal-release-{route}"
    )


def inject_alarm(emulator: Any, record: RouteRecord, stage: int) -> tuple[float, list[str]]:
    """Set the route's alarms to ALARM and deliver the event (asynchronously, as EventBridge).

    Returns when the alarm changed (``time.perf_counter()``) and the rules it went through.
    """
    reason = f"rehearsal: release stage {stage} of route {record.route} fails (--fail-at-stage)"
    fired = faults.fire_alarm(
        emulator,
        record,
        reason=reason,
        event_id=f"rehearsal-release-{record.route}-{int(time.time() * 1000)}",
    )
    # Not joined: the phase watches the alias (wait_single), which fails on a lost delivery.
    return fired.changed, [rule.name for rule in fired.rules]


def wait_single(emulator: Any, record: RouteRecord, version: str, since: float) -> float:
    """Poll the alias until it serves ``version`` alone; milliseconds since ``since``."""
    deadline = since + FAILBACK_TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        split = read_split(emulator, record)
        if split.single and split.version == version:
            return (time.perf_counter() - since) * 1000
        time.sleep(FAILBACK_POLL_SECONDS)
    raise RehearsalError(
        f"route {record.route}: the alias did not read back v{version} alone within "
        f"{FAILBACK_TIMEOUT_SECONDS:.0f} s of the alarm"
    )


def release_stage_problem(stage: int | None, route: str) -> str | None:
    """Why ``--fail-at-stage`` cannot name release stage ``stage`` of ``route``, if it cannot."""
    baked = len(REHEARSAL_STAGES) - 1
    if stage is None or 1 <= stage <= baked:
        return None
    return (
        f"--fail-at-stage {stage}: the release of route {route} bakes stages 1..{baked} "
        f"({', '.join(f'{w:g}%' for w in REHEARSAL_STAGES[:-1])}); the last stage has no bake"
    )
