"""Release runs: a promoted route's new function version goes live in verified stages.

The route's Lambda target group invokes the function's alias ``live``. Each
deploy that changes the function publishes a version and records it in the
registry (``function_version``). When the registry shows a version newer than
the ones ``live`` serves (:func:`controller.core.release.decide_start`):

- on a promoted route, a release run starts at once (on the registry's
  change event, after the sync), or at ``release.schedule`` when one is set;
- on a route still migrating, nothing happens until it is promoted;
- while Lambda's weight is 0, ``live`` moves straight to the new version.

A release run is the state machine's release path (Begin -> ReleaseShift ->
ReleaseBake -> ReleaseCheck ... -> ReleaseFinish): each stage sets the
alias's ``AdditionalVersionWeights``, reads it back, bakes and is judged
against the version it replaces (:func:`controller.core.release.judge`). A
failed check, an alarm or an operator's rollback fails back: the routing
config is removed, read back, recorded, notified; the listener rule's
weights are never touched, and the route stays promoted on the old version.

AWS is reached only through the ports; the decisions are in
:mod:`controller.core.release` and :mod:`controller.core.release_run`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from controller.core import release_run
from controller.core.contract import RouteRecord
from controller.core.errors import ConcurrentUpdate, StranglerError, TransitionRefused
from controller.core.lifecycle import RouteState, Status, Transition, held_execution
from controller.core.ports import Ports, ReleasePort
from controller.core.release import (
    AliasSplit,
    ReleasePlanRecord,
    ReleaseStageRecord,
    Start,
    Verdict,
    decide_start,
    judge,
    stage_split,
)
from controller.core.state_machine import Outcome, task_payload
from controller.runs import start_run

__all__ = [
    "RELEASE_TRIGGERS",
    "ReleaseFailback",
    "ReleaseService",
    "ReleaseTaskResult",
    "VersionSplitMismatch",
]

#: Execution triggers that make Begin take the release path.
RELEASE_TRIGGERS: Final = ("release", "release-schedule", "release-resume")
STATE_MACHINE_ACTOR: Final = "state-machine"


class _Log(Protocol):
    def info(self, msg: str, *args: Any) -> None: ...

    def error(self, msg: str, *args: Any) -> None: ...


class VersionSplitMismatch(StranglerError):
    """The alias did not read back as written (UpdateAlias answered, but did not apply)."""


@dataclass(frozen=True)
class ReleaseTaskResult:
    """The answer to a release task (the same four keys as every task)."""

    outcome: str
    status: Status
    stage: dict[str, Any] | None = None
    reason: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON for Step Functions."""
        return task_payload(self.outcome, self.status.value, self.stage, self.reason)


@dataclass(frozen=True)
class ReleaseFailback:
    """What a release failback did: the transition, the verified split, the stopped run."""

    transition: Transition
    split: AliasSplit
    stopped: str | None
    verified_at: datetime


class ReleaseService:
    """The release operations over the ports; see the module docstring."""

    def __init__(
        self,
        ports: Ports,
        *,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        log: _Log | None = None,
        verify_reads: int = 3,
        verify_interval_seconds: float = 0.5,
        save_attempts: int = 4,
    ) -> None:
        self._ports = ports
        self._clock = clock
        self._sleep = sleep
        self._log: _Log = log or logging.getLogger(__name__)
        self._verify_reads = verify_reads
        self._verify_interval = verify_interval_seconds
        self._save_attempts = save_attempts

    # ------------------------------------------------------------------ queries

    @property
    def enabled(self) -> bool:
        """Whether the stack's ports can move aliases."""
        return self._ports.release is not None

    def _port(self) -> ReleasePort:
        if self._ports.release is None:
            raise StranglerError("this controller has no release port (no alias to move)")
        return self._ports.release

    def state(self, route: str) -> RouteState:
        """The route's release state."""
        return self._ports.state.load(release_run.release_key(route))

    def in_flight(self, route: str) -> bool:
        """True while a release run holds the route."""
        return self.enabled and release_run.in_flight(self.state(route))

    def needs_failback(self, record: RouteRecord) -> bool:
        """True when a new version takes part of the alias's traffic (a release in flight
        or paused). Any failure to tell answers False: the caller then takes the route
        back to ECS, the safe way."""
        if not self.enabled or record.function_version is None:
            return False
        try:
            return not self._port().read_alias(record).single
        except Exception as error:  # the ECS rollback must not depend on Lambda's API
            self._log.error("route %s: cannot read the alias: %s", record.route, error)
            return False

    def split(self, record: RouteRecord) -> AliasSplit | None:
        """The alias's live split, or None without an alias."""
        if not self.enabled or record.function_version is None:
            return None
        return self._port().read_alias(record)

    # ------------------------------------------------------------------ starting

    def on_new_version(self, route: str, *, actor: str) -> str:
        """The registry changed: start, wait for, or apply directly a newer version.

        Returns what was decided, in words (for the handler's answer and logs).
        """
        if not self.enabled:
            return "no release port"
        record = self._ports.registry.route(route)
        if record.function_version is None:
            return "the registry records no function version"
        route_state = self._ports.state.load(route)
        weights = self._ports.traffic.read_weights(record)
        live = self._port().read_alias(record)
        decision = decide_start(
            promoted=route_state.status is Status.PROMOTED,
            lambda_percent=weights.lambda_percent,
            live=live,
            newest=record.function_version,
        )
        newest = record.function_version
        if decision is Start.DIRECT:
            self._write_verified(record, AliasSplit(newest))
            now = self._clock()
            self._commit(
                route,
                lambda s: release_run.direct(
                    s, from_version=live.version, to_version=newest, actor=actor, now=now
                ),
            )
            return f"live moved to v{newest} directly (Lambda weight 0)"
        if decision is Start.WAIT:
            return (
                f"v{newest} waits: the route is {route_state.status.value} at "
                f"lambda {weights.lambda_percent:g} %; it is released once promoted"
            )
        if decision is Start.NONE:
            return f"nothing to release: live serves {live.describe()}"
        plan = record.release or ReleasePlanRecord()
        if plan.schedule is not None:
            return f"v{newest} is released at {plan.schedule}"
        try:
            arn = self.start(route, actor=actor)
        except TransitionRefused as error:
            return f"release of v{newest} not started: {error.reason}"
        return f"release of v{newest} started: {arn}"

    def start(self, route: str, *, actor: str, trigger: str = "release") -> str:
        """Start a release run now; TransitionRefused while another one runs."""
        record = self._ports.registry.route(route)
        state = self.state(route)
        if state.lock is not None and self._ports.executions.is_running(state.lock.execution_arn):
            raise TransitionRefused(
                f"a release run is in flight ({state.lock.execution_arn})",
                f"wait for it, or pause it: python -m controller pause --route {route}",
                route=route,
                transition="release",
            )
        arn = start_run(
            self._ports.executions,
            record,
            route=route,
            trigger=trigger,
            actor=actor,
            now=self._clock(),
        )
        self._log.info("route %s: release run %s started by %s", route, arn, actor)
        return arn

    # ------------------------------------------------------------------ run tasks

    def begin(self, route: str, execution_arn: str, actor: str) -> ReleaseTaskResult:
        """Take the release lock when there is something to release; otherwise a no-op."""
        record = self._ports.registry.route(route)
        route_state = self._ports.state.load(route)
        live = self._port().read_alias(record)
        plan = record.release or ReleasePlanRecord()
        newest = record.function_version
        candidate = live.versions[-1] if not live.single else newest
        key = release_run.release_key(route)
        existing = self._ports.state.load(key)
        paused = existing.status is Status.PAUSED and not live.single
        if route_state.status is not Status.PROMOTED:
            reason = f"release skipped: the route is {route_state.status.value}, not promoted"
            return ReleaseTaskResult(Outcome.NOOP, existing.status, reason=reason)
        if not paused and (
            candidate is None or decide_start(
                promoted=True, lambda_percent=100.0, live=live, newest=candidate
            ) is not Start.RELEASE
        ):  # fmt: skip
            reason = f"release skipped: nothing newer than {live.describe()}"
            return ReleaseTaskResult(Outcome.NOOP, existing.status, reason=reason)
        assert candidate is not None
        now = self._clock()
        holder = held_execution(existing)
        running = holder not in (None, execution_arn) and self._ports.executions.is_running(
            str(holder)
        )
        try:
            _, transition = self._commit(
                route,
                lambda s: release_run.begin(
                    s,
                    execution_arn=execution_arn,
                    stages_total=len(plan.stages),
                    from_version=live.version,
                    to_version=candidate,
                    holder_running=running,
                    actor=actor,
                    now=now,
                ),
            )
        except TransitionRefused as error:
            return ReleaseTaskResult(Outcome.NOOP, existing.status, reason=error.reason)
        self._notify(route, f"release v{live.version} -> v{candidate} started", transition)
        return ReleaseTaskResult(
            Outcome.RELEASE, transition.state.status, reason=transition.state.reason
        )

    def shift(self, route: str, execution_arn: str) -> ReleaseTaskResult:
        """Write the next stage's split, read it back, record; the last stage completes."""
        run = self._held_run(route, execution_arn)
        if isinstance(run, ReleaseTaskResult):
            return run
        record, plan, state, current, new = run.record, run.plan, run.state, run.current, run.new
        if state.stage >= len(plan.stages):
            return ReleaseTaskResult(Outcome.COMPLETE, state.status, reason="all stages passed")
        stage = plan.stage(state.stage, route=route)
        desired = stage_split(current, new, stage.weight)
        self._write_verified(record, desired)
        if desired.single:
            # The last stage: the new version serves everything; nothing to judge.
            return ReleaseTaskResult(Outcome.COMPLETE, state.status, reason=desired.describe())
        now = self._clock()
        _, transition = self._commit(
            route,
            lambda s: release_run.shift(
                s,
                execution_arn=execution_arn,
                described=desired.describe(),
                stage_number=state.stage + 1,
                actor=STATE_MACHINE_ACTOR,
                now=now,
            ),
        )
        return ReleaseTaskResult(
            Outcome.BAKING,
            transition.state.status,
            stage=_stage_payload(state.stage, stage),
            reason=transition.state.reason,
        )

    def check(self, route: str, execution_arn: str) -> ReleaseTaskResult:
        """Judge the stage: alarms, then the new version against the current one."""
        run = self._held_run(route, execution_arn)
        if isinstance(run, ReleaseTaskResult):
            return run
        record, plan, state, current, new = run.record, run.plan, run.state, run.current, run.new
        stage = plan.stage(state.stage, route=route)
        now = self._clock()
        started = state.stage_started_at or now - timedelta(seconds=stage.bake_seconds)
        end = max(now, started + timedelta(seconds=max(stage.bake_seconds, 1)))
        alarm = self._ports.alarms.alarm_status(record)
        counts = self._port().version_counts(record, (current, new), started, end)
        judgement = judge(
            alarms_ok=not alarm.in_alarm,
            current=counts[current],
            new=counts[new],
            min_requests=plan.min_requests,
            max_error_rate_delta_percent=plan.max_error_rate_delta_percent,
        )
        figures_reason = f"release stage {state.stage + 1} check failed: {judgement.reason}"
        if judgement.verdict is Verdict.FAIL or (
            judgement.verdict is Verdict.NOT_YET
            and state.run_stages + 1 >= release_run.MAX_NOT_YET_CHECKS
        ):
            if judgement.verdict is Verdict.NOT_YET:
                figures_reason += f" after {release_run.MAX_NOT_YET_CHECKS} bakes"
            return ReleaseTaskResult(
                Outcome.FAIL,
                state.status,
                reason=f"{figures_reason} {_compact(judgement.figures)}",
            )
        _, transition = self._commit(
            route,
            lambda s: release_run.check(
                s,
                execution_arn=execution_arn,
                judgement=judgement,
                stage_number=state.stage + 1,
                actor=STATE_MACHINE_ACTOR,
                now=now,
            ),
        )
        if judgement.verdict is Verdict.NOT_YET:
            return ReleaseTaskResult(
                Outcome.NOT_YET,
                transition.state.status,
                stage=_stage_payload(state.stage, stage),
                reason=transition.state.reason,
            )
        return ReleaseTaskResult(Outcome.NEXT, transition.state.status, reason=judgement.reason)

    def finish(self, route: str, execution_arn: str) -> ReleaseTaskResult:
        """The alias serves the new version alone (verified by the last shift): done."""
        record = self._ports.registry.route(route)
        state = self.state(route)
        if not _holds(state, execution_arn):
            return ReleaseTaskResult(Outcome.SUPERSEDED, state.status, reason=state.reason)
        live = self._port().read_alias(record)
        now = self._clock()
        _, transition = self._commit(
            route,
            lambda s: release_run.finish(
                s,
                execution_arn=execution_arn,
                to_version=live.version,
                actor=STATE_MACHINE_ACTOR,
                now=now,
            ),
        )
        self._notify(route, f"release done: v{live.version} serves all", transition)
        return ReleaseTaskResult(
            Outcome.PROMOTED, transition.state.status, reason=transition.state.reason
        )

    # ------------------------------------------------------------------ failback

    def failback(
        self, route: str, *, reason: str, actor: str, execution_arn: str | None = None
    ) -> ReleaseFailback:
        """``live`` back on the version it replaces: routing config removed, read back first.

        Then the state (``rolled_back``; the route itself stays promoted), then
        the run is stopped (never the caller's own), then notify. The
        listener rule's weights are not touched. Repeating it is harmless.
        """
        record = self._ports.registry.route(route)
        live = self._port().read_alias(record)
        previous = AliasSplit(live.version)
        if live != previous:
            self._write_verified(record, previous)
        verified_at = self._clock()
        before, transition = self._commit(
            route, lambda s: release_run.failback(s, reason=reason, actor=actor, now=verified_at)
        )
        stopped = None
        if before.lock is not None and before.lock.execution_arn != execution_arn:
            self._ports.executions.stop(before.lock.execution_arn, f"release failback: {reason}")
            stopped = before.lock.execution_arn
        if transition.changed:
            self._notify(route, f"release rolled back: v{live.version} serves all", transition)
        return ReleaseFailback(transition, previous, stopped, verified_at)

    def pause(self, route: str, *, reason: str, actor: str) -> tuple[Transition, str | None]:
        """Stop the run, keep the split; resume continues it, rollback fails it back."""
        now = self._clock()
        before, transition = self._commit(
            route, lambda s: release_run.pause(s, reason=reason, actor=actor, now=now)
        )
        stopped = None
        if before.lock is not None:
            self._ports.executions.stop(before.lock.execution_arn, f"paused by {actor}: {reason}")
            stopped = before.lock.execution_arn
        self._notify(route, "release paused", transition)
        return transition, stopped

    def promote(self, route: str, *, reason: str, actor: str) -> tuple[Transition, str | None]:
        """Skip the rest: ``live`` serves the new version alone (verified), the run stops."""
        record = self._ports.registry.route(route)
        live = self._port().read_alias(record)
        _, new = self._versions(record, live)
        self._write_verified(record, AliasSplit(new))
        state = self.state(route)
        stopped = None
        if state.lock is not None:
            self._ports.executions.stop(state.lock.execution_arn, f"promoted by {actor}: {reason}")
            stopped = state.lock.execution_arn
        now = self._clock()
        _, transition = self._commit(
            route,
            lambda s: (
                release_run.finish(
                    s,
                    execution_arn=s.lock.execution_arn if s.lock else "",
                    to_version=new,
                    actor=actor,
                    now=now,
                )
                if s.lock is not None
                else release_run.direct(
                    s, from_version=live.version, to_version=new, actor=actor, now=now
                )
            ),
        )
        self._notify(route, f"release promoted: v{new} serves all", transition)
        return transition, stopped

    # ------------------------------------------------------------------ internals

    def _held_run(self, route: str, execution_arn: str) -> _HeldRun | ReleaseTaskResult:
        """What a task of ``execution_arn`` reads first; ``SUPERSEDED`` if it no longer holds."""
        record = self._ports.registry.route(route)
        plan = record.release or ReleasePlanRecord()
        state = self.state(route)
        if not _holds(state, execution_arn):
            return ReleaseTaskResult(Outcome.SUPERSEDED, state.status, reason=state.reason)
        current, new = self._versions(record, self._port().read_alias(record))
        return _HeldRun(record=record, plan=plan, state=state, current=current, new=new)

    def _versions(self, record: RouteRecord, live: AliasSplit) -> tuple[str, str]:
        """(current, candidate): the alias's own version and the one being released."""
        if not live.single:
            return live.version, live.versions[-1]
        newest = record.function_version or live.version
        return live.version, newest

    def _write_verified(self, record: RouteRecord, desired: AliasSplit) -> AliasSplit:
        """Write the split, then read back until it matches (or raise)."""
        port = self._port()
        port.write_alias(record, desired)
        found = port.read_alias(record)
        for _ in range(self._verify_reads - 1):
            if _same(found, desired):
                return found
            self._sleep(self._verify_interval)
            found = port.read_alias(record)
        if not _same(found, desired):
            raise VersionSplitMismatch(
                f"the alias reads back {found.describe()}, not {desired.describe()}",
                route=record.route,
                api_call="lambda:UpdateAlias",
            )
        return found

    def _commit(
        self, route: str, decide: Callable[[RouteState], Transition]
    ) -> tuple[RouteState, Transition]:
        key = release_run.release_key(route)
        for attempt in range(1, self._save_attempts + 1):
            before = self._ports.state.load(key)
            transition = decide(before)
            if not transition.changed:
                return before, transition
            try:
                self._ports.state.save(before.version, transition)
            except ConcurrentUpdate:
                if attempt == self._save_attempts:
                    raise
                continue
            return before, transition
        raise AssertionError("unreachable")  # pragma: no cover

    def _notify(self, route: str, what: str, transition: Transition) -> None:
        if not transition.changed:
            return
        state = transition.state
        entry = transition.entry
        subject = f"[strangler] {route}: {what}"
        subject = subject.encode("ascii", "replace").decode("ascii").replace("\n", " ")[:100]
        self._ports.notify.notify(
            subject,
            {
                "route": route,
                "event": entry.event.value if entry else None,
                "release": state.status.value,
                "stage": state.stage,
                "stages": state.stages_total,
                "reason": state.reason,
                "actor": entry.actor if entry else None,
            },
        )


def _same(found: AliasSplit, desired: AliasSplit) -> bool:
    if found.version != desired.version:
        return False
    versions = set(found.versions) | set(desired.versions)
    return all(abs(found.share(v) - desired.share(v)) < 1e-6 for v in versions)


@dataclass(frozen=True)
class _HeldRun:
    """A release task's view of its run: the record, its plan, the state and the two versions."""

    record: RouteRecord
    plan: ReleasePlanRecord
    state: RouteState
    current: str
    new: str


def _stage_payload(index: int, stage: ReleaseStageRecord) -> dict[str, Any]:
    """The ``stage`` of a task result: what the state machine's Wait reads."""
    return {"index": index, "weight": stage.weight, "bakeSeconds": stage.bake_seconds}


def _holds(state: RouteState, execution_arn: str) -> bool:
    return release_run.in_flight(state) and (
        state.lock is not None and state.lock.execution_arn == execution_arn
    )


def _compact(figures: dict[str, Any]) -> str:
    return json.dumps(figures, sort_keys=True, separators=(",", ":"))
