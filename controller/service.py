"""The controller's operations, shared by the Lambda handler and the operator CLI.

A rollback from the CLI is the very same rollback as the one an alarm
triggers: both call :meth:`CanaryService.rollback`. Every operation follows
one pattern: read the state and the live rule, let the pure core
(:mod:`controller.core.lifecycle`, :mod:`controller.core.plan`, :mod:`controller.core.weights`)
decide, write only what changed, then read back and verify. A shift is done
only when the read-back matches what was written (Argo Rollouts #3333: a
ModifyRule that returned 200 is not proof).

Operations of a run (called by the state machine's tasks, see
:mod:`controller.core.state_machine`): :meth:`~CanaryService.begin`,
:meth:`~CanaryService.shift`, :meth:`~CanaryService.check`,
:meth:`~CanaryService.finish` and :meth:`~CanaryService.rollback`, each
returning a :class:`TaskResult`. Operator operations:
:meth:`~CanaryService.start_run`, :meth:`~CanaryService.pause`,
:meth:`~CanaryService.resume`, :meth:`~CanaryService.promote`,
:meth:`~CanaryService.rollback`, :meth:`~CanaryService.sync`,
:meth:`~CanaryService.status`, :meth:`~CanaryService.history`. The failback
fast path: :meth:`~CanaryService.handle_alarm`.

The sync (:meth:`~CanaryService.sync`) reconciles the rule's target group
ARNs with the registry, which the deploy rewrites while Pulumi ignores the
rule's actions. It runs on the registry's "Parameter Store Change" event, at
the start of every run (Begin), on the operator's ``sync`` command, and
inside a rollback whose rule is out of sync.

AWS is reached only through the ports of :mod:`controller.core.ports`; this module
never imports boto3 nor the adapters (:mod:`controller.aws.wiring` builds the
:class:`Ports` of the boto3 adapters).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from controller.capacity_guard import CapacityGuardOps, FailbackCapacity
from controller.concurrency_gate import estimate_after_bake_of, estimate_for_shift
from controller.core import lifecycle
from controller.core.capacity import CapacityGuard
from controller.core.contract import PlanRecord, RouteRecord
from controller.core.errors import (
    AwsCallFailed,
    ConcurrentUpdate,
    DriftDetected,
    PlanError,
    StranglerError,
    SyncRefused,
    TransitionRefused,
    VerificationFailed,
)
from controller.core.gate import GateEstimate
from controller.core.lifecycle import (
    REASON_VERIFY,
    HistoryEntry,
    RouteState,
    Status,
    Transition,
)
from controller.core.plan import Stage, StagePlan
from controller.core.ports import ALARM, AlarmStatus, Ports
from controller.core.release_run import release_key
from controller.core.split import alb_text, split_json_with_alb, split_text
from controller.core.state_machine import Outcome, task_payload
from controller.core.sync import SyncPlan, TargetGroupWeight, plan_sync, same_groups
from controller.core.verify import VerifyReport
from controller.core.weights import ALL_ECS, ALL_LAMBDA, Weights
from controller.releases import RELEASE_TRIGGERS, ReleaseService
from controller.runs import execution_name, start_run

__all__ = [
    "STATE_MACHINE_ACTOR",
    "ActionResult",
    "CanaryService",
    "Log",
    "Ports",
    "RollbackIncomplete",
    "RouteStatus",
    "RunContext",
    "ServiceSettings",
    "TaskResult",
    "execution_name",
    "is_transient",
]

# The actor of the history entries a run's tasks write after Begin (Begin
# records who started the run: "schedule", "operator:alice", ...).
STATE_MACHINE_ACTOR = "state-machine"

# SNS limits a subject to 100 printable ASCII characters (SNS Publish API).
_MAX_SUBJECT = 100
# StopExecution's cause is at most 32768 characters; keep ours short and readable.
_MAX_CAUSE = 1000


class Log(Protocol):
    """The logging methods the service uses (std ``logging.Logger`` and Powertools' Logger)."""

    def info(self, msg: str, *args: Any) -> None:
        """Log at INFO."""
        ...

    def warning(self, msg: str, *args: Any) -> None:
        """Log at WARNING."""
        ...

    def error(self, msg: str, *args: Any) -> None:
        """Log at ERROR."""
        ...


@dataclass(frozen=True)
class ServiceSettings:
    """Tunables of the read-back verification and the retries inside one call."""

    # The ALB applies a ModifyRule at once in practice, but the control plane is
    # eventually consistent: read back a few times before calling it a mismatch.
    verify_reads: int = 3
    verify_interval_seconds: float = 0.5
    # Rollback is the failback path: it re-writes a few times before it gives up
    # (on top of botocore's own retries of throttling).
    rollback_write_attempts: int = 3
    rollback_retry_interval_seconds: float = 0.5
    # Conditional writes that lose a race reload and decide again this often.
    save_attempts: int = 4


@dataclass(frozen=True)
class RunContext:
    """What a state machine task tells the service about its run."""

    route: str
    execution_arn: str
    trigger: str
    actor: str
    plan: PlanRecord
    stage_index: int | None = None
    """Check only: the stage the Shift task moved to (detects a retried Check)."""


@dataclass(frozen=True)
class TaskResult:
    """The answer to a state machine task; :meth:`to_payload` is what the Lambda returns."""

    outcome: str
    status: Status
    stage: Stage | None = None
    reason: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON for Step Functions: always the four keys of ``TASK_RESULT_KEYS``."""
        stage = None
        if self.stage is not None:
            stage = {
                "index": self.stage.index,
                "weight": self.stage.weight_percent,
                "bakeSeconds": self.stage.bake_seconds,
            }
        return task_payload(self.outcome, self.status.value, stage, self.reason)


@dataclass(frozen=True)
class ActionResult:
    """The outcome of an operator action or a rollback.

    ``result`` is ``done`` (something changed), ``unchanged`` (nothing to do,
    e.g. a repeated rollback) or ``started`` (an execution was started).
    ``weights`` are the live weights read after the action.
    """

    route: str
    action: str
    result: str
    status: Status
    message: str
    stage: int
    stages: int
    weights: Weights | None = None
    execution: str | None = None
    stopped_execution: str | None = None
    details: dict[str, Any] | None = None
    """Action-specific data (``verify``: the check's report)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for the handler's response and logs)."""
        return {
            **({"details": self.details} if self.details is not None else {}),
            "route": self.route,
            "action": self.action,
            "result": self.result,
            "status": self.status.value,
            "message": self.message,
            "stage": self.stage,
            "stages": self.stages,
            "weights": _weights_dict(self.weights),
            "execution": self.execution,
            "stoppedExecution": self.stopped_execution,
        }


@dataclass(frozen=True)
class RouteStatus:
    """Everything the CLI's ``status`` shows about one route, read live."""

    route: str
    status: Status
    stage: int
    stages: int
    live: Weights
    last_written: Weights | None
    drift: bool
    alarm: str
    alarms_in_alarm: tuple[str, ...]
    execution: str | None
    execution_running: bool
    next_stage_at: datetime | None
    reason: str | None
    updated_at: datetime | None
    # The alias `live`: which versions serve the Lambda share (``v7 90 % / v8 10 %``).
    versions: str | None = None
    release: str | None = None
    capacity: CapacityGuard | None = None
    """The capacity guard (None: no ``ecsService``, the guard is off, or no run began yet)."""
    capacity_enabled: bool = False
    gate: GateEstimate | None = None
    """The concurrency gate's last estimate."""


class RollbackIncomplete(StranglerError):
    """The weights are back on ECS, but a later step (state, stop, notify, metric) failed.

    Raised at the end of the rollback so EventBridge retries the event (or it
    lands in the DLQ) and the state machine's Retry runs the rollback again;
    the repeat finds the weights already at ECS and redoes only what failed.
    """

    def __init__(self, route: str, problems: Sequence[tuple[str, BaseException]]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(f"{step}: {error}" for step, error in self.problems)
        super().__init__(
            f"weights are at ECS, but the rollback is incomplete: {listed}", route=route
        )


class RouteFailures(StranglerError):
    """One or more routes of a loop failed; every route was still attempted."""

    def __init__(self, failures: Sequence[tuple[str, BaseException]]) -> None:
        self.failures = tuple(failures)
        listed = "; ".join(f"route {route}: {error}" for route, error in self.failures)
        super().__init__(f"{len(self.failures)} route(s) failed: {listed}")


def is_transient(error: BaseException) -> bool:
    """True when repeating the operation later may succeed (the state machine retries it).

    Throttling and 5xx (``AwsCallFailed.transient``), a read-back that did not
    match yet (the ALB converges), a conditional write that kept losing, and a
    rollback whose later steps hit one of those.
    """
    if isinstance(error, VerificationFailed | ConcurrentUpdate):
        return True
    if isinstance(error, AwsCallFailed):
        return bool(getattr(error, "transient", False))
    if isinstance(error, RollbackIncomplete):
        return any(is_transient(cause) for _, cause in error.problems)
    return False


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CanaryService:
    """The operations on a stack's routes; see the module docstring."""

    def __init__(
        self,
        ports: Ports,
        *,
        settings: ServiceSettings | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        log: Log | None = None,
    ) -> None:
        self._ports = ports
        self._settings = settings or ServiceSettings()
        self._clock = clock
        self._sleep = sleep
        self._log: Log = log or logging.getLogger(__name__)
        # Release runs of promoted routes (controller/releases.py).
        self.releases = ReleaseService(
            ports,
            clock=clock,
            sleep=sleep,
            log=self._log,
            verify_reads=self._settings.verify_reads,
            verify_interval_seconds=self._settings.verify_interval_seconds,
            save_attempts=self._settings.save_attempts,
        )
        self._guard = CapacityGuardOps(ports, commit=self._commit, clock=clock, log=self._log)

    @property
    def ports(self) -> Ports:
        """The ports this service calls."""
        return self._ports

    # ------------------------------------------------------------------ run tasks

    def begin(self, run: RunContext) -> TaskResult:
        """Take the route's lock for this execution, or record why not (a no-op).

        Any refusal (promoted, rolled back, paused for an operator, locked by a
        running execution, an invalid plan, an alarm of the route in ALARM) is
        recorded in the history and answered with ``noop``: the execution then
        ends successfully. A lock
        whose holder is no longer running is taken over (``lock_stolen``).
        """
        record = self._ports.registry.route(run.route)  # an unknown route is an error
        if run.trigger in RELEASE_TRIGGERS:
            release = self.releases.begin(run.route, run.execution_arn, run.actor)
            return TaskResult(release.outcome, release.status, reason=release.reason)
        problem: str | None = None
        # Before the first shift, the rule must forward to the registry's target
        # groups: a deploy since the last run may have replaced one. A rule
        # that cannot be synced without guessing is not run (a recorded no-op).
        try:
            self.sync(
                run.route,
                actor=STATE_MACHINE_ACTOR,
                reason=f"at the start of run {run.execution_arn}",
            )
        except (SyncRefused, DriftDetected) as error:
            # DriftDetected: the rule has no single forward action to sync.
            problem = f"start skipped: {error.message}"
        now = self._clock()
        stages_total = 0
        try:
            stages_total = StagePlan.from_record(run.plan, route=run.route).total
        except PlanError as error:
            problem = problem or f"start skipped: {error.message}"
        # As for an operator's start: no run may shift traffic to an alarming function.
        alarm = self._ports.alarms.alarm_status(record)
        in_alarm = f"start skipped: {_alarms_in_alarm(record, alarm)}" if alarm.in_alarm else None

        def decide(state: RouteState) -> Transition:
            if problem is not None:
                return lifecycle.noop(
                    state, reason=problem, actor=run.actor, now=now, execution_arn=run.execution_arn
                )
            transition = lifecycle.begin_or_noop(
                state,
                execution_arn=run.execution_arn,
                stages_total=stages_total,
                holder_running=self._holder_running(state, run.execution_arn),
                actor=run.actor,
                now=now,
            )
            began = _holds(transition.state, run.execution_arn) and not _holds(
                state, run.execution_arn
            )
            if in_alarm is not None and began:
                # The route could begin, but an alarm is in ALARM: a recorded no-op instead
                # (a route that could not begin anyway keeps the reason its state gives).
                return lifecycle.noop(
                    state,
                    reason=in_alarm,
                    actor=run.actor,
                    now=now,
                    execution_arn=run.execution_arn,
                )
            return transition

        _, transition = self._commit(run.route, decide)
        state = transition.state
        if _holds(state, run.execution_arn):
            # The monolith keeps the tasks it needs to take the route back.
            self._guard.on_begin(record, actor=run.actor)
            self._log.info(
                "route %s: run %s begins after %d of %d stages",
                run.route,
                run.execution_arn,
                state.stage,
                state.stages_total,
            )
            return TaskResult(Outcome.RUN, state.status, reason=state.reason)
        reason = transition.entry.reason if transition.entry else state.reason
        self._log.info("route %s: start of %s is a no-op: %s", run.route, run.execution_arn, reason)
        return TaskResult(Outcome.NOOP, state.status, reason=reason)

    def verify(self, run: RunContext) -> TaskResult:
        """The equivalence check before the run's first shift (controller/core/verify.py).

        Any difference, or a check that could not run, pauses the route for an
        operator with the differences in the history and the notification;
        the weights are not touched, so no user request has reached the
        function. A route without ``verify`` in its config passes unchecked.
        Transient failures (throttling, a timed-out invoke) are raised for the
        state machine to retry.
        """
        record = self._ports.registry.route(run.route)
        state = self._ports.state.load(run.route)
        if state.status is Status.PAUSED and (state.reason or "").startswith(REASON_VERIFY):
            return TaskResult(Outcome.DIFFERS, state.status, reason=state.reason)  # a retry
        if not _holds(state, run.execution_arn):
            return self._superseded(state, run, "verify")
        if record.check_function_name is None:
            return TaskResult(
                Outcome.VERIFIED, state.status, reason="verify skipped: no verify in the config"
            )
        report, reason = self._run_check(record)
        now = self._clock()
        passed = report is not None and report.passed
        try:
            _, transition = self._commit(
                run.route,
                lambda s: lifecycle.verify(
                    s,
                    execution_arn=run.execution_arn,
                    passed=passed,
                    reason=reason,
                    actor=STATE_MACHINE_ACTOR,
                    now=now,
                ),
            )
        except TransitionRefused:
            return self._superseded(self._ports.state.load(run.route), run, "verify")
        if passed:
            return TaskResult(Outcome.VERIFIED, transition.state.status, reason=reason)
        self._log.warning("route %s: %s", run.route, reason)
        self._notify(
            run.route,
            "paused: the function does not answer as ECS does",
            event="verify",
            state=transition.state,
            actor=STATE_MACHINE_ACTOR,
            weights=transition.state.last_written,
            extra={
                "differences": [d.to_dict() for d in report.differences] if report else [],
                "action": "no user traffic reached the function. Fix it, check with python -m "
                f"controller verify --route {run.route}, then resume",
            },
        )
        return TaskResult(Outcome.DIFFERS, transition.state.status, reason=reason)

    def verify_route(self, route: str, *, actor: str) -> ActionResult:
        """``verify`` on demand: run the check and report it; nothing is recorded or moved."""
        record = self._ports.registry.route(route)
        state = self._ports.state.load(route)
        report, reason = self._run_check(record)
        self._log.info("route %s: verify by %s: %s", route, actor, reason)
        return ActionResult(
            route=route,
            action="verify",
            result="passed" if report is not None and report.passed else "differs",
            status=state.status,
            message=reason,
            stage=state.stage,
            stages=state.stages_total or len(record.plan.stages),
            weights=self._ports.traffic.read_weights(record),
            details=report.to_dict() if report is not None else None,
        )

    def _run_check(self, record: RouteRecord) -> tuple[VerifyReport | None, str]:
        """The route's check and its summary; a check that could not run has no report."""
        try:
            report = self._ports.verify.run_check(record)
        except StranglerError as error:
            if is_transient(error):
                raise
            return None, f"{REASON_VERIFY} the check could not run: {error.message}"
        return report, report.summary()

    def shift(self, run: RunContext) -> TaskResult:
        """Move the route to its next stage: drift check, write, read back, record.

        The stage comes from the stored state (stages passed so far), so a
        run resumes where the last one stopped. A difference between the live
        weights and the last written ones is a human's change: the route is
        paused with reason drift and the weights are left as they are.
        """
        record = self._ports.registry.route(run.route)
        plan = StagePlan.from_record(run.plan, route=run.route)
        state = self._ports.state.load(run.route)
        if not _holds(state, run.execution_arn):
            return self._superseded(state, run, "shift")
        stage = plan.next_stage(state.stage)
        if stage is None:
            return TaskResult(Outcome.COMPLETE, state.status, reason="all stages passed")
        estimate = estimate_for_shift(record, stage, state.gate)
        if estimate is not None and estimate.blocked:
            return self._gate_pause(record, run, estimate)
        desired = stage.weights
        record, live = self._read_live(record)
        # A retried Shift may find its own earlier write already in place: the
        # rule then holds exactly the stage's weights, which is no human change.
        if live != desired and lifecycle.is_drift(state, live):
            return self._drift(record, run, live)
        if live != desired:
            self._ports.traffic.write_weights(record, desired)
            self._verify(record, desired)
        now = self._clock()
        try:
            _, transition = self._commit(
                run.route,
                lambda s: lifecycle.with_gate(
                    lifecycle.record_shift(
                        s,
                        execution_arn=run.execution_arn,
                        weights=desired,
                        actor=STATE_MACHINE_ACTOR,
                        now=now,
                    ),
                    estimate,
                ),
            )
        except TransitionRefused:
            # Someone (an alarm's rollback, an operator) took the route while we
            # wrote: put back what the new state says the rule must hold.
            self._restore_expected(record)
            return self._superseded(self._ports.state.load(run.route), run, "shift")
        self._ports.metrics.put_canary_weight(run.route, desired.lambda_percent)
        self._log.info(
            "route %s: stage %d of %d at %s verified; baking %d s",
            run.route,
            stage.number,
            plan.total,
            desired,
            stage.bake_seconds,
        )
        return TaskResult(
            Outcome.BAKING, transition.state.status, stage=stage, reason=transition.state.reason
        )

    def check(self, run: RunContext) -> TaskResult:
        """Decide the stage after its bake: alarms, drift, then the request count.

        Fails (and rolls back at once) when the composite alarm or any child
        alarm is in ALARM, or when the stage baked (bake > 0) and the canary got
        fewer than ``minRequests`` requests: no evidence is not a pass. Passes
        otherwise; the outcome says whether the run goes on, pauses
        (``stagesPerRun``) or finishes.
        """
        record = self._ports.registry.route(run.route)
        plan = StagePlan.from_record(run.plan, route=run.route)
        state = self._ports.state.load(run.route)
        if run.stage_index is not None and state.stage > run.stage_index:
            # A retried Check whose pass is already saved: answer as before.
            return self._after_pass(state, run)
        if not _holds(state, run.execution_arn):
            return self._superseded(state, run, "check")
        if state.stage >= state.stages_total:
            return TaskResult(Outcome.FINISH, state.status, reason="all stages passed")
        stage = plan.stage(state.stage)
        alarm = self._ports.alarms.alarm_status(record)
        if alarm.in_alarm:
            return self._fail_check(
                record, run, f"stage {stage.number} check failed: {alarm.describe()}"
            )
        record, live = self._read_live(record)
        if lifecycle.is_drift(state, live):
            return self._drift(record, run, live)
        evidence = ""
        if plan.min_requests > 0 and stage.bake_seconds > 0:
            now = self._clock()
            bake = timedelta(seconds=stage.bake_seconds)
            started = state.stage_started_at or now - bake
            # The window covers the bake at least (a Check runs after its Wait)
            # and whatever arrived after the bake ended.
            count = self._ports.metrics.request_count(run.route, started, max(now, started + bake))
            if count < plan.min_requests:
                return self._fail_check(
                    record,
                    run,
                    f"stage {stage.number} check failed: {count} canary requests during the "
                    f"{stage.bake_seconds} s bake, fewer than minRequests {plan.min_requests} "
                    "(no evidence is not a pass)",
                )
            evidence = f", {count} requests"
        now = self._clock()
        # The next shift's concurrency gate needs this bake's peak: measure it now.
        bake_start = state.stage_started_at or now - timedelta(seconds=stage.bake_seconds)
        estimate = estimate_after_bake_of(self._ports, record, plan, stage, bake_start, now)
        _, transition = self._commit(
            run.route,
            lambda s: lifecycle.with_gate(
                lifecycle.pass_check(
                    s,
                    execution_arn=run.execution_arn,
                    stages_per_run=plan.stages_per_run,
                    actor=STATE_MACHINE_ACTOR,
                    now=now,
                    reason=f"stage {stage.number} of {plan.total} passed: alarms OK{evidence}",
                ),
                estimate,
            ),
        )
        result = self._after_pass(transition.state, run)
        if result.outcome == Outcome.PAUSE:
            self._notify(
                record.route,
                "paused until the next run",
                event="pause",
                state=transition.state,
                actor=STATE_MACHINE_ACTOR,
                weights=transition.state.last_written,
            )
        return result

    def finish(self, run: RunContext) -> TaskResult:
        """Every stage passed: the route is promoted and the lock released."""
        record = self._ports.registry.route(run.route)
        state = self._ports.state.load(run.route)
        if state.status is Status.PROMOTED:
            # A retried Finish: the hold may not be recorded yet.
            self._guard.on_promoted(record, actor=STATE_MACHINE_ACTOR)
            return TaskResult(Outcome.PROMOTED, state.status, reason=state.reason)
        if not _holds(state, run.execution_arn):
            return self._superseded(state, run, "finish")
        now = self._clock()
        _, transition = self._commit(
            run.route,
            lambda s: lifecycle.finish(
                s, execution_arn=run.execution_arn, actor=STATE_MACHINE_ACTOR, now=now
            ),
        )
        if transition.changed:
            self._notify(
                record.route,
                "promoted: all traffic on Lambda",
                event="finish",
                state=transition.state,
                actor=STATE_MACHINE_ACTOR,
                weights=ALL_LAMBDA,
            )
            self._release_waiting(record.route, STATE_MACHINE_ACTOR)
        self._guard.on_promoted(record, actor=STATE_MACHINE_ACTOR)
        return TaskResult(Outcome.PROMOTED, transition.state.status, reason=transition.state.reason)

    def rollback_task(self, run: RunContext, failure: str) -> TaskResult:
        """The state machine's Rollback task: :meth:`rollback` with the failure as reason."""
        result = self.rollback(
            run.route,
            reason=f"run failed: {failure}",
            actor=STATE_MACHINE_ACTOR,
            execution_arn=run.execution_arn,
        )
        return TaskResult(Outcome.ROLLED_BACK, result.status, reason=result.message)

    # ------------------------------------------------------------------ failback

    def rollback(
        self,
        route: str,
        *,
        reason: str,
        actor: str,
        execution_arn: str | None = None,
    ) -> ActionResult:
        """All traffic back to ECS, then the state, then stop the run, then notify.

        Allowed from any state and idempotent: a repeat finds the weights at
        ECS and the route rolled back, writes nothing, appends no history entry
        and sends no notification. The weights go first, so the failback works
        while DynamoDB or SNS fail; those failures are logged, notified when SNS
        works, and re-raised at the end (:class:`RollbackIncomplete`).
        ``execution_arn`` is the caller's own execution, which is never stopped.
        """
        record = self._ports.registry.route(route)
        if self.releases.needs_failback(record):
            # A release in flight: only the new version is taken out; ECS stays as it is.
            failback = self.releases.failback(
                route, reason=reason, actor=actor, execution_arn=execution_arn
            )
            return self._release_action(
                record, "rollback", failback.transition, stopped=failback.stopped
            )
        now = self._clock()
        return self._rollback(
            record,
            reason=reason,
            actor=actor,
            caller_execution=execution_arn,
            decide=lambda s: lifecycle.rollback(s, reason=reason, actor=actor, now=now),
        )

    def handle_alarm(
        self, alarm_name: str, alarm_arn: str | None, state: str, reason: str
    ) -> list[ActionResult]:
        """A CloudWatch alarm changed state: roll back every route it belongs to on ALARM.

        Other states change nothing. Every matching route is rolled back even
        when an earlier one fails; the failures are raised together afterwards.
        """
        if state != "ALARM":
            self._log.info("alarm %s is %s: nothing to do", alarm_name, state)
            return []
        records = self._ports.registry.routes()
        matching = [r for r in records if _alarm_matches(r, alarm_name, alarm_arn)]
        if not matching:
            known = ", ".join(r.composite_alarm_name for r in records) or "(none)"
            raise StranglerError(
                f"alarm {alarm_name} ({alarm_arn or 'no ARN'}) belongs to no route of this "
                f"stack; the routes' composite alarms are: {known}",
                arn=alarm_arn,
            )
        results: list[ActionResult] = []
        failures: list[tuple[str, BaseException]] = []
        for record in matching:
            try:
                results.append(
                    self.rollback(
                        record.route,
                        reason=f"alarm {alarm_name} in ALARM: {reason}".strip(),
                        actor=f"alarm:{alarm_name}",
                    )
                )
            except Exception as error:  # one route's failure must not skip the others
                self._log.error(
                    "route %s: rollback on alarm %s failed: %s", record.route, alarm_name, error
                )
                failures.append((record.route, error))
        if failures:
            if len(failures) == 1:
                raise failures[0][1]
            raise RouteFailures(failures) from failures[0][1]
        return results

    # ------------------------------------------------------------------ operator

    def start_run(self, route: str, *, actor: str, trigger: str = "operator") -> ActionResult:
        """Start a run now, after the same checks a scheduled start's Begin makes.

        Refused (:class:`TransitionRefused`, nothing recorded) when an alarm of
        the route is in ALARM, or the route is promoted, rolled back, paused for
        an operator or locked by a running execution. Begin in the new execution
        still takes the lock conditionally: of two starts at once, one is refused
        there.
        """
        record = self._ports.registry.route(route)
        plan = StagePlan.from_record(record.plan, route=route)
        state = self._ports.state.load(route)
        now = self._clock()
        # The route's state first: a route waiting for an operator says what to do.
        lifecycle.begin(  # raises TransitionRefused; the transition itself is Begin's job
            state,
            execution_arn="(about to start)",
            stages_total=plan.total,
            holder_running=self._holder_running(state, None),
            actor=actor,
            now=now,
        )
        alarm = self._ports.alarms.alarm_status(record)
        if alarm.in_alarm:
            # Not a single request may shift to a function that is already alarming.
            raise TransitionRefused(
                f"{_alarms_in_alarm(record, alarm)}; a run would shift traffic to an "
                "alarming function",
                f"wait until the alarms are OK (python -m controller status --route {route}), "
                "then start again",
                route=route,
                transition="start",
            )
        arn = start_run(
            self._ports.executions, record, route=route, trigger=trigger, actor=actor, now=now
        )
        self._log.info("route %s: run %s started by %s", route, arn, actor)
        return ActionResult(
            route=route,
            action="start",
            result="started",
            status=state.status,
            message=f"run started from stage {state.stage + 1} of {plan.total}",
            stage=state.stage,
            stages=plan.total,
            # The rule's weights as they are, never the stored ones (which differ after a drift).
            weights=self._ports.traffic.read_weights(record),
            execution=arn,
        )

    def pause(self, route: str, *, reason: str, actor: str) -> ActionResult:
        """Stop the running execution and keep the weights; only an operator resumes."""
        record = self._ports.registry.route(route)
        if self.releases.in_flight(route):
            release, stopped = self.releases.pause(route, reason=reason, actor=actor)
            return self._release_action(record, "pause", release, stopped=stopped)
        now = self._clock()
        transition, stopped = self._operator_commit(
            route,
            lambda s: lifecycle.pause(s, reason=reason, actor=actor, now=now),
            event="pause",
            what="paused",
            actor=actor,
            stop_cause=f"paused by {actor}: {reason}",
        )
        return self._action(record, "pause", transition, stopped=stopped)

    def resume(
        self, route: str, *, reason: str, actor: str, accept_live: bool = False
    ) -> ActionResult:
        """Make a paused or rolled-back route idle again; the next run continues it.

        ``accept_live`` adopts the live weights as the baseline after a drift
        (the human's change becomes what the controller last wrote).
        """
        record = self._ports.registry.route(route)
        if self.releases.enabled and self.releases.state(route).status is Status.PAUSED:
            # A paused release run continues from its stage in a new run.
            arn = self.releases.start(route, actor=actor, trigger="release-resume")
            state = self.releases.state(route)
            return ActionResult(
                route=route,
                action="resume",
                result="started",
                status=self._ports.state.load(route).status,
                message=f"release resumed from stage {state.stage + 1}: {reason}",
                stage=state.stage,
                stages=state.stages_total,
                weights=self._ports.traffic.read_weights(record),
                execution=arn,
            )
        live = self._ports.traffic.read_weights(record) if accept_live else None
        now = self._clock()
        transition, _ = self._operator_commit(
            route,
            lambda s: lifecycle.resume(s, reason=reason, actor=actor, now=now, accept_live=live),
            event="resume",
            what="resumed",
            actor=actor,
            stop_cause=None,  # resume stops nothing: it only makes the route runnable
        )
        return self._action(record, "resume", transition)

    def promote(self, route: str, *, reason: str, actor: str, full: bool = False) -> ActionResult:
        """Skip the rest of the current bake, or (``full``) go straight to 100 % verified.

        Both check the alarms first: a route in ALARM is never promoted.
        Without ``full`` the current stage is marked passed, the running
        execution is stopped (a Wait cannot be cut short) and a new run starts
        from the next stage. Skipping the last stage is a full promote, because
        only a verified write of 100 % may make a route promoted.
        """
        record = self._ports.registry.route(route)
        alarm = self._ports.alarms.alarm_status(record)
        if alarm.in_alarm:
            raise TransitionRefused(
                f"{alarm.describe()}",
                f"wait for the alarms to clear, or roll back: python -m controller rollback "
                f"--route {route}",
                route=route,
                transition="promote",
            )
        if self.releases.enabled and self.releases.state(route).status in (
            Status.PROGRESSING,
            Status.PAUSED,
        ):
            release, stopped = self.releases.promote(route, reason=reason, actor=actor)
            return self._release_action(record, "promote", release, stopped=stopped)
        state = self._ports.state.load(route)
        now = self._clock()
        if full or (state.stages_total > 0 and state.stage == state.stages_total - 1):
            return self._promote_full(record, reason=reason, actor=actor)
        before, transition = self._commit(
            route,
            _promotion(record, full=False, reason=reason, actor=actor, now=now),
        )
        stopped = None
        if before.lock is not None:
            stopped = self._stop(before.lock.execution_arn, f"promoted by {actor}: {reason}")
        started = self.start_run(route, actor=actor, trigger="promote")
        self._notify(
            route,
            f"stage {transition.state.stage} marked passed",
            event="promote",
            state=transition.state,
            actor=actor,
            weights=transition.state.last_written,
        )
        result = self._action(record, "promote", transition, stopped=stopped)
        return replace(result, result="started", execution=started.execution)

    # ------------------------------------------------------------------ sync

    def sync(self, route: str, *, actor: str, reason: str | None = None) -> ActionResult:
        """Make the rule forward to the registry's target groups, keeping the live split.

        The registry record (re-read from the registry, never a cached copy)
        is the desired state of the ECS and Lambda target group ARNs. When
        the rule holds another ARN for one side, that ARN is replaced and its
        weight kept (:func:`controller.core.sync.plan_sync` decides, by ARN);
        a rule already in sync writes nothing. Allowed in every status and
        whoever holds the lock: only ARNs change, never the weights.

        Order: read the rule, decide, write only if the rule still holds what
        was read (a writer in between makes the sync read and decide again),
        read back until the rule holds the registry's ARNs, record a history
        entry (event ``sync``), and notify. Then, because a rollback wins: if
        the route is rolled back by now, the rule is put back to ECS 100 %
        in case the sync's write landed after the rollback's.

        Raises :class:`SyncRefused` (after notifying the topic) when the rule
        cannot be synced without guessing; nothing is written then.
        """
        # A record cached before the deploy names the target groups it replaced.
        self._ports.registry.reload()
        record = self._ports.registry.route(route)
        try:
            plan = self._write_sync(record)
        except SyncRefused as error:
            self._log.error("route %s: %s", route, error)
            self._notify_sync_refused(record, error, actor)
            raise
        if not plan.changed:
            state = self._ports.state.load(route)
            return ActionResult(
                route=route,
                action="sync",
                result="unchanged",
                status=state.status,
                message="in sync with the registry: nothing to do",
                stage=state.stage,
                stages=state.stages_total or len(record.plan.stages),
                weights=plan.weights,
            )
        live = self._verify_sync(record, plan)
        now = self._clock()
        why = plan.describe() + (f" ({reason})" if reason else "")
        _, transition = self._commit(
            route,
            lambda s: lifecycle.sync(s, reason=why, weights=plan.weights, actor=actor, now=now),
        )
        state = transition.state
        self._log.warning("route %s: %s", route, why)
        if state.status is Status.ROLLED_BACK:
            # Rollback wins: this sync may have written its (older) weights
            # after the rollback's own re-check of the rule.
            self._force_weights(record, ALL_ECS)
            live = ALL_ECS
        self._notify(
            route,
            "target groups synced with the registry",
            event="sync",
            state=state,
            actor=actor,
            weights=live,
            extra={
                "replaced": [
                    {
                        "side": r.side,
                        "from": r.old_arn,
                        "to": r.new_arn,
                        "weight": r.weight,
                    }
                    for r in plan.replaced
                ],
                "syncReason": why,
            },
        )
        return self._action(record, "sync", transition, weights=live)

    def _write_sync(self, record: RouteRecord) -> SyncPlan:
        """Read the rule, decide, and write when needed; a concurrent writer makes it decide again.

        The rule is read right before each write, and the write goes through
        only if the rule still holds what was read (see
        :meth:`~controller.core.ports.TrafficPort.write_forward`), so the
        weights written are the live ones: a rollback's ECS 100 % is kept.
        """
        attempts = max(1, self._settings.save_attempts)
        for attempt in range(1, attempts + 1):
            groups = self._ports.traffic.read_forward(record)
            plan = plan_sync(
                groups,
                ecs_arn=record.ecs_target_group_arn,
                lambda_arn=record.lambda_target_group_arn,
                route=record.route,
                rule_arn=record.rule_arn,
            )
            if not plan.changed:
                return plan
            try:
                self._ports.traffic.write_forward(record, plan.synced, plan.current)
            except ConcurrentUpdate:
                if attempt == attempts:
                    raise
                self._log.info(
                    "route %s: the rule changed while syncing; deciding again", record.route
                )
                continue
            return plan
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _verify_sync(self, record: RouteRecord, plan: SyncPlan) -> Weights | None:
        """Read the rule back until it forwards to the registry's ARNs; returns the live weights.

        The ARNs must read back as written. The weights may differ from the
        ones the sync kept only if another writer (a rollback) wrote after it,
        which is logged, not refused: that writer's weights are the newer ones.
        """
        reads = max(1, self._settings.verify_reads)
        found: tuple[TargetGroupWeight, ...] = ()
        for attempt in range(reads):
            found = self._ports.traffic.read_forward(record)
            arns = sorted(group.arn for group in found)
            if arns == sorted(group.arn for group in plan.synced):
                if not same_groups(found, plan.synced):
                    self._log.warning(
                        "route %s: the weights changed right after the sync: %s",
                        record.route,
                        ", ".join(str(group) for group in found),
                    )
                by_arn = {group.arn: group.weight for group in found}
                try:
                    return Weights(
                        ecs=by_arn[record.ecs_target_group_arn],
                        lambda_=by_arn[record.lambda_target_group_arn],
                    )
                except StranglerError:
                    return None
            if attempt + 1 < reads:
                self._sleep(self._settings.verify_interval_seconds)
        raise VerificationFailed(
            "the rule reads back "
            + (", ".join(str(group) for group in found) or "no target groups")
            + " after ModifyRule, expected "
            + ", ".join(str(group) for group in plan.synced),
            route=record.route,
            arn=record.rule_arn,
            api_call="elasticloadbalancing:DescribeRules",
            expected=plan.synced,
            actual=found,
        )

    def _notify_sync_refused(self, record: RouteRecord, error: SyncRefused, actor: str) -> None:
        """Best effort: a rule that cannot be synced needs a human; the error is raised anyway."""
        try:
            self._ports.notify.notify(
                _subject(record.route, "SYNC REFUSED: target groups differ from the registry"),
                {
                    "route": record.route,
                    "event": "sync_refused",
                    "reason": error.message,
                    "actor": actor,
                    "rule": record.rule_arn,
                    "ruleTargetGroups": list(error.found),
                    "registry": {"ecs": error.ecs, "lambda": error.lambda_},
                    "action": "fix the rule's forward action (or the registry) by hand, then "
                    f"run: python -m controller sync --route {record.route}",
                },
            )
        except Exception as notify_error:  # the refusal itself is raised by the caller
            self._log.error(
                "route %s: sync refusal notification failed: %s", record.route, notify_error
            )

    # ------------------------------------------------------------------ read only

    def status(self, route: str) -> RouteStatus:
        """The route's state, live weights, drift flag, alarms, execution and next stage time."""
        record = self._ports.registry.route(route)
        state = self._ports.state.load(route)
        live = self._ports.traffic.read_weights(record)
        alarm: AlarmStatus = self._ports.alarms.alarm_status(record)
        split = self.releases.split(record)
        release = self.releases.state(route) if split is not None else None
        execution = lifecycle.held_execution(state)
        running = self._ports.executions.is_running(execution) if execution else False
        next_stage_at = None
        if state.status is Status.PROGRESSING and state.stage_started_at is not None:
            plan = StagePlan.from_record(record.plan, route=route)
            if state.stage < plan.total:
                bake = plan.stage(state.stage).bake_seconds
                next_stage_at = state.stage_started_at + timedelta(seconds=bake)
        return RouteStatus(
            route=route,
            status=state.status,
            stage=state.stage,
            stages=state.stages_total or len(record.plan.stages),
            live=live,
            last_written=state.last_written,
            drift=lifecycle.is_drift(state, live),
            alarm=alarm.composite_state,
            alarms_in_alarm=alarm.children_in_alarm,
            execution=execution,
            execution_running=running,
            next_stage_at=next_stage_at,
            reason=state.reason,
            updated_at=state.updated_at,
            versions=split.describe() if split is not None else None,
            release=release.status.value if release is not None and release.version else None,
            capacity=state.capacity,
            capacity_enabled=record.capacity is not None,
            gate=state.gate,
        )

    def history(self, route: str, limit: int = 20) -> list[HistoryEntry]:
        """The route's history, release runs included, newest first."""
        self._ports.registry.route(route)
        entries = self._ports.state.history(route, limit)
        if self.releases.enabled:
            entries += self._ports.state.history(release_key(route), limit)
            entries.sort(key=lambda e: e.at, reverse=True)
        return entries[:limit]

    def _release_action(
        self, record: RouteRecord, action: str, transition: Transition, *, stopped: str | None
    ) -> ActionResult:
        """An operator action on a release run, as an ActionResult (the route's own status)."""
        release = transition.state
        message = (transition.entry.reason if transition.entry else None) or (
            f"nothing to do: release is {release.status.value}"
        )
        return ActionResult(
            route=record.route,
            action=action,
            result="done" if transition.changed else "unchanged",
            status=self._ports.state.load(record.route).status,
            message=message,
            stage=release.stage,
            stages=release.stages_total,
            weights=self._ports.traffic.read_weights(record),
            stopped_execution=stopped,
        )

    # ------------------------------------------------------------------ internals

    def _commit(
        self, route: str, decide: Callable[[RouteState], Transition]
    ) -> tuple[RouteState, Transition]:
        """Load, decide, save when changed; a lost conditional write reloads and decides again.

        Returns the state the decision was made on and the transition.
        :class:`TransitionRefused` from ``decide`` propagates: nothing was saved.
        """
        attempts = self._settings.save_attempts
        for attempt in range(1, attempts + 1):
            before = self._ports.state.load(route)
            transition = decide(before)
            if not transition.changed:
                return before, transition
            try:
                self._ports.state.save(before.version, transition)
            except ConcurrentUpdate:
                if attempt == attempts:
                    raise
                self._log.info("route %s: state changed concurrently; deciding again", route)
                continue
            return before, transition
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _operator_commit(
        self,
        route: str,
        decide: Callable[[RouteState], Transition],
        *,
        event: str,
        what: str,
        actor: str,
        stop_cause: str | None,
        weights: Weights | None = None,
    ) -> tuple[Transition, str | None]:
        """Commit an operator's transition; only when it changed the route, stop and notify.

        The execution that held the lock is stopped when ``stop_cause`` is
        given. ``weights`` are the ones the notification reports, by default the ones
        the controller last wrote. Returns the transition and the stopped
        execution's ARN, if any. A repeated call that changes nothing stops
        nothing and notifies no one.
        """
        before, transition = self._commit(route, decide)
        if not transition.changed:
            return transition, None
        stopped: str | None = None
        if stop_cause is not None and before.lock is not None:
            stopped = self._stop(before.lock.execution_arn, stop_cause)
        state = transition.state
        self._notify(
            route,
            what,
            event=event,
            state=state,
            actor=actor,
            weights=state.last_written if weights is None else weights,
        )
        return transition, stopped

    def _holder_running(self, state: RouteState, me: str | None) -> bool:
        """Whether the lock holder (other than ``me``) is a running execution."""
        if state.lock is None or state.lock.execution_arn == me:
            return False
        return self._ports.executions.is_running(state.lock.execution_arn)

    def _read_live(self, record: RouteRecord) -> tuple[RouteRecord, Weights]:
        """The live weights, and the record they were read with.

        The registry is cached per execution environment. When the rule
        lacks a target group the cached record names, a deploy (and its
        sync, run in another environment) may have replaced that group:
        the record is read again and, if it changed, the weights are read
        with the fresh one. Otherwise the drift stands.
        """
        try:
            return record, self._ports.traffic.read_weights(record)
        except DriftDetected:
            self._ports.registry.reload()
            fresh = self._ports.registry.route(record.route)
            if fresh == record:
                raise
            self._log.info("route %s: the registry changed since it was read", record.route)
            return fresh, self._ports.traffic.read_weights(fresh)

    def _verify(self, record: RouteRecord, desired: Weights) -> Weights:
        """Read the rule back until it holds ``desired``; :class:`VerificationFailed` otherwise."""
        reads = max(1, self._settings.verify_reads)
        live: Weights | None = None
        for attempt in range(reads):
            live = self._ports.traffic.read_weights(record)
            if live == desired:
                return live
            if attempt + 1 < reads:
                self._sleep(self._settings.verify_interval_seconds)
        raise VerificationFailed(
            f"the rule reads back {split_text(live)}"
            + (f" ({alb_text(live)})" if live is not None else "")
            + f" after ModifyRule, expected {split_text(desired)} ({alb_text(desired)})",
            route=record.route,
            arn=record.rule_arn,
            api_call="elasticloadbalancing:DescribeRules",
            expected=desired,
            actual=live,
        )

    def _force_weights(self, record: RouteRecord, desired: Weights) -> Weights | None:
        """Write and verify ``desired``, retrying a few times; returns the weights found first.

        Used by the rollback: a failed read does not stop the write.
        """
        found: Weights | None = None
        try:
            found = self._ports.traffic.read_weights(record)
        except StranglerError as error:
            self._log.warning(
                "route %s: reading the rule before rollback failed: %s", record.route, error
            )
        if found == desired:
            return found
        attempts = max(1, self._settings.rollback_write_attempts)
        for attempt in range(1, attempts + 1):
            try:
                self._ports.traffic.write_weights(record, desired)
                self._verify(record, desired)
                return found
            except DriftDetected:
                # The rule lacks one of the registry's target groups: writing
                # again cannot help (the rollback syncs the rule first).
                raise
            except StranglerError as error:
                self._log.error(
                    "route %s: writing %s failed (attempt %d of %d): %s",
                    record.route,
                    desired,
                    attempt,
                    attempts,
                    error,
                )
                if attempt == attempts:
                    raise
                self._sleep(self._settings.rollback_retry_interval_seconds * attempt)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _rollback(
        self,
        record: RouteRecord,
        *,
        reason: str,
        actor: str,
        caller_execution: str | None,
        decide: Callable[[RouteState], Transition],
    ) -> ActionResult:
        """The failback, in its fixed order; see :meth:`rollback`."""
        route = record.route
        # 1. Weights first: the only step that moves traffic.
        try:
            try:
                found = self._force_weights(record, ALL_ECS)
            except DriftDetected:
                # The rule may name target groups the registry no longer does
                # (a deploy not synced yet): sync with the latest record, keeping
                # the live split, then write ECS 100 % on the synced rule.
                self.sync(route, actor=actor, reason=f"before rollback: {reason}")
                record = self._ports.registry.route(route)
                found = self._force_weights(record, ALL_ECS)
        except StranglerError as error:
            self._notify_failure(route, reason, actor, [("weights", error)])
            raise
        wrote = found != ALL_ECS
        problems: list[tuple[str, BaseException]] = []
        if wrote:
            self._log.warning("route %s: rolled back to %s (%s)", route, ALL_ECS, reason)
            try:
                self._ports.metrics.put_canary_weight(route, 0.0)
            except Exception as error:  # the metric must not stop the state update
                self._log.error("route %s: CanaryWeight metric failed: %s", route, error)
                problems.append(("metric", error))
        # 2. The state (rolled_back, lock released), conditional like every write.
        before: RouteState | None = None
        transition: Transition | None = None
        try:
            before, transition = self._commit(route, decide)
        except Exception as error:  # the weights are safe; report and re-raise below
            self._log.error("route %s: recording the rollback failed: %s", route, error)
            problems.append(("state", error))
        # 3. Re-check the rule: a shift in flight may have written after step 1.
        try:
            self._force_weights(record, ALL_ECS)
        except Exception as error:
            problems.append(("weights re-check", error))
        # 3b. Capacity, only now that the weights are at ECS: the monolith gets
        # back the tasks it needs. A failure never touches the weights.
        capacity = self._failback_capacity(
            record,
            actor,
            rolled_back_now=wrote or (transition is not None and transition.changed),
            problems=problems,
        )
        # 4. Stop the run that held the route (never the caller's own execution).
        stopped: str | None = None
        if transition is not None and transition.changed and before is not None:
            holder = lifecycle.held_execution(before)
            if holder is not None and holder != caller_execution:
                try:
                    stopped = self._stop(holder, f"rolled back: {reason}")
                except Exception as error:
                    self._log.error("route %s: stopping %s failed: %s", route, holder, error)
                    problems.append(("stop execution", error))
        # 5. Notify once: only when this call changed something, or something failed.
        changed = (
            wrote
            or (transition is not None and transition.changed)
            or (capacity is not None and not capacity.change.empty)
        )
        if changed or problems:
            state = transition.state if transition is not None else None
            message = {
                "route": route,
                "event": "rollback",
                "status": state.status.value if state else "unknown (state not recorded)",
                "reason": reason,
                "actor": actor,
                "weights": _weights_dict(ALL_ECS),
                "weightsWritten": wrote,
                "stoppedExecution": stopped,
                "problems": [f"{step}: {error}" for step, error in problems],
            }
            if capacity is not None:
                message["capacity"] = capacity.to_dict()
            subject = "rolled back to ECS" + (" (incomplete)" if problems else "")
            try:
                self._ports.notify.notify(_subject(route, subject), message)
            except Exception as error:
                self._log.error("route %s: rollback notification failed: %s", route, error)
                problems.append(("notify", error))
        if problems:
            raise RollbackIncomplete(route, problems) from problems[0][1]
        assert transition is not None  # no problems means the state step succeeded
        return self._action(
            record,
            "rollback",
            transition,
            stopped=stopped,
            weights=ALL_ECS,
            changed=changed,
        )

    def _failback_capacity(
        self,
        record: RouteRecord,
        actor: str,
        *,
        rolled_back_now: bool,
        problems: list[tuple[str, BaseException]],
    ) -> FailbackCapacity | None:
        """The rollback's capacity step; a failure is a second, alarm-worthy event."""
        try:
            return self._guard.on_rollback(record, actor=actor, rolled_back_now=rolled_back_now)
        except Exception as error:
            self._log.error("route %s: restoring ECS capacity failed: %s", record.route, error)
            problems.append(("capacity", error))
            try:
                self._guard.notify_failure(record, actor=actor, error=error)
            except Exception as notify_error:
                self._log.error(
                    "route %s: capacity failure notification failed: %s",
                    record.route,
                    notify_error,
                )
            return None

    def _gate_pause(
        self, record: RouteRecord, run: RunContext, estimate: GateEstimate
    ) -> TaskResult:
        """The next stage would not fit under the cap: pause, weights untouched, notify."""
        now = self._clock()
        return self._pause_run(
            run,
            lambda s: lifecycle.gate_pause(
                s,
                estimate=estimate,
                execution_arn=run.execution_arn,
                actor=STATE_MACHINE_ACTOR,
                now=now,
            ),
            task="gate",
            outcome=Outcome.GATED,
            subject="paused at the concurrency gate",
            weights=None,
            extra=lambda _: {
                "gate": estimate.to_dict(),
                "action": "raise reservedConcurrency with pulumi up, then run: "
                f"python -m controller resume --route {run.route}",
            },
        )

    def _pause_run(
        self,
        run: RunContext,
        decide: Callable[[RouteState], Transition],
        *,
        task: str,
        outcome: str,
        subject: str,
        weights: Weights | None,
        extra: Callable[[RouteState], dict[str, Any]],
    ) -> TaskResult:
        """Commit a transition that pauses the run; log it and notify (event ``task``) once.

        ``weights`` of the notice: ``None`` for the state's ``last_written``.
        """
        try:
            _, transition = self._commit(run.route, decide)
        except TransitionRefused:
            # The route changed hands meanwhile (rolled back, paused): not our run any more.
            return self._superseded(self._ports.state.load(run.route), run, task)
        state = transition.state
        self._log.warning("route %s: %s", run.route, state.reason)
        if transition.changed:
            self._notify(
                run.route,
                subject,
                event=task,
                state=state,
                actor=STATE_MACHINE_ACTOR,
                weights=state.last_written if weights is None else weights,
                extra=extra(state),
            )
        return TaskResult(outcome, state.status, reason=state.reason)

    def capacity_tick(self, *, actor: str = "schedule:capacity") -> list[CapacityGuard]:
        """The periodic invocation: end every capacity hold that is over (restore MinCapacity).

        Every route is attempted; the failures are raised together afterwards.
        """
        ended: list[CapacityGuard] = []
        failures: list[tuple[str, BaseException]] = []
        for record in self._ports.registry.routes():
            try:
                guard = self._guard.tick(record, actor=actor)
            except Exception as error:  # one route's failure must not skip the others
                self._log.error("route %s: capacity tick failed: %s", record.route, error)
                failures.append((record.route, error))
                continue
            if guard is not None:
                ended.append(guard)
        if failures:
            if len(failures) == 1:
                raise failures[0][1]
            raise RouteFailures(failures) from failures[0][1]
        return ended

    def _fail_check(self, record: RouteRecord, run: RunContext, reason: str) -> TaskResult:
        """A failed check rolls back right away (weights first); the Rollback task then no-ops."""
        now = self._clock()
        self._log.warning("route %s: %s", run.route, reason)
        result = self._rollback(
            record,
            reason=reason,
            actor=STATE_MACHINE_ACTOR,
            caller_execution=run.execution_arn,
            decide=lambda s: lifecycle.fail_check(
                s,
                execution_arn=run.execution_arn,
                reason=reason,
                actor=STATE_MACHINE_ACTOR,
                now=now,
            ),
        )
        return TaskResult(Outcome.FAIL, result.status, reason=reason)

    def _drift(self, record: RouteRecord, run: RunContext, live: Weights) -> TaskResult:
        """Pause the route with reason drift; the weights stay as the human set them."""
        now = self._clock()
        return self._pause_run(
            run,
            lambda s: lifecycle.drift(s, live=live, actor=STATE_MACHINE_ACTOR, now=now),
            task="drift",
            outcome=Outcome.DRIFT,
            subject="paused: weights changed by hand",
            weights=live,
            extra=lambda state: {
                "live": _weights_dict(live),
                "expected": _weights_dict(state.last_written),
                "action": "the run stopped; the weights were left as they are. Restore them, "
                "or resume with the live weights accepted",
            },
        )

    def _restore_expected(self, record: RouteRecord) -> None:
        """After losing the route mid-shift: make the rule hold what the stored state says."""
        state = self._ports.state.load(record.route)
        expected = lifecycle.expected_weights(state) or ALL_ECS
        self._log.warning(
            "route %s: lost the route while shifting; restoring %s", record.route, expected
        )
        self._force_weights(record, expected)

    def _after_pass(self, state: RouteState, run: RunContext) -> TaskResult:
        """The outcome of a check that passed, from the saved state."""
        if state.stage >= state.stages_total and state.status is Status.PROGRESSING:
            return TaskResult(Outcome.FINISH, state.status, reason=state.reason)
        if state.status is Status.PAUSED and lifecycle.is_run_pause(state):
            return TaskResult(Outcome.PAUSE, state.status, reason=state.reason)
        if _holds(state, run.execution_arn):
            return TaskResult(Outcome.NEXT, state.status, reason=state.reason)
        return self._superseded(state, run, "check")

    def _superseded(self, state: RouteState, run: RunContext, task: str) -> TaskResult:
        holder = state.lock.execution_arn if state.lock else "nobody"
        reason = (
            f"{task}: execution {run.execution_arn} no longer holds route {run.route} "
            f"(status {state.status.value}, lock held by {holder}); nothing changed"
        )
        self._log.info(reason)
        return TaskResult(Outcome.SUPERSEDED, state.status, reason=reason)

    def _promote_full(self, record: RouteRecord, *, reason: str, actor: str) -> ActionResult:
        """Write and verify 100 %, then record the promotion and stop the run."""
        route = record.route
        live = self._ports.traffic.read_weights(record)
        if live != ALL_LAMBDA:
            self._ports.traffic.write_weights(record, ALL_LAMBDA)
            self._verify(record, ALL_LAMBDA)
            self._ports.metrics.put_canary_weight(route, ALL_LAMBDA.lambda_percent)
        now = self._clock()
        transition, stopped = self._operator_commit(
            route,
            _promotion(record, full=True, reason=reason, actor=actor, now=now),
            event="promote",
            what="promoted to 100 %",
            actor=actor,
            stop_cause=f"promoted to 100 % by {actor}",
            weights=ALL_LAMBDA,
        )
        if transition.changed:
            self._release_waiting(route, actor)
        self._guard.on_promoted(record, actor=actor)
        return self._action(record, "promote", transition, stopped=stopped, weights=ALL_LAMBDA)

    def _release_waiting(self, route: str, actor: str) -> None:
        """The route was just promoted: release a version published while it migrated.

        Never fails the promotion: a problem is logged, and the next registry
        change or scheduled release tries again.
        """
        try:
            self._log.info("route %s: %s", route, self.releases.on_new_version(route, actor=actor))
        except Exception as error:
            self._log.error("route %s: no release after the promotion: %s", route, error)

    def _stop(self, execution_arn: str, cause: str) -> str:
        self._ports.executions.stop(execution_arn, cause[:_MAX_CAUSE])
        self._log.info("stopped execution %s: %s", execution_arn, cause)
        return execution_arn

    def _notify(
        self,
        route: str,
        what: str,
        *,
        event: str,
        state: RouteState,
        actor: str,
        weights: Weights | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Publish ``what`` about ``state``; ``weights`` None shows as ``null``."""
        message: dict[str, Any] = {
            "route": route,
            "event": event,
            "status": state.status.value,
            "stage": state.stage,
            "stages": state.stages_total,
            "reason": state.reason,
            "actor": actor,
            "weights": _weights_dict(weights),
        }
        if extra:
            message.update(extra)
        self._ports.notify.notify(_subject(route, what), message)

    def _notify_failure(
        self, route: str, reason: str, actor: str, problems: list[tuple[str, BaseException]]
    ) -> None:
        """Best effort: tell the humans the rollback could not move the weights."""
        try:
            self._ports.notify.notify(
                _subject(route, "ROLLBACK FAILED: weights not verified at ECS"),
                {
                    "route": route,
                    "event": "rollback_failed",
                    "reason": reason,
                    "actor": actor,
                    "problems": [f"{step}: {error}" for step, error in problems],
                    "action": f"run: python -m controller rollback --route {route}",
                },
            )
        except Exception as error:  # the original failure is re-raised by the caller
            self._log.error("route %s: failure notification failed too: %s", route, error)

    def _action(
        self,
        record: RouteRecord,
        action: str,
        transition: Transition,
        *,
        stopped: str | None = None,
        weights: Weights | None = None,
        changed: bool | None = None,
    ) -> ActionResult:
        state = transition.state
        did_change = transition.changed if changed is None else changed
        message = (transition.entry.reason if transition.entry else None) or (
            f"nothing to do: route is {state.status.value}"
        )
        return ActionResult(
            route=record.route,
            action=action,
            result="done" if did_change else "unchanged",
            status=state.status,
            message=message,
            stage=state.stage,
            stages=state.stages_total or len(record.plan.stages),
            weights=weights or self._ports.traffic.read_weights(record),
            stopped_execution=stopped,
        )


def _promotion(
    record: RouteRecord, *, full: bool, reason: str, actor: str, now: datetime
) -> Callable[[RouteState], Transition]:
    """The operator's promote of ``record``'s route (``stage N/N`` with N the plan's stages)."""
    return lambda state: lifecycle.promote(
        state, full=full, reason=reason, actor=actor, now=now, plan_stages=len(record.plan.stages)
    )


def _holds(state: RouteState, execution_arn: str) -> bool:
    """True when ``execution_arn`` holds the lock of a progressing route."""
    return (
        state.status is Status.PROGRESSING
        and state.lock is not None
        and state.lock.execution_arn == execution_arn
    )


def _alarms_in_alarm(record: RouteRecord, alarm: AlarmStatus) -> str:
    """``alarm X in ALARM`` naming the route's alarms that are, the composite first."""
    names = list(alarm.children_in_alarm)
    if alarm.composite_state == ALARM and record.composite_alarm_name not in names:
        names.insert(0, record.composite_alarm_name)
    if len(names) == 1:
        return f"alarm {names[0]} is in ALARM"
    return f"alarms {', '.join(names)} are in ALARM"


def _alarm_matches(record: RouteRecord, name: str, arn: str | None) -> bool:
    return (
        record.composite_alarm_name == name
        or (arn is not None and record.composite_alarm_arn == arn)
        or name in record.alarm_names
    )


def _weights_dict(weights: Weights | None) -> dict[str, Any] | None:
    """A split in a notification: percent of the pair, the text, and the ALB's integers."""
    payload = split_json_with_alb(weights)
    if payload is not None:
        payload["text"] = split_text(weights)
    return payload


def _subject(route: str, what: str) -> str:
    subject = f"[strangler] {route}: {what}"
    # SNS subjects: ASCII, no line breaks, at most 100 characters.
    subject = subject.encode("ascii", "replace").decode("ascii").replace("\n", " ")
    return subject[:_MAX_SUBJECT]
