"""Deterministic physical names of the resources of a stack.

Explicit names let operators, the controller and the dashboards find a route's
resources without a lookup. One rule keeps every name within its service's
length limit: :func:`fit`, which shortens a long name with a hash suffix
instead of refusing it.

A fixed name also decides how a resource can be replaced. Pulumi replaces by
creating the new resource before deleting the old one, and the create fails
while the old resource still holds the name. So every resource declared with
a name from here is declared with ``delete_before_replace=True`` (the Lambda
target group excepted; see :mod:`components.traffic`).
"""

from __future__ import annotations

import hashlib

from components.alarm_specs import ALARM_SPECS

# Name length limits from the AWS documentation.
MAX_FUNCTION_NAME = 64  # Lambda FunctionName: 1-64 characters
MAX_TARGET_GROUP_NAME = 32  # ELB target group name: at most 32 characters
MAX_TOPIC_NAME = 256  # SNS topic name: up to 256 characters
MAX_ALARM_NAME = 255  # CloudWatch AlarmName: 1-255 characters
MAX_STATE_MACHINE_NAME = 80  # Step Functions CreateStateMachine name
MAX_RULE_NAME = 64  # EventBridge PutRule Name
MAX_SCHEDULE_NAME = 64  # EventBridge Scheduler CreateSchedule Name
MAX_QUEUE_NAME = 80  # SQS CreateQueue QueueName
MAX_TABLE_NAME = 255  # DynamoDB TableName: 3-255 characters
MAX_DASHBOARD_NAME = 255  # CloudWatch PutDashboard DashboardName

#: The alarm kinds of a route, in the order the composite alarm lists them
#: (the order of :data:`components.alarm_specs.ALARM_SPECS`).
ALARM_KINDS = tuple(spec.kind for spec in ALARM_SPECS)


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


# --- the canary controller of a stack ---------------------------------------------


def controller_function_name(stack: str) -> str:
    """``strangler-<stack>-controller``."""
    return fit(f"strangler-{stack}-controller", MAX_FUNCTION_NAME)


def controller_log_group_name(stack: str) -> str:
    """Lambda's default log group of the controller, created by the stack to set retention."""
    return f"/aws/lambda/{controller_function_name(stack)}"


def state_machine_name(stack: str) -> str:
    """``strangler-<stack>-canary``: explicit, so ARNs can be built without a cycle."""
    return fit(f"strangler-{stack}-canary", MAX_STATE_MACHINE_NAME)


def state_machine_log_group_name(stack: str) -> str:
    """Under ``/aws/vendedlogs/``: CloudWatch Logs (vended logs) then needs no per-group
    resource policy, whose 5120-character account quota many log groups would exhaust."""
    return f"/aws/vendedlogs/states/{state_machine_name(stack)}"


def table_name(stack: str) -> str:
    """``strangler-<stack>-state``: route state, locks and history."""
    return fit(f"strangler-{stack}-state", MAX_TABLE_NAME)


def dlq_name(stack: str) -> str:
    """``strangler-<stack>-controller-dlq``: failed alarm events and scheduled starts."""
    return fit(f"strangler-{stack}-controller-dlq", MAX_QUEUE_NAME)


def dlq_alarm_name(stack: str) -> str:
    """``strangler-<stack>-controller-dlq``: pages when a delivery failed."""
    return fit(f"strangler-{stack}-controller-dlq", MAX_ALARM_NAME)


def dashboard_name(stack: str) -> str:
    """``strangler-<stack>``."""
    return fit(f"strangler-{stack}", MAX_DASHBOARD_NAME)


def failback_rule_name(stack: str, route: str) -> str:
    """``strangler-<stack>-<route>-failback``."""
    return fit(f"strangler-{stack}-{route}-failback", MAX_RULE_NAME)


def registry_sync_rule_name(stack: str) -> str:
    """``strangler-<stack>-registry-sync``: a route record changed, reconcile its rule."""
    return fit(f"strangler-{stack}-registry-sync", MAX_RULE_NAME)


def release_schedule_name(stack: str, route: str) -> str:
    """``strangler-<stack>-<route>-release`` (in the ``default`` schedule group)."""
    return fit(f"strangler-{stack}-{route}-release", MAX_SCHEDULE_NAME)


def capacity_tick_rule_name(stack: str) -> str:
    """``strangler-<stack>-capacity-tick``: the periodic invocation that ends capacity holds."""
    return fit(f"strangler-{stack}-capacity-tick", MAX_RULE_NAME)


def schedule_name(stack: str, route: str) -> str:
    """``strangler-<stack>-<route>-canary`` (in the ``default`` schedule group)."""
    return fit(f"strangler-{stack}-{route}-canary", MAX_SCHEDULE_NAME)


def check_function_name(stack: str, route: str) -> str:
    """The route's equivalence checker function (functions/traffic_check)."""
    return fit(f"strangler-{stack}-{route}-check", MAX_FUNCTION_NAME)


def check_log_group_name(stack: str, route: str) -> str:
    """The checker function's log group (Lambda's default name for it)."""
    return f"/aws/lambda/{check_function_name(stack, route)}"
