"""Tests of rehearsal/plan.py: the offline preview lists the full resource graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.naming import ALARM_KINDS
from rehearsal.plan import Plan, build_plan

PROJECT = Path(__file__).resolve().parents[2]
THREE = PROJECT / "tests" / "stacks" / "Pulumi.three.yaml"
ROUTE_TYPES = (
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:lambda/function:Function",
    "aws:lambda/permission:Permission",
    "aws:lb/targetGroup:TargetGroup",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment",
    "aws:lb/listenerRule:ListenerRule",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm",
)


@pytest.fixture(scope="module")
def prod() -> Plan:
    return build_plan("prod", PROJECT)


def test_prod_plan_lists_every_route_resource(prod):
    types = {r.type for r in prod.resources}
    assert set(ROUTE_TYPES) <= types
    assert {"strangler:route:StranglerRoute", "aws:sns/topic:Topic"} <= types
    alarms = [r for r in prod.resources if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    assert len([a for a in alarms if a.parent == "map-tile-alarms"]) == len(ALARM_KINDS)
    assert prod.uncovered_types == [], "the bridge covers every declared type"
    counts = prod.counts()
    assert counts["total"] == counts["aws"] + counts["components"] == len(prod.resources)


def test_tree_lists_parents_before_children(prod):
    seen: set[str | None] = {None}
    for depth, record in prod.tree():
        assert record.parent in seen, f"{record.name} listed before its parent {record.parent}"
        assert depth == 0 or record.parent is not None
        seen.add(record.name)
    assert len(prod.tree()) == len(prod.resources)


def test_json_document(prod):
    document = prod.to_json()
    assert (document["stack"], document["region"]) == ("prod", "ap-northeast-1")
    by_name = {r["name"]: r for r in document["resources"]}
    rule = by_name["map-tile-traffic-rule"]
    assert rule["type"] == "aws:lb/listenerRule:ListenerRule"
    assert rule["parent"] == "map-tile-traffic"
    assert rule["parentType"] == "strangler:traffic:RouteTraffic"
    assert [w["weight"] for w in rule["keyInputs"]["weights"]] == [1, 0]
    # The controller owns the whole forward action after create (components/traffic.py).
    assert rule["ignoreChanges"] == ["actions"]
    assert "map-tile-traffic-tg" in rule["dependsOn"]
    attachment = by_name["map-tile-traffic-attachment"]
    assert "map-tile-traffic-invoke" in attachment["dependsOn"], "depends_on=[permission]"
    assert document["byType"]["aws:cloudwatch/metricAlarm:MetricAlarm"] >= 7


def test_text_shows_types_names_and_key_inputs(prod):
    text = prod.to_text()
    assert text.startswith("Plan for stack prod (ap-northeast-1):")
    assert "+ aws:lb/listenerRule:ListenerRule  map-tile-traffic-rule" in text
    assert "priority: 100" in text
    assert "reservedConcurrentExecutions: 200" in text
    assert "Not covered" not in text


def test_uncovered_types_are_listed(prod):
    partial = Plan(
        stack=prod.stack,
        project=prod.project,
        region=prod.region,
        resources=prod.resources,
        bridged_types=frozenset({"aws:iam/role:Role"}),
    )
    assert "aws:lb/listenerRule:ListenerRule" in partial.uncovered_types
    assert "strangler:route:StranglerRoute" not in partial.uncovered_types
    assert "Not covered by the moto bridge" in partial.to_text()


def test_three_routes_declare_three_of_everything_with_no_shared_names():
    plan = build_plan("three", PROJECT, stack_file=THREE)
    routes = [r.name for r in plan.resources if r.type == "strangler:route:StranglerRoute"]
    assert len(routes) == 3
    for token in ROUTE_TYPES:
        found = [r for r in plan.resources if r.type == token]
        assert len(found) >= 3, f"{token}: {len(found)}"
        names = [r.outputs.get("name") or r.id for r in found]
        assert len(set(names)) == len(names), f"{token}: shared physical names {names}"
