"""Plausible outputs without an emulator, for ``plan``.

``plan`` only lists what the program declares, so it needs no moto: this
answerer makes up the ids, ARNs and names that later resources consume, in
the same shapes (and, for auto-named resources, the same physical names) as
the moto bridge returns. What to make up for a type is the ``fabricate``
function of its entry in the bridge's table (rehearsal/world/bridge/), next
to the ``create`` it imitates. Unlike the bridge it accepts every type, so
that a resource type the bridge does not cover yet still shows up in the
plan (which lists it as not covered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.errors import UnknownInvoke
from rehearsal.world.bridge import invokes
from rehearsal.world.bridge.base import Change, Created, PlanContext, fabricate_arn
from rehearsal.world.bridge.registry import translation_for

ACCOUNT_ID = "123456789012"


def _service(token: str) -> str:
    """The service part of a type token (``aws:sqs/queue:Queue`` -> ``sqs``)."""
    module = token.split(":")[1] if token.count(":") >= 2 else ""
    return module.split("/")[0] or "unknown"


class FabricatedAnswerer:
    """Answers registrations with made-up but well-formed outputs."""

    def __init__(self, region: str, account_id: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        self.context = PlanContext(region=region, account_id=account_id)

    def create(self, token: str, name: str, inputs: Mapping[str, Any]) -> Created:
        """The inputs plus the computed attributes a type's consumers read."""
        translation = translation_for(token)
        if translation is not None and translation.fabricate is not None:
            return translation.fabricate(self.context, name, inputs)
        # A type without an entry: an ARN is what consumers most often read.
        return fabricate_arn(_service(token))(self.context, name, inputs)

    def update(self, change: Change) -> Created:
        """The outputs ``create`` would make up for ``inputs``, under the existing id."""
        made_up = self.create(change.token, change.name, change.inputs)
        return Created(id=change.existing.id, outputs=made_up.outputs)

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Region, partition and account from the stack config, not from AWS."""
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:root",
                "userId": self.account_id,
                "id": self.account_id,
            }
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "id": "aws", "dnsSuffix": "amazonaws.com"}
        if token == invokes.GET_PARAMETER:
            # The twin's answer (rehearsal/world/moto_patches.py), without an emulator.
            name = str(args["name"])
            value = invokes.powertools_parameter_value(name, self.region)
            if value is None:
                raise UnknownInvoke(f"{token} of {name!r}", sorted(invokes.INVOKES))
            return {"name": name, "id": name, "type": "String", "value": value,
                    "insecureValue": value}  # fmt: skip
        # Same refusal as the bridge: an invoke nobody answers is a gap to close.
        raise UnknownInvoke(token, sorted(invokes.INVOKES))
