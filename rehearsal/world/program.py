"""Run the real Pulumi program (``__main__.py``, unchanged) in-process under mocks.

``pulumi.runtime.set_mocks`` replaces the engine: every resource registration
reaches :class:`TwinMonitor`, which records it and asks an *answerer* for the
physical id and the output state. The answerer is the moto bridge for
``apply`` and fabricated values for ``plan``.

Creation order: the Python SDK sends a ``RegisterResource`` request only after
all of the resource's dependencies are complete: it awaits the URN of every
``depends_on`` resource (a component stands for all of its children) and the
value of every input Output, and a URN or output resolves only when that
resource's own ``RegisterResource`` call has returned (pulumi/runtime/
resource.py ``prepare_resource``; rpc.py ``_expand_dependencies``). The
monitor creates the resource inside that call, so a resource is created in the
emulator strictly after everything it depends on, as the Pulumi engine would
order it. Independent registrations arrive from the SDK's thread pool; the
monitor serialises them (moto's backends are not meant for concurrent
writers), which keeps a valid topological order. After the run, the order is
checked against the recorded dependencies (:func:`check_creation_order`).

A second apply to the same emulator (``previous`` records of the first):
each custom resource is matched by URN to what the previous apply recorded,
the resource's ``ignore_changes`` (from the ``RegisterResource`` request)
is applied as the engine applies it, and the remaining difference decides
(rehearsal/world/changes.py): no difference, the resource is not touched and
keeps its recorded state; a difference, the answerer updates it in place;
no previous record, it is created. A resource the previous apply created and
this one no longer declares fails the run: the bridge deletes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import runpy
import sys
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from rehearsal.errors import BridgeError, ConfigRejected, DeleteNotTranslated, RehearsalError
from rehearsal.world.bridge.base import Change, Created, Existing
from rehearsal.world.changes import (
    CREATE,
    SAME,
    UPDATE,
    ResourceChange,
    apply_ignore_changes,
    changed_inputs,
    fingerprint,
)
from rehearsal.world.records import ResourceRecord

# Provider resources (explicit providers) are engine plumbing, not AWS resources.
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
STACK_TYPE = "pulumi:pulumi:Stack"

# The Pulumi runtime's settings are process-wide: one program run at a time.
_RUN_LOCK = threading.Lock()


class Answerer(Protocol):
    """Creates (or pretends to create) resources and answers provider functions."""

    def create(self, token: str, name: str, inputs: Mapping[str, Any]) -> Created:
        """The physical id and output state of a new resource."""
        ...

    def update(self, change: Change) -> Created:
        """The new state of ``change.existing``, whose ``change.changed`` keys differ."""
        ...

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The result of a provider function such as ``aws:index/getRegion:getRegion``."""
        ...


def reveal_secrets(value: Any) -> Any:
    """``value`` with Pulumi's secret wrappers replaced by the values they hold.

    pulumi-aws marks some inputs secret itself (``aws.ssm.Parameter`` wraps
    ``value`` in ``Output.secret``); the mock monitor hands them over as
    ``{<sig key>: <secret sig>, "value": ...}``. AWS receives the plain value,
    and so must moto.
    """
    if isinstance(value, Mapping):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return reveal_secrets(value.get("value"))
        return {key: reveal_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal_secrets(item) for item in value]
    return value


@dataclass(frozen=True)
class PendingRegistration:
    """What the monitor knows of the registration being answered, beyond ``MockResourceArgs``."""

    urn: str
    ignore_changes: tuple[str, ...]


@dataclass(frozen=True)
class Answered:
    """How a custom resource was answered: inputs and fingerprint to record, what was done."""

    inputs: dict[str, Any]
    fingerprint: dict[str, Any] | None
    change: ResourceChange


class TwinMocks(Mocks):
    """Pulumi mocks that hand custom resources and invokes to an answerer.

    Components (``custom`` false, e.g. ``strangler:route:StranglerRoute``)
    and provider resources are recorded only: they exist in Pulumi's model,
    not in AWS. ``previous`` holds the records of an earlier apply to the
    same emulator (see the module docstring); ``base_dir`` resolves the
    archives compared between the two. ``fingerprints`` asks for the inputs'
    fingerprints to be recorded (an apply to the emulator, which a later
    apply may diff against; not ``plan``).

    :class:`TwinMonitor` sets ``pending`` before each registration and reads
    ``answered`` after it (both under its lock).
    """

    def __init__(
        self,
        answerer: Answerer,
        previous: Sequence[ResourceRecord] = (),
        base_dir: Path | None = None,
        fingerprints: bool = True,
    ) -> None:
        self.answerer = answerer
        self.previous = {record.urn: record for record in previous if record.custom}
        self.base_dir = base_dir or Path.cwd()
        self.fingerprints = fingerprints
        self.pending: PendingRegistration | None = None
        self.answered: Answered | None = None

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        """Create or update a custom resource through the answerer; echo anything else."""
        if not args.custom or args.typ.startswith(PROVIDER_TYPE_PREFIX):
            return "", dict(args.inputs)
        inputs = reveal_secrets(args.inputs)
        pending = self.pending
        existing = self.previous.get(pending.urn) if pending is not None else None
        if pending is None or existing is None:
            created = self.answerer.create(args.typ, args.name, inputs)
            self.answered = Answered(
                dict(inputs),
                fingerprint(inputs, self.base_dir) if self.fingerprints else None,
                ResourceChange(
                    name=args.name,
                    type=args.typ,
                    urn=pending.urn if pending else "",
                    operation=CREATE,
                    properties=tuple(sorted(inputs)),
                    outputs=created.outputs,
                ),
            )
            return created.id, created.outputs
        ignore = pending.ignore_changes
        effective = apply_ignore_changes(inputs, existing.inputs, ignore)
        old = existing.fingerprint or fingerprint(existing.inputs, self.base_dir)
        new = fingerprint(inputs, self.base_dir)
        # Ignored paths take the old fingerprint's values, so an ignored archive
        # compares as it was when it was applied.
        kept = apply_ignore_changes(new, old, ignore)
        declared = changed_inputs(old, new)
        changed = changed_inputs(old, kept)
        ignored = tuple(key for key in declared if key not in changed)
        if changed:
            updated = self.answerer.update(
                Change(
                    token=args.typ,
                    name=args.name,
                    existing=Existing(
                        id=existing.id or "", inputs=existing.inputs, outputs=existing.outputs
                    ),
                    inputs=effective,
                    changed=frozenset(changed),
                )
            )
            resource_id, outputs, operation = updated.id, updated.outputs, UPDATE
        else:
            # Not touched: the resource keeps the state the previous apply recorded.
            resource_id, outputs, operation = existing.id or "", dict(existing.outputs), SAME
        self.answered = Answered(
            effective,
            kept,
            ResourceChange(
                name=args.name,
                type=args.typ,
                urn=pending.urn,
                operation=operation,
                properties=changed,
                ignored=ignored,
                outputs=outputs,
            ),
        )
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        """Answer a provider function call."""
        # A list (not None) of check failures: the mock monitor iterates it.
        return self.answerer.invoke(args.token, reveal_secrets(args.args)), []


def _name_from_urn(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _type_from_urn(urn: str) -> str:
    """The resource's own type: the last ``$`` segment of the URN's qualified type."""
    return urn.split("::")[2].split("$")[-1]


class TwinMonitor(MockMonitor):
    """A MockMonitor that records every registration with its options and outputs.

    Resource options are not part of ``MockResourceArgs``; the
    ``RegisterResource`` request carries them (``dependencies``,
    ``ignoreChanges``, ``parent``). The first error of a registration is kept
    in ``errors`` so the caller can report it as raised (the SDK would
    otherwise wrap it in its own exception).
    """

    def __init__(self, mocks: TwinMocks) -> None:
        super().__init__(mocks)
        self.twin_mocks = mocks
        self.records: list[ResourceRecord] = []
        self.changes: list[ResourceChange] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        """Create or update (under the lock, see the module docstring) and record one resource."""
        if request.type == STACK_TYPE:
            return super().RegisterResource(request)
        with self._lock:
            self.twin_mocks.pending = PendingRegistration(
                urn=self.make_urn(request.parent, request.type, request.name),
                ignore_changes=tuple(request.ignoreChanges),
            )
            self.twin_mocks.answered = None
            try:
                response = super().RegisterResource(request)
            except BaseException as error:
                self.errors.append(error)
                raise
            finally:
                self.twin_mocks.pending = None
            answered = self.twin_mocks.answered
            registration = self.resources[response.urn]
            parent_urn = request.parent or None
            parent_type = _type_from_urn(parent_urn) if parent_urn else None
            parent = _name_from_urn(parent_urn) if parent_urn else None
            if parent_type == STACK_TYPE:
                parent, parent_type = None, None
            self.records.append(
                ResourceRecord(
                    order=len(self.records),
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    custom=bool(request.custom),
                    parent=parent,
                    parent_type=parent_type,
                    # After an update: the inputs with the ignored paths kept,
                    # which the next apply diffs against (as the engine stores them).
                    inputs=(
                        answered.inputs
                        if answered is not None
                        else reveal_secrets(rpc.deserialize_properties(request.object))
                    ),
                    dependencies=sorted(request.dependencies),
                    ignore_changes=list(request.ignoreChanges),
                    fingerprint=answered.fingerprint if answered is not None else None,
                    id=registration.id or None,
                    outputs=dict(registration.state or {}),
                )
            )
            if answered is not None:
                self.changes.append(answered.change)
            return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        """Record what a component passed to ``register_outputs``."""
        outputs = rpc.deserialize_properties(request.outputs)
        with self._lock:
            for record in self.records:
                if record.urn == request.urn:
                    record.registered_outputs = dict(outputs)
        return super().RegisterResourceOutputs(request)

    def ReadResource(self, request: Any) -> Any:
        """Refuse ``Resource.get(...)``: reading existing resources is not translated."""
        error = BridgeError(
            "reading an existing resource (Resource.get) is not translated by the bridge",
            token=request.type,
            name=request.name,
        )
        self.errors.append(error)
        raise error


@dataclass
class ProgramRun:
    """What one run of the program declared (in creation order) and exported.

    ``changes`` says, per custom resource in registration order, whether the
    run created, updated or left it (all ``create`` on a first apply).
    """

    stack: str
    project: str
    config: dict[str, Any]
    records: list[ResourceRecord]
    exports: dict[str, Any] = field(default_factory=dict)
    changes: list[ResourceChange] = field(default_factory=list)


def check_creation_order(records: list[ResourceRecord]) -> list[str]:
    """Every violation of "a resource is created after all its dependencies".

    A dependency is a URN of another recorded resource; each must have a
    lower ``order``. Returns human-readable violations (empty when sound).
    """
    order_by_urn = {record.urn: record.order for record in records}
    problems = []
    for record in records:
        for dependency in record.dependencies:
            before = order_by_urn.get(dependency)
            if before is None:
                problems.append(f"{record.name}: dependency {dependency} was never registered")
            elif before >= record.order:
                problems.append(
                    f"{record.name} (#{record.order}) was created before its dependency "
                    f"{_name_from_urn(dependency)} (#{before})"
                )
    return problems


def _config_rejection(error: BaseException) -> ConfigRejected | None:
    """The program's ConfigError, found in the exception chain, as ConfigRejected."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ == "ConfigError" and hasattr(current, "messages"):
            return ConfigRejected(list(current.messages))
        current = current.__cause__ or current.__context__
    return None


class _ReportedErrorFilter(logging.Filter):
    """Drop asyncio's "exception was never retrieved" records of the twin's own errors.

    When a registration fails, the SDK resolves that resource's URN, id and
    outputs with the error, and nothing ever awaits them; asyncio logs each
    one with a traceback when it is garbage collected. ``run_program`` has
    already raised that error to its caller, so the copies are noise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, RehearsalError) and "never retrieved" in record.getMessage())


_REPORTED_ERROR_FILTER = _ReportedErrorFilter()


def _ensure_event_loop() -> asyncio.AbstractEventLoop | None:
    """Give this thread an asyncio loop: the mock runtime awaits on the current one.

    The main thread has one; a thread started by the caller (``serve`` in a
    test, a worker of ``run``) does not. Returns the loop it created (for the
    caller to close), or None when the thread already had one.
    """
    try:
        asyncio.get_running_loop()
        return None
    except RuntimeError:
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.get_event_loop()
        return None
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        return loop


def _encode_config(config: Mapping[str, Any]) -> dict[str, str]:
    # The engine hands structured values to the program as JSON text.
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()
    }


def program_body(program: Path, exports: dict[str, Any]) -> Callable[[], pulumi.Output[Any]]:
    """What ``pulumi.runtime.test`` runs: ``program`` as ``__main__``.

    The stack's outputs (``pulumi.export``) are copied into ``exports`` once
    they resolve.
    """

    def body() -> pulumi.Output[Any]:
        runpy.run_path(str(program), run_name="__main__")
        root = pulumi_settings.get_root_resource()
        outputs = dict(getattr(root, "outputs", {}) or {})
        return pulumi.Output.from_input(outputs).apply(exports.update)

    return body


def run_program(
    *,
    stack: str,
    project: str,
    project_dir: Path,
    config: Mapping[str, Any],
    answerer: Answerer,
    main_path: Path | None = None,
    previous: Sequence[ResourceRecord] = (),
    fingerprints: bool = True,
) -> ProgramRun:
    """Run ``__main__.py`` of ``project_dir`` with ``config`` against ``answerer``.

    ``previous`` are the records of an earlier apply of the same stack to the
    same emulator: their resources are updated or left, not created again
    (see the module docstring). Raises ConfigRejected with every problem when
    the program's config validation fails, the first BridgeError when a
    resource could not be created or updated, DeleteNotTranslated when the
    program no longer declares a resource of ``previous``, and RehearsalError
    when the creation order broke a dependency. ``fingerprints=False``
    records no fingerprints (a run no later apply builds on, such as ``plan``).
    """
    program = main_path or project_dir / "__main__.py"
    if not program.is_file():
        raise RehearsalError(f"no Pulumi program at {program}")
    with _RUN_LOCK:
        # Idempotent: a filter object is added to a logger only once.
        logging.getLogger("asyncio").addFilter(_REPORTED_ERROR_FILTER)
        created_loop = _ensure_event_loop()
        mocks = TwinMocks(answerer, previous, project_dir, fingerprints)
        monitor = TwinMonitor(mocks)
        # A fresh root stack per run: set_mocks only creates one when none
        # exists, and a stale one would carry the previous run's exports.
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=False, monitor=monitor
        )
        pulumi.runtime.set_all_config(_encode_config(config))
        exports: dict[str, Any] = {}
        body = program_body(program, exports)
        added_path = str(project_dir) not in sys.path
        if added_path:
            # The program imports its own packages (components, controller).
            sys.path.insert(0, str(project_dir))
        try:
            pulumi.runtime.test(body)()
        except BaseException as error:
            rejection = _config_rejection(error)
            if rejection is not None:
                raise rejection from error
            if monitor.errors:
                raise monitor.errors[0] from error
            raise
        finally:
            if added_path:
                sys.path.remove(str(project_dir))
            if created_loop is not None:
                asyncio.set_event_loop(None)
                created_loop.close()
        if monitor.errors:
            raise monitor.errors[0]
    records = list(monitor.records)
    problems = check_creation_order(records)
    if problems:
        raise RehearsalError("creation order broke dependencies: " + "; ".join(problems))
    declared = {record.urn for record in records}
    gone = [(r.name, r.type) for r in previous if r.custom and r.urn not in declared]
    if gone:
        raise DeleteNotTranslated(gone)
    return ProgramRun(
        stack=stack,
        project=project,
        config=dict(config),
        records=records,
        exports=exports,
        changes=list(monitor.changes),
    )
