"""The operator CLI's boto3 clients: one factory per command, its errors as exit codes.

A bad ``--profile`` is a usage error (exit 2), found before any AWS call;
so is a missing region.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import NoRegionError, ProfileNotFound

from controller.aws.clients import AwsSettings, ClientFactory
from controller.cli.types import EXIT_USAGE, CliError, Options

__all__ = ["cli_client", "open_factory"]


def open_factory(options: Options, region: str | None) -> tuple[ClientFactory, str | None]:
    """Clients for ``region`` (None: the profile's), ``--profile`` and ``--endpoint-url``.

    Returns the factory and the session's region; a profile that does not exist exits 2.
    """
    settings = AwsSettings(
        region=region, profile=options.profile, endpoint_url=options.endpoint_url
    )
    factory = ClientFactory(settings)
    try:
        # Reading the region reads the profile too: both raise ProfileNotFound.
        return factory, factory.session().region_name
    except ProfileNotFound as error:
        raise CliError(
            f"AWS profile {options.profile!r} was not found in the shared config",
            EXIT_USAGE,
            "pass an existing --profile, or leave it out to use the default credentials",
        ) from error


def cli_client(factory: ClientFactory, service: str) -> Any:
    """The ``service`` client; no region is a usage error (the callers resolve it first)."""
    try:
        return factory.client(service)
    except NoRegionError as error:  # pragma: no cover - open_factory's callers check the region
        raise CliError("no AWS region is configured", EXIT_USAGE, "pass --region") from error
