"""The canary state machine of a stack, generated as an Amazon States Language dict.

One state machine serves every route of a stack: the route, who started the
run and the stage plan come in the execution input, so adding a route never
changes the definition. Execution input::

    {"route": "map-tile", "trigger": "schedule" | "operator" | ..., "actor": "...",
     "plan": PlanRecord.to_input()}

Flow (every transition is explicit; the names below are the state names)::

    Begin ──outcome──> BeginOutcome ─run──> Verify ──> VerifyOutcome ─verified──> Shift
                          └─noop──> NotStarted (Succeed)      ├─differs──> PausedOnVerify (Succeed)
                                                              └─superseded──> Superseded
    Shift ──> ShiftOutcome ─baking──> Bake ──> Check
                 │ └─complete──> Finish                         │
                 drift──> PausedOnDrift                         v
    CheckOutcome <─────────────────────────────────────────────────────────────── (result)
       ├─next────> Shift                (one more stage in this run)
       ├─pause───> PausedUntilNextRun   (stagesPerRun reached; the next run resumes)
       ├─finish──> Finish ──> Promoted
       ├─drift───> PausedOnDrift        (the weights were changed by hand)
       ├─fail────> CheckFailed ──> Rollback ──> RolledBack (Fail)
       └─superseded──> Superseded (Succeed; also from ShiftOutcome and FinishOutcome)

    The release path (a new function version behind the alias ``live`` on a
    promoted route; Begin answers ``release``)::

    BeginOutcome ─release─> ReleaseShift ─> ReleaseShiftOutcome ─baking─> ReleaseBake ─> Check
                                              └─complete─> ReleaseFinish ─> ReleasePromoted
    (Check stands for ReleaseCheck)
    ReleaseCheckOutcome ├─next────> ReleaseShift
                        ├─not_yet─> ReleaseBake   (too few requests on either side: bake again)
                        └─fail────> ReleaseCheckFailed ─> ReleaseFailback ─> ReleaseRolledBack

    A release task's error goes to ReleaseFailback, never to Rollback: the
    route stays on Lambda and only the new version is taken out.

    Any task error (after its retries) ──Catch──> Rollback; a failed Rollback ──> RollbackFailed.
    "superseded": the execution lost the route's lock to an operator or a rollback
    meanwhile; it ends without writing anything.

Every task invokes the controller Lambda through the ``lambda:invoke``
integration, whose ARN is in the stack's partition
(``arn:aws-cn:states:::lambda:invoke`` in the China regions). Its payload is
the execution input plus ``action`` and the execution's own ARN
(``$$.Execution.Id``), so the controller knows which run holds the route's
lock and never stops the execution it is running in.

The controller answers every task with the same four keys (see
:data:`TASK_RESULT_KEYS`); ``ResultSelector`` picks them out of the Lambda
response's ``Payload``, so a missing key fails the task loudly
(``States.Runtime``) instead of sending the run down a wrong branch.

Pure module: no boto3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from controller.core.json_form import camel_case

__all__ = [
    "LAMBDA_TRANSIENT_ERRORS",
    "TASK_RESULT_KEYS",
    "TRANSIENT_ERROR",
    "Outcome",
    "RetryPolicy",
    "build_definition",
    "lambda_invoke_resource",
    "partition_of_arn",
    "task_payload",
]

# Name of the error the controller handler raises for throttling and other
# transient failures (Lambda reports an unhandled exception's class name as the
# error name Step Functions matches in Retry/Catch).
TRANSIENT_ERROR: Final = "TransientError"

# Errors of the Lambda service itself, as the Step Functions documentation
# recommends retrying them for every lambda:invoke task ("Handle transient
# Lambda service exceptions", AWS Step Functions developer guide).
LAMBDA_TRANSIENT_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)

# Keys of the dict the controller returns for every task (ResultSelector reads them).
TASK_RESULT_KEYS: Final = ("outcome", "status", "stage", "reason")


def task_payload(
    outcome: str, status: str, stage: dict[str, Any] | None, reason: str | None
) -> dict[str, Any]:
    """What the controller returns for a task: the values under :data:`TASK_RESULT_KEYS`."""
    return dict(zip(TASK_RESULT_KEYS, (outcome, status, stage, reason), strict=True))


# Step Functions' optimized Lambda integration ("Invoke an AWS Lambda function
# with Step Functions": arn:aws:states:::lambda:invoke), in a given partition.
_LAMBDA_INVOKE: Final = "arn:{partition}:states:::lambda:invoke"
_PARTITION: Final = re.compile(r"^arn:(aws(?:-[a-z]+)*):")


def lambda_invoke_resource(partition: str) -> str:
    """The ``lambda:invoke`` integration's ARN in ``partition`` (``aws``, ``aws-cn``, ...)."""
    if not re.fullmatch(r"aws(?:-[a-z]+)*", partition):
        raise ValueError(f"{partition!r} is not an AWS partition")
    return _LAMBDA_INVOKE.format(partition=partition)


def partition_of_arn(arn: str) -> str:
    """The partition of an ARN (``arn:<partition>:...``); ValueError for anything else."""
    match = _PARTITION.match(arn)
    if not match:
        raise ValueError(f"{arn!r} is not an ARN (arn:<partition>:...)")
    return match.group(1)


class Outcome:
    """The ``outcome`` values the controller returns, per task (the Choice states test them)."""

    RUN: Final = "run"
    """begin: the lock is taken, run the stages."""
    NOOP: Final = "noop"
    """begin: the start was refused (promoted, rolled back, locked); recorded, nothing changed."""
    BAKING: Final = "baking"
    """shift: the stage's weights are written and verified; bake for ``stage.bakeSeconds``."""
    COMPLETE: Final = "complete"
    """shift: every stage has passed already; go straight to Finish."""
    DRIFT: Final = "drift"
    """shift/check: the live weights differ from the last written ones; paused, run ends."""
    NEXT: Final = "next"
    """check: stage passed, run the next stage in this run."""
    PAUSE: Final = "pause"
    """check: stage passed and ``stagesPerRun`` reached; the route is paused until the next run."""
    FINISH: Final = "finish"
    """check: the last stage passed."""
    FAIL: Final = "fail"
    """check: an alarm, or too few requests during the bake; roll back."""
    PROMOTED: Final = "promoted"
    """finish: the route is promoted."""
    ROLLED_BACK: Final = "rolled_back"
    """rollback: all traffic is on ECS."""
    VERIFIED: Final = "verified"
    """verify: every sample answers the same on both sides (or the route has no check)."""
    DIFFERS: Final = "differs"
    """verify: a sample differs, or the check could not run; paused before any user traffic."""
    RELEASE: Final = "release"
    """begin: a release run took the route's release lock; run the release path."""
    NOT_YET: Final = "not_yet"
    """release check: too few requests on either version; bake again (never a pass)."""
    GATED: Final = "gated"
    """shift: the concurrency gate's estimate for the next stage is above the headroom;
    paused, weights untouched, run ends (an operator raises the cap and resumes)."""
    SUPERSEDED: Final = "superseded"
    """shift/check/finish: this execution no longer holds the route's lock (an operator
    paused, promoted or rolled back, or the lock was taken over); it changes nothing
    and ends."""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of the task retries on throttling and transient errors.

    With the defaults a task is tried 1 + 4 times over about 2+4+8+16 s (each
    wait drawn uniformly below its ceiling by the FULL jitter, so parallel
    routes do not retry in lockstep against the same throttled API).
    """

    interval_seconds: int = 2
    backoff_rate: float = 2.0
    max_attempts: int = 4
    max_delay_seconds: int = 30
    # Rollback is the failback path: it gets more attempts before giving up.
    rollback_max_attempts: int = 8


def build_definition(
    controller_function_arn: str,
    *,
    partition: str | None = None,
    retry: RetryPolicy | None = None,
) -> dict[str, Any]:
    """The ASL definition of the stack's canary state machine (see the module docstring).

    ``partition`` is the stack's; by default it is the controller function ARN's,
    since the state machine and the function live in the same partition.
    """
    tasks = _Tasks(
        invoke=lambda_invoke_resource(partition or partition_of_arn(controller_function_arn)),
        function_arn=controller_function_arn,
        policy=retry or RetryPolicy(),
    )
    states: dict[str, Any] = {
        **tasks.step(
            "Begin",
            "begin",
            comment="Take the route's lock; a refused start is recorded and ends the run.",
            outcomes={
                Outcome.RUN: "Verify",
                Outcome.NOOP: "NotStarted",
                Outcome.RELEASE: "ReleaseShift",
            },
        ),
        **tasks.step(
            "Verify",
            "verify",
            comment="Before the first shift: the function must answer the route's samples as "
            "ECS does (through the preview rule); any difference pauses the route.",
            outcomes={
                Outcome.VERIFIED: "Shift",
                Outcome.DIFFERS: "PausedOnVerify",
                Outcome.SUPERSEDED: "Superseded",
            },
        ),
        "PausedOnVerify": {
            "Type": "Succeed",
            "Comment": "The function answers differently from ECS: the route is paused before "
            "any user traffic; the differences are in the history.",
        },
        "NotStarted": {
            "Type": "Succeed",
            "Comment": "The start was refused (promoted, rolled back or locked); see the history.",
        },
        **tasks.step(
            "Shift",
            "shift",
            comment="Check for drift, write the next stage's weights, read them back.",
            outcomes={
                Outcome.BAKING: "Bake",
                Outcome.COMPLETE: "Finish",
                Outcome.DRIFT: "PausedOnDrift",
                Outcome.GATED: "PausedAtGate",
                Outcome.SUPERSEDED: "Superseded",
            },
        ),
        "Bake": {
            "Type": "Wait",
            "Comment": "Let the stage take traffic; the bake time comes from the plan.",
            "SecondsPath": "$.shift.stage.bakeSeconds",
            "Next": "Check",
        },
        **tasks.step(
            "Check",
            "check",
            comment="Alarms, drift and the request count of the bake decide the stage.",
            outcomes={
                Outcome.NEXT: "Shift",
                Outcome.PAUSE: "PausedUntilNextRun",
                Outcome.FINISH: "Finish",
                Outcome.DRIFT: "PausedOnDrift",
                Outcome.FAIL: "CheckFailed",
                Outcome.SUPERSEDED: "Superseded",
            },
            extra={"stage.$": "$.shift.stage"},
        ),
        "CheckFailed": {
            "Type": "Pass",
            "Comment": "Describe the failed check the way a Catch describes an error.",
            "Parameters": {"Error": "CheckFailed", "Cause.$": "$.check.reason"},
            "ResultPath": "$.failure",
            "Next": "Rollback",
        },
        "PausedUntilNextRun": {
            "Type": "Succeed",
            "Comment": "stagesPerRun reached: the route is paused; the next run resumes.",
        },
        "PausedOnDrift": {
            "Type": "Succeed",
            "Comment": "The weights were changed by hand: the route is paused, weights untouched.",
        },
        "PausedAtGate": {
            "Type": "Succeed",
            "Comment": "The next stage would exceed the concurrency headroom: paused, weights "
            "untouched.",
        },
        **tasks.step(
            "Finish",
            "finish",
            comment="Every stage passed: mark the route promoted and release the lock.",
            outcomes={Outcome.PROMOTED: "Promoted", Outcome.SUPERSEDED: "Superseded"},
        ),
        "Promoted": {"Type": "Succeed", "Comment": "All stages passed."},
        "Superseded": {
            "Type": "Succeed",
            "Comment": (
                "This run no longer holds the route (paused, promoted or rolled back by "
                "someone else meanwhile): it stops without touching anything."
            ),
        },
        "Rollback": tasks.task(
            "rollback",
            comment="All traffic back to ECS first, then the state, then notify.",
            next_state="RolledBack",
            extra={"failure.$": "$.failure"},
            rollback=True,
        ),
        **_release_states(tasks),
        "UnexpectedOutcome": {
            "Type": "Pass",
            "Comment": "The controller answered with an outcome this definition does not know.",
            "Parameters": {
                "Error": "UnexpectedOutcome",
                "Cause": "the controller returned an unknown outcome; rolling back to be safe",
            },
            "ResultPath": "$.failure",
            "Next": "Rollback",
        },
        "RolledBack": {
            "Type": "Fail",
            "Error": "RolledBack",
            "Cause": (
                "The run was rolled back: all traffic is on ECS. The route's history says "
                "why (python -m controller history --route ROUTE)."
            ),
        },
        "RollbackFailed": {
            "Type": "Fail",
            "Error": "RollbackFailed",
            "Cause": (
                "The rollback task failed after its retries: the weights may still send "
                "traffic to Lambda. Run python -m controller rollback --route ROUTE now."
            ),
        },
    }
    return {
        "Comment": (
            "Strangler canary: moves a route's traffic from ECS to Lambda in verified "
            "stages and rolls back to ECS on any failure."
        ),
        "StartAt": "Begin",
        "States": states,
    }


def _release_states(tasks: _Tasks) -> dict[str, Any]:
    """The release path: stages of the alias ``live``, judged, failing back to the old version."""
    failback = "ReleaseFailback"
    return {
        **tasks.step(
            "ReleaseShift",
            "release_shift",
            comment="Set the alias's AdditionalVersionWeights for the next stage, read back.",
            outcomes={
                Outcome.BAKING: "ReleaseBake",
                Outcome.COMPLETE: "ReleaseFinish",
                Outcome.SUPERSEDED: "Superseded",
            },
            default="ReleaseUnexpectedOutcome",
            catch_target=failback,
        ),
        "ReleaseBake": {
            "Type": "Wait",
            "Comment": "Let both versions take traffic; the bake time comes from the release plan.",
            "SecondsPath": "$.releaseShift.stage.bakeSeconds",
            "Next": "ReleaseCheck",
        },
        **tasks.step(
            "ReleaseCheck",
            "release_check",
            comment="Alarms, then the new version's error rate against the current one's.",
            outcomes={
                Outcome.NEXT: "ReleaseShift",
                Outcome.NOT_YET: "ReleaseBake",
                Outcome.FAIL: "ReleaseCheckFailed",
                Outcome.SUPERSEDED: "Superseded",
            },
            default="ReleaseUnexpectedOutcome",
            extra={"stage.$": "$.releaseShift.stage"},
            catch_target=failback,
        ),
        "ReleaseCheckFailed": {
            "Type": "Pass",
            "Comment": "Describe the failed release check the way a Catch describes an error.",
            "Parameters": {"Error": "ReleaseCheckFailed", "Cause.$": "$.releaseCheck.reason"},
            "ResultPath": "$.failure",
            "Next": failback,
        },
        **tasks.step(
            "ReleaseFinish",
            "release_finish",
            comment="The alias serves the new version alone: record the release as done.",
            outcomes={Outcome.PROMOTED: "ReleasePromoted", Outcome.SUPERSEDED: "Superseded"},
            default="ReleaseUnexpectedOutcome",
            catch_target=failback,
        ),
        "ReleasePromoted": {"Type": "Succeed", "Comment": "The new version serves all."},
        "ReleaseUnexpectedOutcome": {
            "Type": "Pass",
            "Comment": "An outcome this definition does not know: fail the release back.",
            "Parameters": {
                "Error": "UnexpectedOutcome",
                "Cause": "the controller returned an unknown outcome; failing the release back",
            },
            "ResultPath": "$.failure",
            "Next": failback,
        },
        failback: tasks.task(
            "release_failback",
            comment="The alias back on the previous version only, read back; ECS untouched.",
            next_state="ReleaseRolledBack",
            extra={"failure.$": "$.failure"},
            rollback=True,
            catch_target="ReleaseFailbackFailed",
        ),
        "ReleaseRolledBack": {
            "Type": "Fail",
            "Error": "ReleaseRolledBack",
            "Cause": (
                "The release was rolled back: live serves the previous version only; the "
                "route stays promoted. The history says why."
            ),
        },
        "ReleaseFailbackFailed": {
            "Type": "Fail",
            "Error": "ReleaseFailbackFailed",
            "Cause": (
                "The release failback failed after its retries: the new version may still "
                "take traffic. Run python -m controller rollback --route ROUTE now."
            ),
        },
    }


def _payload(action: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    """The controller's event: the execution input, the action and the execution's ARN."""
    payload: dict[str, Any] = {
        "action": action,
        "route.$": "$.route",
        "trigger.$": "$.trigger",
        "actor.$": "$.actor",
        "plan.$": "$.plan",
        # The context object's Execution.Id is the execution ARN.
        "executionArn.$": "$$.Execution.Id",
    }
    if extra:
        payload.update(extra)
    return payload


def _retriers(policy: RetryPolicy, *, rollback: bool) -> list[dict[str, Any]]:
    """Retry throttling and transient errors only; a failed check or refusal is final."""
    retriers: list[dict[str, Any]] = [
        {
            "ErrorEquals": [TRANSIENT_ERROR, *LAMBDA_TRANSIENT_ERRORS],
            "IntervalSeconds": policy.interval_seconds,
            "BackoffRate": policy.backoff_rate,
            "MaxAttempts": policy.rollback_max_attempts if rollback else policy.max_attempts,
            "MaxDelaySeconds": policy.max_delay_seconds,
            "JitterStrategy": "FULL",
        }
    ]
    if rollback:
        # Rollback is idempotent and its first write is the weights: repeating it
        # on any error is safe, and giving up is the worst outcome.
        retriers.append(
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": policy.interval_seconds,
                "BackoffRate": policy.backoff_rate,
                "MaxAttempts": 2,
                "MaxDelaySeconds": policy.max_delay_seconds,
                "JitterStrategy": "FULL",
            }
        )
    return retriers


@dataclass(frozen=True)
class _Tasks:
    """The controller's task states: one function, one integration, one retry policy.

    A task's result goes under ``$.<action in camelCase>`` (``release_shift``:
    ``$.releaseShift``), where its Choice reads the outcome.
    """

    invoke: str
    function_arn: str
    policy: RetryPolicy

    def task(
        self,
        action: str,
        *,
        comment: str,
        next_state: str,
        extra: dict[str, Any] | None = None,
        rollback: bool = False,
        catch_target: str | None = None,
    ) -> dict[str, Any]:
        """One controller task with its Retry and its Catch."""
        catch_target = catch_target or ("RollbackFailed" if rollback else "Rollback")
        return {
            "Type": "Task",
            "Comment": comment,
            "Resource": self.invoke,
            "Parameters": {
                "FunctionName": self.function_arn,
                "Payload": _payload(action, extra),
            },
            "ResultSelector": {f"{key}.$": f"$.Payload.{key}" for key in TASK_RESULT_KEYS},
            "ResultPath": _result_path(action),
            "Retry": _retriers(self.policy, rollback=rollback),
            "Catch": [
                {
                    "ErrorEquals": ["States.ALL"],
                    # Keep the input (route, plan, ...) and add the error beside it.
                    "ResultPath": "$.failure",
                    "Next": catch_target,
                }
            ],
            "Next": next_state,
        }

    def step(
        self,
        name: str,
        action: str,
        *,
        comment: str,
        outcomes: dict[str, str],
        extra: dict[str, Any] | None = None,
        catch_target: str | None = None,
        default: str = "UnexpectedOutcome",
    ) -> dict[str, Any]:
        """The task ``name`` and, after it, the Choice ``<name>Outcome`` on its outcome."""
        choice = f"{name}Outcome"
        return {
            name: self.task(
                action,
                comment=comment,
                next_state=choice,
                extra=extra,
                catch_target=catch_target,
            ),
            choice: _choice(f"{_result_path(action)}.outcome", outcomes, default=default),
        }


def _result_path(action: str) -> str:
    return f"$.{camel_case(action)}"


def _choice(
    variable: str, branches: dict[str, str], *, default: str = "UnexpectedOutcome"
) -> dict[str, Any]:
    """A Choice on one outcome; an unexpected outcome is a bug and rolls back."""
    return {
        "Type": "Choice",
        "Choices": [
            {"Variable": variable, "StringEquals": value, "Next": target}
            for value, target in branches.items()
        ],
        "Default": default,
    }
