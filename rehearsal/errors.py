"""Errors of the local twin.

One small hierarchy so the CLI can tell a harness problem (exit 1) from a bad
stack config (exit 2), and every message names what it was about: the Pulumi
type token, the logical name, the AWS API call.
"""

from __future__ import annotations


class RehearsalError(Exception):
    """Base class: something the twin could not do."""


class BridgeError(RehearsalError):
    """A declared resource could not be created in the emulator.

    ``token`` is the Pulumi type token, ``name`` the logical name and
    ``api_call`` the AWS API call that failed, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        token: str | None = None,
        name: str | None = None,
        api_call: str | None = None,
    ) -> None:
        parts = []
        if token:
            parts.append(token)
        if name:
            parts.append(repr(name))
        if api_call:
            parts.append(f"({api_call})")
        prefix = " ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.token = token
        self.name = name
        self.api_call = api_call


class UnknownResourceType(BridgeError):
    """The program declared a resource type the bridge has no translation for.

    Raised instead of skipping: a resource the twin silently left out would
    make every later check lie.
    """

    def __init__(self, token: str, name: str, known: list[str]) -> None:
        super().__init__(
            f"no moto translation for resource type {token!r}; "
            f"add one to rehearsal/world/bridge/ (known types: {', '.join(sorted(known))})",
            token=token,
            name=name,
        )


class UnhandledInput(BridgeError):
    """A resource carries an input the bridge neither translates nor knowingly ignores."""

    def __init__(self, token: str, name: str, keys: list[str]) -> None:
        super().__init__(
            f"input(s) {', '.join(sorted(keys))} not translated by the bridge; "
            "translate them or list them as ignored with the reason",
            token=token,
            name=name,
        )


class UpdateNotTranslated(BridgeError):
    """A second apply changed inputs of an existing resource that the bridge cannot update.

    ``keys`` are the changed inputs the resource's translation does not list
    as ``updatable``: in AWS they would replace the resource, or the bridge
    lacks the call that changes them. Raised instead of leaving the emulator
    as it was, which would make the twin show the old resource as the new.
    """

    def __init__(self, token: str, name: str, keys: list[str]) -> None:
        super().__init__(
            f"changed input(s) {', '.join(sorted(keys))} cannot be applied in place by the "
            "bridge (not updatable in its translation); the twin neither replaces resources "
            "nor leaves a change out",
            token=token,
            name=name,
        )
        self.keys = sorted(keys)


class DeleteNotTranslated(BridgeError):
    """A second apply no longer declares resources the first created; the bridge deletes nothing."""

    def __init__(self, resources: list[tuple[str, str]]) -> None:
        listed = ", ".join(f"{name!r} ({token})" for name, token in resources)
        super().__init__(
            f"the program no longer declares {listed}; deleting resources is not translated "
            "by the bridge"
        )
        self.resources = list(resources)


class UnknownInvoke(BridgeError):
    """The program called a provider function the bridge does not answer."""

    def __init__(self, token: str, known: list[str]) -> None:
        super().__init__(
            f"no moto answer for provider function {token!r} (known: {', '.join(sorted(known))})",
            token=token,
        )


class StackConfigError(RehearsalError):
    """The stack file is missing or unreadable (not: the config is invalid).

    Invalid config values are reported by the program's own validation
    (``components.config.ConfigError``), which the CLI prints as is.
    """


class ConfigRejected(RehearsalError):
    """The program's config validation refused the stack config.

    ``messages`` holds every problem, each naming its key path, exactly as
    ``components.config.ConfigError.messages`` reported them.
    """

    def __init__(self, messages: list[str]) -> None:
        count = len(messages)
        super().__init__(
            f"invalid stack config ({count} problem{'s' if count != 1 else ''}): "
            + "; ".join(messages)
        )
        self.messages = messages


class BadOption(RehearsalError):
    """A command-line option cannot be used as given (a busy port); exit 2 like bad config."""
