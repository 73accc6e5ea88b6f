"""StatePort on DynamoDB: one state item per route plus an append-only history.

Table (declared by the deploy): hash key ``pk`` (S), range key ``sk`` (S),
on-demand. Items of route R::

    pk = "route#R", sk = "state"                                  the RouteState
    pk = "route#R", sk = "history#<at, ISO 8601 UTC, us>#<version:010d>"
                                                                  one HistoryEntry

The history sort key is fixed width and starts with the UTC timestamp, so a
Query in descending key order is "newest first"; the zero-padded version of
the state written with it makes every key unique (two entries never share a
version of the same route, the conditional write sees to that).

Every save is ONE TransactWriteItems with two Puts, so the state and its
history entry are written together or not at all:

- the state Put is conditional on the version the caller read
  (``attribute_not_exists(pk)`` for a route never saved), which makes every
  writer a compare-and-swap: two writers cannot both win;
- the history Put is conditional on ``attribute_not_exists(sk)``: an entry is
  never overwritten (append-only).

The (de)serialisation is a set of small pure functions over DynamoDB's
attribute-value dicts, so it is tested without AWS (round trips with
hypothesis) and the adapter only adds the calls.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.clients import aws_call
from controller.core.capacity import CapacityGuard
from controller.core.errors import AwsCallFailed, ConcurrentUpdate
from controller.core.gate import GateEstimate
from controller.core.lifecycle import (
    Event,
    HistoryEntry,
    Lock,
    RouteState,
    Status,
    Transition,
    initial_state,
)
from controller.core.weights import Weights

STATE_SORT_KEY = "state"
HISTORY_PREFIX = "history#"

GET_ITEM = "dynamodb:GetItem"
QUERY = "dynamodb:Query"
# IAM has no TransactWriteItems action: a transaction is authorised by the
# actions inside it (here two dynamodb:PutItem), which is how the message names it.
TRANSACT_WRITE = "dynamodb:PutItem (TransactWriteItems)"

# CancellationReasons codes meaning "another writer got there first". A
# TransactionConflict is another transaction on the same item at the same
# moment: the same outcome as losing the condition (reload and decide again).
_LOST_RACE_CODES = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
# CancellationReasons codes worth a retry of the same request.
_TRANSIENT_CANCELLATION_CODES = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})

# The fields each serialiser knows. A test compares them with the dataclasses,
# so a field added to RouteState or HistoryEntry cannot be silently dropped.
STATE_FIELDS = frozenset(
    {
        "route",
        "status",
        "stage",
        "stages_total",
        "last_written",
        "lock",
        "reason",
        "version",
        "stage_started_at",
        "run_stages",
        "updated_at",
        "capacity",
        "gate",
    }
)
ENTRY_FIELDS = frozenset(
    {
        "at",
        "actor",
        "event",
        "from_status",
        "to_status",
        "stage",
        "weights",
        "reason",
        "execution_arn",
    }
)


# --- keys and timestamps ------------------------------------------------------------


def partition_key(route: str) -> str:
    """The ``pk`` of every item of ``route``."""
    return f"route#{route}"


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds, e.g. ``2025-03-01T12:00:00.000000Z``.

    Fixed width, so the strings sort like the instants they name. A naive
    datetime is refused: its instant is unknown.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp {value!r} has no timezone; the table stores UTC instants")
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """Inverse of :func:`format_timestamp` (a timezone-aware UTC datetime)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"stored timestamp {text!r} has no timezone")
    return value.astimezone(UTC)


def history_sort_key(at: datetime, version: int) -> str:
    """``history#<at>#<version:010d>``: sortable by time, unique by version."""
    if version < 0:
        raise ValueError(f"version must not be negative, got {version}")
    return f"{HISTORY_PREFIX}{format_timestamp(at)}#{version:010d}"


# --- attribute values -----------------------------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _weights_value(weights: Weights) -> dict[str, Any]:
    """Weights as a map of two numbers: ``{"ecs": N, "lambda": N}``."""
    return {"M": {"ecs": _n(weights.ecs), "lambda": _n(weights.lambda_)}}


def _weights_from(value: dict[str, Any]) -> Weights:
    pair = value["M"]
    return Weights(ecs=int(pair["ecs"]["N"]), lambda_=int(pair["lambda"]["N"]))


def _optional(item: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The attribute value, or None when absent (absent is how we store None)."""
    value = item.get(name)
    if value is None or value.get("NULL"):
        return None
    return dict(value)


# --- RouteState <-> item ----------------------------------------------------------------


def state_to_item(state: RouteState) -> dict[str, Any]:
    """The state item of ``state`` (None fields are left out of the item)."""
    item: dict[str, Any] = {
        "pk": _s(partition_key(state.route)),
        "sk": _s(STATE_SORT_KEY),
        "route": _s(state.route),
        "status": _s(state.status.value),
        "stage": _n(state.stage),
        "stages_total": _n(state.stages_total),
        "version": _n(state.version),
        "run_stages": _n(state.run_stages),
    }
    if state.last_written is not None:
        item["last_written"] = _weights_value(state.last_written)
    if state.lock is not None:
        item["lock"] = {
            "M": {
                "execution_arn": _s(state.lock.execution_arn),
                "acquired_at": _s(format_timestamp(state.lock.acquired_at)),
            }
        }
    if state.reason is not None:
        item["reason"] = _s(state.reason)
    if state.stage_started_at is not None:
        item["stage_started_at"] = _s(format_timestamp(state.stage_started_at))
    if state.updated_at is not None:
        item["updated_at"] = _s(format_timestamp(state.updated_at))
    # The guard and the gate's estimate are small documents read back whole:
    # one JSON string each keeps floats out of DynamoDB's Decimal numbers.
    if state.capacity is not None:
        item["capacity"] = _s(json.dumps(state.capacity.to_dict(), sort_keys=True))
    if state.gate is not None:
        item["gate"] = _s(json.dumps(state.gate.to_dict(), sort_keys=True))
    return item


def item_to_state(item: dict[str, Any]) -> RouteState:
    """Inverse of :func:`state_to_item`."""
    last_written = _optional(item, "last_written")
    lock = _optional(item, "lock")
    reason = _optional(item, "reason")
    stage_started_at = _optional(item, "stage_started_at")
    updated_at = _optional(item, "updated_at")
    capacity = _optional(item, "capacity")
    gate = _optional(item, "gate")
    return RouteState(
        route=item["route"]["S"],
        status=Status(item["status"]["S"]),
        stage=int(item["stage"]["N"]),
        stages_total=int(item["stages_total"]["N"]),
        last_written=_weights_from(last_written) if last_written else None,
        lock=Lock(
            execution_arn=lock["M"]["execution_arn"]["S"],
            acquired_at=parse_timestamp(lock["M"]["acquired_at"]["S"]),
        )
        if lock
        else None,
        reason=reason["S"] if reason else None,
        version=int(item["version"]["N"]),
        stage_started_at=parse_timestamp(stage_started_at["S"]) if stage_started_at else None,
        run_stages=int(item["run_stages"]["N"]),
        updated_at=parse_timestamp(updated_at["S"]) if updated_at else None,
        capacity=CapacityGuard.from_dict(json.loads(capacity["S"])) if capacity else None,
        gate=GateEstimate.from_dict(json.loads(gate["S"])) if gate else None,
    )


# --- HistoryEntry <-> item -------------------------------------------------------------


def entry_to_item(route: str, version: int, entry: HistoryEntry) -> dict[str, Any]:
    """The history item of ``entry``, written together with state ``version``."""
    item: dict[str, Any] = {
        "pk": _s(partition_key(route)),
        "sk": _s(history_sort_key(entry.at, version)),
        "route": _s(route),
        "version": _n(version),
        "at": _s(format_timestamp(entry.at)),
        "actor": _s(entry.actor),
        "event": _s(entry.event.value),
        "from_status": _s(entry.from_status.value),
        "to_status": _s(entry.to_status.value),
        "stage": _n(entry.stage),
    }
    if entry.weights is not None:
        item["weights"] = _weights_value(entry.weights)
    if entry.reason is not None:
        item["reason"] = _s(entry.reason)
    if entry.execution_arn is not None:
        item["execution_arn"] = _s(entry.execution_arn)
    return item


def item_to_entry(item: dict[str, Any]) -> HistoryEntry:
    """Inverse of :func:`entry_to_item`."""
    weights = _optional(item, "weights")
    reason = _optional(item, "reason")
    execution_arn = _optional(item, "execution_arn")
    return HistoryEntry(
        at=parse_timestamp(item["at"]["S"]),
        actor=item["actor"]["S"],
        event=Event(item["event"]["S"]),
        from_status=Status(item["from_status"]["S"]),
        to_status=Status(item["to_status"]["S"]),
        stage=int(item["stage"]["N"]),
        weights=_weights_from(weights) if weights else None,
        reason=reason["S"] if reason else None,
        execution_arn=execution_arn["S"] if execution_arn else None,
    )


# --- the transaction ----------------------------------------------------------------------


def save_request(table: str, previous_version: int, transition: Transition) -> dict[str, Any]:
    """The TransactWriteItems request of one save (pure, so tests can read it).

    ``ClientRequestToken`` is a digest of the two items and the condition:
    DynamoDB treats a repeat of the same request within 10 minutes as the same
    call (DynamoDB API reference, TransactWriteItems), so an SDK retry after a
    lost response does not fail its own condition and look like a
    ConcurrentUpdate. A different request (another writer) has another token.
    """
    if transition.entry is None:
        raise ValueError("a transition without a history entry has nothing to save")
    state = transition.state
    if state.version <= previous_version:
        # The version is the compare-and-swap token: a write that does not
        # raise it would let the next writer that read the same version win too.
        raise ValueError(
            f"route {state.route}: new version {state.version} must be greater than "
            f"the version it replaces ({previous_version})"
        )
    state_put: dict[str, Any] = {
        "TableName": table,
        "Item": state_to_item(state),
    }
    if previous_version == 0:
        state_put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        state_put["ConditionExpression"] = "#version = :previous"
        state_put["ExpressionAttributeNames"] = {"#version": "version"}
        state_put["ExpressionAttributeValues"] = {":previous": _n(previous_version)}
    history_put = {
        "TableName": table,
        "Item": entry_to_item(state.route, state.version, transition.entry),
        "ConditionExpression": "attribute_not_exists(sk)",
    }
    items = [{"Put": state_put}, {"Put": history_put}]
    digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
    # ClientRequestToken: 1 to 36 characters.
    return {"TransactItems": items, "ClientRequestToken": digest[:36]}


def _cancellation_codes(error: ClientError) -> list[str]:
    """The per-item CancellationReasons codes of a TransactionCanceledException."""
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


class DynamoState:
    """:class:`~controller.core.ports.StatePort` on a DynamoDB table (low-level client).

    IAM: ``dynamodb:GetItem``, ``dynamodb:PutItem`` (the transaction's Puts)
    and ``dynamodb:Query`` on the table ARN.
    """

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        """``dynamodb_client``: a boto3 ``dynamodb`` client; ``table_name``: the state table."""
        self._dynamodb = dynamodb_client
        self._table = table_name

    @property
    def table_name(self) -> str:
        """The table this adapter reads and writes."""
        return self._table

    def load(self, route: str) -> RouteState:
        """The stored state of ``route``; a fresh idle state (version 0) when there is none."""
        key = {"pk": _s(partition_key(route)), "sk": _s(STATE_SORT_KEY)}
        with aws_call(GET_ITEM, self._table, route=route):
            # Strongly consistent: the next save is conditional on this version,
            # and a stale read would only lose that condition.
            response = self._dynamodb.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        item = response.get("Item")
        if item is None:
            return initial_state(route)
        return item_to_state(item)

    def save(self, previous_version: int, transition: Transition) -> None:
        """Write the new state and append its history entry in ONE transaction.

        Conditional on the stored version being ``previous_version`` (no state
        item at all when it is 0). Raises :class:`ConcurrentUpdate` naming the
        route when another writer changed the route first. A transition with
        no history entry (``changed=False``) has nothing to write: no call is
        made.
        """
        if transition.entry is None:
            return
        route = transition.state.route
        request = save_request(self._table, previous_version, transition)
        with aws_call(TRANSACT_WRITE, self._table, route=route):
            try:
                self._dynamodb.transact_write_items(**request)
            except self._dynamodb.exceptions.TransactionCanceledException as error:
                codes = _cancellation_codes(error)
                if not _LOST_RACE_CODES.intersection(codes):
                    # The error code alone (TransactionCanceledException) says
                    # nothing about retrying; the per-item reasons do.
                    raise AwsCallFailed(
                        f"transaction cancelled, reasons (state, history): {codes}",
                        route=route,
                        arn=self._table,
                        api_call=TRANSACT_WRITE,
                        transient=bool(_TRANSIENT_CANCELLATION_CODES.intersection(codes)),
                        error_code="TransactionCanceledException",
                    ) from error
                raise ConcurrentUpdate(
                    self._conflict_message(previous_version, transition, codes),
                    route=route,
                    arn=self._table,
                    api_call=TRANSACT_WRITE,
                    expected_version=previous_version,
                ) from error

    @staticmethod
    def _conflict_message(previous_version: int, transition: Transition, codes: list[str]) -> str:
        state_code = codes[0] if codes else "unknown"
        history_code = codes[1] if len(codes) > 1 else "unknown"
        if state_code in _LOST_RACE_CODES:
            expected = "no stored state" if previous_version == 0 else f"version {previous_version}"
            return (
                f"state changed by another writer: expected {expected}, "
                f"could not write version {transition.state.version} ({state_code}); "
                "reload the state and decide again"
            )
        return (
            f"history entry for version {transition.state.version} already exists "
            f"({history_code}); entries are append-only"
        )

    def history(self, route: str, limit: int) -> list[HistoryEntry]:
        """At most ``limit`` history entries of ``route``, newest first."""
        if limit <= 0:
            return []
        entries: list[HistoryEntry] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": _s(partition_key(route)),
                ":prefix": _s(HISTORY_PREFIX),
            },
            # Descending sort key order = newest first (see history_sort_key).
            "ScanIndexForward": False,
        }
        with aws_call(QUERY, self._table, route=route):
            while len(entries) < limit:
                # A page stops at Limit items or 1 MB, whichever comes first.
                query["Limit"] = limit - len(entries)
                response = self._dynamodb.query(**query)
                entries.extend(item_to_entry(item) for item in response.get("Items", []))
                last_key = response.get("LastEvaluatedKey")
                if not last_key:
                    break
                query["ExclusiveStartKey"] = last_key
        return entries[:limit]
