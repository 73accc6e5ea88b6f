"""Shared pieces of the moto bridge: what a translation is and what it returns.

A *translation* turns one Pulumi resource registration (type token, logical
name, inputs in the provider's camelCase, as the mocks receive them) into the
AWS API calls that create the resource in moto, and answers with the physical
id and the output state in pulumi-aws's camelCase names (``arn``, ``name``,
``arnSuffix``, ``invokeArn`` ...), filled with what moto really assigned.

When the program is applied a second time to the same emulator, a resource
whose inputs changed is *updated* in place through the entry's ``update``
function, for the inputs listed in ``updatable`` (what AWS can change
without replacing the resource). Any other changed input is refused by the
bridge, naming the resource and the input, since AWS would replace the
resource and the twin does not.

The same entry also says what ``plan`` needs of the type, so that a new
resource type is one :class:`Translation` and nothing else: how to make up
its outputs without an emulator (``fabricate``) and which of its inputs a
reviewer reads in the plan (``key_inputs``, ``derived_key_inputs``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from rehearsal.errors import BridgeError

if TYPE_CHECKING:
    # Only a type here: importing the emulator (moto) is left to whoever makes one.
    from rehearsal.world.emulator import Emulator

# Inputs every translation accepts. ``region`` (pulumi-aws 7 per-resource
# region) is checked against the emulator's region; ``tags`` change no
# behaviour the twin observes, so they are not copied into moto, except a
# listener rule's, which ``CreateRule`` carries (``preflight`` reads them to
# tell a stack's rules); a later change of tags is not copied.
COMMON_HANDLED = frozenset({"region"})
COMMON_IGNORED: Mapping[str, str] = {
    "tags": "tags change no behaviour the twin observes (they matter for cost allocation "
    "and for tag-based IAM conditions, neither of which the program uses)",
}


@dataclass(frozen=True)
class Created:
    """What a translation answers: the physical id and the output state.

    ``outputs`` holds the inputs plus the attributes the provider computes,
    under pulumi-aws's camelCase output names.
    """

    id: str
    outputs: dict[str, Any]


@dataclass(frozen=True)
class Existing:
    """A resource as the previous apply left it: its id, its inputs, its output state.

    ``inputs`` are the inputs the previous apply recorded (after the engine's
    ``ignore_changes``), ``outputs`` the state the bridge answered then.
    """

    id: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]


@dataclass
class BridgeContext:
    """What a translation needs: the emulator and the project directory.

    ``project_dir`` resolves relative archive paths, as Pulumi resolves them
    against the program's working directory (the project root).
    """

    emulator: Emulator
    project_dir: Path

    @property
    def region(self) -> str:
        """The emulator's region."""
        return self.emulator.region

    @property
    def account_id(self) -> str:
        """The emulator's account id."""
        return self.emulator.account_id

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the emulator."""
        return self.emulator.client(service)


@dataclass(frozen=True)
class PlanContext:
    """What ``plan``'s made-up outputs need: a region and an account, no emulator."""

    region: str
    account_id: str

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        """An ARN in this account; ``regional=False`` for global resources (no region)."""
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account_id}:{resource}"


TranslateFn = Callable[[BridgeContext, str, Mapping[str, Any]], Created]
UpdateFn = Callable[[BridgeContext, "Change"], Created]
"""``update(ctx, change)``: the new state of ``change.existing``.

Called only with changed keys the translation lists in ``updatable``."""
FabricateFn = Callable[[PlanContext, str, Mapping[str, Any]], Created]
DeriveFn = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Translation:
    """How one Pulumi resource type becomes AWS API calls on moto, and what plan shows of it.

    ``handled`` lists the input keys the translation passes to AWS;
    ``ignored`` maps each input key it deliberately does not pass to the
    reason why that is acceptable in the emulator (and what it would do in
    AWS). Any other input key makes the bridge fail, so a new input is never
    dropped silently.

    For ``plan`` (no emulator): ``fabricate`` answers with made-up outputs in
    the shapes ``create`` returns (the same physical names), for the
    resources that consume them; ``key_inputs`` are the dotted input paths a
    reviewer needs to recognise the resource, and ``derived_key_inputs``
    computes further values from the inputs (a rule's weights, a policy's
    actions). Left ``None``, plan falls back to a made-up ARN and to showing
    every input, as it does for a type the bridge does not cover.

    For a second apply: ``update`` changes an existing resource in place;
    ``updatable`` lists the (handled) input keys it can change. A type
    without ``update`` can only be created: a change of any handled input
    fails the bridge, naming the resource and the input.
    """

    token: str
    create: TranslateFn
    handled: frozenset[str]
    ignored: Mapping[str, str] = field(default_factory=dict)
    fabricate: FabricateFn | None = None
    key_inputs: tuple[str, ...] | None = None
    derived_key_inputs: Mapping[str, DeriveFn] = field(default_factory=dict)
    update: UpdateFn | None = None
    updatable: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # A key input the translation does not accept could never be set by
        # the program: fail when the table is built, not in a plan that
        # silently shows nothing for it.
        roots = {path.split(".")[0] for path in self.key_inputs or ()}
        unknown = sorted(roots - self.accepted_inputs())
        if unknown:
            raise ValueError(f"{self.token}: key inputs {unknown} are not inputs it accepts")
        clashing = sorted(set(self.derived_key_inputs) & set(self.key_inputs or ()))
        if clashing:
            raise ValueError(f"{self.token}: derived key inputs {clashing} hide input paths")
        # An updatable input the translation does not pass to AWS would be
        # "updated" by doing nothing; and a list without a function (or the
        # reverse) is a half-written entry.
        not_handled = sorted(self.updatable - self.handled)
        if not_handled:
            raise ValueError(f"{self.token}: updatable inputs {not_handled} are not handled")
        if (self.update is None) != (not self.updatable):
            raise ValueError(f"{self.token}: update and updatable go together")

    def accepted_inputs(self) -> frozenset[str]:
        """Every input key this translation knows about."""
        return self.handled | COMMON_HANDLED | frozenset(self.ignored) | frozenset(COMMON_IGNORED)


def stable_hex(name: str, length: int = 16) -> str:
    """Hex digits derived from ``name``: made-up ids that two runs agree on."""
    return hashlib.sha256(name.encode()).hexdigest()[:length]


def auto_name(logical_name: str, max_length: int, separator: str = "-") -> str:
    """A physical name the way Pulumi auto-names: the logical name plus 7 hex digits.

    Pulumi appends a random suffix; the twin derives it from the logical name
    so that two runs of the same stack produce the same names. The logical
    name is shortened when the result would exceed the service's limit.
    """
    suffix = stable_hex(logical_name, 7)
    prefix = logical_name[: max_length - len(suffix) - len(separator)]
    return f"{prefix}{separator}{suffix}"


def physical_name(inputs: Mapping[str, Any], logical_name: str, max_length: int) -> str:
    """``name`` if given, else ``namePrefix`` plus a suffix, else an auto-name."""
    name = inputs.get("name")
    if name:
        return str(name)
    prefix = inputs.get("namePrefix")
    if prefix:
        return f"{prefix}{stable_hex(logical_name, 7)}"[:max_length]
    return auto_name(logical_name, max_length)


def as_json_text(value: Any) -> str:
    """A policy or document input as JSON text (pulumi-aws accepts str or dict)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def required(token: str, name: str, inputs: Mapping[str, Any], key: str) -> Any:
    """``inputs[key]``, or a BridgeError naming the resource and the missing key."""
    value = inputs.get(key)
    if value is None or value == "":
        raise BridgeError(f"required input {key!r} is missing", token=token, name=name)
    return value


def call(token: str, name: str, api_call: str, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Make one AWS API call, turning botocore errors into a BridgeError.

    ``kwargs`` whose value is ``None`` are left out, so a translation can
    pass optional inputs straight through.
    """
    arguments = {key: value for key, value in kwargs.items() if value is not None}
    try:
        return fn(**arguments)
    except (ClientError, BotoCoreError) as error:
        raise BridgeError(str(error), token=token, name=name, api_call=api_call) from error


@dataclass(frozen=True)
class Registration:
    """One resource registration being translated: its type, logical name and inputs.

    Every error about a resource names its type and logical name; binding
    them here lets each step of a translation say only what differs (the
    input key, the API call).
    """

    token: str
    name: str
    inputs: Mapping[str, Any]

    def physical_name(self, max_length: int) -> str:
        """See :func:`physical_name`."""
        return physical_name(self.inputs, self.name, max_length)

    def required(self, key: str) -> Any:
        """See :func:`required`."""
        return required(self.token, self.name, self.inputs, key)

    def call(self, api_call: str, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """See :func:`call`."""
        return call(self.token, self.name, api_call, fn, **kwargs)

    def created(self, resource_id: str, **computed: Any) -> Created:
        """See :func:`created`."""
        return created(resource_id, self.inputs, **computed)

    def error(self, message: str, api_call: str | None = None) -> BridgeError:
        """A BridgeError about this resource (and ``api_call``, when one is refused)."""
        return BridgeError(message, token=self.token, name=self.name, api_call=api_call)

    def valid_json(self, key: str, value: Any, api_call: str) -> str:
        """``value`` (the input ``key``) as JSON text; an error, as AWS gives, if it is not JSON."""
        text = as_json_text(value)
        try:
            json.loads(text)
        except ValueError as error:
            raise self.error(f"{key} is not valid JSON: {error}", api_call) from error
        return text


@dataclass(frozen=True)
class Change:
    """An update to apply: an existing resource, its new inputs and which top-level keys changed.

    ``inputs`` are the new inputs (after the engine's ``ignore_changes``),
    ``changed`` the keys whose values differ from the previous apply's.
    """

    token: str
    name: str
    existing: Existing
    inputs: Mapping[str, Any]
    changed: frozenset[str]

    def registration(self) -> Registration:
        """The new inputs as a :class:`Registration`, for the translation's steps."""
        return Registration(self.token, self.name, self.inputs)

    def updated(self, **computed: Any) -> Created:
        """See :func:`updated`: the existing state with the new inputs over it."""
        return updated(self.existing, self.inputs, **computed)


def with_outputs(inputs: Mapping[str, Any], **computed: Any) -> dict[str, Any]:
    """The output state: the inputs, then the computed attributes over them."""
    outputs = dict(inputs)
    outputs.update({key: value for key, value in computed.items() if value is not None})
    return outputs


def created(resource_id: str, inputs: Mapping[str, Any], **computed: Any) -> Created:
    """A translation's answer: the id, and the inputs with the computed attributes over them.

    ``computed`` values that are ``None`` are left out (see :func:`with_outputs`).
    """
    return Created(id=resource_id, outputs=with_outputs(inputs, **computed))


def updated(existing: Existing, inputs: Mapping[str, Any], **computed: Any) -> Created:
    """An update's answer: the same id, the previous state with the new inputs over it.

    Attributes the provider computed before stay unless ``computed`` gives
    new values; an input that is no longer given leaves the state, as it
    leaves the resource's configuration.
    """
    outputs = {
        key: value
        for key, value in existing.outputs.items()
        if key not in existing.inputs or key in inputs
    }
    outputs.update(with_outputs(inputs, **computed))
    return Created(id=existing.id, outputs=outputs)


def fabricate_arn(service: str) -> FabricateFn:
    """Plan's outputs for a type whose outputs nothing reads: a made-up ARN, also the id.

    ``service`` is the ARN's service part; plan answers the same (with the
    service of the type token) for a type the bridge does not cover.
    """

    def fabricate(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
        arn = ctx.arn(service, name)
        return created(arn, inputs, arn=arn)

    return fabricate


def fabricate_named(
    service: str,
    resource: str,
    max_length: int,
    *,
    id_is_arn: bool = False,
    regional: bool = True,
) -> FabricateFn:
    """Plan's outputs for a named resource: the ``name`` ``create`` would give it, and ``arn``.

    ``resource`` is the ARN's resource part, with ``{name}`` standing for the
    physical name; ``max_length`` is the limit ``create`` names within. The
    id is the name, or the ARN for types whose bridge id is the ARN
    (``id_is_arn``); ``regional=False`` for global resources (IAM).
    """

    def fabricate(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
        physical = physical_name(inputs, name, max_length)
        arn = ctx.arn(service, resource.format(name=physical), regional=regional)
        return created(arn if id_is_arn else physical, inputs, name=physical, arn=arn)

    return fabricate
