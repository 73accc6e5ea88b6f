"""Shared pieces of the moto bridge: what a translation is and what it returns.

A *translation* turns one Pulumi resource registration (type token, logical
name, inputs in the provider's camelCase, as the mocks receive them) into the
AWS API calls that create the resource in moto, and answers with the physical
id and the output state in pulumi-aws's camelCase names (``arn``, ``name``,
``arnSuffix``, ``invokeArn`` ...), filled with what moto really assigned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rehearsal.errors import BridgeError
from rehearsal.world.emulator import Emulator

# Inputs every translation accepts. ``region`` (pulumi-aws 7 per-resource
# region) is checked against the emulator's region; ``tags`` change no
# behaviour the twin observes, so they are not copied into moto.
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


TranslateFn = Callable[[BridgeContext, str, Mapping[str, Any]], Created]


@dataclass(frozen=True)
class Translation:
    """How one Pulumi resource type becomes AWS API calls on moto.

    ``handled`` lists the input keys the translation passes to AWS;
    ``ignored`` maps each input key it deliberately does not pass to the
    reason why that is acceptable in the emulator (and what it would do in
    AWS). Any other input key makes the bridge fail, so a new input is never
    dropped silently.
    """

    token: str
    create: TranslateFn
    handled: frozenset[str]
    ignored: Mapping[str, str] = field(default_factory=dict)

    def accepted_inputs(self) -> frozenset[str]:
        """Every input key this translation knows about."""
        return self.handled | COMMON_HANDLED | frozenset(self.ignored) | frozenset(COMMON_IGNORED)


def auto_name(logical_name: str, max_length: int, separator: str = "-") -> str:
    """A physical name the way Pulumi auto-names: the logical name plus 7 hex digits.

    Pulumi appends a random suffix; the twin derives it from the logical name
    so that two runs of the same stack produce the same names. The logical
    name is shortened when the result would exceed the service's limit.
    """
    suffix = hashlib.sha256(logical_name.encode()).hexdigest()[:7]
    prefix = logical_name[: max_length - len(suffix) - len(separator)]
    return f"{prefix}{separator}{suffix}"


def physical_name(inputs: Mapping[str, Any], logical_name: str, max_length: int) -> str:
    """``name`` if given, else ``namePrefix`` plus a suffix, else an auto-name."""
    name = inputs.get("name")
    if name:
        return str(name)
    prefix = inputs.get("namePrefix")
    if prefix:
        suffix = hashlib.sha256(logical_name.encode()).hexdigest()[:7]
        return f"{prefix}{suffix}"[:max_length]
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


def with_outputs(inputs: Mapping[str, Any], **computed: Any) -> dict[str, Any]:
    """The output state: the inputs, then the computed attributes over them."""
    outputs = dict(inputs)
    outputs.update({key: value for key, value in computed.items() if value is not None})
    return outputs
