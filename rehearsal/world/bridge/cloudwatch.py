"""CloudWatch: metric alarms (incl. metric math), composite alarms, the dashboard.

moto stores alarms but never evaluates them and never fires their actions
(a new alarm starts in OK, where AWS starts in INSUFFICIENT_DATA). Inputs
that only matter for evaluation (``treatMissingData``, ``datapointsToAlarm``,
``evaluateLowSampleCountPercentiles``) are still passed, so the twin's
describe calls show what AWS would evaluate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Change, Created, PlanContext, Translation

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
    resource = base.Registration(METRIC_ALARM, name, inputs)
    alarm_name = resource.physical_name(ALARM_NAME_MAX)
    queries = inputs.get("metricQueries") or []
    resource.call(
        "cloudwatch:PutMetricAlarm",
        ctx.client("cloudwatch").put_metric_alarm,
        AlarmName=alarm_name,
        **_description_and_actions(inputs),
        MetricName=inputs.get("metricName"),
        Namespace=inputs.get("namespace"),
        Statistic=inputs.get("statistic"),
        ExtendedStatistic=inputs.get("extendedStatistic"),
        Dimensions=_dimensions(inputs.get("dimensions")),
        Period=int(inputs["period"]) if inputs.get("period") else None,
        Unit=inputs.get("unit"),
        EvaluationPeriods=int(resource.required("evaluationPeriods")),
        DatapointsToAlarm=int(inputs["datapointsToAlarm"])
        if inputs.get("datapointsToAlarm")
        else None,
        Threshold=float(inputs["threshold"]) if inputs.get("threshold") is not None else None,
        ThresholdMetricId=inputs.get("thresholdMetricId"),
        ComparisonOperator=resource.required("comparisonOperator"),
        TreatMissingData=inputs.get("treatMissingData"),
        EvaluateLowSampleCountPercentile=inputs.get("evaluateLowSampleCountPercentiles"),
        Metrics=[_metric_query(q) for q in queries] or None,
    )
    arn = _alarm_arn(ctx, alarm_name)
    return resource.created(alarm_name, name=alarm_name, arn=arn)


def _description_and_actions(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that metric and composite alarms share: description and actions."""
    return {
        "AlarmDescription": inputs.get("alarmDescription"),
        "ActionsEnabled": inputs.get("actionsEnabled"),
        "AlarmActions": list(inputs.get("alarmActions") or []) or None,
        "OKActions": list(inputs.get("okActions") or []) or None,
        "InsufficientDataActions": list(inputs.get("insufficientDataActions") or []) or None,
    }


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
    resource = base.Registration(COMPOSITE_ALARM, name, inputs)
    alarm_name = str(resource.required("alarmName"))
    rule = str(resource.required("alarmRule"))
    missing = _missing_rule_alarms(ctx, rule)
    if missing:
        raise resource.error(
            f"alarm rule references alarms that do not exist: {', '.join(missing)}",
            "cloudwatch:PutCompositeAlarm",
        )
    resource.call(
        "cloudwatch:PutCompositeAlarm",
        ctx.client("cloudwatch").put_composite_alarm,
        AlarmName=alarm_name,
        AlarmRule=rule,
        **_description_and_actions(inputs),
    )
    arn = _alarm_arn(ctx, alarm_name)
    return resource.created(alarm_name, arn=arn)


def create_dashboard(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutDashboard``; the body must be valid JSON, as AWS requires."""
    resource = base.Registration(DASHBOARD, name, inputs)
    dashboard_name = str(resource.required("dashboardName"))
    body = resource.valid_json(
        "dashboardBody", resource.required("dashboardBody"), "cloudwatch:PutDashboard"
    )
    cloudwatch = ctx.client("cloudwatch")
    resource.call(
        "cloudwatch:PutDashboard",
        cloudwatch.put_dashboard,
        DashboardName=dashboard_name,
        DashboardBody=body,
    )
    arn = resource.call(
        "cloudwatch:GetDashboard",
        cloudwatch.get_dashboard,
        DashboardName=dashboard_name,
    )["DashboardArn"]
    return resource.created(dashboard_name, dashboardArn=arn)


def update_dashboard(ctx: BridgeContext, change: Change) -> Created:
    """``PutDashboard`` again under the same name: it replaces the body.

    A new ``dashboardName`` is a new dashboard (not updatable).
    """
    resource = change.registration()
    body = resource.valid_json(
        "dashboardBody", resource.required("dashboardBody"), "cloudwatch:PutDashboard"
    )
    resource.call(
        "cloudwatch:PutDashboard",
        ctx.client("cloudwatch").put_dashboard,
        DashboardName=change.existing.id,
        DashboardBody=body,
    )
    return change.updated()


def fabricate_composite_alarm(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's composite alarm: its ``alarmName`` (the logical name if unset) and ARN."""
    alarm_name = str(inputs.get("alarmName") or name)
    return base.created(alarm_name, inputs, arn=ctx.arn("cloudwatch", f"alarm:{alarm_name}"))


def fabricate_dashboard(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's dashboard: its ``dashboardName`` (the logical name if unset) and global ARN."""
    dashboard_name = str(inputs.get("dashboardName") or name)
    arn = ctx.arn("cloudwatch", f"dashboard/{dashboard_name}", regional=False)
    return base.created(dashboard_name, inputs, dashboardArn=arn)


def alarm_expression(inputs: Mapping[str, Any]) -> str | None:
    """The metric-math expression whose value the alarm compares, for the plan."""
    for query in inputs.get("metricQueries") or []:
        if query.get("returnData") and query.get("expression"):
            return str(query["expression"])
    return None


def alarm_metrics(inputs: Mapping[str, Any]) -> list[str] | None:
    """``namespace/metricName`` of each metric a metric-math alarm reads, for the plan."""
    metrics = [
        f"{q['metric'].get('namespace')}/{q['metric'].get('metricName')}"
        for q in inputs.get("metricQueries") or []
        if q.get("metric")
    ]
    return metrics or None


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
        fabricate=base.fabricate_named("cloudwatch", "alarm:{name}", ALARM_NAME_MAX),
        key_inputs=(
            "name",
            "namespace",
            "metricName",
            "dimensions",
            "statistic",
            "extendedStatistic",
            "period",
            "comparisonOperator",
            "threshold",
            "evaluationPeriods",
            "datapointsToAlarm",
            "treatMissingData",
        ),
        derived_key_inputs={"expression": alarm_expression, "metrics": alarm_metrics},
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
        fabricate=fabricate_composite_alarm,
        key_inputs=("alarmName", "alarmRule"),
    ),
    Translation(
        token=DASHBOARD,
        create=create_dashboard,
        handled=frozenset({"dashboardName", "dashboardBody"}),
        fabricate=fabricate_dashboard,
        key_inputs=("dashboardName",),
        update=update_dashboard,
        updatable=frozenset({"dashboardBody"}),
    ),
)
