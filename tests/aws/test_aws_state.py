"""controller/aws/state.py: the StatePort on DynamoDB (moto through real boto3 clients)."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.aws.clients import ClientFactory
from controller.aws.state import (
    ENTRY_FIELDS,
    STATE_FIELDS,
    DynamoState,
    entry_to_item,
    format_timestamp,
    history_sort_key,
    item_to_entry,
    item_to_state,
    parse_timestamp,
    save_request,
    state_to_item,
)
from controller.core.errors import AwsCallFailed, ConcurrentUpdate
from controller.core.lifecycle import Event, HistoryEntry, Lock, RouteState, Status, Transition
from controller.core.weights import ALL_ECS, Weights
from tests.aws_fixtures import CallCounter, ErrorInjector, create_state_table
from tests.fakes import CallLog, FakeState, Faults

ROUTE = "map-tile"
T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
EXECUTION = "arn:aws:states:ap-northeast-1:123456789012:execution:strangler-test:run-1"


@pytest.fixture
def dynamodb(factory: ClientFactory) -> Any:
    return factory.client("dynamodb")


@pytest.fixture
def store(dynamodb: Any) -> DynamoState:
    return DynamoState(dynamodb, create_state_table(dynamodb))


def transition(
    version: int,
    *,
    at: datetime,
    route: str = ROUTE,
    status: Status = Status.PROGRESSING,
    event: Event = Event.SHIFT,
    stage: int = 0,
) -> Transition:
    """A changed transition to ``version`` (built by hand: the adapter does not care how)."""
    state = RouteState(
        route=route,
        status=status,
        stage=stage,
        stages_total=4,
        last_written=Weights.from_percent(min(stage * 5.0, 100.0)),
        lock=Lock(EXECUTION, T0) if status is Status.PROGRESSING else None,
        reason=f"reason {version}",
        version=version,
        stage_started_at=at,
        run_stages=stage,
        updated_at=at,
    )
    entry = HistoryEntry(
        at=at,
        actor="state-machine",
        event=event,
        from_status=Status.IDLE,
        to_status=status,
        stage=stage,
        weights=state.last_written,
        reason=f"reason {version}",
        execution_arn=EXECUTION,
    )
    return Transition(state=state, entry=entry, changed=True)


def save_chain(store: DynamoState, count: int, *, start: datetime = T0) -> list[Transition]:
    """Save versions 1..count, one second apart; returns the transitions in order."""
    saved = []
    for version in range(1, count + 1):
        step = transition(version, at=start + timedelta(seconds=version), stage=version - 1)
        store.save(version - 1, step)
        saved.append(step)
    return saved


# --- load / save ----------------------------------------------------------------


def test_load_of_an_unknown_route_is_a_fresh_idle_state(store: DynamoState) -> None:
    state = store.load(ROUTE)
    assert state == RouteState(route=ROUTE)
    assert state.status is Status.IDLE
    assert state.version == 0


def test_first_save_then_load_round_trips(store: DynamoState, dynamodb: Any) -> None:
    counter = CallCounter(dynamodb)
    first = transition(1, at=T0)

    store.save(0, first)

    assert counter.count("TransactWriteItems") == 1, "state + history in ONE transaction"
    assert counter.count("PutItem") == 0
    assert store.load(ROUTE) == first.state
    assert store.history(ROUTE, 10) == [first.entry]


def test_an_unchanged_transition_writes_nothing(store: DynamoState, dynamodb: Any) -> None:
    state = store.load(ROUTE)
    counter = CallCounter(dynamodb)
    store.save(0, Transition(state=state, entry=None, changed=False))
    assert counter.calls == []


def test_second_first_save_is_a_concurrent_update(store: DynamoState) -> None:
    store.save(0, transition(1, at=T0))
    rival = transition(1, at=T0 + timedelta(seconds=1), status=Status.ROLLED_BACK)

    with pytest.raises(ConcurrentUpdate) as caught:
        store.save(0, rival)

    assert caught.value.route == ROUTE
    assert caught.value.expected_version == 0
    assert "no stored state" in str(caught.value)
    assert store.load(ROUTE).status is Status.PROGRESSING, "the first writer's state stays"


def test_stale_version_is_refused_and_nothing_is_written(store: DynamoState) -> None:
    saved = save_chain(store, 3)
    stale = transition(3, at=T0 + timedelta(minutes=5), status=Status.PAUSED)

    with pytest.raises(ConcurrentUpdate) as caught:
        store.save(2 - 1, stale)  # the writer read version 1; the table holds 3

    assert "expected version 1" in str(caught.value)
    assert ROUTE in str(caught.value)
    assert store.load(ROUTE) == saved[-1].state
    assert len(store.history(ROUTE, 100)) == 3, "a refused save appends no history"


def test_two_writers_from_the_same_version_only_one_wins(store: DynamoState) -> None:
    save_chain(store, 1)
    base = store.load(ROUTE)
    winner = transition(2, at=T0 + timedelta(seconds=10), status=Status.ROLLED_BACK)
    loser = transition(2, at=T0 + timedelta(seconds=11), status=Status.PAUSED)

    store.save(base.version, winner)
    with pytest.raises(ConcurrentUpdate):
        store.save(base.version, loser)

    assert store.load(ROUTE).status is Status.ROLLED_BACK
    assert [e.to_status for e in store.history(ROUTE, 10)] == [
        Status.ROLLED_BACK,
        Status.PROGRESSING,
    ]


def test_history_is_append_only(store: DynamoState, dynamodb: Any) -> None:
    store.save(0, transition(1, at=T0))
    second = transition(2, at=T0 + timedelta(seconds=5))
    assert second.entry is not None
    # An entry already sits at the key version 2 would use (planted by hand:
    # the adapter itself never writes a history item outside a transaction).
    planted = entry_to_item(ROUTE, 2, replace(second.entry, reason="already here"))
    dynamodb.put_item(TableName=store.table_name, Item=planted)

    with pytest.raises(ConcurrentUpdate, match="append-only"):
        store.save(1, second)

    assert store.history(ROUTE, 10)[0].reason == "already here", "never overwritten"
    assert store.load(ROUTE).version == 1, "the state write was cancelled with it"


def test_history_is_newest_first_and_limited(store: DynamoState) -> None:
    saved = save_chain(store, 5)
    newest_first = [step.entry for step in reversed(saved)]

    assert store.history(ROUTE, 10) == newest_first
    assert store.history(ROUTE, 2) == newest_first[:2]
    assert store.history(ROUTE, 0) == []


def test_history_orders_entries_of_the_same_instant_by_version(store: DynamoState) -> None:
    store.save(0, transition(1, at=T0, event=Event.BEGIN))
    store.save(1, transition(2, at=T0, event=Event.SHIFT))
    assert [e.event for e in store.history(ROUTE, 10)] == [Event.SHIFT, Event.BEGIN]


def test_history_pages_until_the_limit(store: DynamoState, dynamodb: Any) -> None:
    save_chain(store, 12)
    counter = CallCounter(dynamodb)
    # A tiny page size forces LastEvaluatedKey paging through the real client.
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query",
        lambda params, **_: params.update(Limit=min(params.get("Limit", 5), 5)),
    )
    entries = store.history(ROUTE, 12)
    assert len(entries) == 12
    assert counter.count("Query") >= 3
    assert [e.stage for e in entries] == list(range(11, -1, -1))


def test_routes_do_not_share_history(store: DynamoState) -> None:
    store.save(0, transition(1, at=T0, route="map"))
    store.save(0, transition(1, at=T0, route="map-tile"))
    assert [e.execution_arn for e in store.history("map", 10)] == [EXECUTION]
    assert store.load("map").route == "map"
    assert store.load("map-tile").route == "map-tile"


def test_throttled_transaction_is_transient(store: DynamoState, dynamodb: Any) -> None:
    ErrorInjector(dynamodb, "TransactWriteItems", "ThrottlingException")
    with pytest.raises(AwsCallFailed) as caught:
        store.save(0, transition(1, at=T0))
    assert caught.value.transient
    assert caught.value.route == ROUTE


def test_cancellation_for_throttling_is_transient_not_a_conflict(
    store: DynamoState, dynamodb: Any
) -> None:
    ErrorInjector(
        dynamodb,
        "TransactWriteItems",
        "TransactionCanceledException",
        extra={"CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}]},
    )
    with pytest.raises(AwsCallFailed) as caught:
        store.save(0, transition(1, at=T0))
    assert not isinstance(caught.value, ConcurrentUpdate)
    assert caught.value.transient
    assert "ThrottlingError" in str(caught.value)


def test_load_errors_name_the_table(store: DynamoState) -> None:
    broken = DynamoState(store._dynamodb, "no-such-table")
    with pytest.raises(AwsCallFailed) as caught:
        broken.load(ROUTE)
    assert caught.value.error_code == "ResourceNotFoundException"
    assert "no-such-table" in str(caught.value)


# --- the request -------------------------------------------------------------------


def test_save_request_conditions_and_token() -> None:
    first = save_request("t", 0, transition(1, at=T0))
    later = save_request("t", 4, transition(5, at=T0))
    state_put, history_put = (item["Put"] for item in later["TransactItems"])

    assert first["TransactItems"][0]["Put"]["ConditionExpression"] == "attribute_not_exists(pk)"
    assert state_put["ConditionExpression"] == "#version = :previous"
    assert state_put["ExpressionAttributeValues"] == {":previous": {"N": "4"}}
    assert history_put["ConditionExpression"] == "attribute_not_exists(sk)"
    assert history_put["Item"]["sk"]["S"] == history_sort_key(T0, 5)
    assert 1 <= len(later["ClientRequestToken"]) <= 36
    assert save_request("t", 4, transition(5, at=T0)) == later, "a retry repeats its token"
    assert first["ClientRequestToken"] != later["ClientRequestToken"]


def test_a_save_that_does_not_raise_the_version_is_refused(
    store: DynamoState, dynamodb: Any
) -> None:
    save_chain(store, 2)
    counter = CallCounter(dynamodb)
    with pytest.raises(ValueError, match="must be greater"):
        store.save(2, transition(2, at=T0 + timedelta(minutes=1)))
    assert counter.calls == []


# --- serialisation (pure) ------------------------------------------------------------


def test_serialisers_cover_every_dataclass_field() -> None:
    assert {f.name for f in fields(RouteState)} == STATE_FIELDS
    assert {f.name for f in fields(HistoryEntry)} == ENTRY_FIELDS


def test_timestamp_format_is_utc_with_microseconds() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert format_timestamp(datetime(2025, 3, 1, 21, 0, tzinfo=tokyo)) == (
        "2025-03-01T12:00:00.000000Z"
    )
    with pytest.raises(ValueError, match="no timezone"):
        format_timestamp(datetime(2025, 3, 1))


offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
)
texts = st.text(max_size=40)
weights = st.builds(
    Weights, ecs=st.integers(min_value=0, max_value=999), lambda_=st.integers(0, 999)
)
statuses = st.sampled_from(list(Status))
states = st.builds(
    RouteState,
    route=st.text(min_size=1, max_size=30),
    status=statuses,
    stage=st.integers(min_value=0, max_value=50),
    stages_total=st.integers(min_value=0, max_value=50),
    last_written=st.none() | weights,
    lock=st.none() | st.builds(Lock, execution_arn=texts, acquired_at=instants),
    reason=st.none() | texts,
    version=st.integers(min_value=0, max_value=10**9),
    stage_started_at=st.none() | instants,
    run_stages=st.integers(min_value=0, max_value=50),
    updated_at=st.none() | instants,
)
entries = st.builds(
    HistoryEntry,
    at=instants,
    actor=texts,
    event=st.sampled_from(list(Event)),
    from_status=statuses,
    to_status=statuses,
    stage=st.integers(min_value=0, max_value=50),
    weights=st.none() | weights,
    reason=st.none() | texts,
    execution_arn=st.none() | texts,
)


@given(at=instants)
def test_timestamp_round_trips_to_the_same_instant(at: datetime) -> None:
    back = parse_timestamp(format_timestamp(at))
    assert back == at
    assert back.tzinfo is not None and back.utcoffset() == timedelta(0)


@given(a=instants, b=instants, va=st.integers(0, 10**9), vb=st.integers(0, 10**9))
def test_history_keys_sort_like_time_then_version(
    a: datetime, b: datetime, va: int, vb: int
) -> None:
    key_a, key_b = history_sort_key(a, va), history_sort_key(b, vb)
    assert (key_a < key_b) == ((a, va) < (b, vb))


@given(state=states)
def test_state_item_round_trips(state: RouteState) -> None:
    item = state_to_item(state)
    assert item["pk"] == {"S": f"route#{state.route}"}
    assert item["sk"] == {"S": "state"}
    assert item_to_state(item) == state


@given(entry=entries, version=st.integers(min_value=0, max_value=10**9))
def test_history_item_round_trips(entry: HistoryEntry, version: int) -> None:
    item = entry_to_item(ROUTE, version, entry)
    assert item["sk"]["S"].startswith("history#")
    assert item_to_entry(item) == entry


def test_weights_are_stored_as_two_numbers() -> None:
    item = state_to_item(replace(RouteState(route=ROUTE), last_written=ALL_ECS))
    assert item["last_written"] == {"M": {"ecs": {"N": "1"}, "lambda": {"N": "0"}}}


# --- the contract the in-memory fake (tests/fakes.py) shares with this adapter ------------


@pytest.fixture(params=["dynamodb", "fake"])
def any_store(request: pytest.FixtureRequest) -> Any:
    """The DynamoDB adapter on moto, and the unit tier's fake: the same contract holds."""
    if request.param == "fake":
        return FakeState(CallLog(), Faults())
    client = request.getfixturevalue("factory").client("dynamodb")
    return DynamoState(client, create_state_table(client))


def test_contract_unknown_route_loads_fresh_and_first_save_round_trips(any_store: Any) -> None:
    assert any_store.load(ROUTE) == RouteState(route=ROUTE)
    first = transition(1, at=T0)
    any_store.save(0, first)
    assert any_store.load(ROUTE) == first.state
    assert any_store.history(ROUTE, 10) == [first.entry]


def test_contract_a_stale_version_raises_concurrent_update_and_writes_nothing(
    any_store: Any,
) -> None:
    saved = save_chain(any_store, 3)
    with pytest.raises(ConcurrentUpdate) as stale:
        any_store.save(1, transition(3, at=T0 + timedelta(minutes=5), status=Status.PAUSED))
    assert stale.value.route == ROUTE
    assert stale.value.expected_version == 1
    assert "expected version 1" in str(stale.value)
    with pytest.raises(ConcurrentUpdate) as again:
        any_store.save(0, transition(1, at=T0 + timedelta(minutes=6)))
    assert "no stored state" in str(again.value)
    assert again.value.expected_version == 0
    assert any_store.load(ROUTE) == saved[-1].state
    assert len(any_store.history(ROUTE, 100)) == 3, "a refused save appends no history"


def test_contract_two_writers_from_one_version_only_one_wins(any_store: Any) -> None:
    save_chain(any_store, 1)
    base = any_store.load(ROUTE)
    any_store.save(base.version, transition(2, at=T0 + timedelta(seconds=10)))
    with pytest.raises(ConcurrentUpdate):
        any_store.save(base.version, transition(2, at=T0 + timedelta(seconds=11)))
    assert any_store.load(ROUTE).version == 2
    assert len(any_store.history(ROUTE, 10)) == 2


def test_contract_history_is_newest_first_by_time_then_version(any_store: Any) -> None:
    any_store.save(0, transition(1, at=T0, event=Event.BEGIN))
    any_store.save(1, transition(2, at=T0, event=Event.SHIFT))
    any_store.save(2, transition(3, at=T0 + timedelta(seconds=1), event=Event.CHECK_PASSED))
    assert [e.event for e in any_store.history(ROUTE, 10)] == [
        Event.CHECK_PASSED,
        Event.SHIFT,
        Event.BEGIN,
    ]
    assert len(any_store.history(ROUTE, 2)) == 2
    assert any_store.history(ROUTE, 0) == []


def test_contract_unchanged_transition_saves_nothing_and_versions_must_rise(
    any_store: Any,
) -> None:
    any_store.save(0, Transition(state=RouteState(route=ROUTE), entry=None, changed=False))
    assert any_store.load(ROUTE).version == 0
    any_store.save(0, transition(1, at=T0))
    with pytest.raises(ValueError, match="must be greater"):
        any_store.save(1, transition(1, at=T0 + timedelta(seconds=1)))
    assert any_store.load(ROUTE).version == 1
