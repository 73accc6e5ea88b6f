"""The events the controller Lambda accepts, parsed into typed objects.

Three kinds, told apart by their shape:

- **Step Functions tasks** (see :mod:`controller.core.state_machine`)::

      {"action": "begin" | "verify" | "shift" | "check" | "finish" | "rollback",
       "route": "map-tile", "executionArn": "arn:aws:states:...:execution:...",
       "trigger": "schedule", "actor": "schedule", "plan": {...},
       "stage": {...}      # check only: the shift's result
       "failure": {...}}   # rollback only: {"Error", "Cause"} of the Catch or failed check

- **CloudWatch alarm state changes**: the EventBridge event with
  ``detail-type`` "CloudWatch Alarm State Change" (what the failback rule
  delivers), or the event a CloudWatch alarm sends when it invokes a Lambda
  function directly (read with Powertools' ``CloudWatchAlarmEvent``).

- **Registry changes**: the EventBridge event with ``source`` "aws.ssm" and
  ``detail-type`` "Parameter Store Change" (what the registry-sync rule
  delivers when a deploy writes a route record): ``detail.name`` names the
  parameter and ``detail.operation`` says what happened to it (``Create``,
  ``Update``, ``Delete``, ``LabelParameterVersion``; EventBridge User Guide,
  "Amazon EventBridge events for Parameter Store").

- **Operator actions** (the same operations as the CLI, for automation)::

      {"action": "operator", "command": "rollback",
       "route": "map-tile", "actor": "operator:alice", "reason": "...", "full": false}

  ``command`` names an operation of :mod:`controller.operations`, checked
  against that table when the event is parsed.

:func:`parse_event` returns a :class:`TaskEvent`, :class:`AlarmStateChange`,
:class:`RegistryChange` or :class:`OperatorEvent`, or raises
:class:`InvalidEvent` naming every field that is wrong. Parsing never touches
AWS, so a rejected event changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.data_classes import CloudWatchAlarmEvent
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from controller import operations
from controller.core.contract import PlanRecord, StagePlanRecord
from controller.core.errors import StranglerError

__all__ = [
    "ALARM_STATE_CHANGE",
    "PARAMETER_STORE_CHANGE",
    "SCHEDULED_EVENT",
    "TASK_ACTIONS",
    "AlarmStateChange",
    "CapacityTick",
    "ControllerEvent",
    "FailureInput",
    "InvalidEvent",
    "OperatorEvent",
    "PlanInput",
    "RegistryChange",
    "StageInput",
    "StageRef",
    "TaskEvent",
    "parse_event",
]

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
PARAMETER_STORE_CHANGE = "Parameter Store Change"
# A scheduled EventBridge rule's event (source aws.events): the capacity tick.
SCHEDULED_EVENT = "Scheduled Event"
TASK_ACTIONS = (
    "begin", "verify", "shift", "check", "finish", "rollback",
    "release_shift", "release_check", "release_finish", "release_failback",
)  # fmt: skip

TaskAction = Literal[
    "begin", "verify", "shift", "check", "finish", "rollback",
    "release_shift", "release_check", "release_finish", "release_failback",
]  # fmt: skip
AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]


class InvalidEvent(StranglerError, ValueError):
    """An event the controller does not accept; ``problems`` names each wrong field."""

    def __init__(self, problems: list[str], kind: str) -> None:
        self.problems = tuple(problems)
        self.kind = kind
        super().__init__(f"invalid {kind}: " + "; ".join(self.problems))


# Our own payloads are strict: an unknown key is a typo or a version mismatch
# between the state machine and the function, and must not pass silently.
_STRICT = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class StageInput(BaseModel):
    """One stage of the plan in the execution input."""

    model_config = _STRICT

    weight: float = Field(gt=0, le=100)
    # camelCase: the field names of the execution input.
    bakeSeconds: int = Field(default=0, ge=0)


class PlanInput(BaseModel):
    """The ``plan`` of the execution input: :meth:`PlanRecord.to_input` on the wire."""

    model_config = _STRICT

    stages: list[StageInput] = Field(min_length=1)
    stagesPerRun: int = Field(default=0, ge=0)
    minRequests: int = Field(default=0, ge=0)

    def to_record(self) -> PlanRecord:
        """The contract record (the core validates the plan's rules from it)."""
        return PlanRecord(
            stages=tuple(
                StagePlanRecord(weight=s.weight, bake_seconds=s.bakeSeconds) for s in self.stages
            ),
            stages_per_run=self.stagesPerRun,
            min_requests=self.minRequests,
        )


class StageRef(BaseModel):
    """The stage a shift moved to, as the Shift task returned it (input of Check)."""

    model_config = _STRICT

    index: int = Field(ge=0)
    weight: float = Field(ge=0, le=100)
    bakeSeconds: int = Field(ge=0)


class FailureInput(BaseModel):
    """What a Catch (or the CheckFailed state) puts in ``$.failure``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Error: str
    Cause: str | None = None

    def describe(self, limit: int = 500) -> str:
        """``Error: Cause`` in one line, the cause cut to ``limit`` characters."""
        cause = (self.Cause or "").strip()
        if len(cause) > limit:
            cause = cause[: limit - 3] + "..."
        return f"{self.Error}: {cause}" if cause else self.Error


class TaskEvent(BaseModel):
    """A Step Functions task of the canary state machine."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    action: TaskAction
    route: str = Field(min_length=1)
    execution_arn: str = Field(alias="executionArn", pattern=r"^arn:aws[a-z-]*:states:")
    trigger: str = Field(min_length=1)
    actor: str = Field(min_length=1)
    plan: PlanInput
    stage: StageRef | None = None
    failure: FailureInput | None = None


class OperatorEvent(BaseModel):
    """An operator action sent to the function (the same operations as the CLI)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["operator"]
    command: str
    route: str = Field(min_length=1)
    actor: str = Field(min_length=1)
    reason: str | None = None
    full: bool = False

    @field_validator("command", mode="before")
    @classmethod
    def _an_operation(cls, value: Any) -> Any:
        """Only a command of the operations table; worded like pydantic's own Literal error."""
        known = operations.commands()
        if value not in known:
            expected = ", ".join(repr(c) for c in known[:-1])
            expected = f"{expected} or {known[-1]!r}" if expected else repr(known[-1])
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": expected}
            )
        return value

    def operation(self) -> operations.Operation:
        """The table entry of ``command`` (validated, so it is there)."""
        return operations.get(self.command)


class _AlarmStateModel(BaseModel):
    value: AlarmState
    reason: str = ""
    timestamp: str | None = None


class _AlarmDetailModel(BaseModel):
    alarmName: str = Field(min_length=1)
    state: _AlarmStateModel
    previousState: _AlarmStateModel | None = None


class _AlarmStateChangeModel(EventBridgeModel):
    """EventBridge's "CloudWatch Alarm State Change" (Powertools' EventBridge model)."""

    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    source: Literal["aws.cloudwatch"]
    detail: _AlarmDetailModel


@dataclass(frozen=True)
class AlarmStateChange:
    """An alarm changed state: which alarm, to what, from what, why, when."""

    alarm_name: str
    alarm_arn: str | None
    state: str
    previous_state: str | None
    reason: str
    time: datetime | None
    event_id: str | None

    @property
    def is_alarm(self) -> bool:
        """True when the alarm went to ALARM (the only state that triggers a rollback)."""
        return self.state == "ALARM"


class _ParameterDetailModel(BaseModel):
    # AWS may add fields to the detail (type, description, ...): only these two matter.
    name: str = Field(min_length=1)
    operation: str = Field(min_length=1)


class _ParameterStoreChangeModel(EventBridgeModel):
    """EventBridge's "Parameter Store Change" (Powertools' EventBridge model)."""

    detail_type: Literal["Parameter Store Change"] = Field(alias="detail-type")
    source: Literal["aws.ssm"]
    detail: _ParameterDetailModel


@dataclass(frozen=True)
class RegistryChange:
    """An SSM parameter was written or deleted: which one, how, when."""

    parameter_name: str
    operation: str
    time: datetime | None
    event_id: str | None

    @property
    def is_write(self) -> bool:
        """True for ``Create`` and ``Update``: the parameter holds a new value to act on."""
        return self.operation in ("Create", "Update")


class _ScheduledEventModel(EventBridgeModel):
    """EventBridge's "Scheduled Event" of a scheduled rule (Powertools' EventBridge model)."""

    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    source: Literal["aws.events"]


@dataclass(frozen=True)
class CapacityTick:
    """The periodic invocation: end the capacity holds that are over."""

    rule_arns: tuple[str, ...]
    time: datetime | None
    event_id: str | None


ControllerEvent = TaskEvent | AlarmStateChange | RegistryChange | OperatorEvent | CapacityTick


def parse_event(event: Any) -> ControllerEvent:
    """Parse one Lambda event; :class:`InvalidEvent` says what is wrong with it."""
    if not isinstance(event, dict):
        raise InvalidEvent(
            [f"the event must be a JSON object, got {type(event).__name__}"], "event"
        )
    if "action" in event:
        action = event["action"]
        if action == "operator":
            return _validate(event, OperatorEvent, "operator action")
        if action in TASK_ACTIONS:
            return _validate(event, TaskEvent, f"{action} task event")
        accepted = ", ".join((*TASK_ACTIONS, "operator"))
        raise InvalidEvent([f"action: {action!r} is not one of {accepted}"], "event")
    if event.get("detail-type") == ALARM_STATE_CHANGE:
        return _alarm_from_eventbridge(event)
    if event.get("detail-type") == PARAMETER_STORE_CHANGE:
        return _registry_change(event)
    if event.get("detail-type") == SCHEDULED_EVENT:
        model = _validate(event, _ScheduledEventModel, "scheduled event")
        return CapacityTick(rule_arns=tuple(model.resources), time=model.time, event_id=model.id)
    if event.get("source") == "aws.cloudwatch" and "alarmData" in event:
        return _alarm_from_alarm_action(event)
    keys = ", ".join(sorted(str(k) for k in event)) or "(none)"
    raise InvalidEvent(
        [
            "unrecognised event: expected a Step Functions task (action "
            f"{'|'.join(TASK_ACTIONS)}), an EventBridge {ALARM_STATE_CHANGE!r}, "
            f"{PARAMETER_STORE_CHANGE!r} or {SCHEDULED_EVENT!r} event, or an operator action "
            "(action 'operator'); "
            f"got keys: {keys}"
        ],
        "event",
    )


def _validate(event: dict[str, Any], model: type[Any], kind: str) -> Any:
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        raise InvalidEvent(_problems(error), kind) from error


def _problems(error: ValidationError) -> list[str]:
    """One ``field.path: message`` line per pydantic error."""
    problems: list[str] = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(event)"
        problems.append(f"{where}: {item['msg']}")
    return problems


def _alarm_from_eventbridge(event: dict[str, Any]) -> AlarmStateChange:
    model = _validate(event, _AlarmStateChangeModel, "alarm state change event")
    detail: _AlarmDetailModel = model.detail
    return AlarmStateChange(
        alarm_name=detail.alarmName,
        alarm_arn=model.resources[0] if model.resources else None,
        state=detail.state.value,
        previous_state=detail.previousState.value if detail.previousState else None,
        reason=detail.state.reason,
        time=model.time,
        event_id=model.id,
    )


def _registry_change(event: dict[str, Any]) -> RegistryChange:
    model = _validate(event, _ParameterStoreChangeModel, "parameter store change event")
    detail: _ParameterDetailModel = model.detail
    return RegistryChange(
        parameter_name=detail.name,
        operation=detail.operation,
        time=model.time,
        event_id=model.id,
    )


def _alarm_from_alarm_action(event: dict[str, Any]) -> AlarmStateChange:
    """The event of an alarm that invokes Lambda directly (Powertools' data class)."""
    wrapped = CloudWatchAlarmEvent(event)
    try:
        data = wrapped.alarm_data
        state = data.state.value
        name = data.alarm_name
        previous = data.previous_state.value if data.get("previousState") else None
        reason = data.state.get("reason") or ""
        arn = wrapped.alarm_arn
    except (KeyError, TypeError) as error:
        raise InvalidEvent([f"alarmData: missing {error}"], "alarm action event") from error
    if state not in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        raise InvalidEvent(
            [f"alarmData.state.value: unknown state {state!r}"], "alarm action event"
        )
    return AlarmStateChange(
        alarm_name=name,
        alarm_arn=arn,
        state=state,
        previous_state=previous,
        reason=reason,
        time=None,
        event_id=event.get("requestId") if isinstance(event.get("requestId"), str) else None,
    )
