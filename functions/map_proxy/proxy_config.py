"""Configuration of the map proxy, resolved in one place.

Order of precedence for every setting: explicit argument, then environment
variable, then default. The result is validated before anything uses it, so a
misconfigured function fails at init (a Lambda `Errors` datapoint the alarms
see) instead of answering every request wrongly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from proxy_constants import (
    DEFAULT_ALLOWED_METHODS,
    DEFAULT_CONNECT_TIMEOUT_MS,
    DEFAULT_HEALTH_CHECK_PATH,
    DEFAULT_TIMEOUT_MARGIN_MS,
    ENV_ALLOWED_METHODS,
    ENV_CONNECT_TIMEOUT_MS,
    ENV_FORWARD_HEADERS,
    ENV_HEALTH_CHECK_PATH,
    ENV_ROUTE_NAME,
    ENV_TIMEOUT_MARGIN_MS,
    ENV_UPSTREAM_URL,
    NEVER_FORWARDED_HEADERS,
    REQUEST_HEADER_ALLOWLIST,
)
from proxy_exceptions import ConfigError

# An HTTP method is an RFC 9110 token; upper case is what the ALB sends.
_METHOD_RE = re.compile(r"^[A-Z]+$")


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Validated settings of one map proxy function."""

    upstream_url: str
    route_name: str
    health_check_path: str
    allowed_methods: frozenset[str]
    timeout_margin_ms: int
    connect_timeout_ms: int
    # The request headers forwarded to the upstream: the safe default plus the
    # route's extra names, never a hop-by-hop one.
    forward_headers: frozenset[str] = REQUEST_HEADER_ALLOWLIST

    @property
    def allow_header(self) -> str:
        """Value of the `Allow` header of a 405 response, in a stable order."""
        return ", ".join(sorted(self.allowed_methods))


def _pick(explicit: str | None, environ: Mapping[str, str], key: str, default: str | None) -> str:
    """Resolve one setting: explicit argument, then environment, then default."""
    if explicit is not None:
        return explicit
    value = environ.get(key)
    if value is not None and value.strip():
        return value.strip()
    if default is None:
        raise ConfigError(key, "is required and not set")
    return default


def _parse_non_negative_int(key: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(key, f"{raw!r} is not an integer") from None
    if value < 0:
        raise ConfigError(key, f"{value} is negative")
    return value


def _pick_milliseconds(
    explicit: int | None, environ: Mapping[str, str], key: str, default: int
) -> int:
    """An integer setting: explicit argument, else the environment's ``key``, else ``default``.

    Only what comes from the environment is parsed (and must be a non-negative integer).
    """
    if explicit is not None:
        return explicit
    return _parse_non_negative_int(key, _pick(None, environ, key, str(default)))


def parse_upstream_url(key: str, raw: str) -> str:
    """Validate an upstream base URL and return it without a trailing slash."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(key, f"{raw!r} must use http or https")
    if not parts.hostname:
        raise ConfigError(key, f"{raw!r} has no host")
    if parts.query or parts.fragment:
        raise ConfigError(key, f"{raw!r} must not carry a query or a fragment")
    return raw.rstrip("/")


def parse_allowed_methods(key: str, raw: str) -> frozenset[str]:
    """Parse a comma-separated method list such as `GET,HEAD`."""
    methods = frozenset(part.strip().upper() for part in raw.split(",") if part.strip())
    if not methods:
        raise ConfigError(key, "lists no method")
    for method in sorted(methods):
        if not _METHOD_RE.match(method):
            raise ConfigError(key, f"{method!r} is not an HTTP method")
    return methods


# A header name is an RFC 9110 token.
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def parse_forward_headers(key: str, raw: str) -> frozenset[str]:
    """The default allowlist plus the comma-separated names of ``raw`` (lower-cased).

    A name that is not a header name is a :class:`ConfigError`; a hop-by-hop
    name is dropped (the deploy refuses it, and it is never forwarded anyway).
    """
    extra = set()
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        if not _HEADER_NAME_RE.match(name):
            raise ConfigError(key, f"{name!r} is not an HTTP header name")
        extra.add(name.lower())
    return REQUEST_HEADER_ALLOWLIST | (frozenset(extra) - NEVER_FORWARDED_HEADERS)


def load_config(
    *,
    upstream_url: str | None = None,
    route_name: str | None = None,
    health_check_path: str | None = None,
    allowed_methods: str | None = None,
    timeout_margin_ms: int | None = None,
    connect_timeout_ms: int | None = None,
    forward_headers: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProxyConfig:
    """Resolve and validate the configuration.

    Raises:
        ConfigError: a required setting is missing or a value is invalid; the
            message names the environment variable.
    """
    env = os.environ if environ is None else environ

    url = parse_upstream_url(ENV_UPSTREAM_URL, _pick(upstream_url, env, ENV_UPSTREAM_URL, None))
    route = _pick(route_name, env, ENV_ROUTE_NAME, None)
    if not route.strip():
        raise ConfigError(ENV_ROUTE_NAME, "is empty")

    health = _pick(health_check_path, env, ENV_HEALTH_CHECK_PATH, DEFAULT_HEALTH_CHECK_PATH)
    if not health.startswith("/"):
        raise ConfigError(ENV_HEALTH_CHECK_PATH, f"{health!r} must start with '/'")

    methods = parse_allowed_methods(
        ENV_ALLOWED_METHODS,
        _pick(allowed_methods, env, ENV_ALLOWED_METHODS, DEFAULT_ALLOWED_METHODS),
    )

    margin = _pick_milliseconds(
        timeout_margin_ms, env, ENV_TIMEOUT_MARGIN_MS, DEFAULT_TIMEOUT_MARGIN_MS
    )
    connect = _pick_milliseconds(
        connect_timeout_ms, env, ENV_CONNECT_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS
    )
    if margin < 0:
        raise ConfigError(ENV_TIMEOUT_MARGIN_MS, f"{margin} is negative")
    if connect <= 0:
        raise ConfigError(ENV_CONNECT_TIMEOUT_MS, f"{connect} must be positive")

    headers = parse_forward_headers(
        ENV_FORWARD_HEADERS, _pick(forward_headers, env, ENV_FORWARD_HEADERS, "")
    )

    return ProxyConfig(
        upstream_url=url,
        route_name=route,
        health_check_path=health,
        allowed_methods=methods,
        timeout_margin_ms=margin,
        connect_timeout_ms=connect,
        forward_headers=headers,
    )
