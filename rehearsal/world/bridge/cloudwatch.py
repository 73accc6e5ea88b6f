"""CloudWatch: metric alarms (incl. metric math), composite alarms, the dashboard.

moto stores alarms but never evaluates them and never fires their actions
(a new alarm starts in OK, where AWS starts in INSUFFICIENT_DATA). Inputs
that only matter for evaluation (``treatMissingData``, ``datapointsToAlarm``,
``evaluateLowSampleCountPercentiles``) are still passed, so the twin's
describe calls show what AWS would evaluate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from rehearsal.errors import BridgeError
from rehearsal.world.bridge.base import (
    BridgeContext,
    Created,
    Translation,
    as_json_text,
    call,
    physical_name,
    required,
    with_outputs,
)

METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"

# Alarm names: at most 255 characters (PutMetricAlarm API reference).
ALARM_NAME_MAX = 255
# ALARM("name"), OK(name), INSUFFICIENT_DATA("arn:...") inside an alarm rule.
_RULE_REFERENCE = re.compile(r'\b(?:ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*"?([^")]+?)"?\s*\)')


def _dimensions(dimensions: Mapping[str, Any] | None) -> list[dict[str, str]] | None:
    if not dimensions:
        return None
    return [{"Name": key, "Value": str(value)} for key, value in sorted(dimensions.items())]


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    translated: dict[str, Any] = {"Id": query["id"]}
    for key, aws in (("expression", "Expression"), ("label", "Label"), ("accountId", "AccountId")):
        if query.get(key):
            translated[aws] = query[key]
    if query.get("returnData") is not None:
        translated["ReturnData"] = bool(query["returnData"])
    if query.get("period"):
        translated["Period"] = int(query["period"])
    metric = query.get("metric")
    if metric:
        metric_spec: dict[str, Any] = {
            "Namespace": metric["namespace"],
            "MetricName": metric["metricName"],
        }
        dimensions = _dimensions(metric.get("dimensions"))
        if dimensions:
            metric_spec["Dimensions"] = dimensions
        stat: dict[str, Any] = {
            "Metric": metric_spec,
            "Period": int(metric["period"]),
            "Stat": metric["stat"],
        }
        if metric.get("unit"):
            stat["Unit"] = metric["unit"]
        translated["MetricStat"] = stat
    return translated


def create_metric_alarm(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutMetricAlarm``, with ``Metrics`` for metric-math alarms."""
    alarm_name = physical_name(inputs, name, ALARM_NAME_MAX)
    queries = inputs.get("metricQueries") or []
    call(
        METRIC_ALARM,
        name,
        "cloudwatch:PutMetricAlarm",
        ctx.client("cloudwatch").put_metric_alarm,
        AlarmName=alarm_name,
        AlarmDescription=inputs.get("alarmDescription"),
        ActionsEnabled=inputs.get("actionsEnabled"),
        AlarmActions=list(inputs.get("alarmActions") or []) or None,
        OKActions=list(inputs.get("okActions") or []) or None,
        InsufficientDataActions=list(inputs.get("insufficientDataActions") or []) or None,
        MetricName=inputs.get("metricName"),
        Namespace=inputs.get("namespace"),
        Statistic=inputs.get("statistic"),
        ExtendedStatistic=inputs.get("extendedStatistic"),
        Dimensions=_dimensions(inputs.get("dimensions")),
        Period=int(inputs["period"]) if inputs.get("period") else None,
        Unit=inputs.get("unit"),
        EvaluationPeriods=int(required(METRIC_ALARM, name, inputs, "evaluationPeriods")),
        DatapointsToAlarm=int(inputs["datapointsToAlarm"])
        if inputs.get("datapointsToAlarm")
        else None,
        Threshold=float(inputs["threshold"]) if inputs.get("threshold") is not None else None,
        ThresholdMetricId=inputs.get("thresholdMetricId"),
        ComparisonOperator=required(METRIC_ALARM, name, inputs, "comparisonOperator"),
        TreatMissingData=inputs.get("treatMissingData"),
        EvaluateLowSampleCountPercentile=inputs.get("evaluateLowSampleCountPercentiles"),
        Metrics=[_metric_query(q) for q in queries] or None,
    )
    arn = _alarm_arn(ctx, alarm_name)
    return Created(id=alarm_name, outputs=with_outputs(inputs, name=alarm_name, arn=arn))


def _alarm_arn(ctx: BridgeContext, alarm_name: str) -> str:
    return f"arn:aws:cloudwatch:{ctx.region}:{ctx.account_id}:alarm:{alarm_name}"


def _missing_rule_alarms(ctx: BridgeContext, rule: str) -> list[str]:
    """Alarms that ``rule`` references but that do not exist in the emulator."""
    referenced = sorted({ref.rsplit(":alarm:", 1)[-1] for ref in _RULE_REFERENCE.findall(rule)})
    if not referenced:
        return []
    found: set[str] = set()
    cloudwatch = ctx.client("cloudwatch")
    # DescribeAlarms takes at most 100 names per call.
    for start in range(0, len(referenced), 100):
        response = cloudwatch.describe_alarms(
            AlarmNames=referenced[start : start + 100],
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        )
        for alarm in response["MetricAlarms"] + response["CompositeAlarms"]:
            found.add(alarm["AlarmName"])
    return [name for name in referenced if name not in found]


def create_composite_alarm(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutCompositeAlarm`` (see rehearsal/world/moto_patches.py).

    AWS refuses a rule that names alarms that do not exist yet; moto does
    not check, so the bridge does, which also proves that the child alarms
    were created first (Pulumi's dependency order).
    """
    alarm_name = str(required(COMPOSITE_ALARM, name, inputs, "alarmName"))
    rule = str(required(COMPOSITE_ALARM, name, inputs, "alarmRule"))
    missing = _missing_rule_alarms(ctx, rule)
    if missing:
        raise BridgeError(
            f"alarm rule references alarms that do not exist: {', '.join(missing)}",
            token=COMPOSITE_ALARM,
            name=name,
            api_call="cloudwatch:PutCompositeAlarm",
        )
    call(
        COMPOSITE_ALARM,
        name,
        "cloudwatch:PutCompositeAlarm",
        ctx.client("cloudwatch").put_composite_alarm,
        AlarmName=alarm_name,
        AlarmRule=rule,
        AlarmDescription=inputs.get("alarmDescription"),
        ActionsEnabled=inputs.get("actionsEnabled"),
        AlarmActions=list(inputs.get("alarmActions") or []) or None,
        OKActions=list(inputs.get("okActions") or []) or None,
        InsufficientDataActions=list(inputs.get("insufficientDataActions") or []) or None,
    )
    arn = _alarm_arn(ctx, alarm_name)
    return Created(id=alarm_name, outputs=with_outputs(inputs, arn=arn))


def create_dashboard(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutDashboard``; the body must be valid JSON, as AWS requires."""
    dashboard_name = str(required(DASHBOARD, name, inputs, "dashboardName"))
    body = as_json_text(required(DASHBOARD, name, inputs, "dashboardBody"))
    try:
        json.loads(body)
    except ValueError as error:
        raise BridgeError(
            f"dashboardBody is not valid JSON: {error}",
            token=DASHBOARD,
            name=name,
            api_call="cloudwatch:PutDashboard",
        ) from error
    cloudwatch = ctx.client("cloudwatch")
    call(
        DASHBOARD,
        name,
        "cloudwatch:PutDashboard",
        cloudwatch.put_dashboard,
        DashboardName=dashboard_name,
        DashboardBody=body,
    )
    arn = call(
        DASHBOARD,
        name,
        "cloudwatch:GetDashboard",
        cloudwatch.get_dashboard,
        DashboardName=dashboard_name,
    )["DashboardArn"]
    return Created(id=dashboard_name, outputs=with_outputs(inputs, dashboardArn=arn))


TRANSLATIONS = (
    Translation(
        token=METRIC_ALARM,
        create=create_metric_alarm,
        handled=frozenset(
            {
                "name",
                "alarmDescription",
                "actionsEnabled",
                "alarmActions",
                "okActions",
                "insufficientDataActions",
                "metricName",
                "namespace",
                "statistic",
                "extendedStatistic",
                "dimensions",
                "period",
                "unit",
                "evaluationPeriods",
                "datapointsToAlarm",
                "threshold",
                "thresholdMetricId",
                "comparisonOperator",
                "treatMissingData",
                "evaluateLowSampleCountPercentiles",
                "metricQueries",
            }
        ),
    ),
    Translation(
        token=COMPOSITE_ALARM,
        create=create_composite_alarm,
        handled=frozenset(
            {
                "alarmName",
                "alarmRule",
                "alarmDescription",
                "actionsEnabled",
                "alarmActions",
                "okActions",
                "insufficientDataActions",
            }
        ),
        ignored={
            "actionsSuppressor": "moto ignores suppressors and never fires actions; in AWS "
            "a suppressor alarm mutes the composite alarm's notifications",
        },
    ),
    Translation(
        token=DASHBOARD,
        create=create_dashboard,
        handled=frozenset({"dashboardName", "dashboardBody"}),
    ),
)
