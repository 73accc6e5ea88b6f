"""Send one sample to the ALB and observe the answer, within the bounds of check_limits.

http.client from the standard library: no redirect is followed (a 3xx is
an answer to compare), nothing is decompressed (Content-Encoding is compared
as sent), and the body is read up to MAX_BODY_BYTES only.
"""

from __future__ import annotations

import hashlib
import http.client
import ssl
from urllib.parse import urlsplit

from check_core import Observation, Sample
from check_limits import MAX_BODY_BYTES

_CHUNK = 64 * 1024


class _NamedTlsConnection(http.client.HTTPSConnection):
    """HTTPS to the ALB's address, with the TLS server name (and certificate check) of
    ``server_name``: the ALB's certificate names the site's host, not the ALB's DNS name."""

    def __init__(self, host: str, port: int | None, *, server_name: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._server_name = server_name
        self._tls = ssl.create_default_context()

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)


def observe(
    base_url: str,
    sample: Sample,
    *,
    headers: dict[str, str],
    timeout_seconds: float,
) -> Observation:
    """Send ``sample`` to ``base_url`` with ``headers``; every failure becomes ``error``."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    server_name = headers.get("Host")
    if parts.scheme == "https" and server_name:
        connection = _NamedTlsConnection(
            host, parts.port, server_name=server_name, timeout=timeout_seconds
        )
    elif parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout_seconds, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout_seconds)
    try:
        connection.request(sample.method, sample.path, headers=headers)
        response = connection.getresponse()
        digest = hashlib.sha256()
        length = 0
        truncated = False
        if sample.method != "HEAD":
            while True:
                chunk = response.read(min(_CHUNK, MAX_BODY_BYTES + 1 - length))
                if not chunk:
                    break
                length += len(chunk)
                if length > MAX_BODY_BYTES:
                    truncated = True
                    length = MAX_BODY_BYTES
                    digest.update(chunk[: len(chunk) - 1])
                    break
                digest.update(chunk)
        return Observation(
            status=response.status,
            headers={key: value for key, value in response.getheaders()},
            body_length=length,
            body_sha256=digest.hexdigest(),
            truncated=truncated,
        )
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        return Observation(status=None, error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()
