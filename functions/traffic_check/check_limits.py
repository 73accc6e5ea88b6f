"""The bounds of one check, so that it always fits the controller's own timeout.

The controller function times out after 30 s (components/controller_function.py)
and waits for this function synchronously. The config allows at most 5 samples
(components/config.py), each sent twice: 10 requests of at most 1.2 s each,
plus the hook's 4 s, fit the checker's 18 s timeout
(components/traffic_check.py), which fits the controller's 30 s.
"""

from __future__ import annotations

# Connect + read timeout of one request to the ALB.
REQUEST_TIMEOUT_SECONDS = 1.2
# Read at most this much of a body (the ALB's Lambda response limit is 1 MB);
# a longer body is hashed up to here and reported as truncated.
MAX_BODY_BYTES = 1024 * 1024
# Stop starting requests when less than this remains of the invocation.
DEADLINE_MARGIN_MS = 1500
# The hook is invoked synchronously with this read timeout.
HOOK_TIMEOUT_SECONDS = 4.0
# The checker function's own timeout; components/traffic_check.py sets it.
FUNCTION_TIMEOUT_SECONDS = 18
