"""The route registry the deploy writes: record values for the SSM parameters.

``/strangler/{stack}/stack`` holds a :class:`~controller.core.contract.StackRecord`
and ``/strangler/{stack}/routes/{route}`` one
:class:`~controller.core.contract.RouteRecord` per route (names from
``controller/core/contract.py``). The controller Lambda and the operator CLI find
every ARN and name from these, given only the stack name. The records are
built in ``components/registry.py``; this module turns one into its value,
within the size SSM allows. Pure: the component calls it inside
``Output.all(...).apply``.
"""

from __future__ import annotations

from controller.core.contract import RouteRecord, StackRecord

# SSM quotas: a Standard-tier parameter value is at most 4 KB. One parameter per
# route keeps each record far below it; a record that still grows past it (a
# route with very many alarms) fails the deploy with this message instead of
# an opaque ValidationException.
MAX_STANDARD_PARAMETER_BYTES = 4096


class RegistryError(ValueError):
    """A registry record cannot be stored as a Standard SSM parameter."""


def parameter_value(record: RouteRecord | StackRecord, parameter_name: str) -> str:
    """The record's JSON, checked against the Standard-tier size limit."""
    text = record.to_json()
    size = len(text.encode())
    if size > MAX_STANDARD_PARAMETER_BYTES:
        raise RegistryError(
            f"{parameter_name}: record is {size} bytes; a Standard SSM parameter holds at "
            f"most {MAX_STANDARD_PARAMETER_BYTES}"
        )
    return text
