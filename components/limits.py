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
