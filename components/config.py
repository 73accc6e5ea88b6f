"""Parse and validate the stack config (namespace ``strangler``) in one place.

Pure: no Pulumi, no AWS calls. ``__main__.py`` reads the Pulumi config, hands
the plain values to :func:`parse_stack_config`, and gets frozen dataclasses
back, or a :class:`ConfigError` that lists *every* problem at once, each
prefixed with its key path, e.g.
``routes[1].canary.stages[2].weight: must be greater than the previous stage (50)``.
No resource is declared before the whole config is known to be valid.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

from components import packaging
from components.limits import (
    ARCHITECTURES,
    LAYER_ARN,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_SECONDS,
    MIN_MEMORY_MB,
    MIN_TIMEOUT_SECONDS,
    PARTITION_PATTERN,
    ROUTE_NAME,
    stack_name_problems,
)
from controller.core.contract import (
    ENV_FORWARD_HEADERS,
    ENV_HEALTH_CHECK_PATH,
    ENV_ROUTE_NAME,
    NEVER_FORWARDED_HEADERS,
    PlanRecord,
    StagePlanRecord,
)
from controller.core.cron import CronError, check_expression
from controller.core.release import (
    DEFAULT_MAX_ERROR_RATE_DELTA_PERCENT,
    ReleasePlanRecord,
    ReleaseStageRecord,
)
from controller.core.release import DEFAULT_MIN_REQUESTS as DEFAULT_RELEASE_MIN_REQUESTS
from controller.core.weights import Weights

# --- limits, each from the AWS documentation --------------------------------

# ELB quotas: "Condition values per rule: 5" (not adjustable).
MAX_CONDITION_VALUES = 5
# ELB API RulePriorityPair.Priority: "Valid Range: Minimum value of 1. Maximum value of 50000."
MIN_PRIORITY, MAX_PRIORITY = 1, 50000
# Target group health checks: interval 5-300 s, timeout 2-120 s, thresholds 2-10.
# For a lambda target group the interval "needs to be greater than the timeout
# of the underlying lambda" (provider docs of TargetGroup.health_check.interval).
MIN_HC_INTERVAL, MAX_HC_INTERVAL = 5, 300
MIN_HC_TIMEOUT, MAX_HC_TIMEOUT = 2, 120
MIN_HC_THRESHOLD, MAX_HC_THRESHOLD = 2, 10
# AWS defaults for a lambda target group: interval 35 s, timeout 30 s.
DEFAULT_HC_INTERVAL = 35
DEFAULT_HC_TIMEOUT = 30
# CloudWatch Logs PutRetentionPolicy: the only accepted retention values.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip
# Runtimes for which Powertools for AWS Lambda (Python) V3 publishes a layer.
RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")

# The Powertools release the project's tests run (requirements.txt pins it):
# the controller uses the official layer of this release, found through its
# public SSM parameter (components/function_code.py). A route function's
# release is the one its own requirements.txt pins.
POWERTOOLS_VERSION = "3.37.0"
# A function's pinned dependencies: this file in its source folder (exact pins
# only, see components/packaging.py).
REQUIREMENTS_FILE = "requirements.txt"

DEFAULT_RUNTIME = "python3.12"
DEFAULT_ARCHITECTURE = "x86_64"
DEFAULT_HANDLER = "app.handler"
# Defaults of a route function (the controller function has its own, in
# components/controller_function.py).
ROUTE_FUNCTION_DEFAULT_MEMORY_MB = 512
ROUTE_FUNCTION_DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_MIN_REQUESTS = 50
# How long MinCapacity stays pinned after a promotion or a rollback (capacity.holdHours).
DEFAULT_CAPACITY_HOLD_HOURS = 72.0
# ECS cluster and service names: up to 255 letters, numbers, hyphens and
# underscores (ECS API Reference, CreateCluster and CreateService).
_ECS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

# Environment keys the component sets itself; the config must not override them.
ENV_POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
RESERVED_ENV_KEYS = frozenset(
    {ENV_ROUTE_NAME, ENV_HEALTH_CHECK_PATH, ENV_POWERTOOLS_SERVICE_NAME,
     ENV_POWERTOOLS_METRICS_NAMESPACE, ENV_FORWARD_HEADERS}
)  # fmt: skip

_LISTENER_ARN = re.compile(
    PARTITION_PATTERN + r":elasticloadbalancing:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"listener/(?P<lb>app/[A-Za-z0-9-]{1,32}/[0-9a-f]+)/[0-9a-f]+$"
)
_TARGET_GROUP_ARN = re.compile(
    PARTITION_PATTERN + r":elasticloadbalancing:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]+$"
)
_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# An HTTP header name: an RFC 9110 token.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SUBNET = re.compile(r"^subnet-[0-9a-f]+$")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]+$")
_HTTP_METHOD = re.compile(r"^[A-Z_-]{1,40}$")


class ConfigError(ValueError):
    """The stack config is invalid. ``problems`` lists every ``(key path, message)``."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        lines = [f"{path}: {message}" if path else message for path, message in self.problems]
        count = len(lines)
        super().__init__(
            f"invalid strangler config ({count} problem{'s' if count != 1 else ''}):\n  - "
            + "\n  - ".join(lines)
        )

    @property
    def messages(self) -> list[str]:
        """Every problem as ``"<key path>: <message>"``."""
        return [f"{path}: {message}" if path else message for path, message in self.problems]


# --- the parsed config --------------------------------------------------------


@dataclass(frozen=True)
class VpcConfig:
    """Subnets and security groups the route functions run in."""

    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class MatchConfig:
    """The listener rule's conditions. Empty tuples mean "no such condition"."""

    path_patterns: tuple[str, ...] = ()
    host_headers: tuple[str, ...] = ()
    http_methods: tuple[str, ...] = ()

    @property
    def condition_values(self) -> int:
        """How many condition values the rule carries (the ALB allows 5)."""
        return len(self.path_patterns) + len(self.host_headers) + len(self.http_methods)


@dataclass(frozen=True)
class HealthCheckConfig:
    """The Lambda target group's health check (always enabled)."""

    path: str
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2
    matcher: str = "200"


@dataclass(frozen=True)
class FunctionConfig:
    """The route's Lambda function."""

    source: str
    source_path: Path
    handler: str
    runtime: str
    architecture: str
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int
    environment: Mapping[str, str] = field(default_factory=dict, hash=False)
    # The source folder's requirements.txt, None when it has none (no dependencies).
    requirements_path: Path | None = None
    # True: Powertools comes from its official layer, of ``powertools_version``
    # (the release the requirements pin), or from ``powertools_layer_arn`` when
    # that is set; the archive then leaves Powertools out.
    powertools_layer: bool = False
    powertools_version: str = ""
    powertools_layer_arn: str = ""
    # Request headers forwarded to the upstream on top of the function's safe
    # default (lower-case; the function gets them as FORWARD_HEADERS).
    forward_headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageConfig:
    """One canary stage: Lambda share in percent and its bake time."""

    weight: float
    bake_seconds: int

    @property
    def weights(self) -> Weights:
        """The ALB weights the controller writes for this stage (see :func:`stage_weights`)."""
        return stage_weights(self.weight)


@dataclass(frozen=True)
class AlarmThresholds:
    """Alarm thresholds of one route (defaults apply to omitted keys)."""

    error_rate_percent: float = 1.0
    app_error_rate_percent: float = 1.0
    throttles: int = 1
    p99_latency_ms: int = 2000
    target_5xx_count: int = 5
    lambda_user_errors: int = 1


@dataclass(frozen=True)
class CanaryConfig:
    """How the controller moves the route's traffic to Lambda."""

    stages: tuple[StageConfig, ...]
    schedule: str | None = None
    timezone: str | None = None
    stages_per_run: int = 0
    min_requests: int = DEFAULT_MIN_REQUESTS
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    concurrency_headroom_percent: float | None = None
    expected_peak_rps: float | None = None

    def plan_record(self) -> PlanRecord:
        """The plan as the controller's contract records it."""
        return PlanRecord(
            stages=tuple(StagePlanRecord(weight=s.weight, bake_seconds=s.bake_seconds)
                         for s in self.stages),
            stages_per_run=self.stages_per_run,
            min_requests=self.min_requests,
        )  # fmt: skip


# Preview rule and equivalence check (routes[].preview, routes[].verify).
DEFAULT_PREVIEW_HEADER = "X-Strangler-Preview"
# ELB HttpHeaderConditionConfig.HttpHeaderName: "The name of the HTTP header field. The
# maximum size is 40 characters." (a token: letters, digits and !#$%&'*+-.^_`|~).
MAX_PREVIEW_HEADER = 40
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
VERIFY_MODES = ("exact", "headers", "status")
DEFAULT_VERIFY_MODE = "exact"
DEFAULT_VERIFY_HEADERS = ("Cache-Control", "Content-Encoding")
# Bounds of one check: every sample is sent twice within the checker's
# timeout (functions/traffic_check/check_limits.py), which fits the
# controller function's 30 s.
MAX_VERIFY_SAMPLES = 5
MAX_VERIFY_HEADERS = 10
MAX_SAMPLE_PATH = 512
# Samples are read-only requests: the check must not change anything upstream.
SAMPLE_METHODS = ("GET", "HEAD")
_LAMBDA_ARN = re.compile(
    PARTITION_PATTERN + r":lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$"
)


@dataclass(frozen=True)
class PreviewConfig:
    """The preview rule: the route's conditions AND ``header: <route name>``, 100 % Lambda."""

    header: str
    priority: int
    derived: bool = False
    """The priority was not set: the nearest number below the route's that no rule uses."""


@dataclass(frozen=True)
class VerifySample:
    """One request the check sends to both sides."""

    path: str
    method: str = "GET"


@dataclass(frozen=True)
class VerifyConfig:
    """The response-equivalence check that gates stage 1 of every run."""

    samples: tuple[VerifySample, ...]
    compare: str = DEFAULT_VERIFY_MODE
    headers: tuple[str, ...] = DEFAULT_VERIFY_HEADERS
    hook_function_arn: str | None = None


@dataclass(frozen=True)
class EcsServiceConfig:
    """The ECS service that serves the route today; the capacity guard keeps it large enough."""

    cluster: str
    service: str
    hold_hours: float = DEFAULT_CAPACITY_HOLD_HOURS


@dataclass(frozen=True)
class RouteConfig:
    """One route carved off the monolith."""

    index: int
    name: str
    priority: int
    match: MatchConfig
    ecs_target_group_arn: str
    function: FunctionConfig
    health_check: HealthCheckConfig
    canary: CanaryConfig
    preview: PreviewConfig | None = None
    verify: VerifyConfig | None = None
    # Every new function version goes live in stages behind the alias (release runs).
    release: ReleasePlanRecord = field(default_factory=ReleasePlanRecord)
    ecs_service: EcsServiceConfig | None = None


@dataclass(frozen=True)
class StackConfig:
    """The whole, validated stack config."""

    region: str
    listener_arn: str
    routes: tuple[RouteConfig, ...]
    vpc: VpcConfig | None = None
    alert_emails: tuple[str, ...] = ()
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    powertools_layer_arn: str | None = None

    @property
    def load_balancer_dimension(self) -> str:
        """``app/<name>/<id>``: the CloudWatch ``LoadBalancer`` dimension value.

        It is the part of the listener ARN after ``listener/``, minus the
        listener id.
        """
        return load_balancer_dimension(self.listener_arn)

    @property
    def account_id(self) -> str:
        """The account of the listener (and so of every resource of the stack)."""
        return self.listener_arn.split(":")[4]

    @property
    def partition(self) -> str:
        """``aws``, ``aws-cn``, ... taken from the listener ARN."""
        return self.listener_arn.split(":")[1]

    def route(self, name: str) -> RouteConfig:
        """The route called ``name`` (KeyError listing the known names)."""
        for route in self.routes:
            if route.name == name:
                return route
        raise KeyError(f"unknown route {name!r}; known: {[r.name for r in self.routes]}")


# --- pure helpers ---------------------------------------------------------------


def load_balancer_dimension(listener_arn: str) -> str:
    """``app/<name>/<id>`` from a listener ARN ``...:listener/app/<name>/<id>/<listener id>``."""
    match = _LISTENER_ARN.match(listener_arn)
    if not match:
        raise ValueError(f"not an Application Load Balancer listener ARN: {listener_arn!r}")
    return match.group("lb")


def stage_weights(percent: float) -> Weights:
    """ALB weights (ECS, Lambda) of a stage's Lambda share in percent.

    The controller's own arithmetic (the exact ratio in lowest terms,
    controller/core/weights.py), so that validation sees exactly the weights
    the controller will write.
    """
    return Weights.from_percent(percent)


def default_health_check_path(path_patterns: Sequence[str]) -> str:
    """``/health`` inside the first path pattern's fixed prefix.

    ``/map/v1/tile/*`` gives ``/map/v1/tile/health``; no path pattern gives
    ``/health``.
    """
    if not path_patterns:
        return "/health"
    pattern = path_patterns[0]
    fixed = re.split(r"[*?]", pattern, maxsplit=1)[0]
    prefix = fixed[: fixed.rfind("/") + 1] if "/" in fixed else "/"
    return prefix + "health"


# --- the reader -----------------------------------------------------------------

_MISSING: Any = object()

NAMESPACE = "strangler"
#: Namespaces a stack config may use besides ``strangler``: the AWS provider's
#: (``aws:region``) and the engine's own (``pulumi:tags``).
OTHER_NAMESPACES = ("aws", "pulumi")
TOP_LEVEL_KEYS = (
    "listenerArn", "vpc", "alertEmails", "routes", "powertoolsLayerArn", "logRetentionDays",
)  # fmt: skip
ROUTE_KEYS = (
    "name", "priority", "match", "ecsTargetGroupArn", "function", "healthCheck", "canary",
    "preview", "verify", "ecsService", "capacity", "release",
)  # fmt: skip
PREVIEW_KEYS = ("header", "priority")
VERIFY_KEYS = ("samples", "compare", "headers", "hookFunctionArn")
SAMPLE_KEYS = ("path", "method")
ECS_SERVICE_KEYS = ("cluster", "service")
CAPACITY_KEYS = ("holdHours",)
MATCH_KEYS = ("pathPatterns", "hostHeaders", "httpMethods")
VPC_KEYS = ("subnetIds", "securityGroupIds")
FUNCTION_KEYS = (
    "source", "handler", "runtime", "architecture", "memoryMb", "timeoutSeconds",
    "reservedConcurrency", "environment", "powertoolsLayer", "powertoolsLayerArn",
    "forwardHeaders",
)  # fmt: skip
HEALTH_CHECK_KEYS = (
    "path", "intervalSeconds", "timeoutSeconds", "healthyThreshold", "unhealthyThreshold",
    "matcher",
)  # fmt: skip
CANARY_KEYS = (
    "stages", "schedule", "timezone", "stagesPerRun", "minRequests", "alarms",
    "concurrencyHeadroomPercent", "expectedPeakRps",
)  # fmt: skip
STAGE_KEYS = ("weight", "bakeMinutes")
RELEASE_KEYS = ("stages", "minRequests", "maxErrorRateDeltaPercent", "schedule")
ALARM_KEYS = (
    "errorRatePercent", "appErrorRatePercent", "throttles", "p99LatencyMs", "target5xxCount",
    "lambdaUserErrors",
)  # fmt: skip


class _Reader:
    """Collects problems while reading typed values out of plain dicts."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def mapping(self, value: Any, path: str, keys: Sequence[str]) -> Mapping[str, Any] | None:
        """``value`` as a mapping, reporting unknown keys (with the close match)."""
        if not isinstance(value, Mapping):
            self.add(path, f"must be a mapping, got {_type_name(value)}")
            return None
        for key in value:
            if key not in keys:
                self.add(_join(path, str(key)), _unknown_key(str(key), keys))
        return value

    def section(
        self, value: Any, path: str, keys: Sequence[str], *, required: str
    ) -> Mapping[str, Any] | None:
        """A section the config must have, as a mapping; ``None`` when it cannot be read.

        A missing section is reported with ``required`` (what it must hold).
        """
        if value is None:
            self.add(path, required)
            return None
        return self.mapping(value, path, keys)

    def defaults_section(
        self, value: Any, path: str, keys: Sequence[str]
    ) -> Mapping[str, Any] | None:
        """A section whose every key has a default: empty when it is missing."""
        return {} if value is None else self.mapping(value, path, keys)

    def schedule(self, data: Mapping[str, Any], path: str) -> str | None:
        """``schedule``, in the grammar EventBridge Scheduler accepts.

        Checked here so that a bad expression fails the plan instead of a
        schedule that never fires.
        """
        schedule = self.string(data, "schedule", path)
        if schedule is not None:
            try:
                check_expression(schedule)
            except CronError as error:
                self.add(f"{path}.schedule", str(error))
        return schedule

    def string(
        self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> str | None:
        value = data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.add(_join(path, key), "required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(_join(path, key), f"must be a non-empty string, got {value!r}")
            return None
        return value

    def integer(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        default: int | None = None,
        low: int | None = None,
        high: int | None = None,
        required: bool = False,
    ) -> int | None:
        value = data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.add(_join(path, key), "required")
            return default
        number = _as_int(value)
        if number is None:
            self.add(_join(path, key), f"must be an integer, got {value!r}")
            return default
        if low is not None and number < low:
            self.add(_join(path, key), f"{number} is below the minimum {low}")
            return default
        if high is not None and number > high:
            self.add(_join(path, key), f"{number} is above the maximum {high}")
            return default
        return number

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        default: float | None = None,
        exclusive_low: float | None = None,
        high: float | None = None,
        required: bool = False,
    ) -> float | None:
        value = data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.add(_join(path, key), "required")
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(_join(path, key), f"must be a number, got {value!r}")
            return default
        if exclusive_low is not None and value <= exclusive_low:
            self.add(_join(path, key), f"must be greater than {exclusive_low:g}, got {value:g}")
            return default
        if high is not None and value > high:
            self.add(_join(path, key), f"must be at most {high:g}, got {value:g}")
            return default
        return float(value)

    def string_list(
        self, data: Mapping[str, Any], key: str, path: str, *, pattern: re.Pattern[str] | None,
        what: str = "",
    ) -> tuple[str, ...]:  # fmt: skip
        value = data.get(key, _MISSING)
        if value is _MISSING or value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.add(_join(path, key), f"must be a list of strings, got {_type_name(value)}")
            return ()
        items: list[str] = []
        for i, item in enumerate(value):
            item_path = f"{_join(path, key)}[{i}]"
            if not isinstance(item, str) or not item:
                self.add(item_path, f"must be a non-empty string, got {item!r}")
            elif pattern is not None and not pattern.match(item):
                self.add(item_path, f"{item!r} is not {what}")
            else:
                items.append(item)
        duplicates = sorted({item for item in items if items.count(item) > 1})
        if duplicates:
            self.add(_join(path, key), f"duplicate values {duplicates}")
        return tuple(items)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _as_int(value: Any) -> int | None:
    """An int from an int, an integral float or a decimal string (Pulumi stores scalars
    as strings); ``None`` for anything else, including booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _unknown_key(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(known)})"
    return "unknown key" + hint


def namespace_problems(keys: Iterable[str]) -> list[tuple[str, str]]:
    """A problem per full config key (``ns:key``) outside the known namespaces.

    A key in a misspelled namespace (``stranger:logRetentionDays``) would be
    ignored by the program and its default used instead, so it is an error.
    """
    known = [f"{NAMESPACE}:{key}" for key in TOP_LEVEL_KEYS] + ["aws:region"]
    problems = []
    for key in sorted(keys):
        namespace, colon, _ = key.partition(":")
        if colon and namespace in (NAMESPACE, *OTHER_NAMESPACES):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "keys belong in the strangler: namespace"
        what = f"namespace {namespace!r}" if colon else "namespace (none)"
        allowed = ", ".join(f"{n}:" for n in (NAMESPACE, *OTHER_NAMESPACES))
        problems.append((key, f"unknown {what}: only {allowed} are read ({hint})"))
    return problems


def _known_timezones() -> set[str]:
    try:
        return zoneinfo.available_timezones()
    except Exception:  # no tz database on this machine: skip the check
        return set()


# --- parsing --------------------------------------------------------------------


def parse_stack_config(
    raw: Mapping[str, Any],
    *,
    region: str | None,
    project_root: Path,
    stack: str | None = None,
    other_keys: Iterable[str] = (),
) -> StackConfig:
    """Validate the whole ``strangler`` namespace and return it parsed.

    ``raw`` maps the namespace's keys (without ``strangler:``) to plain
    values; ``region`` is ``aws:region``; ``function.source`` folders are
    resolved against ``project_root``; ``stack`` is the Pulumi stack's name
    (``pulumi.get_stack()``), which goes into every physical name and is
    checked too when given; ``other_keys`` are the stack config's full keys
    outside the ``strangler`` namespace, each refused unless its namespace is
    one of :data:`OTHER_NAMESPACES`. Raises :class:`ConfigError` listing
    every problem.
    """
    reader = _Reader()
    for path, problem in namespace_problems(other_keys):
        reader.add(path, problem)
    if stack is not None:
        for problem in stack_name_problems(stack):
            reader.add("", problem)
    data = reader.mapping(raw, "", TOP_LEVEL_KEYS) or {}

    if not region:
        reader.add("aws:region", "required (the Region of the listener)")

    listener_arn = reader.string(data, "listenerArn", "", required=True)
    listener_match = None
    if listener_arn is not None:
        listener_match = _LISTENER_ARN.match(listener_arn)
        if not listener_match:
            reader.add(
                "listenerArn",
                f"{listener_arn!r} is not an Application Load Balancer listener ARN "
                "(arn:aws:elasticloadbalancing:<region>:<account>:listener/app/<name>/<id>/<id>)",
            )
        elif region and listener_match.group("region") != region:
            # A Lambda target must be in the same account and Region as the
            # target group (ELB guide, "Lambda functions as targets").
            reader.add(
                "listenerArn",
                f"is in {listener_match.group('region')} but aws:region is {region}: the Lambda "
                "function and its target group must be in the load balancer's Region",
            )

    vpc = _parse_vpc(reader, data.get("vpc"))
    alert_emails = reader.string_list(
        data, "alertEmails", "", pattern=_EMAIL, what="an email address"
    )
    log_retention = reader.integer(data, "logRetentionDays", "", default=DEFAULT_LOG_RETENTION_DAYS)
    if log_retention is not None and log_retention not in LOG_RETENTION_DAYS:
        reader.add(
            "logRetentionDays",
            f"{log_retention} is not a CloudWatch Logs retention value "
            f"({', '.join(str(d) for d in sorted(LOG_RETENTION_DAYS))})",
        )
        log_retention = DEFAULT_LOG_RETENTION_DAYS
    stack_layer = reader.string(data, "powertoolsLayerArn", "")
    if stack_layer is not None and not LAYER_ARN.match(stack_layer):
        reader.add("powertoolsLayerArn", f"{stack_layer!r} is not a Lambda layer version ARN")

    routes: list[RouteConfig] = []
    raw_routes = data.get("routes", _MISSING)
    if raw_routes is _MISSING or raw_routes is None:
        reader.add("routes", "required (at least one route)")
    elif isinstance(raw_routes, str) or not isinstance(raw_routes, Sequence):
        reader.add("routes", f"must be a list of routes, got {_type_name(raw_routes)}")
    elif not raw_routes:
        reader.add("routes", "must hold at least one route")
    else:
        context = _RouteContext(
            region=region or "",
            listener=listener_match,
            project_root=project_root,
            stack_layer=stack_layer,
        )
        for index, raw_route in enumerate(raw_routes):
            route = _parse_route(reader, raw_route, index, context)
            if route is not None:
                routes.append(route)
        _check_unique(reader, raw_routes)
        routes = _assign_preview_priorities(reader, routes)

    if reader.problems:
        raise ConfigError(reader.problems)
    assert listener_arn is not None and region is not None
    return StackConfig(
        region=region,
        listener_arn=listener_arn,
        routes=tuple(routes),
        vpc=vpc,
        alert_emails=alert_emails,
        log_retention_days=log_retention or DEFAULT_LOG_RETENTION_DAYS,
        powertools_layer_arn=stack_layer,
    )


@dataclass(frozen=True)
class _RouteContext:
    region: str
    listener: re.Match[str] | None
    project_root: Path
    stack_layer: str | None


def _parse_vpc(reader: _Reader, value: Any) -> VpcConfig | None:
    if value is None:
        return None
    data = reader.mapping(value, "vpc", VPC_KEYS)
    if data is None:
        return None
    subnets = reader.string_list(data, "subnetIds", "vpc", pattern=_SUBNET, what="a subnet id")
    groups = reader.string_list(
        data, "securityGroupIds", "vpc", pattern=_SECURITY_GROUP, what="a security group id"
    )
    if not subnets:
        reader.add("vpc.subnetIds", "required when vpc is set (at least one subnet)")
    if not groups:
        reader.add("vpc.securityGroupIds", "required when vpc is set (at least one group)")
    return VpcConfig(subnet_ids=subnets, security_group_ids=groups)


def _parse_route(
    reader: _Reader, value: Any, index: int, context: _RouteContext
) -> RouteConfig | None:
    path = f"routes[{index}]"
    data = reader.mapping(value, path, ROUTE_KEYS)
    if data is None:
        return None
    before = len(reader.problems)

    name = reader.string(data, "name", path, required=True)
    if name is not None and not ROUTE_NAME.match(name):
        reader.add(
            f"{path}.name",
            f"{name!r} must match {ROUTE_NAME.pattern} (it becomes part of resource names)",
        )
    priority = reader.integer(
        data, "priority", path, low=MIN_PRIORITY, high=MAX_PRIORITY, required=True
    )
    match = _parse_match(reader, data.get("match"), f"{path}.match")
    ecs_arn = reader.string(data, "ecsTargetGroupArn", path, required=True)
    if ecs_arn is not None:
        _check_target_group_arn(reader, ecs_arn, f"{path}.ecsTargetGroupArn", context)
    function = _parse_function(reader, data.get("function"), f"{path}.function", context)
    health_check = _parse_health_check(
        reader, data.get("healthCheck"), f"{path}.healthCheck", match, function
    )
    canary = _parse_canary(reader, data.get("canary"), f"{path}.canary")
    preview = _parse_preview(reader, data.get("preview"), f"{path}.preview", priority, match)
    verify = _parse_verify(reader, data.get("verify"), f"{path}.verify", context)
    release = _parse_release(reader, data.get("release"), f"{path}.release")
    ecs_service = _parse_ecs_service(reader, data.get("ecsService"), data.get("capacity"), path)

    if len(reader.problems) != before:
        return None
    assert name and priority is not None and match and ecs_arn and function
    assert health_check and canary and preview and release
    return RouteConfig(
        index=index,
        name=name,
        priority=priority,
        match=match,
        ecs_target_group_arn=ecs_arn,
        function=function,
        health_check=health_check,
        canary=canary,
        preview=preview,
        verify=verify,
        release=release,
        ecs_service=ecs_service,
    )


def _parse_ecs_service(
    reader: _Reader, value: Any, capacity: Any, path: str
) -> EcsServiceConfig | None:
    """``ecsService: {cluster, service}`` and ``capacity: {holdHours}``; both optional."""
    hold_hours = DEFAULT_CAPACITY_HOLD_HOURS
    if capacity is not None:
        data = reader.mapping(capacity, f"{path}.capacity", CAPACITY_KEYS)
        if data is not None:
            hours = reader.number(
                data, "holdHours", f"{path}.capacity", default=DEFAULT_CAPACITY_HOLD_HOURS,
                high=24 * 365,
            )  # fmt: skip
            if hours is not None and hours < 0:
                reader.add(f"{path}.capacity.holdHours", f"must not be negative, got {hours:g}")
            elif hours is not None:
                hold_hours = hours
        if value is None:
            reader.add(
                f"{path}.capacity",
                "needs ecsService: {cluster, service} (the service whose capacity it holds)",
            )
    if value is None:
        return None
    data = reader.mapping(value, f"{path}.ecsService", ECS_SERVICE_KEYS)
    if data is None:
        return None
    names: dict[str, str] = {}
    for key in ECS_SERVICE_KEYS:
        name = reader.string(data, key, f"{path}.ecsService", required=True)
        if name is not None and not _ECS_NAME.match(name):
            reader.add(
                f"{path}.ecsService.{key}",
                f"{name!r} is not an ECS {key} name (up to 255 letters, digits, - and _)",
            )
        elif name is not None:
            names[key] = name
    if len(names) != len(ECS_SERVICE_KEYS):
        return None
    return EcsServiceConfig(
        cluster=names["cluster"], service=names["service"], hold_hours=hold_hours
    )


def _check_target_group_arn(reader: _Reader, arn: str, path: str, context: _RouteContext) -> None:
    found = _TARGET_GROUP_ARN.match(arn)
    if not found:
        reader.add(
            path,
            f"{arn!r} is not a target group ARN "
            "(arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)",
        )
        return
    listener = context.listener
    if listener is not None and (
        found.group("region") != listener.group("region")
        or found.group("account") != listener.group("account")
    ):
        reader.add(
            path,
            f"is in {found.group('region')}/{found.group('account')} but the listener is in "
            f"{listener.group('region')}/{listener.group('account')}",
        )


def _parse_match(reader: _Reader, value: Any, path: str) -> MatchConfig | None:
    data = reader.section(
        value,
        path,
        MATCH_KEYS,
        required="required (at least one condition: pathPatterns or hostHeaders)",
    )
    if data is None:
        return None
    before = len(reader.problems)
    paths = reader.string_list(data, "pathPatterns", path, pattern=None)
    hosts = reader.string_list(data, "hostHeaders", path, pattern=None)
    methods = reader.string_list(
        data, "httpMethods", path, pattern=_HTTP_METHOD, what="an HTTP method (A-Z, - and _)"
    )
    for i, pattern in enumerate(paths):
        # Path patterns are matched against the URL path, which starts with "/";
        # each value is at most 128 characters (ELB guide, "Path conditions").
        if not pattern.startswith("/"):
            reader.add(f"{path}.pathPatterns[{i}]", f"{pattern!r} must start with '/'")
        elif len(pattern) > 128:
            reader.add(f"{path}.pathPatterns[{i}]", "is longer than 128 characters")
    match = MatchConfig(path_patterns=paths, host_headers=hosts, http_methods=methods)
    if len(reader.problems) != before:
        return None
    if not paths and not hosts:
        # A rule that matches only on the method would take that method's
        # traffic for every path of the monolith.
        reader.add(path, "no condition: set pathPatterns and/or hostHeaders")
        return None
    if match.condition_values > MAX_CONDITION_VALUES:
        reader.add(
            path,
            f"{match.condition_values} condition values; an ALB rule allows at most "
            f"{MAX_CONDITION_VALUES} (pathPatterns + hostHeaders + httpMethods)",
        )
        return None
    return match


def _parse_function(
    reader: _Reader, value: Any, path: str, context: _RouteContext
) -> FunctionConfig | None:
    data = reader.section(value, path, FUNCTION_KEYS, required="required")
    if data is None:
        return None
    before = len(reader.problems)

    source = reader.string(data, "source", path, required=True)
    source_path = Path()
    if source is not None:
        source_path = (context.project_root / source).resolve()
        if not source_path.is_dir():
            reader.add(
                f"{path}.source", f"folder {source!r} does not exist under {context.project_root}"
            )
    handler = reader.string(data, "handler", path) or DEFAULT_HANDLER
    if not re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", handler):
        reader.add(f"{path}.handler", f"{handler!r} must look like module.function")
    runtime = reader.string(data, "runtime", path) or DEFAULT_RUNTIME
    if runtime not in RUNTIMES:
        reader.add(f"{path}.runtime", f"{runtime!r} is not one of {', '.join(RUNTIMES)}")
    architecture = reader.string(data, "architecture", path) or DEFAULT_ARCHITECTURE
    if architecture not in ARCHITECTURES:
        reader.add(
            f"{path}.architecture", f"{architecture!r} is not one of {', '.join(ARCHITECTURES)}"
        )
    memory = reader.integer(
        data, "memoryMb", path, default=ROUTE_FUNCTION_DEFAULT_MEMORY_MB, low=MIN_MEMORY_MB,
        high=MAX_MEMORY_MB,
    )  # fmt: skip
    timeout = reader.integer(
        data, "timeoutSeconds", path, default=ROUTE_FUNCTION_DEFAULT_TIMEOUT_SECONDS,
        low=MIN_TIMEOUT_SECONDS, high=MAX_TIMEOUT_SECONDS,
    )  # fmt: skip
    # Required: the per-API cap of the original design. Requests above it get
    # an immediate 502 instead of piling up on the upstream.
    reserved = reader.integer(data, "reservedConcurrency", path, low=1, required=True)
    environment = _parse_environment(reader, data.get("environment"), f"{path}.environment")
    forward_headers = _parse_forward_headers(reader, data, path)
    layer = reader.string(data, "powertoolsLayerArn", path)
    if layer is not None and not LAYER_ARN.match(layer):
        reader.add(f"{path}.powertoolsLayerArn", f"{layer!r} is not a Lambda layer version ARN")
    use_layer = data.get("powertoolsLayer", False)
    if not isinstance(use_layer, bool):
        reader.add(f"{path}.powertoolsLayer", f"must be true or false, got {use_layer!r}")
        use_layer = False
    if layer is not None and not use_layer:
        reader.add(
            f"{path}.powertoolsLayerArn",
            "names a layer, but powertoolsLayer is not true (the archive bundles Powertools)",
        )
    requirements_path: Path | None = None
    powertools_version = ""
    if source is not None and source_path.is_dir():
        requirements_path, powertools_version = _check_requirements(
            reader, source_path, path, use_layer=use_layer
        )
    if powertools_version and runtime in RUNTIMES and architecture in ARCHITECTURES:
        try:
            packaging.powertools_layer_parameter(architecture, runtime, powertools_version)
        except packaging.PackagingError as error:
            reader.add(f"{path}.powertoolsLayer", str(error))

    if len(reader.problems) != before:
        return None
    assert source is not None and reserved is not None
    return FunctionConfig(
        source=source,
        source_path=source_path,
        handler=handler,
        runtime=runtime,
        architecture=architecture,
        memory_mb=memory or ROUTE_FUNCTION_DEFAULT_MEMORY_MB,
        timeout_seconds=timeout or ROUTE_FUNCTION_DEFAULT_TIMEOUT_SECONDS,
        reserved_concurrency=reserved,
        environment=MappingProxyType(dict(environment)),
        requirements_path=requirements_path,
        powertools_layer=use_layer,
        powertools_version=powertools_version,
        powertools_layer_arn=(layer or context.stack_layer or "") if use_layer else "",
        forward_headers=forward_headers,
    )


def _check_requirements(
    reader: _Reader, source_path: Path, path: str, *, use_layer: bool
) -> tuple[Path | None, str]:
    """The function's requirements file, checked, and the Powertools release it pins.

    The file must hold exact pins only. With ``powertoolsLayer`` it must pin
    aws-lambda-powertools: that pin chooses the layer's release.
    """
    requirements = source_path / REQUIREMENTS_FILE
    if not requirements.is_file():
        if use_layer:
            reader.add(
                f"{path}.powertoolsLayer",
                f"needs {REQUIREMENTS_FILE} in the function's folder pinning "
                f"{packaging.POWERTOOLS_DISTRIBUTION} (the layer's release)",
            )
        return None, ""
    try:
        pins = packaging.read_requirements(requirements)
    except packaging.PackagingError as error:
        reader.add(f"{path}.source", str(error))
        return None, ""
    if not use_layer:
        return requirements, ""
    try:
        version = packaging.pinned_version(pins, packaging.POWERTOOLS_DISTRIBUTION)
    except packaging.PackagingError:
        reader.add(
            f"{path}.powertoolsLayer",
            f"{requirements} does not pin {packaging.POWERTOOLS_DISTRIBUTION} "
            "(the layer's release)",
        )
        return None, ""
    return requirements, version


def _parse_forward_headers(reader: _Reader, data: Mapping[str, Any], path: str) -> tuple[str, ...]:
    """``function.forwardHeaders``: header names, lower-cased; never a hop-by-hop one."""
    value = data.get("forwardHeaders")
    key_path = f"{path}.forwardHeaders"
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        reader.add(key_path, f"must be a list of header names, got {_type_name(value)}")
        return ()
    kept: list[str] = []
    for index, name in enumerate(value):
        item_path = f"{key_path}[{index}]"
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            reader.add(item_path, f"{name!r} is not an HTTP header name")
        elif name.lower() in NEVER_FORWARDED_HEADERS:
            reader.add(
                item_path,
                f"{name!r} is hop-by-hop or set by the upstream connection itself; "
                "it is never forwarded",
            )
        elif name.lower() in kept:
            reader.add(item_path, f"{name!r} is listed twice (header names ignore case)")
        else:
            kept.append(name.lower())
    return tuple(kept)


def _parse_environment(reader: _Reader, value: Any, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        reader.add(path, f"must be a mapping of names to strings, got {_type_name(value)}")
        return {}
    env: dict[str, str] = {}
    for key, item in value.items():
        item_path = f"{path}.{key}"
        if not isinstance(key, str) or not _ENV_KEY.match(key):
            reader.add(item_path, "is not a valid environment variable name")
        elif key in RESERVED_ENV_KEYS:
            reader.add(item_path, "is set by the program itself and cannot be overridden")
        elif not isinstance(item, str):
            reader.add(item_path, f"must be a string (quote it), got {item!r}")
        else:
            env[key] = item
    return env


def _parse_health_check(
    reader: _Reader,
    value: Any,
    path: str,
    match: MatchConfig | None,
    function: FunctionConfig | None,
) -> HealthCheckConfig | None:
    data = reader.defaults_section(value, path, HEALTH_CHECK_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    health_path = reader.string(data, "path", path) or default_health_check_path(
        match.path_patterns if match else ()
    )
    if not health_path.startswith("/") or len(health_path) > 1024:
        reader.add(f"{path}.path", f"{health_path!r} must start with '/' (at most 1024 chars)")
    function_timeout = (
        function.timeout_seconds if function else ROUTE_FUNCTION_DEFAULT_TIMEOUT_SECONDS
    )
    # For a lambda target group the interval must be greater than the
    # function's timeout; the interval is at most 300 s.
    default_interval = min(MAX_HC_INTERVAL, max(DEFAULT_HC_INTERVAL, function_timeout + 5))
    interval = reader.integer(
        data, "intervalSeconds", path, default=default_interval, low=MIN_HC_INTERVAL,
        high=MAX_HC_INTERVAL,
    )  # fmt: skip
    timeout = reader.integer(
        data, "timeoutSeconds", path, default=DEFAULT_HC_TIMEOUT, low=MIN_HC_TIMEOUT,
        high=MAX_HC_TIMEOUT,
    )  # fmt: skip
    healthy = reader.integer(
        data, "healthyThreshold", path, default=2, low=MIN_HC_THRESHOLD, high=MAX_HC_THRESHOLD
    )
    unhealthy = reader.integer(
        data, "unhealthyThreshold", path, default=2, low=MIN_HC_THRESHOLD, high=MAX_HC_THRESHOLD
    )
    matcher = reader.string(data, "matcher", path) or "200"
    if interval is not None and interval <= function_timeout:
        reader.add(
            f"{path}.intervalSeconds"
            if "intervalSeconds" in data
            else f"{path.rsplit('.', 1)[0]}.function.timeoutSeconds",
            f"the health check interval ({interval} s) must be greater than the function "
            f"timeout ({function_timeout} s) for a lambda target group; the interval is at "
            f"most {MAX_HC_INTERVAL} s",
        )
    if interval is not None and timeout is not None and timeout >= interval:
        reader.add(
            f"{path}.timeoutSeconds",
            f"{timeout} s must be less than the interval ({interval} s)",
        )
    if len(reader.problems) != before:
        return None
    assert interval and timeout and healthy and unhealthy
    return HealthCheckConfig(
        path=health_path,
        interval_seconds=interval,
        timeout_seconds=timeout,
        healthy_threshold=healthy,
        unhealthy_threshold=unhealthy,
        matcher=matcher,
    )


def _parse_canary(reader: _Reader, value: Any, path: str) -> CanaryConfig | None:
    data = reader.section(value, path, CANARY_KEYS, required="required (at least canary.stages)")
    if data is None:
        return None
    before = len(reader.problems)
    stages = _parse_stages(reader, data.get("stages"), f"{path}.stages")
    schedule = reader.schedule(data, path)
    timezone = reader.string(data, "timezone", path)
    if timezone is not None:
        zones = _known_timezones()
        if zones and timezone not in zones:
            reader.add(f"{path}.timezone", f"{timezone!r} is not an IANA time zone")
    stages_per_run = reader.integer(data, "stagesPerRun", path, default=0, low=0)
    if stages and stages_per_run and stages_per_run > len(stages):
        reader.add(
            f"{path}.stagesPerRun",
            f"{stages_per_run} is more than the {len(stages)} stages (0 means all)",
        )
    min_requests = reader.integer(data, "minRequests", path, default=DEFAULT_MIN_REQUESTS, low=0)
    alarms = _parse_alarms(reader, data.get("alarms"), f"{path}.alarms")
    headroom = reader.number(data, "concurrencyHeadroomPercent", path, exclusive_low=0, high=100)
    peak_rps = reader.number(data, "expectedPeakRps", path, exclusive_low=0)
    if peak_rps is not None and headroom is None and "concurrencyHeadroomPercent" not in data:
        reader.add(
            f"{path}.expectedPeakRps",
            "needs concurrencyHeadroomPercent (it only feeds the concurrency gate)",
        )
    if len(reader.problems) != before or stages is None or alarms is None:
        return None
    return CanaryConfig(
        stages=stages,
        schedule=schedule,
        timezone=timezone,
        stages_per_run=stages_per_run or 0,
        min_requests=DEFAULT_MIN_REQUESTS if min_requests is None else min_requests,
        alarms=alarms,
        concurrency_headroom_percent=headroom,
        expected_peak_rps=peak_rps,
    )


def _parse_release(reader: _Reader, value: Any, path: str) -> ReleasePlanRecord | None:
    """``release``: how a new function version goes live; every key has a safe default."""
    if value is None:
        return ReleasePlanRecord()
    data = reader.mapping(value, path, RELEASE_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    stages: tuple[ReleaseStageRecord, ...] = ReleasePlanRecord().stages
    if "stages" in data:
        # The same rules as the canary's stages: increasing, 0.1 steps, last 100.
        parsed = _parse_stages(reader, data.get("stages"), f"{path}.stages")
        if parsed is not None:
            stages = tuple(ReleaseStageRecord(s.weight, s.bake_seconds) for s in parsed)
    min_requests = reader.integer(
        data, "minRequests", path, default=DEFAULT_RELEASE_MIN_REQUESTS, low=1
    )
    delta = reader.number(
        data, "maxErrorRateDeltaPercent", path, default=DEFAULT_MAX_ERROR_RATE_DELTA_PERCENT,
        high=100,
    )  # fmt: skip
    if delta is not None and delta < 0:
        reader.add(f"{path}.maxErrorRateDeltaPercent", f"must not be negative, got {delta:g}")
    schedule = reader.schedule(data, path)
    if len(reader.problems) != before:
        return None
    return ReleasePlanRecord(
        stages=stages,
        min_requests=DEFAULT_RELEASE_MIN_REQUESTS if min_requests is None else min_requests,
        max_error_rate_delta_percent=(
            DEFAULT_MAX_ERROR_RATE_DELTA_PERCENT if delta is None else delta
        ),
        schedule=schedule,
    )


def _parse_stages(reader: _Reader, value: Any, path: str) -> tuple[StageConfig, ...] | None:
    if value is None:
        reader.add(path, "required (a list ending with weight 100)")
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        reader.add(path, "must be a non-empty list of {weight, bakeMinutes}")
        return None
    before = len(reader.problems)
    stages: list[StageConfig] = []
    previous: StageConfig | None = None
    for i, raw in enumerate(value):
        stage_path = f"{path}[{i}]"
        data = reader.mapping(raw, stage_path, STAGE_KEYS)
        if data is None:
            previous = None
            continue
        weight = reader.number(data, "weight", stage_path, exclusive_low=0, high=100, required=True)
        bake = data.get("bakeMinutes", 0)
        bake_seconds = 0
        if bake is None or isinstance(bake, bool) or not isinstance(bake, int | float):
            reader.add(f"{stage_path}.bakeMinutes", f"must be a number of minutes, got {bake!r}")
        elif bake < 0:
            reader.add(f"{stage_path}.bakeMinutes", f"must not be negative, got {bake:g}")
        else:
            bake_seconds = int(
                (Decimal(str(bake)) * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            )
        if weight is None:
            previous = None
            continue
        if not _is_tenth(weight):
            reader.add(f"{stage_path}.weight", f"{weight:g} is not a multiple of 0.1 percent")
            previous = None
            continue
        stage = StageConfig(weight=weight, bake_seconds=bake_seconds)
        # Every 0.1 % step has its own exact ALB ratio: a greater share is a new split.
        if previous is not None and weight <= previous.weight:
            reader.add(
                f"{stage_path}.weight",
                f"must be greater than the previous stage ({previous.weight:g})",
            )
        stages.append(stage)
        previous = stage
    if len(reader.problems) == before and stages and stages[-1].weight != 100:
        reader.add(
            f"{path}[{len(value) - 1}].weight",
            f"the last stage must be 100 (all traffic on Lambda), got {stages[-1].weight:g}",
        )
    if len(reader.problems) != before:
        return None
    return tuple(stages)


def _is_tenth(weight: float) -> bool:
    try:
        scaled = Decimal(str(weight)) * 10
    except InvalidOperation:
        return False
    return scaled == scaled.to_integral_value()


def _parse_alarms(reader: _Reader, value: Any, path: str) -> AlarmThresholds | None:
    if value is None:
        return AlarmThresholds()
    data = reader.mapping(value, path, ALARM_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    defaults = AlarmThresholds()
    thresholds = AlarmThresholds(
        error_rate_percent=reader.number(
            data, "errorRatePercent", path, default=defaults.error_rate_percent,
            exclusive_low=0, high=100,
        ) or defaults.error_rate_percent,
        app_error_rate_percent=reader.number(
            data, "appErrorRatePercent", path, default=defaults.app_error_rate_percent,
            exclusive_low=0, high=100,
        ) or defaults.app_error_rate_percent,
        throttles=reader.integer(data, "throttles", path, default=defaults.throttles, low=1)
        or defaults.throttles,
        p99_latency_ms=reader.integer(
            data, "p99LatencyMs", path, default=defaults.p99_latency_ms, low=1
        ) or defaults.p99_latency_ms,
        target_5xx_count=reader.integer(
            data, "target5xxCount", path, default=defaults.target_5xx_count, low=1
        ) or defaults.target_5xx_count,
        lambda_user_errors=reader.integer(
            data, "lambdaUserErrors", path, default=defaults.lambda_user_errors, low=1
        ) or defaults.lambda_user_errors,
    )  # fmt: skip
    if len(reader.problems) != before:
        return None
    return thresholds


def _check_unique(reader: _Reader, raw_routes: Sequence[Any]) -> None:
    """Route names and priorities are unique within the stack."""
    names: dict[str, int] = {}
    priorities: dict[int, int] = {}
    for index, raw in enumerate(raw_routes):
        if not isinstance(raw, Mapping):
            continue
        name = raw.get("name")
        if isinstance(name, str):
            if name in names:
                reader.add(
                    f"routes[{index}].name", f"{name!r} is already used by routes[{names[name]}]"
                )
            else:
                names[name] = index
        priority = _as_int(raw.get("priority"))
        if priority is not None:
            if priority in priorities:
                reader.add(
                    f"routes[{index}].priority",
                    f"{priority} is already used by routes[{priorities[priority]}]",
                )
            else:
                priorities[priority] = index


def _parse_preview(
    reader: _Reader, value: Any, path: str, priority: int | None, match: MatchConfig | None
) -> PreviewConfig | None:
    """``preview: {header, priority}``; both optional.

    The ALB evaluates rules from the lowest priority number up, so the
    preview rule must come before the route's weighted rule: its priority
    defaults to the route's minus one and must be lower than the route's.
    """
    data = reader.defaults_section(value, path, PREVIEW_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    header = reader.string(data, "header", path) or DEFAULT_PREVIEW_HEADER
    if len(header) > MAX_PREVIEW_HEADER or not _HEADER_NAME.match(header):
        reader.add(
            f"{path}.header",
            f"{header!r} is not an HTTP header name of at most {MAX_PREVIEW_HEADER} characters",
        )
    explicit = reader.integer(data, "priority", path, low=MIN_PRIORITY, high=MAX_PRIORITY)
    if priority is None or match is None:
        return None
    if match.condition_values + 1 > MAX_CONDITION_VALUES:
        reader.add(
            path,
            f"the preview rule needs the route's {match.condition_values} condition values plus "
            f"the header's: more than the {MAX_CONDITION_VALUES} an ALB rule allows",
        )
    derived = explicit is None and "priority" not in data
    if derived:
        if priority <= MIN_PRIORITY:
            reader.add(
                f"{path}.priority",
                f"required when the route's priority is {priority}: the preview rule needs a "
                "lower number than the route's",
            )
            return None
        # The nearest free number below; _assign_preview_priorities settles it.
        explicit = priority - 1
    elif explicit is not None and explicit >= priority:
        reader.add(
            f"{path}.priority",
            f"{explicit} must be lower than the route's priority ({priority}): the ALB "
            "evaluates rules from the lowest number, and the weighted rule would match first",
        )
    if len(reader.problems) != before or explicit is None:
        return None
    return PreviewConfig(header=header, priority=explicit, derived=derived)


def _parse_verify(
    reader: _Reader, value: Any, path: str, context: _RouteContext
) -> VerifyConfig | None:
    """``verify: {samples, compare, headers, hookFunctionArn}``; absent means no check."""
    if value is None:
        return None
    data = reader.mapping(value, path, VERIFY_KEYS)
    if data is None:
        return None
    before = len(reader.problems)
    samples = _parse_samples(reader, data.get("samples"), f"{path}.samples")
    compare = reader.string(data, "compare", path) or DEFAULT_VERIFY_MODE
    if compare not in VERIFY_MODES:
        reader.add(f"{path}.compare", f"{compare!r} is not one of {', '.join(VERIFY_MODES)}")
    headers: tuple[str, ...] = DEFAULT_VERIFY_HEADERS
    if data.get("headers") is not None:
        headers = reader.string_list(
            data, "headers", path, pattern=_HEADER_NAME, what="an HTTP header name"
        )
        if len(headers) > MAX_VERIFY_HEADERS:
            reader.add(
                f"{path}.headers", f"at most {MAX_VERIFY_HEADERS} headers, got {len(headers)}"
            )
    hook = reader.string(data, "hookFunctionArn", path)
    if hook is not None:
        found = _LAMBDA_ARN.match(hook)
        if not found:
            reader.add(
                f"{path}.hookFunctionArn",
                f"{hook!r} is not a Lambda function ARN "
                "(arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>])",
            )
        elif context.listener is not None and found.group("region") != context.listener.group(
            "region"
        ):
            reader.add(
                f"{path}.hookFunctionArn",
                f"is in {found.group('region')} but the listener is in "
                f"{context.listener.group('region')}",
            )
    if len(reader.problems) != before or samples is None:
        return None
    return VerifyConfig(
        samples=samples,
        compare=compare,
        headers=tuple(headers),
        hook_function_arn=hook,
    )


def _parse_samples(reader: _Reader, value: Any, path: str) -> tuple[VerifySample, ...] | None:
    if value is None:
        reader.add(path, "required (at least one {path, method})")
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        reader.add(path, "must be a non-empty list of {path, method}")
        return None
    if len(value) > MAX_VERIFY_SAMPLES:
        reader.add(
            path,
            f"{len(value)} samples; at most {MAX_VERIFY_SAMPLES} (each is sent twice within "
            "the checker's timeout)",
        )
        return None
    samples: list[VerifySample] = []
    for i, raw in enumerate(value):
        sample_path = f"{path}[{i}]"
        data = reader.mapping(raw, sample_path, SAMPLE_KEYS)
        if data is None:
            continue
        url_path = reader.string(data, "path", sample_path, required=True)
        method = (reader.string(data, "method", sample_path) or "GET").upper()
        if url_path is not None and (
            not url_path.startswith("/") or len(url_path) > MAX_SAMPLE_PATH or " " in url_path
        ):
            reader.add(
                f"{sample_path}.path",
                f"{url_path!r} must start with '/', hold no spaces and be at most "
                f"{MAX_SAMPLE_PATH} characters",
            )
            continue
        if method not in SAMPLE_METHODS:
            reader.add(
                f"{sample_path}.method",
                f"{method!r} is not one of {', '.join(SAMPLE_METHODS)} (samples must not change "
                "anything)",
            )
            continue
        if url_path is not None:
            samples.append(VerifySample(path=url_path, method=method))
    if len(samples) != len(value):
        return None
    return tuple(samples)


def _assign_preview_priorities(reader: _Reader, routes: Sequence[RouteConfig]) -> list[RouteConfig]:
    """Every rule of the stack, weighted or preview, gets its own priority on the listener.

    Explicit priorities are checked for collisions; a derived one is the
    nearest number below its route's priority that no other rule of the stack
    uses (routes in config order), so routes at 100 and 101 get previews at
    99 and 98.
    """
    used: dict[int, str] = {route.priority: f"routes[{route.index}].priority" for route in routes}
    for route in routes:
        if route.preview is None or route.preview.derived:
            continue
        priority = route.preview.priority
        other = used.get(priority)
        if other is not None:
            reader.add(
                f"routes[{route.index}].preview.priority",
                f"{priority} is already used by {other}; choose a free number below "
                f"{route.priority}",
            )
        else:
            used[priority] = f"routes[{route.index}].preview.priority"
    assigned: list[RouteConfig] = []
    for route in routes:
        preview = route.preview
        if preview is not None and preview.derived:
            free = next((p for p in range(route.priority - 1, 0, -1) if p not in used), None)
            if free is None:
                reader.add(
                    f"routes[{route.index}].preview.priority",
                    f"no free priority below the route's ({route.priority}); set one",
                )
            else:
                used[free] = f"routes[{route.index}].preview.priority"
                route = replace(route, preview=replace(preview, priority=free))
        assigned.append(route)
    return assigned


__all__ = [
    "AlarmThresholds",
    "CanaryConfig",
    "ConfigError",
    "FunctionConfig",
    "HealthCheckConfig",
    "MatchConfig",
    "PreviewConfig",
    "RouteConfig",
    "StackConfig",
    "StageConfig",
    "VerifyConfig",
    "VerifySample",
    "VpcConfig",
    "default_health_check_path",
    "load_balancer_dimension",
    "parse_stack_config",
    "stage_weights",
]
