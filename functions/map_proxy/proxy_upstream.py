"""HTTP client to the upstream map delivery service.

One urllib3 connection pool per execution environment, created at init and
reused across invocations: an execution environment handles one invocation at
a time, so one kept-alive connection is all it needs, and reusing it saves a
TCP (and TLS) handshake per request.

Where urllib3 comes from at run time: the function folder is zipped as it is,
without dependencies. botocore does not vendor urllib3 (its
`botocore.vendored` package no longer carries an HTTP client); it declares
urllib3 as an ordinary dependency, and the Lambda Python runtimes (python3.12
included) ship boto3 and botocore together with their dependencies, so
`import urllib3` resolves to that copy. Its version follows the runtime's SDK
and may be 1.26.x or 2.x, so this module uses only APIs present in both:
`connection_from_url`, `Timeout`, `urlopen(preload_content=False)`,
`HTTPResponse.read(amt, decode_content=False)`, `.connection`,
`.headers.iteritems()`, and the exception classes below.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass

import urllib3
from proxy_constants import BODY_READ_CHUNK_BYTES
from proxy_core import UpstreamTimeouts
from proxy_exceptions import UpstreamBodyTooLargeError, UpstreamError, UpstreamFailure
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

# Methods that may be sent a second time when a kept-alive connection turns
# out to have been closed by the upstream while the environment was idle.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Read size for urllib3 versions without `read1` (see _read_some).
_FALLBACK_CHUNK_BYTES = 8 * 1024
# Statuses whose response never carries content (RFC 9110, 15.3.5 and 15.4.5).
_NO_CONTENT_STATUSES = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """A complete upstream response, body read within the size cap."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    latency_ms: float


class UpstreamClient:
    """Keep-alive HTTP client bound to one upstream base URL."""

    def __init__(self, base_url: str, *, pool_maxsize: int = 1) -> None:
        """Create the connection pool (no connection is opened yet).

        Args:
            base_url: `scheme://host[:port][/prefix]`; request paths are
                appended to the prefix.
            pool_maxsize: connections kept alive; one per execution
                environment is enough, since it runs one invocation at a time.
        """
        parsed = urllib3.util.parse_url(base_url)
        self.base_url = base_url
        self._prefix = (parsed.path or "").rstrip("/")
        # retries=False: a retry would restart urllib3's timeout clock and
        # could outlive the invocation; the one retry that is safe (stale
        # kept-alive connection) is done in fetch() against the deadline.
        # redirect=False: 3xx (and 304) go back to the client unchanged.
        self._pool = urllib3.connection_from_url(
            base_url, maxsize=pool_maxsize, block=False, retries=False
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    def fetch(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        timeouts: UpstreamTimeouts,
        max_body_bytes: int,
    ) -> UpstreamResponse:
        """Send one request and read the whole response, within a deadline.

        The deadline (`timeouts.budget_s` from now) bounds the connect, the
        wait for headers and every read of the body.

        Raises:
            UpstreamError: timeout, connection refused, DNS failure, broken
                connection; `failure` tells which.
            UpstreamBodyTooLargeError: the body exceeds `max_body_bytes`
                (reading stops right past the limit).
        """
        start = time.monotonic()
        deadline = start + timeouts.budget_s
        url = self._prefix + target
        attempts = 2 if method in _IDEMPOTENT_METHODS else 1
        response: urllib3.BaseHTTPResponse | None = None
        for attempt in range(1, attempts + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise UpstreamError(UpstreamFailure.TIMEOUT, "deadline passed before the request")
            timeout = urllib3.Timeout(total=left, connect=min(timeouts.connect_s, left), read=left)
            try:
                response = self._pool.urlopen(
                    method,
                    url,
                    body=body or None,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    timeout=timeout,
                    preload_content=False,
                    decode_content=False,
                )
                break
            # NewConnectionError subclasses ConnectTimeoutError: test it first.
            # It covers connection refused and, as NameResolutionError, DNS.
            except NewConnectionError as err:
                raise UpstreamError(UpstreamFailure.UNREACHABLE, str(err)) from err
            except (ConnectTimeoutError, ReadTimeoutError, Urllib3TimeoutError) as err:
                raise UpstreamError(UpstreamFailure.TIMEOUT, str(err)) from err
            except ProtocolError as err:
                if attempt < attempts:
                    continue
                raise UpstreamError(UpstreamFailure.PROTOCOL, str(err)) from err
            except (HTTPError, http.client.HTTPException, OSError) as err:
                raise UpstreamError(UpstreamFailure.PROTOCOL, str(err)) from err
        assert response is not None  # the loop either breaks with one or raises
        # A HEAD response or a 304 may announce, in Content-Length, the size a
        # GET would get (RFC 9110, 8.6) while carrying no content: that size
        # must not be held against the ALB limit.
        has_content = method != "HEAD" and response.status not in _NO_CONTENT_STATUSES
        payload = _read_capped(response, deadline, max_body_bytes, has_content=has_content)
        return UpstreamResponse(
            status=response.status,
            headers=list(response.headers.iteritems()),
            body=payload,
            latency_ms=(time.monotonic() - start) * 1000.0,
        )


def _set_read_timeout(response: urllib3.BaseHTTPResponse, seconds: float) -> None:
    """Bound the next socket read by the time left before the deadline.

    urllib3's read timeout applies to each socket read, not to the whole body,
    so a slow-dripping upstream could otherwise hold the invocation past the
    Lambda timeout.
    """
    sock = getattr(response.connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _read_some(response: urllib3.BaseHTTPResponse, amount: int) -> bytes:
    """Read at most `amount` raw bytes with at most one socket read.

    `read(amt)` keeps reading until it has `amt` bytes, and the socket timeout
    is per recv, so a body dripping one byte at a time would never time out.
    `read1` (urllib3 >= 2.3) returns whatever one recv brings, so the deadline
    is checked between reads. urllib3 1.26 has no `read1`: there each recv
    still waits at most the time left, but a body that drips inside one
    (small) read can run past the deadline.
    """
    read1 = getattr(response, "read1", None)
    if read1 is not None:
        data: bytes = read1(amount, decode_content=False)
        return data
    return response.read(min(amount, _FALLBACK_CHUNK_BYTES), decode_content=False)


def _read_capped(
    response: urllib3.BaseHTTPResponse, deadline: float, max_bytes: int, *, has_content: bool
) -> bytes:
    """Read the raw (still encoded) body, stopping right past `max_bytes`.

    Without content (`has_content` false) nothing is read and the connection
    goes back to the pool.
    """
    failed = True
    try:
        header = response.headers.get("content-length")
        declared = int(header) if header is not None and header.isdigit() else None
        if not has_content:
            declared = 0
        if declared is not None and declared > max_bytes:
            raise UpstreamBodyTooLargeError(declared, max_bytes, exact=True)
        chunks: list[bytes] = []
        total = 0
        # With a declared length, stop once it is reached instead of paying
        # one more read (and deadline check) just to see the end of the body.
        while declared is None or total < declared:
            left = deadline - time.monotonic()
            if left <= 0:
                raise UpstreamError(UpstreamFailure.TIMEOUT, "deadline passed while reading body")
            _set_read_timeout(response, left)
            # Never ask for more than one byte past the limit.
            chunk = _read_some(response, min(BODY_READ_CHUNK_BYTES, max_bytes + 1 - total))
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise UpstreamBodyTooLargeError(total, max_bytes, exact=False)
            chunks.append(chunk)
        failed = False
        return b"".join(chunks)
    except (ReadTimeoutError, Urllib3TimeoutError) as err:
        raise UpstreamError(UpstreamFailure.TIMEOUT, f"reading body: {err}") from err
    except (ProtocolError, HTTPError, http.client.HTTPException, OSError) as err:
        raise UpstreamError(UpstreamFailure.PROTOCOL, f"reading body: {err}") from err
    finally:
        if failed:
            # Unread bytes would corrupt the next request on this connection:
            # drop the connection rather than drain an unbounded body.
            response.close()
        response.release_conn()
