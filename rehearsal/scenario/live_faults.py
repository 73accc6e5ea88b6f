"""Faults on a served twin, on demand: what ``python -m rehearsal fault`` asks ``serve`` for.

Each kind uses the same primitives as the rehearsal's scheduled faults
(rehearsal/scenario/faults.py):

- ``alarm``: the route's alarms go to ALARM and the state-change event is
  delivered through the program's EventBridge rule to the real controller;
  the answer says when the rule read back ECS 100 %;
- ``upstream``: the stand-in of the route's upstream answers 503 from now
  on, so the route function answers 502;
- ``drift``: the rule's weights are changed by hand (``ModifyRule`` outside
  the controller), as a person in the console would;
- ``clear``: undoes them: the alarms back to OK (no event: the failback rule
  matches ALARM only), the upstream healthy again, and a drift put back to
  the weights it replaced, unless something has written the rule since.

:meth:`LiveFaults.endpoint` is the ``fault`` endpoint of the served emulator
(rehearsal/world/control.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controller.core.contract import RouteRecord
from controller.core.weights import Weights
from rehearsal.scenario import faults
from rehearsal.scenario.traffic import RuleWeights

if TYPE_CHECKING:
    # Types only: `python -m rehearsal fault` reads this module's constants
    # and must not pay for moto.
    from rehearsal.scenario.live import LiveRoute
    from rehearsal.world.emulator import Emulator

__all__ = ["FAULT_KINDS", "LiveFaults"]

FAULT_KINDS = ("alarm", "upstream", "drift", "clear")
# How long an alarm's answer waits for the rule to read back ECS 100 %.
FAILBACK_TIMEOUT_SECONDS = 30.0
ALARM_REASON = "python -m rehearsal fault --kind alarm"
CLEAR_REASON = "python -m rehearsal fault --kind clear"


@dataclass(frozen=True)
class _Drift:
    """A drift this desk made: the weights it replaced and the ones it wrote."""

    before: Weights
    written: Weights


class LiveFaults:
    """Applies fault kinds to the routes of a live stack; see the module docstring.

    ``say`` receives one line per thing done (the served twin prints them).
    """

    def __init__(
        self,
        emulator: Emulator,
        routes: Sequence[LiveRoute],
        *,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.emulator = emulator
        self.routes = {route.record.route: route for route in routes}
        self._say = say or (lambda line: None)
        self._drifts: dict[str, _Drift] = {}
        # One fault at a time: two faults on one rule at once would race for it.
        self._lock = threading.Lock()

    def endpoint(self, body: Any) -> tuple[int, Any]:
        """The control endpoint: ``{"route": NAME, "kind": KIND}`` -> (status, answer)."""
        if not isinstance(body, dict):
            return 400, {"error": 'expected a JSON object {"route": ..., "kind": ...}'}
        route, kind = body.get("route"), body.get("kind")
        if kind not in FAULT_KINDS:
            return 400, {"error": f"kind {kind!r}: expected one of {', '.join(FAULT_KINDS)}"}
        if route not in self.routes:
            known = ", ".join(sorted(self.routes)) or "none"
            return 404, {"error": f"no route {route!r} in the served stack; routes: {known}"}
        try:
            lines = self.apply(str(route), str(kind))
        except Exception as error:  # the caller gets the reason, serve keeps running
            return 500, {"error": f"route {route}: fault {kind} failed: {error}"}
        return 200, {"route": route, "kind": kind, "lines": lines}

    def apply(self, route: str, kind: str) -> list[str]:
        """Apply ``kind`` to ``route``; one line per thing done."""
        with self._lock:
            live = self.routes[route]
            if kind == "alarm":
                lines = self._alarm(live)
            elif kind == "upstream":
                lines = self._upstream(live)
            elif kind == "drift":
                lines = self._drift(live)
            else:
                lines = self._clear(live)
        for line in lines:
            self._say(f"fault {kind}: {line}")
        return lines

    # --- kinds ---------------------------------------------------------------------------

    def _alarm(self, live: LiveRoute) -> list[str]:
        record = live.record
        fired = faults.fire_alarm(
            self.emulator,
            record,
            reason=ALARM_REASON,
            event_id=f"strangler-twin-{record.route}-{int(time.time() * 1000)}",
        )
        rules = ", ".join(rule.name for rule in fired.rules) or "none"
        lines = [
            f"route {record.route}: {record.composite_alarm_name} in ALARM; "
            f"event delivered through rule(s) {rules}"
        ]
        back = faults.wait_for_all_ecs(
            lambda: _weights(record, _reader(self.emulator, live).read()),
            since=fired.changed,
            timeout_seconds=FAILBACK_TIMEOUT_SECONDS,
        )
        fired.join(timeout=FAILBACK_TIMEOUT_SECONDS)
        if back is None:
            lines.append(
                f"route {record.route}: the rule still sends traffic to Lambda "
                f"{FAILBACK_TIMEOUT_SECONDS:.0f} s after the alarm"
            )
        else:
            lines.append(
                f"route {record.route}: the rule reads back ECS 100 % "
                f"{(back - fired.changed) * 1000:.1f} ms after the alarm"
            )
        return lines

    def _upstream(self, live: LiveRoute) -> list[str]:
        live.upstream.set_failing(True)
        return [
            f"route {live.record.route}: the upstream stand-in answers 503 from now on: "
            "the function returns 502"
        ]

    def _drift(self, live: LiveRoute) -> list[str]:
        record = live.record
        before = _weights(record, _reader(self.emulator, live).read())
        written = faults.drift_weights(before)
        faults.change_weights_by_hand(self.emulator.client("elbv2"), record, written)
        previous = self._drifts.get(record.route)
        # Drifting twice: clear still goes back to the weights before the first.
        self._drifts[record.route] = _Drift(previous.before if previous else before, written)
        return [
            f"route {record.route}: weights changed by hand (ModifyRule outside the "
            f"controller): ecs/lambda {before.ecs}/{before.lambda_} -> "
            f"{written.ecs}/{written.lambda_}"
        ]

    def _clear(self, live: LiveRoute) -> list[str]:
        record = live.record
        lines = []
        cloudwatch = self.emulator.client("cloudwatch")
        composite = faults.describe_composite(cloudwatch, record)
        if composite.get("StateValue") != "OK":
            faults.set_route_alarms(cloudwatch, record, state="OK", reason=CLEAR_REASON)
            lines.append(f"route {record.route}: {record.composite_alarm_name} back to OK")
        if live.upstream.failing:
            live.upstream.set_failing(False)
            lines.append(f"route {record.route}: the upstream stand-in serves tiles again")
        drift = self._drifts.pop(record.route, None)
        if drift is not None:
            now = _weights(record, _reader(self.emulator, live).read())
            if now == drift.written:
                faults.change_weights_by_hand(self.emulator.client("elbv2"), record, drift.before)
                lines.append(
                    f"route {record.route}: weights put back by hand: ecs/lambda "
                    f"{drift.before.ecs}/{drift.before.lambda_}"
                )
            else:
                lines.append(
                    f"route {record.route}: the drift was not undone: the rule has been "
                    f"written since (ecs/lambda {now.ecs}/{now.lambda_})"
                )
        return lines or [f"route {record.route}: nothing to clear"]


def _reader(emulator: Emulator, live: LiveRoute) -> RuleWeights:
    """The route's rule reader (a fresh one when the live route has none)."""
    if live.weights is not None:
        return live.weights
    return RuleWeights(emulator.client("elbv2"), live.record.rule_arn)


def _weights(record: RouteRecord, by_group: dict[str, int]) -> Weights:
    """The (ECS, Lambda) pair of a forward action read from the rule, by ARN."""
    return Weights(
        ecs=by_group.get(record.ecs_target_group_arn, 0),
        lambda_=by_group.get(record.lambda_target_group_arn, 0),
    )
