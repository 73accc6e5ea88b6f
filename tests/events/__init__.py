"""Real-shape JSON events for tests, loaded by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent


def load_event(name: str) -> dict[str, Any]:
    """Load `tests/events/<name>.json` (the `.json` suffix is optional).

    Every call returns a fresh dict, so a test may change it freely.
    """
    file_name = name if name.endswith(".json") else f"{name}.json"
    with (EVENTS_DIR / file_name).open(encoding="utf-8") as handle:
        event: dict[str, Any] = json.load(handle)
    return event
