"""The bridge: dispatch a resource registration to its translation.

Covers exactly the resource types the program declares. Anything else fails
loudly (:class:`UnknownResourceType`), and so does an input key that a
translation neither passes to AWS nor lists as knowingly ignored
(:class:`UnhandledInput`): a resource or input left out silently would make
every later check of the twin lie.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rehearsal.errors import (
    BridgeError,
    UnhandledInput,
    UnknownInvoke,
    UnknownResourceType,
    UpdateNotTranslated,
)
from rehearsal.world.bridge import (
    awslambda,
    cloudwatch,
    dynamodb,
    elbv2,
    events,
    iam,
    invokes,
    logs,
    scheduler,
    sfn,
    sns,
    sqs,
    ssm,
)
from rehearsal.world.bridge.base import (
    COMMON_IGNORED,
    BridgeContext,
    Change,
    Created,
    Translation,
)

if TYPE_CHECKING:
    # Only a type here: plan reads the table without starting an emulator.
    from rehearsal.world.emulator import Emulator


def all_translations() -> tuple[Translation, ...]:
    """Every translation the bridge knows, one per Pulumi type token.

    The one table of resource types: the bridge creates them, ``plan``
    fabricates their outputs and shows their key inputs from the same entries
    (see :class:`Translation`). Built on each call from the service modules'
    ``TRANSLATIONS``: an entry added there is all the bridge and plan need.
    """
    return (
        *iam.TRANSLATIONS,
        *logs.TRANSLATIONS,
        *awslambda.TRANSLATIONS,
        *elbv2.TRANSLATIONS,
        *cloudwatch.TRANSLATIONS,
        *sns.TRANSLATIONS,
        *dynamodb.TRANSLATIONS,
        *sfn.TRANSLATIONS,
        *events.TRANSLATIONS,
        *sqs.TRANSLATIONS,
        *scheduler.TRANSLATIONS,
        *ssm.TRANSLATIONS,
    )


def translation_for(token: str) -> Translation | None:
    """The translation of ``token``, or None for a type the bridge does not cover."""
    for translation in all_translations():
        if translation.token == token:
            return translation
    return None


class Bridge:
    """Creates declared resources in moto and answers provider functions from it."""

    def __init__(
        self,
        emulator: Emulator,
        project_dir: Path,
        translations: Iterable[Translation] | None = None,
    ) -> None:
        self.context = BridgeContext(emulator=emulator, project_dir=project_dir)
        self.translations: dict[str, Translation] = {}
        for translation in translations if translations is not None else all_translations():
            if translation.token in self.translations:
                raise ValueError(f"two translations for {translation.token}")
            self.translations[translation.token] = translation

    @property
    def known_types(self) -> list[str]:
        """The type tokens the bridge can create, sorted."""
        return sorted(self.translations)

    def _translation(self, token: str, name: str, inputs: Mapping[str, Any]) -> Translation:
        """The translation of ``token``, once the type, the inputs and the region are checked."""
        translation = self.translations.get(token)
        if translation is None:
            raise UnknownResourceType(token, name, self.known_types)
        unknown = set(inputs) - translation.accepted_inputs()
        if unknown:
            raise UnhandledInput(token, name, sorted(unknown))
        region = inputs.get("region")
        if region and region != self.context.region:
            raise BridgeError(
                f"region {region!r} differs from the emulator's {self.context.region!r}",
                token=token,
                name=name,
            )
        return translation

    def create(self, token: str, name: str, inputs: Mapping[str, Any]) -> Created:
        """Create one resource; raise if the type or an input is not covered."""
        return self._translation(token, name, inputs).create(self.context, name, inputs)

    def update(self, change: Change) -> Created:
        """Apply the ``changed`` inputs of an existing resource in place.

        Inputs the translation knowingly ignores (and ``tags``) are not in
        moto, so a change of them only changes the recorded state. Every
        other changed input must be ``updatable`` in the translation, or the
        update fails with :class:`UpdateNotTranslated` naming the resource
        and the inputs, before anything in moto changes.
        """
        translation = self._translation(change.token, change.name, change.inputs)
        passive = set(translation.ignored) | set(COMMON_IGNORED)
        active = frozenset(key for key in change.changed if key not in passive)
        if not active:
            return change.updated()
        refused = sorted(active - translation.updatable)
        if refused or translation.update is None:
            raise UpdateNotTranslated(change.token, change.name, refused or sorted(active))
        return translation.update(self.context, replace(change, changed=active))

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a provider function call (``aws:index/getRegion:getRegion`` ...)."""
        answer = invokes.INVOKES.get(token)
        if answer is None:
            raise UnknownInvoke(token, sorted(invokes.INVOKES))
        return answer(self.context, args)
