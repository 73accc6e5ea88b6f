"""Tests of rehearsal/scenario/emf.py: EMF lines (real, from the route function) to CloudWatch."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from rehearsal.scenario.emf import (
    MAX_DATUMS_PER_CALL,
    EmfError,
    EmfPublisher,
    MetricDatum,
    parse_emf_line,
    put_metric_data_requests,
)
from rehearsal.scenario.traffic import SyntheticRequest, alb_event
from rehearsal.world.ecs_standin import StandinServer
from rehearsal.world.lambda_runtime import FunctionConfig, WorkerFunction
from tests.aws_fixtures import REGION, fake_aws_env

MAP_PROXY = Path(__file__).resolve().parents[2] / "functions" / "map_proxy"
ROUTE = "map-tile"
TG = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/fn/1"


def map_proxy_package() -> bytes:
    """The function folder zipped as the deploy zips it (no __pycache__)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(MAP_PROXY.rglob("*.py")):
            if "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(MAP_PROXY).as_posix())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def function_lines() -> Iterator[list[str]]:
    """Every output line of the real map proxy after a good and a failing request."""
    lines: list[str] = []
    with StandinServer("upstream") as upstream:
        config = FunctionConfig(
            name="strangler-test-map-tile",
            arn="arn:aws:lambda:ap-northeast-1:123456789012:function:strangler-test-map-tile",
            handler="app.handler",
            environment={
                "ROUTE_NAME": ROUTE,
                "UPSTREAM_URL": upstream.url,
                "HEALTH_CHECK_PATH": "/map/v1/tile/health",
                "POWERTOOLS_SERVICE_NAME": ROUTE,
                "POWERTOOLS_METRICS_NAMESPACE": "Strangler",
            },
            timeout_seconds=10,
            memory_mb=512,
            code_sha256="",
        )
        function = WorkerFunction(
            config,
            map_proxy_package(),
            region=REGION,
            on_output=lambda name, line: lines.append(line),
        )
        try:
            request = SyntheticRequest("GET", "/map/v1/tile/12/1/2.png", "maps.example.com")
            event = alb_event(request, TG, multi_value_headers=False, trace_id="Root=1-a-b")
            assert function(event, None)["statusCode"] == 200
            upstream.set_failing(True)
            assert function(event, None)["statusCode"] == 502
        finally:
            function.close()
    yield lines


def emf_of(lines: list[str]) -> list[list[MetricDatum]]:
    return [data for data in (parse_emf_line(line) for line in lines) if data]


def test_the_function_lines_become_route_metrics(function_lines: list[str]):
    batches = emf_of(function_lines)
    assert len(batches) == 2, f"one EMF line per request, got {len(batches)}: {function_lines}"
    first = {d.name: d for d in batches[0]}
    assert set(first) == {"Requests", "UpstreamLatency"}
    requests = first["Requests"]
    assert (requests.namespace, requests.value, requests.unit) == ("Strangler", 1.0, "Count")
    assert requests.dimensions == (("route", ROUTE),), "exactly the dimension the alarms watch"
    assert requests.storage_resolution == 1
    assert abs(requests.timestamp - datetime.now(UTC)) < timedelta(minutes=1)
    failed = {d.name: d.value for d in batches[1]}
    assert failed["AppErrors"] == 1.0, "the upstream's 503 is the function's 502: an AppError"
    assert failed["Requests"] == 1.0


def test_log_lines_are_not_metrics(function_lines: list[str]):
    logs = [line for line in function_lines if line.startswith("{") and '"_aws"' not in line]
    assert logs, "the function logs JSON too"
    assert all(parse_emf_line(line) == [] for line in logs)
    assert parse_emf_line("Traceback (most recent call last):") == []
    assert parse_emf_line("{not json") == []


def _line(**root: Any) -> str:
    base: dict[str, Any] = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Strangler",
                    "Dimensions": [["route"], ["route", "side"]],
                    "Metrics": [{"Name": "Requests", "Unit": "Count", "StorageResolution": 1}],
                }
            ],
        },
        "route": "map-tile",
        "side": "lambda",
        "Requests": [1, 2],
    }
    base.update(root)
    return json.dumps(base)


def test_every_dimension_set_and_every_value_is_a_datum():
    data = parse_emf_line(_line())
    assert [(d.dimensions, d.value) for d in data] == [
        ((("route", "map-tile"),), 1.0),
        ((("route", "map-tile"),), 2.0),
        ((("route", "map-tile"), ("side", "lambda")), 1.0),
        ((("route", "map-tile"), ("side", "lambda")), 2.0),
    ]
    assert data[0].timestamp == datetime.fromtimestamp(1_700_000_000, tz=UTC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"route": None}, "dimension 'route'"),
        ({"Requests": "many"}, "not a number"),
        ({"_aws": {"Timestamp": 1, "CloudWatchMetrics": {}}}, "must be a list"),
        (
            {
                "_aws": {
                    "Timestamp": 1,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": "N",
                            "Dimensions": [],
                            "Metrics": [{"Name": "Requests", "StorageResolution": 5}],
                        }
                    ],
                }
            },
            "StorageResolution 5",
        ),
    ],
)
def test_broken_emf_is_refused(change: dict[str, Any], message: str):
    line = json.loads(_line())
    for key, value in change.items():
        if value is None:
            del line[key]
        else:
            line[key] = value
    with pytest.raises(EmfError, match=message):
        parse_emf_line(json.dumps(line))


def test_requests_hold_one_namespace_and_at_most_1000_data():
    at = datetime.now(UTC)
    data = [MetricDatum("A", "m", (), 1.0, "Count", 1, at)] * (MAX_DATUMS_PER_CALL + 5)
    data += [MetricDatum("B", "m", (), 1.0, "Count", 60, at)]
    requests = put_metric_data_requests(data)
    assert [(r["Namespace"], len(r["MetricData"])) for r in requests] == [
        ("A", 1000),
        ("A", 5),
        ("B", 1),
    ]


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake_aws_env(monkeypatch)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def _sum(cloudwatch: Any, name: str, start: datetime) -> float:
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Strangler",
                        "MetricName": name,
                        "Dimensions": [{"Name": "route", "Value": ROUTE}],
                    },
                    "Period": 1,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=start,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
    )
    return float(sum(result["MetricDataResults"][0]["Values"]))


def test_the_publisher_puts_the_function_metrics_into_cloudwatch(
    cloudwatch: Any, function_lines: list[str]
):
    start = datetime.now(UTC) - timedelta(minutes=5)
    publisher = EmfPublisher(cloudwatch, flush_interval=0.05).start()
    publisher.feed_lines(function_lines)
    publisher.feed('{"_aws": {"Timestamp": 1, "CloudWatchMetrics": "bad"}}')
    publisher.close()
    assert _sum(cloudwatch, "Requests", start) == 2.0, "the controller's Check counts these"
    assert _sum(cloudwatch, "AppErrors", start) == 1.0
    assert publisher.stats.rejected == 1
    assert "must be a list" in (publisher.stats.last_rejection or "")
    assert publisher.stats.published >= 3


def test_a_failing_put_is_raised_on_close(monkeypatch: pytest.MonkeyPatch):
    fake_aws_env(monkeypatch)
    # A real client whose endpoint refuses connections: PutMetricData fails.
    unreachable = boto3.client(
        "cloudwatch",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=0.5),
    )
    publisher = EmfPublisher(unreachable, flush_interval=0.01).start()
    publisher.feed(_line())
    time.sleep(0.2)
    with pytest.raises(EndpointConnectionError):
        publisher.close()
