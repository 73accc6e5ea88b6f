"""Tests of rehearsal/world/moto_patches.py: PutCompositeAlarm on the pinned moto."""

from __future__ import annotations

import boto3
import moto
import pytest
from moto import mock_aws
from moto.cloudwatch.responses import CloudWatchResponse

from rehearsal.errors import RehearsalError
from rehearsal.world import moto_patches


def test_composite_alarm_round_trips_through_boto3():
    moto_patches.install()
    moto_patches.install()  # idempotent
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="ap-northeast-1")
        cloudwatch.put_metric_alarm(
            AlarmName="child",
            Namespace="N",
            MetricName="M",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.put_composite_alarm(AlarmName="parent", AlarmRule='ALARM("child")')
        described = cloudwatch.describe_alarms(AlarmNames=["parent"], AlarmTypes=["CompositeAlarm"])
        assert [a["AlarmRule"] for a in described["CompositeAlarms"]] == ['ALARM("child")']
        cloudwatch.set_alarm_state(AlarmName="parent", StateValue="ALARM", StateReason="test")
        described = cloudwatch.describe_alarms(AlarmNames=["parent"], AlarmTypes=["CompositeAlarm"])
        assert described["CompositeAlarms"][0]["StateValue"] == "ALARM"


def test_another_moto_version_is_refused(monkeypatch):
    monkeypatch.delattr(CloudWatchResponse, "put_composite_alarm", raising=False)
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(RehearsalError, match=r"checked against moto 5\.2\.5, found 9\.9\.9"):
        moto_patches.install()
