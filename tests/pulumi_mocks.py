"""Run Pulumi programs and components in-process against recording mocks.

No Pulumi CLI or provider plugin is needed. The mocks answer every resource
registration with plausible outputs (ARNs, names) and record what the program
declared, so tests assert on the *inputs* a real provider would receive.

Typical use::

    from tests.pulumi_mocks import run_program, by_type

    resources = run_program("Pulumi.prod.yaml")
    rule = by_type(resources, "aws:lb/listenerRule:ListenerRule")[0]
    assert rule.inputs["actions"][0]["forward"]["targetGroups"][1]["weight"] == 0
    assert "actions[0].forward.targetGroups[1].weight" in rule.ignore_changes

Things worth knowing (the Python SDK's mock runtime):

- inputs arrive with the provider's (camelCase) property names, e.g.
  ``targetGroups``, ``reservedConcurrentExecutions``;
- resource options (``ignore_changes``, ``depends_on``, ``parent``) are not part
  of ``MockResourceArgs``; :class:`RecordingMonitor` reads them from the
  ``RegisterResource`` request instead;
- a test that builds components itself (instead of :func:`run_program`) must
  call :func:`install_mocks` before creating any resource, and must return the
  Output it asserts on from a ``@pulumi.runtime.test`` function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from components import packaging
from components.function_code import ArchiveRequest
from rehearsal.world.program import program_body

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_NAME = "strangler"
DEFAULT_REGION = "ap-northeast-1"
ACCOUNT_ID = "123456789012"
# The layer number the mocks' Powertools SSM parameters answer with.
MOCK_LAYER_VERSION = 30


@dataclass
class RecordedResource:
    """One resource registration as the engine would have seen it.

    ``inputs`` use the provider's camelCase property names. ``parent`` is the
    logical name of the parent resource (``None`` for children of the stack);
    ``depends_on`` holds the logical names of explicit and implicit
    dependencies the SDK reported; ``outputs`` is what the mocks answered;
    ``registered_outputs`` is what a component passed to ``register_outputs``.
    """

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    custom: bool
    parent: str | None = None
    parent_urn: str | None = None
    ignore_changes: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    registered_outputs: dict[str, Any] = field(default_factory=dict)
    alias_urns: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


def partition_of(region: str) -> str:
    """The AWS partition of a region: ``aws-cn`` for ``cn-*``, ``aws-us-gov`` for
    ``us-gov-*``, ``aws`` otherwise (the partitions whose regions the ARN
    formats of this project cover)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _name_from_urn(urn: str) -> str:
    """The logical name at the end of a URN (``...::type::name``)."""
    return urn.rsplit("::", 1)[-1]


def _fake_id(name: str) -> str:
    """A stable 16-hex-digit id derived from a logical name (like AWS's ids)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class RecordingMocks(Mocks):
    """Mocks that answer with plausible AWS outputs and record every resource.

    Outputs are the inputs plus, depending on the type, ``arn``, ``name``,
    ``arnSuffix`` (target groups: the ``targetgroup/<name>/<id>`` CloudWatch
    dimension value), ``invokeArn`` and ``qualifiedArn`` (functions). Every ARN
    is in the region's partition (``arn:aws-cn:`` in ``cn-north-1``), as AWS
    answers.
    """

    def __init__(self, region: str = DEFAULT_REGION, account: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account = account
        self.partition = partition_of(region)
        self.resources: list[RecordedResource] = []
        self.calls: list[MockCallArgs] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Answer a registration with the inputs plus computed attributes."""
        outputs = dict(args.inputs)
        resource_id = f"{args.name}-id"
        outputs.update(self._computed(args.typ, args.name, args.inputs))
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Answer the few provider functions a program may invoke."""
        self.calls.append(args)
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:{self.partition}:iam::{self.account}:root"
            return {"accountId": self.account, "arn": arn}, []
        if args.token == "aws:index/getPartition:getPartition":
            suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
            return {"partition": self.partition, "dnsSuffix": suffix, "id": self.partition}, []
        if args.token == "aws:ssm/getParameter:getParameter":
            return self._parameter(str(args.args["name"])), []
        if args.token == "aws:lb/getListener:getListener":
            return listener_answer(str(args.args["arn"])), []
        if args.token == "aws:lb/getLoadBalancer:getLoadBalancer":
            return load_balancer_answer(str(args.args["arn"])), []
        # The SDK iterates the check failures: an empty list, never None.
        return {}, []

    def _parameter(self, name: str) -> dict[str, Any]:
        """A public Powertools layer parameter (made-up layer number); nothing else exists."""
        target = packaging.powertools_parameter_target(name)
        if target is None:
            raise ValueError(f"the mocks hold no SSM parameter {name!r}")
        architecture, runtime, _ = target
        value = packaging.official_layer_arn(
            self.partition, self.region, architecture, runtime, MOCK_LAYER_VERSION
        )
        return {"name": name, "value": value, "insecureValue": value, "type": "String", "id": name}

    def _computed(self, typ: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        region, account, partition = self.region, self.account, self.partition
        physical = str(inputs.get("name") or name)
        if typ == "aws:lb/targetGroup:TargetGroup":
            suffix = f"targetgroup/{physical[:32]}/{_fake_id(name)}"
            arn = f"arn:{partition}:elasticloadbalancing:{region}:{account}:{suffix}"
            return {"arn": arn, "arnSuffix": suffix, "name": physical, "id": arn}
        if typ == "aws:lb/listenerRule:ListenerRule":
            listener = str(inputs.get("listenerArn", ""))
            rule = listener.replace(":listener/", ":listener-rule/", 1)
            return {"arn": f"{rule}/{_fake_id(name)}"}
        if typ == "aws:lambda/function:Function":
            arn = f"arn:{partition}:lambda:{region}:{account}:function:{physical}"
            invoke = (
                f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/"
                f"{arn}/invocations"
            )
            return {
                "arn": arn,
                "name": physical,
                "qualifiedArn": f"{arn}:1" if inputs.get("publish") else f"{arn}:$LATEST",
                "invokeArn": invoke,
                "version": "1" if inputs.get("publish") else "$LATEST",
            }
        if typ == "aws:lambda/alias:Alias":
            function = str(inputs.get("functionName"))
            arn = f"arn:{partition}:lambda:{region}:{account}:function:{function}:{physical}"
            return {"arn": arn, "name": physical}
        if typ in ("aws:cloudwatch/metricAlarm:MetricAlarm",):
            alarm = str(inputs.get("name") or name)
            return {
                "arn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{alarm}",
                "name": alarm,
            }
        if typ == "aws:cloudwatch/compositeAlarm:CompositeAlarm":
            alarm = str(inputs.get("alarmName") or name)
            return {"arn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{alarm}"}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return {
                "arn": f"arn:{partition}:logs:{region}:{account}:log-group:{physical}",
                "name": physical,
            }
        if typ == "aws:sns/topic:Topic":
            return {"arn": f"arn:{partition}:sns:{region}:{account}:{physical}", "name": physical}
        if typ == "aws:iam/role:Role":
            return {"arn": f"arn:{partition}:iam::{account}:role/{physical}", "name": physical}
        if typ == "aws:iam/policy:Policy":
            return {"arn": f"arn:{partition}:iam::{account}:policy/{physical}", "name": physical}
        if typ == "aws:sqs/queue:Queue":
            return {
                "arn": f"arn:{partition}:sqs:{region}:{account}:{physical}",
                "url": f"https://sqs.{region}.amazonaws.com/{account}/{physical}",
                "name": physical,
            }
        if typ == "aws:dynamodb/table:Table":
            arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{physical}"
            return {"arn": arn, "name": physical, "streamArn": f"{arn}/stream/2024-01-01"}
        if typ == "aws:sfn/stateMachine:StateMachine":
            return {"arn": f"arn:{partition}:states:{region}:{account}:stateMachine:{physical}"}
        if typ == "aws:ssm/parameter:Parameter":
            return {
                "arn": f"arn:{partition}:ssm:{region}:{account}:parameter{physical}",
                "name": physical,
            }
        if typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            return {"arn": f"arn:{partition}:{service}:{region}:{account}:{physical}"}
        return {}


class RecordingMonitor(MockMonitor):
    """A MockMonitor that also records the resource options of every registration.

    ``MockResourceArgs`` carries no options; the ``RegisterResource`` request
    does: ``ignoreChanges`` (already translated to the provider's property
    paths), ``deleteBeforeReplace``, ``parent``, ``dependencies``.
    """

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording_mocks = mocks
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request: Any) -> Any:
        """Record the request, then let the standard mock monitor answer it."""
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        parent_urn = request.parent or None
        parent_name = _name_from_urn(parent_urn) if parent_urn else None
        if parent_urn and parent_urn.split("::")[-2].endswith("pulumi:pulumi:Stack"):
            parent_name = None
        registration = self.resources[response.urn]
        self.recorded.append(
            RecordedResource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                inputs=rpc.deserialize_properties(request.object),
                custom=bool(request.custom),
                parent=parent_name,
                parent_urn=parent_urn,
                ignore_changes=list(request.ignoreChanges),
                depends_on=[_name_from_urn(u) for u in request.dependencies],
                outputs=dict(registration.state or {}),
                id=registration.id,
                alias_urns=[self._alias_urn(request, alias) for alias in request.aliases],
                delete_before_replace=bool(request.deleteBeforeReplace),
            )
        )
        return response

    def _alias_urn(self, request: Any, alias: Any) -> str:
        """The URN an alias of a ``RegisterResource`` request stands for.

        Built like the mock monitor builds URNs, so it compares with the
        ``urn`` of resources recorded by an earlier run. Unset fields of an
        alias spec mean "as the resource is now".
        """
        if alias.urn:
            return str(alias.urn)
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        """Record what a component passed to ``register_outputs``."""
        outputs = rpc.deserialize_properties(request.outputs)
        for resource in self.recorded:
            if resource.urn == request.urn:
                resource.registered_outputs = dict(outputs)
        return super().RegisterResourceOutputs(request)


def install_mocks(
    stack: str = "test",
    config: Mapping[str, Any] | None = None,
    region: str | None = None,
) -> RecordingMonitor:
    """Point the Pulumi runtime at fresh recording mocks and set the stack config.

    ``config`` maps full keys (``"strangler:routes"``, ``"aws:region"``) to
    values; structured values are passed to Pulumi as JSON strings, as the
    engine does. Returns the monitor whose ``recorded`` list fills up as
    resources are registered.
    """
    config = dict(config or {})
    region = region or str(config.get("aws:region") or DEFAULT_REGION)
    config.setdefault("aws:region", region)
    mocks = RecordingMocks(region=region)
    monitor = RecordingMonitor(mocks)
    # A fresh root stack per run: set_mocks only creates one when none exists,
    # and a stale one would carry the previous run's exports.
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT_NAME, stack=stack, preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config(
        {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in config.items()
        }
    )
    return monitor


def listener_answer(listener_arn: str) -> dict[str, Any]:
    """``aws.lb.get_listener`` of a listener ARN: an HTTP listener on port 80."""
    balancer = listener_arn.replace(":listener/", ":loadbalancer/", 1).rsplit("/", 1)[0]
    return {"arn": listener_arn, "loadBalancerArn": balancer, "port": 80, "protocol": "HTTP"}


def load_balancer_answer(balancer_arn: str) -> dict[str, Any]:
    """``aws.lb.get_load_balancer``: the DNS name ELB would give it."""
    _, _, _, region, _, resource = balancer_arn.split(":", 5)
    _, _, name, lb_id = resource.split("/")
    return {"arn": balancer_arn, "dnsName": f"{name}-{lb_id[:10]}.{region}.elb.amazonaws.com"}


def load_stack_config(stack_yaml_path: str | Path) -> dict[str, Any]:
    """The ``config`` map of a ``Pulumi.<stack>.yaml`` file (values not JSON-encoded)."""
    data = yaml.safe_load(Path(stack_yaml_path).read_text()) or {}
    return dict(data.get("config") or {})


def stack_name_of(stack_yaml_path: str | Path) -> str:
    """``prod`` for ``Pulumi.prod.yaml``; ``test`` for any other file name."""
    parts = Path(stack_yaml_path).name.split(".")
    if len(parts) == 3 and parts[0] == "Pulumi" and parts[2] in ("yaml", "yml"):
        return parts[1]
    return "test"


@dataclass
class ProgramRun:
    """What one mocked run of the program declared and exported."""

    resources: list[RecordedResource]
    outputs: dict[str, Any]
    stack: str
    # The provider functions (invokes) the program called, in order.
    calls: list[MockCallArgs] = field(default_factory=list)


def run_program_full(
    stack_yaml_path: str | Path,
    *,
    main_path: str | Path | None = None,
    stack: str | None = None,
    config_overrides: Mapping[str, Any] | None = None,
) -> ProgramRun:
    """Run ``__main__.py`` against recording mocks with a stack file's config.

    Relative paths are resolved against the project root. ``config_overrides``
    replaces single keys (full names such as ``"strangler:routes"``). Any
    exception the program raises propagates, with the resources declared
    before it attached as ``recorded_resources``.
    """
    path = Path(stack_yaml_path)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    config = load_stack_config(path)
    config.update(config_overrides or {})
    stack = stack or stack_name_of(path)
    program = Path(main_path) if main_path else PROJECT_ROOT / "__main__.py"

    monitor = install_mocks(stack=stack, config=config)
    exported: dict[str, Any] = {}
    try:
        pulumi.runtime.test(program_body(program, exported))()
    except BaseException as err:
        # What was declared before the failure (for "nothing was declared" checks).
        err.recorded_resources = list(monitor.recorded)  # type: ignore[attr-defined]
        raise
    return ProgramRun(
        resources=list(monitor.recorded),
        outputs=exported,
        stack=stack,
        calls=list(monitor.recording_mocks.calls),
    )


def run_program(
    stack_yaml_path: str | Path,
    *,
    main_path: str | Path | None = None,
    stack: str | None = None,
    config_overrides: Mapping[str, Any] | None = None,
) -> list[RecordedResource]:
    """Run ``__main__.py`` for a stack file and return every declared resource.

    See :func:`run_program_full` for the arguments and for the exports.
    """
    return run_program_full(
        stack_yaml_path, main_path=main_path, stack=stack, config_overrides=config_overrides
    ).resources


def by_type(resources: Iterable[RecordedResource], typ: str) -> list[RecordedResource]:
    """All recorded resources of one type token, in registration order."""
    return [r for r in resources if r.type == typ]


def by_name(resources: Iterable[RecordedResource], name: str) -> RecordedResource:
    """The recorded resource with this logical name (KeyError naming the known ones)."""
    matches = [r for r in resources if r.name == name]
    if len(matches) != 1:
        known = sorted(r.name for r in resources)
        raise KeyError(f"{len(matches)} resources named {name!r}; known: {known}")
    return matches[0]


def children_of(resources: Iterable[RecordedResource], parent: str) -> list[RecordedResource]:
    """The resources whose parent is the resource with logical name ``parent``."""
    return [r for r in resources if r.parent == parent]


def without_subtree(resources: Iterable[RecordedResource], root: str) -> list[RecordedResource]:
    """The resources outside the component ``root`` (the component and all its descendants)."""
    resources = list(resources)
    excluded = {root}
    grew = True
    while grew:
        grew = False
        for resource in resources:
            if resource.parent in excluded and resource.name not in excluded:
                excluded.add(resource.name)
                grew = True
    return [r for r in resources if r.name not in excluded]


class SourceArchives:
    """An archive builder without pip, for programs run under mocks (see
    :func:`components.function_code.archive_builder`).

    It zips the function's own files only (reproducibly, as the real builder
    does) into ``cache_dir``, named after the folder, runtime and architecture
    (and ``-without-powertools``), and records every request, so a test can
    check what the program asked to build.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.requests: list[ArchiveRequest] = []

    def __call__(self, request: ArchiveRequest) -> Path:
        self.requests.append(request)
        exclude = [request.requirements] if request.requirements is not None else []
        files = packaging.source_files(request.source_dir, exclude=exclude)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        powertools = "" if request.bundle_powertools else "-without-powertools"
        target = f"{request.runtime}-{request.architecture}{powertools}"
        destination = self.cache_dir / f"{request.name}-{target}.zip"
        packaging.write_reproducible_zip(
            ((name, path.read_bytes()) for name, path in files), destination
        )
        return destination
