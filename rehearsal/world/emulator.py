"""The AWS emulator the twin talks to: moto in-process or a moto server.

Everything in the twin reaches moto through real boto3 clients made by one
:class:`Emulator`, so the same code runs against ``mock_aws`` (tests, fast)
and against a ``ThreadedMotoServer`` on 127.0.0.1 (``serve``, and any other
process such as ``python -m controller --endpoint-url``).
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
from botocore.config import Config
from moto import mock_aws
from moto.core.config import DefaultConfig, default_user_config
from moto.server import ThreadedMotoServer

from rehearsal.world import moto_patches
from rehearsal.world.control import ControlMount

# moto's default account: every access key that moto does not know maps to it.
ACCOUNT_ID = "123456789012"

# Fake credentials: moto accepts any, botocore only needs some to sign with.
FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"

# moto settings the twin needs:
# - lambda.use_docker False: invoke must not pull images (no Docker here);
#   rehearsal/world/moto_lambda.py routes invokes to the real handlers in-process.
# - stepfunctions.execute_state_machine True: run the real ASL definition.
# - iam.load_aws_managed_policies True: AWS-managed policy ARNs (such as
#   AWSLambdaBasicExecutionRole) exist, as in AWS; attaching a misspelled one
#   fails, as in AWS. Costs about one second per emulator start.
MOTO_CONFIG: DefaultConfig = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
    "iam": {"load_aws_managed_policies": True},
}

# Few, quick retries: the emulator is local, and an error should surface fast.
_CLIENT_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"})


@dataclass
class Emulator:
    """Where the emulator is and how to make clients for it.

    ``endpoint_url`` is ``None`` for in-process moto (``mock_aws`` must be
    active while clients are used) and ``http://127.0.0.1:<port>`` for a moto
    server. Clients are cached per service; boto3 clients are thread-safe
    once made, sessions are not, so creation is serialised. ``control`` is
    where a server's own endpoints are registered (rehearsal/world/control.py;
    None in-process).
    """

    region: str
    endpoint_url: str | None = None
    account_id: str = ACCOUNT_ID
    control: ControlMount | None = field(default=None, repr=False, compare=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _session: boto3.Session | None = field(default=None, repr=False, compare=False)

    def session(self) -> boto3.Session:
        """A fresh boto3 session with the fake credentials and the region."""
        return boto3.Session(
            aws_access_key_id=FAKE_ACCESS_KEY,
            aws_secret_access_key=FAKE_SECRET_KEY,
            region_name=self.region,
        )

    def client(self, service: str) -> Any:
        """The (cached) boto3 client of ``service`` for this emulator.

        Every client comes from one session, made on first use: a session
        loads botocore's endpoint and service data (megabytes of JSON) once
        and keeps it, so a fresh session per client would load it again for
        each of the twenty-odd services a stack touches.
        """
        with self._lock:
            existing = self._clients.get(service)
            if existing is None:
                if self._session is None:
                    self._session = self.session()
                existing = self._session.client(
                    service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG
                )
                self._clients[service] = existing
            return existing

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``boto3.client(...)`` that reach this emulator."""
        return {
            "region_name": self.region,
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": FAKE_ACCESS_KEY,
            "aws_secret_access_key": FAKE_SECRET_KEY,
        }


def moto_config(*, managed_policies: bool = True) -> DefaultConfig:
    """The moto settings of the twin (see MOTO_CONFIG).

    ``managed_policies=False`` skips loading the AWS-managed IAM policies
    (about a second per emulator); only for tests that attach none.
    """
    config = copy.deepcopy(MOTO_CONFIG)
    config["iam"] = {"load_aws_managed_policies": managed_policies}
    return config


@contextmanager
def in_process(region: str, *, managed_policies: bool = True) -> Iterator[Emulator]:
    """Run moto in this process (``mock_aws``) for the duration of the block.

    All state is discarded when the block ends.
    """
    moto_patches.install()
    with mock_aws(config=moto_config(managed_policies=managed_policies)):
        yield Emulator(region=region)


@contextmanager
def server(region: str, port: int = 0, host: str = "127.0.0.1") -> Iterator[Emulator]:
    """Run a moto server on ``host:port`` (0 picks a free port) for the block.

    Binds to 127.0.0.1 by default: the emulator accepts any credentials, so it
    must not be reachable from other machines. Sets ``MOTO_PORT`` because
    moto's Step Functions interpreter calls the other services through its
    own clients on ``localhost:$MOTO_PORT`` (restored afterwards). The
    twin's own endpoints (``Emulator.control``) share the port.
    """
    moto_patches.install()
    previous_port = os.environ.get("MOTO_PORT")
    # werkzeug logs every request at INFO; the twin's output is its own lines.
    request_log = logging.getLogger("werkzeug")
    previous_level = request_log.level
    request_log.setLevel(logging.WARNING)
    # The threaded server lives in this process and reads the same global
    # config as mock_aws; patch it for the lifetime of the server only.
    with mock.patch.dict(default_user_config, dict(MOTO_CONFIG)):
        moto_server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        moto_server.start()
        try:
            bound_host, bound_port = moto_server.get_host_and_port()
            os.environ["MOTO_PORT"] = str(bound_port)
            control = _mount_control(moto_server)
            emulator = Emulator(
                region=region,
                endpoint_url=f"http://{bound_host}:{bound_port}",
                control=control,
            )
            _reset(emulator)
            yield emulator
        finally:
            moto_server.stop()
            request_log.setLevel(previous_level)
            if previous_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = previous_port


def _mount_control(moto_server: ThreadedMotoServer) -> ControlMount:
    """Put a :class:`ControlMount` in front of the server's application.

    moto 5.2.5's ``ThreadedMotoServer`` builds its werkzeug server in
    ``start()`` and keeps it in ``_server``, whose request handler calls
    ``server.app`` on every request; replacing ``app`` routes the next request
    through the mount. Refuses loudly when that attribute is gone.
    """
    wsgi_server = getattr(moto_server, "_server", None)
    if wsgi_server is None or not callable(getattr(wsgi_server, "app", None)):
        raise RuntimeError(
            "rehearsal.world.emulator: moto's ThreadedMotoServer no longer keeps its werkzeug "
            "server in _server.app; re-check _mount_control against this moto version"
        )
    mount = ControlMount(wsgi_server.app)
    wsgi_server.app = mount
    return mount


def _reset(emulator: Emulator) -> None:
    """Start from empty backends: the server shares moto's process-wide state."""
    request = urllib.request.Request(f"{emulator.endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
