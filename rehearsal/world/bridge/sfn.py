"""Step Functions: the stack's canary state machine.

``CreateStateMachine`` in moto checks only the grammar of the definition
(not a dangling ``Next`` or a bad ``StartAt``; tests lint the definition with
statelint and asl-validator). The bridge adds the role check AWS makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Created, Translation
from rehearsal.world.bridge.iam import trusted_role

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"

# State machine names: at most 80 characters (CreateStateMachine API reference).
STATE_MACHINE_NAME_MAX = 80


def _states_principals(region: str) -> tuple[str, ...]:
    # AWS accepts the global or the regional service principal.
    return ("states.amazonaws.com", f"states.{region}.amazonaws.com")


def _logging(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    logging = inputs.get("loggingConfiguration")
    if not logging:
        return None
    translated: dict[str, Any] = {}
    if logging.get("level"):
        translated["level"] = logging["level"]
    if logging.get("includeExecutionData") is not None:
        translated["includeExecutionData"] = bool(logging["includeExecutionData"])
    if logging.get("logDestination"):
        translated["destinations"] = [
            {"cloudWatchLogsLogGroup": {"logGroupArn": logging["logDestination"]}}
        ]
    return translated


def create_state_machine(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateStateMachine`` after checking that Step Functions may assume the role."""
    resource = base.Registration(STATE_MACHINE, name, inputs)
    machine_name = resource.physical_name(STATE_MACHINE_NAME_MAX)
    role_arn = trusted_role(
        ctx,
        resource,
        "roleArn",
        principals=_states_principals(ctx.region),
        api_call="states:CreateStateMachine",
    )
    tracing = inputs.get("tracingConfiguration")
    encryption = inputs.get("encryptionConfiguration") or {}
    response = resource.call(
        "states:CreateStateMachine",
        ctx.client("stepfunctions").create_state_machine,
        name=machine_name,
        definition=base.as_json_text(resource.required("definition")),
        roleArn=role_arn,
        type=inputs.get("type"),
        loggingConfiguration=_logging(inputs),
        tracingConfiguration={"enabled": bool(tracing.get("enabled"))} if tracing else None,
        encryptionConfiguration={
            key: value
            for key, value in (
                ("type", encryption.get("type")),
                ("kmsKeyId", encryption.get("kmsKeyId")),
                (
                    "kmsDataKeyReusePeriodSeconds",
                    int(encryption["kmsDataKeyReusePeriodSeconds"])
                    if encryption.get("kmsDataKeyReusePeriodSeconds")
                    else None,
                ),
            )
            if value is not None
        }
        if encryption
        else None,
        publish=inputs.get("publish"),
    )
    arn = str(response["stateMachineArn"])
    return resource.created(
        arn,
        arn=arn,
        name=machine_name,
        status="ACTIVE",
        creationDate=response["creationDate"].isoformat(),
        stateMachineVersionArn=response.get("stateMachineVersionArn") or "",
    )


TRANSLATIONS = (
    Translation(
        token=STATE_MACHINE,
        create=create_state_machine,
        handled=frozenset(
            {
                "name",
                "namePrefix",
                "definition",
                "roleArn",
                "type",
                "loggingConfiguration",
                "tracingConfiguration",
                "encryptionConfiguration",
                "publish",
            }
        ),
        fabricate=base.fabricate_named(
            "states", "stateMachine:{name}", STATE_MACHINE_NAME_MAX, id_is_arn=True
        ),
        key_inputs=(
            "name",
            "type",
            "roleArn",
            "loggingConfiguration.level",
            "tracingConfiguration.enabled",
        ),
    ),
)
