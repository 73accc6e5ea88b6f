"""The controller's error hierarchy.

Every error carries the context an operator needs to act on it: the route, the
ARN of the resource and the AWS API call, when known. The rendered message
names all of them, so a log line or a CLI error is enough to find the
resource. Wrap lower-level errors with ``raise X(...) from e``.

Pure module: no boto3 import. :meth:`AwsCallFailed.from_exception` reads a
botocore ``ClientError`` by duck typing (``exc.response``), so the pure core
stays importable without the AWS SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict, Unpack

__all__ = [
    "TRANSIENT_ERROR_CODES",
    "AwsCallFailed",
    "ConcurrentUpdate",
    "DriftDetected",
    "PlanError",
    "StranglerError",
    "SyncRefused",
    "TransitionRefused",
    "UnknownRoute",
    "VerificationFailed",
    "WeightError",
    "Where",
    "is_transient",
]


class Where(TypedDict, total=False):
    """Where an error happened: the keywords every :class:`StranglerError` takes.

    The subclasses with details of their own take these as ``**where``, so
    the route, ARN and API call are passed the same way to every error.
    """

    route: str | None
    arn: str | None
    api_call: str | None


class StranglerError(Exception):
    """Base of every error the controller raises on purpose.

    ``message`` says what went wrong; ``route``, ``arn`` and ``api_call`` say
    where. ``str(error)`` renders all of them, for example
    ``route map-tile: ModifyRule arn:aws:...:listener-rule/...: throttled``.
    """

    def __init__(
        self,
        message: str,
        route: str | None = None,
        arn: str | None = None,
        api_call: str | None = None,
    ) -> None:
        self.message = message
        self.route = route
        self.arn = arn
        self.api_call = api_call
        super().__init__(self.render())

    def render(self) -> str:
        """The message prefixed with the route, the API call and the ARN."""
        where: list[str] = []
        if self.route is not None:
            where.append(f"route {self.route}")
        if self.api_call is not None:
            where.append(self.api_call)
        if self.arn is not None:
            where.append(self.arn)
        if not where:
            return self.message
        return f"{': '.join(where)}: {self.message}"

    def __str__(self) -> str:
        return self.render()


class WeightError(StranglerError, ValueError):
    """A weight or percent outside what the ALB accepts; ``limit`` names the limit."""

    def __init__(self, message: str, *, limit: str | None = None, **where: Unpack[Where]) -> None:
        self.limit = limit
        super().__init__(message, **where)


class PlanError(StranglerError, ValueError):
    """An invalid stage plan. ``problems`` lists every problem, each naming its field."""

    def __init__(self, problems: Sequence[str], route: str | None = None) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid stage plan: " + "; ".join(self.problems), route=route)


class TransitionRefused(StranglerError):
    """A life-cycle transition that is not allowed from the current state.

    ``reason`` says why (``route is rolled_back``), ``hint`` what to do about it
    (``run: python -m controller resume --route R``). Nothing was changed.
    """

    def __init__(
        self,
        reason: str,
        hint: str,
        route: str | None = None,
        *,
        transition: str | None = None,
        status: str | None = None,
    ) -> None:
        self.reason = reason
        self.hint = hint
        self.transition = transition
        self.status = status
        prefix = f"{transition} refused: " if transition else "refused: "
        super().__init__(f"{prefix}{reason} (hint: {hint})", route=route)


class ConcurrentUpdate(StranglerError):
    """A conditional write lost: someone else changed the route's state first.

    The caller reloads the state and decides again; it never overwrites.
    """

    def __init__(
        self, message: str, *, expected_version: int | None = None, **where: Unpack[Where]
    ) -> None:
        self.expected_version = expected_version
        super().__init__(message, **where)


class UnknownRoute(StranglerError, KeyError):
    """A route name that is not in the stack's registry; the message lists the known ones."""

    def __init__(self, route: str, known: Sequence[str] = ()) -> None:
        self.known = tuple(sorted(known))
        listed = ", ".join(self.known) if self.known else "(none)"
        super().__init__(f"unknown route, not in the registry; known routes: {listed}", route=route)

    # KeyError.__str__ would quote the whole message; keep the plain rendering.
    def __str__(self) -> str:
        return self.render()


class VerificationFailed(StranglerError):
    """A write that did not read back as written (Argo Rollouts #3333: verify, never assume)."""

    def __init__(
        self,
        message: str,
        *,
        expected: object = None,
        actual: object = None,
        **where: Unpack[Where],
    ) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(message, **where)


class DriftDetected(StranglerError):
    """The live weights differ from the ones the controller last wrote: a human changed them."""

    def __init__(
        self, message: str, *, live: object = None, expected: object = None, **where: Unpack[Where]
    ) -> None:
        self.live = live
        self.expected = expected
        super().__init__(message, **where)


class SyncRefused(StranglerError):
    """The rule's target groups cannot be reconciled with the registry without guessing.

    ``found`` lists the rule's forward target group ARNs, ``ecs`` and
    ``lambda_`` the registry's; the message names all of them. Nothing was
    written. An operator fixes the rule (or the registry) and syncs again.
    """

    def __init__(
        self,
        message: str,
        *,
        found: Sequence[str] = (),
        ecs: str | None = None,
        lambda_: str | None = None,
        **where: Unpack[Where],
    ) -> None:
        self.found = tuple(found)
        self.ecs = ecs
        self.lambda_ = lambda_
        super().__init__(message, **where)


# Error codes AWS returns for throttling and for its own transient failures.
# Step Functions retries these (Retry with backoff); everything else is final.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# botocore's connection-level exceptions have no error code; they are transient.
_TRANSIENT_EXCEPTION_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionError",
    }
)


def is_transient(code: str | None, http_status: int | None = None) -> bool:
    """True when an AWS error code or HTTP status means "try again later"."""
    if code is not None and code in TRANSIENT_ERROR_CODES:
        return True
    return http_status is not None and (http_status >= 500 or http_status == 429)


class AwsCallFailed(StranglerError):
    """An AWS API call failed. ``transient`` is True for throttling and 5xx."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        error_code: str | None = None,
        **where: Unpack[Where],
    ) -> None:
        self.transient = transient
        self.error_code = error_code
        super().__init__(message, **where)

    @classmethod
    def from_exception(
        cls,
        exc: BaseException,
        *,
        api_call: str,
        arn: str | None = None,
        route: str | None = None,
    ) -> AwsCallFailed:
        """Wrap a botocore error (read by duck typing) naming the API call and resource.

        Use as ``raise AwsCallFailed.from_exception(e, api_call="ModifyRule", arn=...) from e``.
        """
        response = getattr(exc, "response", None)
        code: str | None = None
        status: int | None = None
        detail = str(exc)
        if isinstance(response, dict):
            error = response.get("Error") or {}
            raw_code = error.get("Code")
            code = str(raw_code) if raw_code is not None else None
            detail = str(error.get("Message") or detail)
            raw_status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            status = int(raw_status) if raw_status is not None else None
        transient = is_transient(code, status) or (
            response is None
            and (
                isinstance(exc, (ConnectionError, TimeoutError))
                or type(exc).__name__ in _TRANSIENT_EXCEPTION_NAMES
            )
        )
        label = code or type(exc).__name__
        return cls(
            f"{label}: {detail}",
            route=route,
            arn=arn,
            api_call=api_call,
            transient=transient,
            error_code=code,
        )
