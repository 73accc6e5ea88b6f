"""Tests of controller.core.ports: the result dataclasses (the Protocols are checked by mypy)."""

from __future__ import annotations

from controller.core.ports import ALARM, INSUFFICIENT_DATA, OK, AlarmStatus


def test_alarm_status_in_alarm_when_the_composite_is() -> None:
    status = AlarmStatus(composite_state=ALARM)
    assert status.in_alarm
    assert status.describe() == "composite alarm ALARM"


def test_alarm_status_in_alarm_when_a_child_is_even_if_the_composite_lags() -> None:
    status = AlarmStatus(composite_state=OK, children_in_alarm=("strangler-dev-map-tile-5xx",))
    assert status.in_alarm
    assert status.describe() == "composite alarm OK; in ALARM: strangler-dev-map-tile-5xx"


def test_alarm_status_ok_and_insufficient_data_pass() -> None:
    assert not AlarmStatus(composite_state=OK).in_alarm
    assert not AlarmStatus(composite_state=INSUFFICIENT_DATA).in_alarm
