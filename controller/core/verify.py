"""The equivalence check's report, as the controller reads it from the checker.

The route's checker (functions/traffic_check) sends every sample to the ALB
with the preview header (the function) and without it (ECS) and answers with
what differs. This module turns that answer into a :class:`VerifyReport`
(refusing a malformed one), and words it for the history, the notification
and the CLI's table. Whether a difference pauses the route is decided by the
service (``CanaryService.verify``): any difference, or a check that could not
run, does.

Pure module: no boto3.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.core.errors import StranglerError
from controller.core.json_form import fields_dict, json_key
from controller.core.lifecycle import REASON_VERIFY

__all__ = [
    "REASON_VERIFY",
    "SampleCheck",
    "VerifyAnswerInvalid",
    "VerifyDifference",
    "VerifyReport",
    "report_from_answer",
]

# How many differences the reason (history entry, DynamoDB item) names; the
# notification and the CLI carry all of them.
MAX_REASON_DIFFERENCES = 3
# A value longer than this is shortened in the reason.
MAX_VALUE_CHARS = 80


class VerifyAnswerInvalid(StranglerError):
    """The checker answered something that is not a check report."""


@dataclass(frozen=True)
class VerifyDifference:
    """One field of one sample whose values differ between the function and ECS."""

    sample: str
    field: str
    lambda_value: str | None = dataclasses.field(metadata=json_key("lambda"))
    ecs_value: str | None = dataclasses.field(metadata=json_key("ecs"))

    def describe(self) -> str:
        """``#1 GET /x: cache-control lambda 'no-store', ecs 'public, max-age=86400'``."""
        return (
            f"{self.sample}: {self.field} lambda {_show(self.lambda_value)}, "
            f"ecs {_show(self.ecs_value)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (notification, CLI)."""
        return fields_dict(self)


@dataclass(frozen=True)
class SampleCheck:
    """One sample as both sides answered it (the CLI's table has one row per sample)."""

    sample: str
    lambda_status: str
    ecs_status: str
    lambda_length: str = dataclasses.field(metadata=json_key("lambdaBodyLength"))
    ecs_length: str = dataclasses.field(metadata=json_key("ecsBodyLength"))
    differences: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form (CLI)."""
        return fields_dict(self, camel=True)


@dataclass(frozen=True)
class VerifyReport:
    """The whole check of one route: passed exactly when nothing differs."""

    route: str
    mode: str
    samples: tuple[SampleCheck, ...]
    differences: tuple[VerifyDifference, ...]

    @property
    def passed(self) -> bool:
        """No difference, the hook's verdict included."""
        return not self.differences

    def summary(self) -> str:
        """The reason recorded in the history: what passed, or the first differences."""
        if self.passed:
            return (
                f"verify passed: {len(self.samples)} sample(s) answer the same on Lambda and "
                f"ECS (compare {self.mode})"
            )
        shown = "; ".join(d.describe() for d in self.differences[:MAX_REASON_DIFFERENCES])
        more = len(self.differences) - MAX_REASON_DIFFERENCES
        tail = f"; and {more} more" if more > 0 else ""
        count = len(self.differences)
        return f"{REASON_VERIFY} {count} difference(s) (compare {self.mode}): {shown}{tail}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (notification, CLI, handler)."""
        return {
            "route": self.route,
            "mode": self.mode,
            "passed": self.passed,
            "samples": [s.to_dict() for s in self.samples],
            "differences": [d.to_dict() for d in self.differences],
        }


def _show(value: str | None) -> str:
    if value is None:
        return "(none)"
    if len(value) > MAX_VALUE_CHARS:
        value = value[: MAX_VALUE_CHARS - 3] + "..."
    return repr(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _side(sample: Mapping[str, Any], side: str) -> tuple[str, str]:
    observed = sample.get(side)
    if not isinstance(observed, Mapping):
        raise ValueError(f"sample without {side!r}")
    if observed.get("error"):
        return f"error: {observed['error']}", "-"
    suffix = "+" if observed.get("truncated") else ""
    return str(observed.get("status")), f"{observed.get('bodyLength', 0)}{suffix}"


def report_from_answer(route: str, answer: Any) -> VerifyReport:
    """Read the checker's answer; :class:`VerifyAnswerInvalid` for anything malformed.

    The report's verdict comes from the differences, never from the answer's
    own ``passed`` flag: an answer that says passed but lists a difference
    has not passed.
    """
    try:
        if not isinstance(answer, Mapping):
            raise ValueError(f"expected an object, got {type(answer).__name__}")
        differences = tuple(
            VerifyDifference(
                sample=str(d["sample"]),
                field=str(d["field"]),
                lambda_value=_text(d.get("lambda")),
                ecs_value=_text(d.get("ecs")),
            )
            for d in answer["differences"]
        )
        samples = []
        for sample in answer["samples"]:
            lambda_status, lambda_length = _side(sample, "lambda")
            ecs_status, ecs_length = _side(sample, "ecs")
            samples.append(
                SampleCheck(
                    sample=str(sample["sample"]),
                    lambda_status=lambda_status,
                    ecs_status=ecs_status,
                    lambda_length=lambda_length,
                    ecs_length=ecs_length,
                    differences=len(sample.get("differences") or ()),
                )
            )
        mode = str(answer["mode"])
        if answer.get("passed") is True and differences:
            raise ValueError("it says passed but lists differences")
        if answer.get("passed") is False and not differences:
            raise ValueError("it says failed but lists no difference")
    except (KeyError, TypeError, ValueError) as error:
        raise VerifyAnswerInvalid(
            f"the checker's answer is not a check report: {error!r}", route=route
        ) from error
    return VerifyReport(route=route, mode=mode, samples=tuple(samples), differences=differences)
