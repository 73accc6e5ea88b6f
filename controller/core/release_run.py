"""The life cycle of a release run, as pure transitions over a stored state.

A release run's state lives beside the route's own, in the same table under
the key :func:`release_key` (``<route>.release``; a route name has no dot), as
a :class:`~controller.core.lifecycle.RouteState`:

- ``status``: ``progressing`` while a run holds ``lock``; ``promoted`` when
  the last release finished; ``rolled_back`` after a failback; ``paused``
  when an operator paused it;
- ``stage``: the stages passed; ``stages_total``: the plan's stages;
- ``stage_started_at``: when the current stage's split was verified (the
  judge's window starts there);
- ``run_stages``: the checks of the current stage that answered "not yet".

The versions themselves are not stored: the alias says them (its own version
is the one being replaced, the additional one the candidate), and before the
first stage the registry's newest version is the candidate.

Pure module: no AWS calls.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Final

from controller.core.errors import TransitionRefused
from controller.core.lifecycle import (
    Event,
    Lock,
    RouteState,
    Status,
    Transition,
    held_execution,
    transition_to,
)
from controller.core.release import Judgement, Verdict

__all__ = [
    "MAX_NOT_YET_CHECKS",
    "RELEASE_KEY_SUFFIX",
    "begin",
    "check",
    "direct",
    "failback",
    "finish",
    "in_flight",
    "pause",
    "release_key",
    "route_of_release_key",
    "shift",
]

RELEASE_KEY_SUFFIX: Final = ".release"
#: A stage whose checks keep answering "not yet" fails after this many more bakes:
#: waiting forever for evidence would leave a release half done.
MAX_NOT_YET_CHECKS: Final = 3


def release_key(route: str) -> str:
    """The state-table key of ``route``'s release state."""
    return f"{route}{RELEASE_KEY_SUFFIX}"


def route_of_release_key(key: str) -> str:
    """Inverse of :func:`release_key` (a route's own key is returned as it is)."""
    return key[: -len(RELEASE_KEY_SUFFIX)] if key.endswith(RELEASE_KEY_SUFFIX) else key


def in_flight(state: RouteState) -> bool:
    """True while a release run holds the route's release state."""
    return state.status is Status.PROGRESSING and state.lock is not None


def _changed(
    state: RouteState,
    new: RouteState,
    event: Event,
    *,
    actor: str,
    now: datetime,
    reason: str,
    execution_arn: str | None = None,
) -> Transition:
    return transition_to(
        state,
        replace(new, reason=reason),
        event,
        actor=actor,
        now=now,
        weights=None,
        reason=reason,
        execution_arn=execution_arn,
    )


def _holds(state: RouteState, execution_arn: str, transition: str) -> None:
    if state.lock is None or state.lock.execution_arn != execution_arn:
        holder = state.lock.execution_arn if state.lock else "nobody"
        raise TransitionRefused(
            f"the release is held by {holder}, not {execution_arn}",
            "nothing to do: this run was superseded",
            route=route_of_release_key(state.route),
            transition=transition,
        )


def begin(
    state: RouteState,
    *,
    execution_arn: str,
    stages_total: int,
    from_version: str,
    to_version: str,
    holder_running: bool,
    actor: str,
    now: datetime,
) -> Transition:
    """Take the release lock; a paused release continues from its stage."""
    if state.lock is not None and state.lock.execution_arn == execution_arn:
        return Transition(state=state, entry=None, changed=False)
    if state.lock is not None and holder_running:
        raise TransitionRefused(
            f"a release run is in flight ({state.lock.execution_arn})",
            "wait for it to finish, or pause it: python -m controller pause --route "
            + route_of_release_key(state.route),
            route=route_of_release_key(state.route),
            transition="release_begin",
        )
    stage = state.stage if state.status is Status.PAUSED else 0
    new = replace(
        state,
        status=Status.PROGRESSING,
        stage=stage,
        stages_total=stages_total,
        lock=Lock(execution_arn=execution_arn, acquired_at=now),
        stage_started_at=None,
        run_stages=0,
    )
    return _changed(
        state,
        new,
        Event.RELEASE_BEGIN,
        actor=actor,
        now=now,
        reason=f"release v{from_version} -> v{to_version}: from stage {stage + 1} of "
        f"{stages_total}",
        execution_arn=execution_arn,
    )


def shift(
    state: RouteState,
    *,
    execution_arn: str,
    described: str,
    stage_number: int,
    actor: str,
    now: datetime,
) -> Transition:
    """The stage's split is written and read back: its bake starts now."""
    _holds(state, execution_arn, "release_shift")
    new = replace(state, stage_started_at=now, run_stages=0)
    return _changed(
        state,
        new,
        Event.RELEASE_SHIFT,
        actor=actor,
        now=now,
        reason=f"release stage {stage_number} of {state.stages_total}: {described}",
        execution_arn=execution_arn,
    )


def check(
    state: RouteState,
    *,
    execution_arn: str,
    judgement: Judgement,
    stage_number: int,
    actor: str,
    now: datetime,
) -> Transition:
    """Record a check with its figures: a pass ends the stage, "not yet" bakes again.

    A failed check is recorded by :func:`failback`, which also ends the run.
    """
    _holds(state, execution_arn, "release_check")
    figures = json.dumps(judgement.figures, sort_keys=True, separators=(",", ":"))
    if judgement.verdict is Verdict.PASS:
        new = replace(state, stage=state.stage + 1, run_stages=0)
        what = "passed"
    elif judgement.verdict is Verdict.NOT_YET:
        new = replace(state, run_stages=state.run_stages + 1)
        what = f"not yet ({state.run_stages + 1} of {MAX_NOT_YET_CHECKS})"
    else:
        raise ValueError("a failed check is recorded by failback()")
    return _changed(
        state,
        new,
        Event.RELEASE_CHECK,
        actor=actor,
        now=now,
        reason=f"release stage {stage_number} of {state.stages_total} {what}: "
        f"{judgement.reason} {figures}",
        execution_arn=execution_arn,
    )


def finish(
    state: RouteState, *, execution_arn: str, to_version: str, actor: str, now: datetime
) -> Transition:
    """The alias serves the new version alone: the release is done, the lock released."""
    _holds(state, execution_arn, "release_finish")
    new = replace(state, status=Status.PROMOTED, stage=state.stages_total, lock=None)
    return _changed(
        state,
        new,
        Event.RELEASE_FINISH,
        actor=actor,
        now=now,
        reason=f"release done: live serves v{to_version} only",
        execution_arn=execution_arn,
    )


def failback(state: RouteState, *, reason: str, actor: str, now: datetime) -> Transition:
    """The alias serves the previous version only again: the release is rolled back.

    Allowed from any state; a release already rolled back changes nothing.
    """
    if state.status is Status.ROLLED_BACK and state.lock is None:
        return Transition(state=state, entry=None, changed=False)
    execution = held_execution(state)
    new = replace(state, status=Status.ROLLED_BACK, lock=None, run_stages=0)
    return _changed(
        state,
        new,
        Event.RELEASE_FAILBACK,
        actor=actor,
        now=now,
        reason=reason,
        execution_arn=execution,
    )


def pause(state: RouteState, *, reason: str, actor: str, now: datetime) -> Transition:
    """An operator stops the run; the alias keeps its split until resume or rollback."""
    if not in_flight(state):
        raise TransitionRefused(
            f"no release is in flight (release is {state.status.value})",
            "nothing to pause",
            route=route_of_release_key(state.route),
            transition="release_pause",
        )
    execution = held_execution(state)
    new = replace(state, status=Status.PAUSED, lock=None)
    return _changed(
        state,
        new,
        Event.RELEASE_PAUSE,
        actor=actor,
        now=now,
        reason=reason,
        execution_arn=execution,
    )


def direct(
    state: RouteState, *, from_version: str, to_version: str, actor: str, now: datetime
) -> Transition:
    """Lambda takes no traffic: the alias moved straight to the new version."""
    new = replace(state, status=Status.PROMOTED, stage=0, stages_total=0, lock=None)
    return _changed(
        state,
        new,
        Event.RELEASE_DIRECT,
        actor=actor,
        now=now,
        reason=f"live moved from v{from_version} to v{to_version} directly: Lambda's weight is 0",
    )
