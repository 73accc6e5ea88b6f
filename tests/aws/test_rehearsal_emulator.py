"""Tests of rehearsal/world/emulator.py: in-process moto and a moto server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import boto3

from rehearsal.world.control import CONTROL_PREFIX
from rehearsal.world.emulator import Emulator, in_process, moto_config, server

REGION = "ap-northeast-1"


def test_in_process_clients_are_cached_and_regional():
    with in_process(REGION, managed_policies=False) as emulator:
        assert emulator.endpoint_url is None
        sqs = emulator.client("sqs")
        assert emulator.client("sqs") is sqs
        assert sqs.meta.region_name == REGION
        sqs.create_queue(QueueName="q")
        assert len(sqs.list_queues()["QueueUrls"]) == 1
    with in_process(REGION, managed_policies=False) as emulator:
        assert "QueueUrls" not in emulator.client("sqs").list_queues(), "state is discarded"


def test_moto_config_controls_managed_policies_only():
    assert moto_config(managed_policies=False)["iam"] == {"load_aws_managed_policies": False}
    config = moto_config()
    assert config["iam"] == {"load_aws_managed_policies": True}
    assert config["lambda"] == {"use_docker": False}
    assert config["stepfunctions"] == {"execute_state_machine": True}


def test_server_on_a_free_port_with_moto_port_set_and_restored():
    before = os.environ.get("MOTO_PORT")
    with server(REGION, port=0) as emulator:
        assert emulator.endpoint_url is not None
        assert emulator.endpoint_url.startswith("http://127.0.0.1:")
        port = emulator.endpoint_url.rsplit(":", 1)[1]
        assert os.environ["MOTO_PORT"] == port
        # Another client (another process would do the same) reaches it.
        other = boto3.client("sqs", **emulator.client_kwargs())
        other.create_queue(QueueName="shared")
        assert emulator.client("sqs").get_queue_url(QueueName="shared")["QueueUrl"]
        # The composite-alarm patch is active in server mode too.
        emulator.client("cloudwatch").put_composite_alarm(AlarmName="c", AlarmRule="FALSE")
    assert os.environ.get("MOTO_PORT") == before


def test_a_new_server_starts_empty():
    with server(REGION, port=0) as emulator:
        emulator.client("sqs").create_queue(QueueName="leftover")
    with server(REGION, port=0) as emulator:
        assert "QueueUrls" not in emulator.client("sqs").list_queues()


def test_client_kwargs_reach_the_same_endpoint():
    emulator = Emulator(region=REGION, endpoint_url="http://127.0.0.1:1")
    kwargs = emulator.client_kwargs()
    assert kwargs["endpoint_url"] == "http://127.0.0.1:1"
    assert kwargs["region_name"] == REGION


def _post(url: str, body: bytes, method: str = "POST") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_twins_own_endpoints_share_the_port_with_moto():
    with server(REGION, port=0) as emulator:
        assert emulator.control is not None
        seen: list[object] = []

        def echo(body: object) -> tuple[int, object]:
            seen.append(body)
            return 200, {"lines": ["ok"]}

        emulator.control.register("echo", echo)
        base = f"{emulator.endpoint_url}{CONTROL_PREFIX}"
        assert _post(f"{base}echo", b'{"route": "r"}') == (200, {"lines": ["ok"]})
        assert seen == [{"route": "r"}]
        status, answer = _post(f"{base}nope", b"{}")
        assert status == 404 and "known: echo" in answer["error"]
        assert _post(f"{base}echo", b"", method="GET")[0] == 405
        assert _post(f"{base}echo", b"not json")[0] == 400
        # Everything else is still moto.
        emulator.client("sqs").create_queue(QueueName="still-moto")
        assert emulator.client("sqs").list_queues()["QueueUrls"]
        emulator.control.unregister("echo")
        assert _post(f"{base}echo", b"{}")[0] == 404
