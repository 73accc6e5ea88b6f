"""Error hierarchy of the map proxy.

Every error carries the context needed to write one useful log line; the
handler turns them into ALB responses and never lets one escape.
"""

from __future__ import annotations

from enum import Enum


class MapProxyError(Exception):
    """Base class of all map proxy errors."""


class ConfigError(MapProxyError):
    """The function's configuration (environment) is missing or invalid."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class MalformedEventError(MapProxyError):
    """The invocation event is not a well-formed ALB target-group event."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UpstreamFailure(Enum):
    """Why the upstream call produced no usable response."""

    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    PROTOCOL = "protocol"
    BODY_TOO_LARGE = "body_too_large"


class UpstreamError(MapProxyError):
    """The upstream call failed; `failure` decides the status code."""

    def __init__(self, failure: UpstreamFailure, message: str) -> None:
        super().__init__(f"upstream {failure.value}: {message}")
        self.failure = failure


class UpstreamBodyTooLargeError(UpstreamError):
    """The upstream body exceeds what fits in an ALB response."""

    def __init__(self, size_bytes: int, limit_bytes: int, *, exact: bool) -> None:
        qualifier = "" if exact else "at least "
        super().__init__(
            UpstreamFailure.BODY_TOO_LARGE,
            f"body is {qualifier}{size_bytes} bytes, above the limit of {limit_bytes} bytes",
        )
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class ResponseTooLargeError(MapProxyError):
    """The ALB response JSON would exceed the ALB's Lambda response limit."""

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(
            f"response JSON would be {size_bytes} bytes, above the ALB limit of {limit_bytes} bytes"
        )
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes
