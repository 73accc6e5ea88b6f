"""Tests of controller.core.ports: the result dataclasses and ``Ports``.

The Protocols themselves are checked by mypy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from controller.core.ports import ALARM, INSUFFICIENT_DATA, OK, AlarmStatus

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


def test_the_service_holds_ports_and_loads_no_adapter() -> None:
    # The adapters are wired in controller.aws.wiring; importing the service
    # (as the Lambda's events and the CLI do) must not pull them, nor boto3, in.
    code = (
        "import sys\n"
        "import controller.service as service\n"
        "from controller.core.ports import Ports\n"
        "assert service.Ports is Ports\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('controller.aws', 'boto3')))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
