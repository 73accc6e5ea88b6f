"""The equivalence checker: does the function answer as the monolith does?

Invoked by the controller (or ``python -m controller verify``) before a run's
first shift. It sends each of the route's samples to the ALB twice: with the
preview header (the preview rule sends it to the Lambda target group) and
without it (the route is still on ECS, so the weighted rule sends it there),
compares the answers (``check_core``), optionally asks the user's hook, and
answers the controller with every difference.

Run time: the folder is zipped as it is (handler ``check_app.handler``); it
uses the standard library and boto3, which the Python runtime ships (only for
the hook).
"""

from __future__ import annotations

import json
import os
from typing import Any

from check_core import (
    CheckConfig,
    HookVerdict,
    Observation,
    SampleResult,
    build_answer,
    compare,
    hook_event,
    hook_verdict,
)
from check_http import observe
from check_limits import (
    DEADLINE_MARGIN_MS,
    HOOK_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
)

ENV_CHECK = "STRANGLER_CHECK"

_config: CheckConfig | None = None


def _load_config() -> CheckConfig:
    global _config
    if _config is None:
        _config = CheckConfig.from_json(os.environ[ENV_CHECK])
    return _config


def _timeout(config: CheckConfig, context: Any) -> float:
    """The request timeout: the bound, or what is left of the invocation minus a margin."""
    bound = config.request_timeout_seconds or REQUEST_TIMEOUT_SECONDS
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return bound
    left = (int(remaining()) - DEADLINE_MARGIN_MS) / 1000
    return max(0.0, min(bound, left))


def _send(config: CheckConfig, context: Any, *, preview: bool, index: int) -> Observation:
    sample = config.samples[index]
    headers = {"User-Agent": f"strangler-traffic-check/{config.route}"}
    if config.host_header:
        headers["Host"] = config.host_header
    if preview:
        headers[config.preview_header] = config.route
    timeout = _timeout(config, context)
    if timeout <= 0:
        return Observation(status=None, error="the check ran out of time before this request")
    return observe(config.base_url, sample, headers=headers, timeout_seconds=timeout)


def _ask_hook(config: CheckConfig, results: list[SampleResult]) -> HookVerdict | None:
    if not config.hook_function_arn:
        return None
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "lambda",
        config=Config(
            read_timeout=HOOK_TIMEOUT_SECONDS,
            connect_timeout=HOOK_TIMEOUT_SECONDS,
            retries={"max_attempts": 1},
        ),
    )
    try:
        response = client.invoke(
            FunctionName=config.hook_function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(hook_event(config, results)).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            return HookVerdict(
                config.hook_function_arn, False, f"the hook failed: {json.dumps(payload)[:300]}"
            )
    except Exception as error:  # any failure to ask is a failed hook, never a pass
        reason = f"the hook could not be invoked: {error}"
        return HookVerdict(config.hook_function_arn, False, reason)
    return hook_verdict(config.hook_function_arn, payload)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Run the check; the answer's ``passed`` is false on any difference."""
    config = _load_config()
    results: list[SampleResult] = []
    for index, sample in enumerate(config.samples):
        lambda_side = _send(config, context, preview=True, index=index)
        ecs_side = _send(config, context, preview=False, index=index)
        differences = compare(sample, lambda_side, ecs_side, config.mode, config.headers)
        results.append(SampleResult(sample, lambda_side, ecs_side, tuple(differences)))
    hook = _ask_hook(config, results)
    answer = build_answer(config, results, hook)
    print(json.dumps({"route": config.route, "passed": answer["passed"],
                      "differences": answer["differences"]}))  # fmt: skip
    return answer
