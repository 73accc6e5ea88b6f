"""What a Lambda function of the stack deploys: its built archive and its Powertools layer.

A route function deploys the archive that components/packaging.py builds
from its folder and its pinned ``requirements.txt``, for the function's
runtime and architecture, cached by content hash under ``build/functions/``
of the project (a repeated deploy or rehearsal reuses it without pip).

With ``function.powertoolsLayer``, the archive leaves Powertools out (and
every pin only Powertools pulls in) and the function uses the official
Powertools layer of the version its requirements pin. The controller always
uses that layer, for the version the project pins (``POWERTOOLS_VERSION``),
unless the stack names a layer with ``powertoolsLayerArn``. The layer's ARN
is read from the public SSM parameter Powertools publishes per architecture,
runtime and release, ``/aws/service/powertools/python/{arch}/{runtime}/{version}``
(format as documented, quoted in
https://github.com/aws-powertools/powertools-lambda-python/issues/7689, and
written by the release workflow .github/workflows/update_ssm.yml of
https://github.com/aws-powertools/powertools-lambda-python/pull/5754), never
chosen by a layer number.

The build is a seam: :func:`archive_builder` swaps the builder, so that
tests that run the program under Pulumi mocks build without pip.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import packaging
from components.config import FunctionConfig

# Where built archives are kept, one per content hash (``/build/`` is git-ignored).
BUILD_DIR = Path(__file__).resolve().parents[1] / "build" / "functions"


@dataclass(frozen=True)
class ArchiveRequest:
    """What one function's archive is built from."""

    name: str
    source_dir: Path
    requirements: Path | None
    runtime: str
    architecture: str
    bundle_powertools: bool


# Builds (or reuses from its cache) the archive of a request; returns the zip's path.
ArchiveBuilder = Callable[[ArchiveRequest], Path]


def build_with_pip(request: ArchiveRequest) -> Path:
    """The deploy's builder: pip, for the function's runtime and architecture, into BUILD_DIR.

    The archive carries bytecode when an interpreter of the runtime's Python
    version is on PATH (see :func:`components.packaging.find_interpreter`).
    """
    return packaging.build_function_archive(
        request.source_dir,
        request.requirements,
        runtime=request.runtime,
        architecture=request.architecture,
        cache_dir=BUILD_DIR,
        name=request.name,
        bundle_powertools=request.bundle_powertools,
        bytecode_python=bytecode_interpreter(request.runtime),
    )


@functools.cache
def bytecode_interpreter(runtime: str) -> Path | None:
    """:func:`components.packaging.find_interpreter`, asked once per runtime and process.

    Finding it runs the candidate interpreter (a third of a second on a busy
    machine); a rehearsal applies the program again mid-canary, within a bake.
    """
    return packaging.find_interpreter(runtime)


_builder: list[ArchiveBuilder] = [build_with_pip]


@contextmanager
def archive_builder(builder: ArchiveBuilder) -> Iterator[None]:
    """Build the archives with ``builder`` inside the block (tests: a builder without pip)."""
    _builder.append(builder)
    try:
        yield
    finally:
        _builder.remove(builder)


def archive_request(fn: FunctionConfig) -> ArchiveRequest:
    """The request for a route function's archive.

    Named after the source folder, not the function: routes (and stacks) that
    deploy the same folder for the same target share one cached archive.
    """
    return ArchiveRequest(
        name=fn.source_path.name,
        source_dir=fn.source_path,
        requirements=fn.requirements_path,
        runtime=fn.runtime,
        architecture=fn.architecture,
        bundle_powertools=not fn.powertools_layer,
    )


def function_archive(function_name: str, fn: FunctionConfig) -> pulumi.FileArchive:
    """The route function's deployment archive, built (or reused) now.

    Raises:
        packaging.PackagingError: the archive cannot be built; the message
            names the function and carries pip's output.
    """
    try:
        path = _builder[-1](archive_request(fn))
    except packaging.PackagingError as error:
        raise packaging.PackagingError(f"{function_name}: {error}") from error
    return pulumi.FileArchive(str(path))


def powertools_layer_arn(
    architecture: str, runtime: str, version: str, *, parent: pulumi.Resource
) -> pulumi.Output[str]:
    """The Powertools layer version ARN for a release, read from its public SSM parameter.

    A release without a parameter (for this region, architecture or runtime)
    fails the preview with the provider's "parameter not found" error.
    """
    parameter = packaging.powertools_layer_parameter(architecture, runtime, version)
    result = aws.ssm.get_parameter_output(
        name=parameter, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    return result.insecure_value


def route_function_layers(
    fn: FunctionConfig, *, parent: pulumi.Resource
) -> list[pulumi.Input[str]]:
    """The layers of a route function: none, or the Powertools layer with ``powertoolsLayer``."""
    if not fn.powertools_layer:
        return []
    if fn.powertools_layer_arn:
        return [fn.powertools_layer_arn]
    return [powertools_layer_arn(fn.architecture, fn.runtime, fn.powertools_version, parent=parent)]
