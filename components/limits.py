"""AWS limits and formats that both the stack config and the controller check.

One copy of each, so that the route functions (validated by
:mod:`components.config`) and the controller function (validated by
:mod:`components.controller`) obey the same Lambda quotas and name formats.
Name length limits live with the names, in :mod:`components.naming`.
"""

from __future__ import annotations

import re

# Lambda quotas: function timeout 900 seconds (15 minutes); memory 128 MB - 10,240 MB.
MIN_TIMEOUT_SECONDS = 1
MAX_TIMEOUT_SECONDS = 900
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10240
# Lambda CreateFunction Architectures.
ARCHITECTURES = ("x86_64", "arm64")

#: ``arn:aws``, ``arn:aws-cn``, ``arn:aws-us-gov``, ...
PARTITION_PATTERN = r"arn:aws(?:-[a-z]+)*"
#: A route name: it becomes part of every physical name of the route.
ROUTE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
#: A Lambda layer version ARN (``...:layer:<name>:<version>``).
LAYER_ARN = re.compile(PARTITION_PATTERN + r":lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
#: A stack name that every service accepts inside a physical name (Lambda, SQS,
#: EventBridge and Scheduler names allow letters, digits, '-' and '_').
NAME_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

#: A stack name of a stack config. It is part of the Lambda target group's
#: name, ``sl-<stack>-<route>``, and a target group name "can have a maximum
#: of 32 characters, must contain only alphanumeric characters or hyphens, and
#: must not begin or end with a hyphen" (ELB API Reference, CreateTargetGroup).
#: Pulumi also allows '_' and '.' in stack names; those fail half way through
#: ``pulumi up``, so the config refuses them.
STACK_NAME_CHARACTERS = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
#: The longest stack name whose target group names keep their meaning: a name
#: longer than 32 characters is cut to 24 and given a 7-digit hash
#: (``components.naming.fit``), and those 24 characters must still hold
#: ``sl-``, the whole stack name, ``-`` and the first 8 characters of the route
#: name (routes have up to 24): 24 - 3 - 1 - 8 = 12.
MAX_STACK_NAME_LENGTH = 12


def stack_name_problems(stack: str) -> list[str]:
    """Why ``stack`` cannot be the name of a Strangler stack (empty when it can)."""
    problems: list[str] = []
    if not STACK_NAME_CHARACTERS.match(stack):
        problems.append(
            f"stack {stack!r}: must be letters, digits and '-', not beginning or ending "
            "with '-' (it is part of the Lambda target group names, which allow nothing else)"
        )
    if len(stack) > MAX_STACK_NAME_LENGTH:
        problems.append(
            f"stack {stack!r}: is {len(stack)} characters, at most {MAX_STACK_NAME_LENGTH} "
            "(a target group name sl-<stack>-<route> has 32; a longer stack name would "
            "leave no room for the route's name)"
        )
    return problems
