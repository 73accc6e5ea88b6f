"""Deterministic physical names of the resources of a stack.

Explicit names let operators, the controller and the dashboards find a route's
resources without a lookup; they must stay within each service's length limit.
"""

from __future__ import annotations

import hashlib

# Name length limits from the AWS documentation.
MAX_FUNCTION_NAME = 64  # Lambda FunctionName: 1-64 characters
MAX_TARGET_GROUP_NAME = 32  # ELB target group name: at most 32 characters
MAX_TOPIC_NAME = 256  # SNS topic name: up to 256 characters
MAX_ALARM_NAME = 255  # CloudWatch AlarmName: 1-255 characters

#: The alarm kinds of a route, in the order the composite alarm lists them.
ALARM_KINDS = (
    "errors",
    "throttles",
    "app-errors",
    "target-5xx",
    "lambda-user-errors",
    "healthy-hosts",
    "p99-latency",
)


def fit(name: str, limit: int) -> str:
    """``name`` if it fits in ``limit`` characters, else a truncation with a hash suffix.

    The hash keeps two long names that share a prefix distinct.
    """
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:7]
    return f"{name[: limit - 8].rstrip('-')}-{digest}"


def function_name(stack: str, route: str) -> str:
    """``strangler-<stack>-<route>``, the route function's name."""
    return fit(f"strangler-{stack}-{route}", MAX_FUNCTION_NAME)


def log_group_name(stack: str, route: str) -> str:
    """The log group Lambda writes to by default: ``/aws/lambda/<function name>``."""
    return f"/aws/lambda/{function_name(stack, route)}"


def target_group_name(stack: str, route: str) -> str:
    """The Lambda target group's name (at most 32 characters)."""
    return fit(f"sl-{stack}-{route}", MAX_TARGET_GROUP_NAME)


def alarm_name(stack: str, route: str, kind: str) -> str:
    """``strangler-<stack>-<route>-<kind>``."""
    return fit(f"strangler-{stack}-{route}-{kind}", MAX_ALARM_NAME)


def composite_alarm_name(stack: str, route: str) -> str:
    """``strangler-<stack>-<route>-composite``: the one alarm the controller watches."""
    return alarm_name(stack, route, "composite")


def topic_name(stack: str) -> str:
    """The stack's alert topic."""
    return fit(f"strangler-{stack}-alerts", MAX_TOPIC_NAME)
