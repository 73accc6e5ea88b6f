"""boto3 clients for the controller, and the one place that classifies AWS errors.

Every adapter gets its clients from :class:`ClientFactory`, so the region, the
profile, the endpoint (moto, or a VPC endpoint) and the retry/timeout policy
are decided once. Every adapter wraps its calls in :func:`aws_call`, so a
botocore error always leaves the adapter as :class:`~controller.core.errors.AwsCallFailed`
naming the API call and the resource, with ``transient`` / ``access_denied``
flags the service and the state machine's Retry can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from controller.core.errors import AwsCallFailed
from controller.core.errors import is_transient as is_transient_code

RetryMode = Literal["standard", "adaptive"]

# The controller Lambda is on the failback path: a rollback must reach ModifyRule
# or fail fast so the state machine's own Retry/Catch takes over. botocore's
# defaults (60 s connect, 60 s read) would let one hung connection eat the whole
# function timeout. The control-plane calls used here answer in well under a
# second when AWS is healthy.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 2.0
DEFAULT_READ_TIMEOUT_SECONDS = 5.0
# "standard" retries throttling, 5xx and connection errors with capped
# exponential backoff; 3 attempts is the SDK default for that mode. More
# attempts belong to the state machine's Retry (it can wait longer than a
# Lambda invocation should).
DEFAULT_MAX_ATTEMPTS = 3

# Codes that mean the role lacks a permission: never worth a retry, always worth
# a clear message (an IAM policy in components/ is missing an action).
ACCESS_DENIED_ERROR_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",  # SNS
        "UnauthorizedOperation",
        "NotAuthorized",
    }
)


@dataclass(frozen=True)
class AwsSettings:
    """Where and how to call AWS.

    ``None`` means "let boto3 resolve it" (environment variables such as
    ``AWS_REGION`` / ``AWS_PROFILE`` / ``AWS_ENDPOINT_URL``, then the shared
    config), so an explicit argument wins over the environment, which wins
    over the default.
    """

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    retry_mode: RetryMode = "standard"
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS

    def botocore_config(self) -> Config:
        """The botocore ``Config`` every client of the controller uses."""
        return Config(
            retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )


@dataclass
class ClientFactory:
    """Makes (and caches) one boto3 client per service from :class:`AwsSettings`.

    boto3 clients are thread safe and expensive to build (~10-50 ms each, the
    service model is loaded on first use), so a Lambda keeps one factory at
    module level and reuses the clients across invocations.
    """

    settings: AwsSettings = field(default_factory=AwsSettings)
    _session: boto3.session.Session | None = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def session(self) -> boto3.session.Session:
        """The boto3 session (built on first use, with the profile if one is set)."""
        if self._session is None:
            self._session = boto3.session.Session(
                profile_name=self.settings.profile, region_name=self.settings.region
            )
        return self._session

    def client(self, service: str) -> Any:
        """A botocore client for ``service`` (e.g. ``"elbv2"``), cached per factory."""
        cached = self._clients.get(service)
        if cached is None:
            cached = self.session().client(
                service,
                endpoint_url=self.settings.endpoint_url,
                config=self.settings.botocore_config(),
            )
            self._clients[service] = cached
        return cached


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a ``ClientError`` (``"Throttling"``, ...), else ``None``."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def http_status(error: BaseException) -> int | None:
    """The HTTP status of a ``ClientError``'s response, when botocore recorded one."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def is_transient(error: BaseException) -> bool:
    """True when repeating the same call later may succeed.

    Throttling and transient error codes (the list lives in
    :data:`controller.core.errors.TRANSIENT_ERROR_CODES`, shared with the state
    machine's Retry), 5xx / 429 responses, and connection-level failures
    (endpoint unreachable, connect/read timeout, connection reset). Everything
    else (validation, not found, access denied, conditional check failed) is
    permanent: repeating it only repeats the failure.
    """
    if isinstance(error, ClientError):
        return is_transient_code(error_code(error), http_status(error))
    # EndpointConnectionError / ConnectTimeoutError / SSLError derive from
    # botocore's ConnectionError; ReadTimeoutError / ConnectionClosedError from
    # HTTPClientError. botocore's standard retry mode retries the same two.
    return isinstance(error, BotocoreConnectionError | HTTPClientError)


def is_access_denied(error: BaseException) -> bool:
    """True when AWS refused the call for lack of permission."""
    return error_code(error) in ACCESS_DENIED_ERROR_CODES


class AwsAccessDenied(AwsCallFailed):
    """An AWS call refused for lack of permission: never transient, never retried.

    A subclass (rather than a flag on :class:`AwsCallFailed`) so callers can
    ``except AwsAccessDenied`` and so :attr:`access_denied` reads True here and
    False on every other :class:`AwsCallFailed` (see :func:`access_denied`).
    """

    access_denied = True


def access_denied(error: BaseException) -> bool:
    """True when ``error`` is an :class:`AwsCallFailed` caused by missing permissions."""
    return bool(getattr(error, "access_denied", False))


def wrap_error(
    error: BotoCoreError | ClientError,
    *,
    api_call: str,
    resource: str,
    route: str | None = None,
) -> AwsCallFailed:
    """Turn a botocore error into :class:`AwsCallFailed` naming the call and resource.

    ``api_call`` is ``"service:Operation"`` (``"elasticloadbalancing:ModifyRule"``),
    the same spelling as the IAM action, so an access-denied message points
    straight at the policy statement that is missing. The rendered message is
    ``route R: <api_call>: <resource>: <code>: <AWS message>``.
    """
    code = error_code(error)
    detail = str(error)
    if isinstance(error, ClientError):
        detail = str(error.response.get("Error", {}).get("Message") or detail)
    label = code or type(error).__name__
    if is_access_denied(error):
        return AwsAccessDenied(
            f"{label}: {detail} (the role lacks {api_call} on this resource)",
            route=route,
            arn=resource,
            api_call=api_call,
            transient=False,
            error_code=code,
        )
    transient = is_transient(error)
    suffix = " (transient: safe to retry)" if transient else ""
    return AwsCallFailed(
        f"{label}: {detail}{suffix}",
        route=route,
        arn=resource,
        api_call=api_call,
        transient=transient,
        error_code=code,
    )


@contextmanager
def aws_call(api_call: str, resource: str, *, route: str | None = None) -> Iterator[None]:
    """Run one AWS call; re-raise any botocore error as :class:`AwsCallFailed`.

    Usage::

        with aws_call("elasticloadbalancing:ModifyRule", rule_arn, route=route.route):
            client.modify_rule(...)

    Only botocore errors are translated; our own errors and programming errors
    pass through untouched.
    """
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise wrap_error(error, api_call=api_call, resource=resource, route=route) from error
