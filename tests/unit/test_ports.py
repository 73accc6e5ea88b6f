"""Tests of controller.core.ports: the result dataclasses and ``Ports``.

The Protocols themselves are checked by mypy.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from controller.core.ports import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmStatus,
    RegistryPort,
    TrafficPort,
)
from tests.fakes import FakeRegistry, FakeTraffic

ROOT = Path(__file__).resolve().parents[2]


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


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


@pytest.mark.parametrize(
    ("protocol", "implementations"),
    [
        (TrafficPort, ("controller.aws.alb:AlbTraffic", FakeTraffic)),
        (RegistryPort, ("controller.aws.registry:SsmRegistry", FakeRegistry)),
    ],
)
def test_the_adapter_and_the_fake_have_every_method_of_the_port(
    protocol: type, implementations: tuple[str, type]
) -> None:
    # mypy checks the adapters against the ports, but not the fakes of tests/.
    adapter_path, fake = implementations
    module, name = adapter_path.split(":")
    adapter = getattr(importlib.import_module(module), name)
    for method, signature in _methods(protocol).items():
        for implementation in (adapter, fake):
            assert hasattr(implementation, method), f"{implementation.__name__}.{method}"
            mine = inspect.signature(getattr(implementation, method))
            assert list(mine.parameters) == list(signature.parameters), (
                f"{implementation.__name__}.{method}{mine} differs from the port's {signature}"
            )
