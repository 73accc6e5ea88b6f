"""Package APIs whose names are imported from their submodules on first use.

``rehearsal.world``, ``rehearsal.scenario`` and ``rehearsal.report`` each
name the few things the commands use in ``__all__``, and map each name to the
submodule that defines it. Importing the package itself imports none of
them: Python imports a package before any of its submodules, and some
submodules must stay light. The Lambda worker (``python -m
rehearsal.world.lambda_worker``) may import nothing a deployed function would
not have in Lambda (no boto3, moto or Pulumi), and ``plan`` should not pay for
matplotlib. Standard library only, for the same reason.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any


def load_export(package: str, exports: Mapping[str, tuple[str, ...]], name: str) -> Any:
    """``name`` of ``package``, imported from the submodule that ``exports`` lists it under.

    ``exports`` maps a submodule's name (``twin`` for ``<package>.twin``) to
    the names the package takes from it. Meant as the body of a package's
    module-level ``__getattr__`` (PEP 562), which Python calls only for a
    name the package does not have yet.
    """
    for submodule, names in exports.items():
        if name in names:
            value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
            # Later lookups find the name on the package and no longer come here.
            setattr(sys.modules[package], name, value)
            return value
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
