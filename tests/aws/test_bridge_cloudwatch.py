"""Tests of rehearsal/world/bridge/cloudwatch.py against moto through real boto3 clients."""

from __future__ import annotations

import json

import pytest

from rehearsal.errors import BridgeError
from rehearsal.world.bridge import Bridge

REGION = "ap-northeast-1"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:alerts"


def describe(bridge: Bridge, name: str, kind: str = "MetricAlarm"):
    response = bridge.context.client("cloudwatch").describe_alarms(
        AlarmNames=[name], AlarmTypes=[kind]
    )
    alarms = response["MetricAlarms" if kind == "MetricAlarm" else "CompositeAlarms"]
    assert len(alarms) == 1, f"alarm {name} not found"
    return alarms[0]


def test_plain_metric_alarm(bridge):
    created = bridge.create(
        METRIC_ALARM,
        "throttles",
        {
            "name": "strangler-prod-map-tile-throttles",
            "namespace": "AWS/Lambda",
            "metricName": "Throttles",
            "dimensions": {"FunctionName": "strangler-prod-map-tile"},
            "statistic": "Sum",
            "period": 60.0,
            "evaluationPeriods": 1.0,
            "datapointsToAlarm": 1.0,
            "threshold": 1.0,
            "comparisonOperator": "GreaterThanOrEqualToThreshold",
            "treatMissingData": "notBreaching",
            "alarmActions": [TOPIC],
        },
    )
    alarm = describe(bridge, "strangler-prod-map-tile-throttles")
    assert created.id == created.outputs["name"] == alarm["AlarmName"]
    assert created.outputs["arn"] == alarm["AlarmArn"]
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "strangler-prod-map-tile"}]
    assert alarm["Period"] == 60
    assert alarm["Threshold"] == 1.0
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [TOPIC]


def test_extended_statistic_alarm(bridge):
    bridge.create(
        METRIC_ALARM,
        "p99",
        {
            "name": "p99",
            "namespace": "AWS/ApplicationELB",
            "metricName": "TargetResponseTime",
            "extendedStatistic": "p99",
            "period": 60,
            "evaluationPeriods": 3,
            "threshold": 2.0,
            "comparisonOperator": "GreaterThanThreshold",
        },
    )
    assert describe(bridge, "p99")["ExtendedStatistic"] == "p99"


def test_metric_math_alarm_keeps_the_queries(bridge):
    def metric(query_id: str, name: str):
        return {
            "id": query_id,
            "returnData": False,
            "metric": {
                "namespace": "Strangler",
                "metricName": name,
                "dimensions": {"route": "map-tile"},
                "period": 10.0,
                "stat": "Sum",
            },
        }

    bridge.create(
        METRIC_ALARM,
        "app-errors",
        {
            "name": "app-errors",
            "metricQueries": [
                metric("failures", "AppErrors"),
                metric("total", "Requests"),
                {
                    "id": "rate",
                    "expression": "100 * FILL(failures, 0) / total",
                    "label": "Application error rate (%)",
                    "returnData": True,
                },
            ],
            "evaluationPeriods": 6,
            "threshold": 1,
            "comparisonOperator": "GreaterThanThreshold",
        },
    )
    queries = {m["Id"]: m for m in describe(bridge, "app-errors")["Metrics"]}
    assert queries["rate"]["Expression"] == "100 * FILL(failures, 0) / total"
    assert queries["rate"]["ReturnData"] is True
    stat = queries["failures"]["MetricStat"]
    assert stat["Metric"]["MetricName"] == "AppErrors"
    assert stat["Metric"]["Dimensions"] == [{"Name": "route", "Value": "map-tile"}]
    assert stat["Period"] == 10


def test_composite_alarm_after_its_children(bridge):
    for name in ("child-a", "child-b"):
        bridge.create(
            METRIC_ALARM,
            name,
            {
                "name": name,
                "namespace": "N",
                "metricName": "M",
                "statistic": "Sum",
                "period": 60,
                "evaluationPeriods": 1,
                "threshold": 1,
                "comparisonOperator": "GreaterThanThreshold",
            },
        )
    rule = 'ALARM("child-a") OR ALARM(child-b)'
    created = bridge.create(
        COMPOSITE,
        "composite",
        {"alarmName": "route-composite", "alarmRule": rule, "alarmActions": [TOPIC]},
    )
    alarm = describe(bridge, "route-composite", "CompositeAlarm")
    assert alarm["AlarmRule"] == rule
    assert alarm["AlarmActions"] == [TOPIC]
    assert created.outputs["arn"] == alarm["AlarmArn"]
    assert created.id == "route-composite"


def test_composite_alarm_naming_a_missing_alarm_fails_as_in_aws(bridge):
    with pytest.raises(BridgeError, match=r"do not exist: not-yet"):
        bridge.create(COMPOSITE, "composite", {"alarmName": "c", "alarmRule": 'ALARM("not-yet")'})


def test_dashboard(bridge):
    body = {
        "widgets": [
            {
                "type": "text",
                "x": 0,
                "y": 0,
                "width": 6,
                "height": 2,
                "properties": {"markdown": "hi"},
            }
        ]
    }
    created = bridge.create(
        DASHBOARD, "dash", {"dashboardName": "strangler-prod", "dashboardBody": json.dumps(body)}
    )
    stored = bridge.context.client("cloudwatch").get_dashboard(DashboardName="strangler-prod")
    assert json.loads(stored["DashboardBody"]) == body
    assert created.outputs["dashboardArn"] == stored["DashboardArn"]


def test_dashboard_body_must_be_json(bridge):
    with pytest.raises(BridgeError, match="not valid JSON"):
        bridge.create(DASHBOARD, "dash", {"dashboardName": "d", "dashboardBody": "{nope"})
