"""The equivalence check's pure logic: its config, the comparison, the answer.

No I/O here: ``check_http`` sends the requests and ``check_app`` is the
handler. The controller reads the answer that :func:`build_answer` returns
(its keys are the contract with ``controller/core/verify.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MODES = ("exact", "headers", "status")
# What each mode compares, in report order. "headers" adds Content-Type and
# the configured headers to the status; "exact" adds the body's length and
# SHA-256.
_BODY_FIELDS = ("body-length", "body-sha256")


class CheckConfigError(ValueError):
    """The checker's configuration (its environment) is malformed."""


@dataclass(frozen=True)
class Sample:
    """One request sent to both sides."""

    index: int
    method: str
    path: str

    @property
    def label(self) -> str:
        """``#1 GET /map/v1/tile/1/2/3.png`` (1-based, as an operator counts)."""
        return f"#{self.index + 1} {self.method} {self.path}"


@dataclass(frozen=True)
class CheckConfig:
    """What the deploy told the checker (environment ``STRANGLER_CHECK``)."""

    route: str
    base_url: str
    preview_header: str
    samples: tuple[Sample, ...]
    mode: str
    headers: tuple[str, ...]
    hook_function_arn: str | None = None
    host_header: str | None = None
    # The program leaves it out (check_limits.REQUEST_TIMEOUT_SECONDS applies); the
    # local twin, which runs the ALB, the functions and moto in one process, sets
    # a longer one (rehearsal/scenario/verify.py). The invocation's deadline
    # still bounds every request.
    request_timeout_seconds: float | None = None

    @staticmethod
    def from_json(text: str) -> CheckConfig:
        """Parse the environment's JSON; :class:`CheckConfigError` names the bad key."""
        try:
            data = json.loads(text)
            samples = tuple(
                Sample(index=i, method=str(s.get("method") or "GET").upper(), path=str(s["path"]))
                for i, s in enumerate(data["samples"])
            )
            config = CheckConfig(
                route=str(data["route"]),
                base_url=str(data["baseUrl"]).rstrip("/"),
                preview_header=str(data["previewHeader"]),
                samples=samples,
                mode=str(data.get("compare") or "exact"),
                headers=tuple(str(h) for h in data.get("headers") or ()),
                hook_function_arn=data.get("hookFunctionArn") or None,
                host_header=data.get("hostHeader") or None,
                request_timeout_seconds=(
                    float(data["requestTimeoutSeconds"])
                    if data.get("requestTimeoutSeconds") is not None
                    else None
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CheckConfigError(f"STRANGLER_CHECK is malformed: {error!r}") from error
        if config.mode not in MODES:
            raise CheckConfigError(f"compare {config.mode!r} is not one of {', '.join(MODES)}")
        if not config.samples:
            raise CheckConfigError("STRANGLER_CHECK has no samples")
        return config


@dataclass(frozen=True)
class Observation:
    """What one side answered to one sample (or why it did not answer)."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body_length: int = 0
    body_sha256: str = ""
    truncated: bool = False
    error: str | None = None

    def header(self, name: str) -> str | None:
        """A response header by case-insensitive name; None when absent."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the answer."""
        return {
            "status": self.status,
            "headers": dict(self.headers),
            "bodyLength": self.body_length,
            "bodySha256": self.body_sha256,
            "truncated": self.truncated,
            "error": self.error,
        }


@dataclass(frozen=True)
class Difference:
    """One field that differs between the two sides for one sample."""

    sample: Sample
    field: str
    lambda_value: str | None
    ecs_value: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the keys the controller reads."""
        return {
            "sample": self.sample.label,
            "field": self.field,
            "lambda": self.lambda_value,
            "ecs": self.ecs_value,
        }


def compared_fields(mode: str, headers: Sequence[str]) -> tuple[str, ...]:
    """The fields ``mode`` compares, in order (header names lower-cased)."""
    if mode not in MODES:
        raise CheckConfigError(f"compare {mode!r} is not one of {', '.join(MODES)}")
    fields: list[str] = ["status"]
    if mode in ("headers", "exact"):
        fields.append("content-type")
        fields.extend(h.lower() for h in headers if h.lower() != "content-type")
    if mode == "exact":
        fields.extend(_BODY_FIELDS)
    return tuple(fields)


def _value(observation: Observation, name: str) -> str | None:
    if observation.error is not None and name == "status":
        return f"no answer: {observation.error}"
    if name == "status":
        return None if observation.status is None else str(observation.status)
    if name == "body-length":
        suffix = "+" if observation.truncated else ""
        return f"{observation.body_length}{suffix}"
    if name == "body-sha256":
        return observation.body_sha256 or None
    return observation.header(name)


def compare(
    sample: Sample,
    lambda_side: Observation,
    ecs_side: Observation,
    mode: str,
    headers: Sequence[str],
) -> list[Difference]:
    """Every field of ``mode`` whose values differ, in field order.

    A side that did not answer is a difference in ``status`` (its other
    fields mean nothing), even when the other side failed the same way: a
    check that reached nothing has not passed.
    """
    if lambda_side.error is not None or ecs_side.error is not None:
        return [
            Difference(sample, "status", _value(lambda_side, "status"), _value(ecs_side, "status"))
        ]
    differences = []
    for name in compared_fields(mode, headers):
        left, right = _value(lambda_side, name), _value(ecs_side, name)
        if left != right:
            differences.append(Difference(sample, name, left, right))
    return differences


@dataclass(frozen=True)
class SampleResult:
    """Both sides' answers to one sample and what differs."""

    sample: Sample
    lambda_side: Observation
    ecs_side: Observation
    differences: tuple[Difference, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the answer."""
        return {
            "sample": self.sample.label,
            "method": self.sample.method,
            "path": self.sample.path,
            "lambda": self.lambda_side.to_dict(),
            "ecs": self.ecs_side.to_dict(),
            "differences": [d.to_dict() for d in self.differences],
        }


@dataclass(frozen=True)
class HookVerdict:
    """What the user's hook answered (CodeDeploy's hook statuses: Succeeded or Failed)."""

    function_arn: str
    passed: bool
    reason: str


def hook_verdict(function_arn: str, answer: Any) -> HookVerdict:
    """Read a hook's answer: ``{"status": "Succeeded" | "Failed", "reason": "..."}``.

    Anything else (a function error, another shape) is a failure: a hook
    that cannot say pass has not passed.
    """
    if isinstance(answer, Mapping):
        status = answer.get("status")
        reason = str(answer.get("reason") or "")
        if status == "Succeeded":
            return HookVerdict(function_arn, True, reason or "the hook answered Succeeded")
        if status == "Failed":
            return HookVerdict(function_arn, False, reason or "the hook answered Failed")
    text = json.dumps(answer, default=str)[:300]
    return HookVerdict(
        function_arn,
        False,
        f'the hook must answer {{"status": "Succeeded" | "Failed"}}, got {text}',
    )


def build_answer(
    config: CheckConfig, results: Sequence[SampleResult], hook: HookVerdict | None
) -> dict[str, Any]:
    """The checker's answer to the controller: passed, per sample, every difference."""
    differences = [d.to_dict() for r in results for d in r.differences]
    if hook is not None and not hook.passed:
        differences.append({"sample": "hook", "field": "hook", "lambda": hook.reason, "ecs": None})
    return {
        "route": config.route,
        "mode": config.mode,
        "passed": not differences,
        "samples": [r.to_dict() for r in results],
        "differences": differences,
        "hook": None
        if hook is None
        else {"functionArn": hook.function_arn, "passed": hook.passed, "reason": hook.reason},
    }


def hook_event(config: CheckConfig, results: Sequence[SampleResult]) -> dict[str, Any]:
    """What the hook receives: the route's context and the check's results."""
    return {
        "route": config.route,
        "mode": config.mode,
        "previewHeader": config.preview_header,
        "passed": not any(r.differences for r in results),
        "samples": [r.to_dict() for r in results],
    }
