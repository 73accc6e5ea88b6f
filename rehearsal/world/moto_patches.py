"""The gaps in moto the twin fills: PutCompositeAlarm, GetAccountSettings, public parameters.

**PutCompositeAlarm.** moto 5.2.5 stores composite alarms (``Alarm.rule``;
``DescribeAlarms`` returns them under ``CompositeAlarms`` and
``SetAlarmState`` works on them) but has no handler for the
``PutCompositeAlarm`` action. Its ``put_metric_alarm`` handler already reads
``AlarmRule`` "to re-use this method for composite alarms as well", so the
missing action is that same handler under the other name.

**GetAccountSettings.** moto 5.2.5 has no route for Lambda's
``GET /2016-08-19/account-settings/`` and answers 404 "Not yet implemented".
The twin answers it from the functions in the emulator: the account's
concurrency limit (:func:`set_account_concurrency`, 1000 by default, the
default quota of a new account), ``UnreservedConcurrentExecutions`` = that
limit minus the reserved concurrency of every function in the region, and
the account's usage (total code size, function count). The code-size limits
are Lambda's documented quotas. moto itself does not enforce the limit when
concurrency is reserved (unless ``MOTO_LAMBDA_CONCURRENCY_QUOTA`` is set), so
the answer may show a negative unreserved concurrency where AWS would have
refused the reservation; that is left visible rather than hidden.

**Powertools layer parameters.** moto 5.2.5 serves a few of AWS's public
SSM parameters (``/aws/service/ami-amazon-linux-latest/...``, loaded when a
name under them is first read) but not the ones Powertools for AWS Lambda
publishes, ``/aws/service/powertools/python/{arch}/{runtime}/{version}``,
whose value is the ARN of that release's layer (components/function_code.py).
The twin serves them the same way: the first read of such a name, for a
known architecture and runtime and a release version (X.Y.Z), creates it
with the official layer's ARN and a made-up layer number
(rehearsal/world/bridge/invokes.py). AWS has no parameter for a release
Powertools never published, or published late; the twin cannot know which.

The patches are installed once per process and only for the pinned moto
version: a newer moto may implement the actions itself, and this must then
be re-checked.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import moto
from moto.awslambda import urls as lambda_urls
from moto.awslambda.responses import LambdaResponse
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.utils import utcnow
from moto.ssm.models import Parameter, ParameterDict

from rehearsal.errors import RehearsalError
from rehearsal.world.bridge.invokes import powertools_parameter_value

__all__ = [
    "ACCOUNT_SETTINGS_PATH",
    "DEFAULT_ACCOUNT_CONCURRENCY",
    "PATCHED_MOTO_VERSION",
    "account_concurrency",
    "account_settings",
    "install",
    "set_account_concurrency",
]

# The version the patches were checked against (requirements.txt pins it).
PATCHED_MOTO_VERSION = "5.2.5"

# Lambda's default concurrency quota per account and region (Lambda quotas).
DEFAULT_ACCOUNT_CONCURRENCY = 1000
# Lambda quotas: 75 GB of code storage, 250 MB unzipped, 50 MB zipped upload.
TOTAL_CODE_SIZE_LIMIT = 80_530_636_800
CODE_SIZE_UNZIPPED_LIMIT = 262_144_000
CODE_SIZE_ZIPPED_LIMIT = 52_428_800

# moto's URL table entry for the action (its other Lambda paths have the same shape).
ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"

_lock = threading.Lock()
_account_concurrency = DEFAULT_ACCOUNT_CONCURRENCY


def set_account_concurrency(limit: int) -> int:
    """Set the account's Lambda concurrency limit the twin reports; returns the previous one.

    Process-wide, like moto's backends. Raises ValueError below 1.
    """
    global _account_concurrency
    if limit < 1:
        raise ValueError(f"the account concurrency limit must be at least 1, not {limit}")
    with _lock:
        previous = _account_concurrency
        _account_concurrency = limit
        return previous


def account_concurrency() -> int:
    """The account's Lambda concurrency limit the twin reports."""
    with _lock:
        return _account_concurrency


def account_settings(functions: list[Any], limit: int) -> dict[str, Any]:
    """The ``GetAccountSettings`` answer for ``functions`` (moto's LambdaFunction objects)."""
    reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE_LIMIT,
            "CodeSizeUnzipped": CODE_SIZE_UNZIPPED_LIMIT,
            "CodeSizeZipped": CODE_SIZE_ZIPPED_LIMIT,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": limit - reserved,
        },
        "AccountUsage": {
            "TotalCodeSize": sum(int(getattr(f, "code_size", 0) or 0) for f in functions),
            "FunctionCount": len(functions),
        },
    }


def _get_account_settings(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    """The handler moto dispatches ``GetAccountSettings`` to (by its snake_case name)."""
    functions = list(self.backend.list_functions())
    return 200, {}, json.dumps(account_settings(functions, account_concurrency()))


def _check_version(action: str) -> None:
    if moto.__version__ != PATCHED_MOTO_VERSION:
        raise RehearsalError(
            f"rehearsal.world.moto_patches was checked against moto {PATCHED_MOTO_VERSION}, "
            f"found {moto.__version__}: re-check whether {action} is implemented"
        )


def _check_loading_status(self: ParameterDict, key: str) -> None:
    """moto's loader of public parameters, plus the Powertools layer parameters."""
    _load_public_parameters(self, key)
    name = str(key or "")
    value = powertools_parameter_value(name, self.region_name)
    if value is None or dict.__contains__(self, name):
        return
    dict.setdefault(self, name, []).append(
        Parameter(  # type: ignore[abstract]  # moto instantiates it the same way
            account_id=self.account_id,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=utcnow(),
            version=1,
            data_type="text",
        )
    )


_load_public_parameters = ParameterDict._check_loading_status


def install() -> None:
    """Make moto answer ``PutCompositeAlarm`` and Lambda ``GetAccountSettings`` (idempotent).

    Raises RehearsalError on another moto version, so an upgrade is a
    conscious re-check rather than a silent behaviour change.
    """
    with _lock:
        if getattr(CloudWatchResponse, "put_composite_alarm", None) is None:
            _check_version("PutCompositeAlarm")
            # The handler dispatches on the snake_case action name.
            CloudWatchResponse.put_composite_alarm = CloudWatchResponse.put_metric_alarm  # type: ignore[attr-defined]
        if getattr(LambdaResponse, "get_account_settings", None) is None:
            _check_version("Lambda GetAccountSettings")
            LambdaResponse.get_account_settings = _get_account_settings  # type: ignore[attr-defined]
        if ParameterDict._check_loading_status is _load_public_parameters:
            _check_version("the Powertools layer parameters")
            ParameterDict._check_loading_status = _check_loading_status  # type: ignore[method-assign]
        # moto reads its URL table when a request comes in (in-process) or
        # when a server builds its Lambda app, so the entry serves both.
        lambda_urls.url_paths.setdefault(ACCOUNT_SETTINGS_PATH, LambdaResponse.dispatch)
