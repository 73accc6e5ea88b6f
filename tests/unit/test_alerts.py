"""components/alerts.py on the Pulumi mocks: one email subscription per address, keyed by it."""

from __future__ import annotations

import pulumi

from components.alerts import AlertTopic, AlertTopicArgs
from tests.pulumi_mocks import RecordedResource, install_mocks

STACK = "prod"
REGION = "ap-northeast-1"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
COMPONENT = "strangler:alerts:AlertTopic"


def declare(*emails: str) -> list[RecordedResource]:
    """One AlertTopic against fresh recording mocks; its email subscriptions."""
    monitor = install_mocks(stack=STACK, region=REGION)

    @pulumi.runtime.test
    def program() -> pulumi.Output[str]:
        return AlertTopic("alerts", AlertTopicArgs(stack_name=STACK, emails=emails)).topic_arn

    program()
    return [r for r in monitor.recorded if r.type == SUBSCRIPTION]


def by_urn(subscriptions: list[RecordedResource]) -> dict[str, str]:
    return {r.urn: r.inputs["endpoint"] for r in subscriptions}


def test_each_subscription_is_named_after_its_address() -> None:
    subscriptions = declare("ops@example.com", "oncall@example.com")
    assert {r.name: r.inputs["endpoint"] for r in subscriptions} == {
        "alerts-email-ops@example.com": "ops@example.com",
        "alerts-email-oncall@example.com": "oncall@example.com",
    }
    assert all(r.inputs["protocol"] == "email" for r in subscriptions)


def test_reordering_the_list_recreates_nothing() -> None:
    before = by_urn(declare("a@example.com", "b@example.com", "c@example.com"))
    after = by_urn(declare("c@example.com", "a@example.com", "b@example.com"))
    # The same URNs with the same endpoints: the engine sees no change at all.
    assert after == before


def test_removing_one_address_leaves_the_others_alone() -> None:
    before = by_urn(declare("a@example.com", "b@example.com", "c@example.com"))
    after = by_urn(declare("a@example.com", "c@example.com"))
    assert after == {urn: email for urn, email in before.items() if email != "b@example.com"}


def test_position_named_subscriptions_are_taken_over_by_alias() -> None:
    subscriptions = declare("ops@example.com", "oncall@example.com")
    parent = f"urn:pulumi:{STACK}::strangler::{COMPONENT}"
    former = {
        r.inputs["endpoint"]: [urn.split("::")[-1] for urn in r.alias_urns] for r in subscriptions
    }
    assert former == {
        "ops@example.com": ["alerts-email-0"],
        "oncall@example.com": ["alerts-email-1"],
    }
    for r in subscriptions:
        assert all(urn.startswith(f"{parent}${SUBSCRIPTION}::") for urn in r.alias_urns), (
            r.alias_urns
        )
