"""IAM: roles, inline role policies and managed-policy attachments.

moto stores policies but does not enforce them: a missing permission in a
policy document is not caught by the twin (tests/ lint them with parliament).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from rehearsal.errors import BridgeError
from rehearsal.world.bridge import base
from rehearsal.world.bridge.base import BridgeContext, Created, PlanContext, Translation

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"

# IAM role names: at most 64 characters (IAM quotas).
ROLE_NAME_MAX = 64
# Inline policy names: at most 128 characters.
POLICY_NAME_MAX = 128


def create_role(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateRole`` (+ ``PutRolePolicy`` per inline policy, ``AttachRolePolicy`` per ARN)."""
    resource = base.Registration(ROLE, name, inputs)
    iam = ctx.client("iam")
    role_name = resource.physical_name(ROLE_NAME_MAX)
    document = base.as_json_text(resource.required("assumeRolePolicy"))
    response = resource.call(
        "iam:CreateRole",
        iam.create_role,
        RoleName=role_name,
        AssumeRolePolicyDocument=document,
        Path=inputs.get("path"),
        Description=inputs.get("description"),
        MaxSessionDuration=int(inputs["maxSessionDuration"])
        if inputs.get("maxSessionDuration")
        else None,
        PermissionsBoundary=inputs.get("permissionsBoundary"),
    )
    for policy in inputs.get("inlinePolicies") or []:
        resource.call(
            "iam:PutRolePolicy",
            iam.put_role_policy,
            RoleName=role_name,
            PolicyName=policy["name"],
            PolicyDocument=base.as_json_text(policy["policy"]),
        )
    for policy_arn in inputs.get("managedPolicyArns") or []:
        resource.call(
            "iam:AttachRolePolicy",
            iam.attach_role_policy,
            RoleName=role_name,
            PolicyArn=policy_arn,
        )
    role = response["Role"]
    return resource.created(
        role_name,
        name=role_name,
        arn=role["Arn"],
        uniqueId=role["RoleId"],
        createDate=role["CreateDate"].isoformat(),
        path=role["Path"],
    )


def create_role_policy(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutRolePolicy``; the id is ``role:policy`` like pulumi-aws's."""
    resource = base.Registration(ROLE_POLICY, name, inputs)
    role_name = str(resource.required("role"))
    policy_name = resource.physical_name(POLICY_NAME_MAX)
    resource.call(
        "iam:PutRolePolicy",
        ctx.client("iam").put_role_policy,
        RoleName=role_name,
        PolicyName=policy_name,
        PolicyDocument=base.as_json_text(resource.required("policy")),
    )
    return resource.created(f"{role_name}:{policy_name}", name=policy_name, role=role_name)


def create_role_policy_attachment(
    ctx: BridgeContext, name: str, inputs: Mapping[str, Any]
) -> Created:
    """``AttachRolePolicy``; fails like AWS on a policy ARN that does not exist."""
    resource = base.Registration(ROLE_POLICY_ATTACHMENT, name, inputs)
    role_name = str(resource.required("role"))
    policy_arn = str(resource.required("policyArn"))
    resource.call(
        "iam:AttachRolePolicy",
        ctx.client("iam").attach_role_policy,
        RoleName=role_name,
        PolicyArn=policy_arn,
    )
    # pulumi-aws's id is "<role>-<timestamp>"; any stable unique string serves.
    digest = base.stable_hex(policy_arn, 12)
    return resource.created(f"{role_name}-{digest}")


def fabricate_role_policy(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's inline policy: the ``role:policy`` id of ``create_role_policy``."""
    policy_name = base.physical_name(inputs, name, POLICY_NAME_MAX)
    return base.created(f"{inputs.get('role')}:{policy_name}", inputs, name=policy_name)


def policy_actions(inputs: Mapping[str, Any]) -> list[str] | None:
    """The actions a policy document allows, sorted, for the plan (None if unreadable)."""
    policy = inputs.get("policy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    if not isinstance(policy, Mapping):
        return None
    statements = policy.get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    actions: list[str] = []
    for statement in statements:
        listed = statement.get("Action") or []
        actions.extend([listed] if isinstance(listed, str) else listed)
    return sorted(set(actions))


TRANSLATIONS = (
    Translation(
        token=ROLE,
        create=create_role,
        handled=frozenset(
            {
                "assumeRolePolicy",
                "name",
                "namePrefix",
                "path",
                "description",
                "maxSessionDuration",
                "permissionsBoundary",
                "inlinePolicies",
                "managedPolicyArns",
            }
        ),
        ignored={
            "forceDetachPolicies": "only changes how the role is deleted; the twin never deletes",
        },
        fabricate=base.fabricate_named("iam", "role/{name}", ROLE_NAME_MAX, regional=False),
        key_inputs=("name", "description"),
    ),
    Translation(
        token=ROLE_POLICY,
        create=create_role_policy,
        handled=frozenset({"role", "policy", "name", "namePrefix"}),
        fabricate=fabricate_role_policy,
        key_inputs=("role",),
        derived_key_inputs={"actions": policy_actions},
    ),
    Translation(
        token=ROLE_POLICY_ATTACHMENT,
        create=create_role_policy_attachment,
        handled=frozenset({"role", "policyArn"}),
        fabricate=base.fabricate_arn("iam"),
        key_inputs=("role", "policyArn"),
    ),
)


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def trusted_role(
    ctx: BridgeContext,
    resource: base.Registration,
    key: str,
    *,
    principals: tuple[str, ...],
    api_call: str,
) -> str:
    """The role ARN in ``resource``'s input ``key``, once :func:`check_trust` accepts it."""
    role_arn = str(resource.required(key))
    check_trust(
        ctx,
        token=resource.token,
        name=resource.name,
        role_arn=role_arn,
        principals=principals,
        api_call=api_call,
    )
    return role_arn


def check_trust(
    ctx: BridgeContext,
    *,
    token: str,
    name: str,
    role_arn: str,
    principals: tuple[str, ...],
    api_call: str,
) -> None:
    """Refuse a role that does not exist or that ``principals`` may not assume.

    AWS checks this when a service is handed a role: CreateFunction fails
    with "The role defined for the function cannot be assumed by Lambda",
    CreateStateMachine with "Neither the global service principal
    states.amazonaws.com, nor the regional one is authorized to assume the
    provided role". moto checks neither, so the bridge does.
    """
    role_name = role_arn.rsplit("/", 1)[-1]
    try:
        role = ctx.client("iam").get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        raise BridgeError(
            f"role {role_arn} does not exist (yet): {error}",
            token=token,
            name=name,
            api_call=api_call,
        ) from error
    for statement in _statements(role["AssumeRolePolicyDocument"]):
        if statement.get("Effect") != "Allow":
            continue
        if "sts:AssumeRole" not in _as_list(statement.get("Action")):
            continue
        principal = statement.get("Principal") or {}
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if set(services).intersection(principals):
            return
    raise BridgeError(
        f"role {role_arn} cannot be assumed by {' or '.join(principals)} "
        "(its trust policy does not allow sts:AssumeRole for that service)",
        token=token,
        name=name,
        api_call=api_call,
    )
