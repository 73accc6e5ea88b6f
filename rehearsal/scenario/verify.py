"""The route's equivalence checker in the twin: where it calls, and what ``--diverge`` changes.

The program gives the checker (functions/traffic_check) the ALB's address
in ``STRANGLER_CHECK.baseUrl``, read from the listener. In the twin, the
listener is served by rehearsal/world/alb.py on 127.0.0.1, so the checker's
worker gets that address instead; everything else is as the program
declared it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from rehearsal.errors import RehearsalError

__all__ = ["ENV_CHECK", "checker_overrides", "first_sample_path"]

ENV_CHECK = "STRANGLER_CHECK"
# The checker's per-request timeout in the twin. In AWS it is 1.2 s
# (functions/traffic_check/check_limits.py); the twin serves the listener, the
# functions and moto from one busy process, where a request can take longer.
TWIN_REQUEST_TIMEOUT_SECONDS = 4.0


def _check_config(environment: Mapping[str, str]) -> dict[str, object]:
    text = environment.get(ENV_CHECK)
    if not text:
        raise RehearsalError(f"the checker function has no {ENV_CHECK} in its environment")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise RehearsalError(f"{ENV_CHECK} is not a JSON object: {text[:200]}")
    return data


def checker_overrides(environment: Mapping[str, str], alb_url: str) -> dict[str, str]:
    """The checker's environment override: ``baseUrl`` pointed at the twin's listener, and
    the twin's request timeout."""
    data = _check_config(environment)
    data["baseUrl"] = alb_url
    data["requestTimeoutSeconds"] = TWIN_REQUEST_TIMEOUT_SECONDS
    return {ENV_CHECK: json.dumps(data, sort_keys=True)}


def first_sample_path(environment: Mapping[str, str]) -> str:
    """The path of the checker's first sample (the one ``--diverge`` changes)."""
    samples = _check_config(environment).get("samples")
    if not isinstance(samples, list) or not samples or not isinstance(samples[0], dict):
        raise RehearsalError(f"{ENV_CHECK} has no samples")
    return str(samples[0]["path"])
