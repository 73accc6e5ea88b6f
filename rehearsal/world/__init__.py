"""The world: the AWS twin the rehearsal runs in.

The emulator (moto, in-process or as a server), the brownfield the stack
expects to find, and the real Pulumi program applied on top through the moto
bridge (rehearsal/world/bridge/, one :class:`Translation` per resource type);
also ``plan``'s offline run of the program with fabricated outputs, the stack
files, and the runtime that runs the deployed Lambda functions.

The names below are what the commands (rehearsal/cli.py, run.py, plan.py,
serve.py) use; each is imported from its submodule on first use (see
rehearsal/lazy.py), so importing one light submodule, such as the Lambda
worker, does not import moto or Pulumi. The submodules stay importable on
their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rehearsal.lazy import load_export

if TYPE_CHECKING:
    from rehearsal.world.apply import effective_config
    from rehearsal.world.bridge.registry import all_translations
    from rehearsal.world.control import CONTROL_PREFIX, ControlEndpoint
    from rehearsal.world.ecs_standin import StandinServer
    from rehearsal.world.emulator import Emulator, in_process, server
    from rehearsal.world.fabricate import FabricatedAnswerer
    from rehearsal.world.lambda_runtime import LambdaRuntimeError
    from rehearsal.world.moto_patches import DEFAULT_ACCOUNT_CONCURRENCY, set_account_concurrency
    from rehearsal.world.program import run_program
    from rehearsal.world.records import ResourceRecord
    from rehearsal.world.stack_files import project_name, stack_name_of, stack_region
    from rehearsal.world.twin import Twin, TwinRedeployer, build_twin

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_ACCOUNT_CONCURRENCY",
    "ControlEndpoint",
    "Emulator",
    "FabricatedAnswerer",
    "LambdaRuntimeError",
    "ResourceRecord",
    "StandinServer",
    "Twin",
    "TwinRedeployer",
    "all_translations",
    "build_twin",
    "effective_config",
    "in_process",
    "project_name",
    "run_program",
    "server",
    "set_account_concurrency",
    "stack_name_of",
    "stack_region",
]

# Each name of __all__, under the submodule that defines it.
_EXPORTS = {
    "apply": ("effective_config",),
    "control": ("CONTROL_PREFIX", "ControlEndpoint"),
    "ecs_standin": ("StandinServer",),
    "bridge.registry": ("all_translations",),
    "emulator": ("Emulator", "in_process", "server"),
    "fabricate": ("FabricatedAnswerer",),
    "lambda_runtime": ("LambdaRuntimeError",),
    "moto_patches": ("DEFAULT_ACCOUNT_CONCURRENCY", "set_account_concurrency"),
    "program": ("run_program",),
    "records": ("ResourceRecord",),
    "stack_files": ("project_name", "stack_name_of", "stack_region"),
    "twin": ("Twin", "TwinRedeployer", "build_twin"),
}


def __getattr__(name: str) -> Any:
    """Import ``name`` from its submodule on first use (see the module docstring)."""
    return load_export(__name__, _EXPORTS, name)
