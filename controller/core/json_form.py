"""The JSON form of a dataclass whose keys follow its fields.

A record that is stored, notified or printed as JSON keeps its keys in the
order of its fields: each field under its name, or its camelCase name, or the
key its ``json_key`` metadata names. Values are taken as they are (no deep
copy, no conversion), so a caller adds what is derived or nested itself.

Pure module: no AWS calls.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["camel_case", "fields_dict", "json_key"]

_JSON_KEY = "json_key"


def json_key(key: str) -> dict[str, str]:
    """Field metadata: the field's key in :func:`fields_dict`, when not its (camelCase) name."""
    return {_JSON_KEY: key}


def camel_case(name: str) -> str:
    """``reserved_concurrency`` -> ``reservedConcurrency``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def fields_dict(record: DataclassInstance, *, camel: bool = False) -> dict[str, Any]:
    """Every field of ``record`` in declaration order, keyed by its ``json_key`` or its name.

    ``camel`` keys a field without ``json_key`` by its camelCase name.
    """
    form: dict[str, Any] = {}
    for item in fields(record):
        key = item.metadata.get(_JSON_KEY) or (camel_case(item.name) if camel else item.name)
        form[key] = getattr(record, item.name)
    return form
