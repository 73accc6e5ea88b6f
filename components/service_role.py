"""An IAM role one AWS service assumes, with its single inline policy.

Each role of the controller (function, state machine, schedules) is exactly
this: a trust policy for one service principal, optionally limited to the
stack's account, and one least-privilege inline policy.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.controller_iam import assume_role_policy
from components.json_text import json_text
from components.moved import MovedComponent


def _trust_policy(service: str, source_account: pulumi.Input[str] | None) -> pulumi.Input[str]:
    if source_account is None:
        return json_text(assume_role_policy(service))

    def scoped(account: str) -> str:
        return json_text(assume_role_policy(service, account))

    return pulumi.Output.from_input(source_account).apply(scoped)


def service_role(
    component: MovedComponent,
    name: str,
    *,
    service: str,
    source_account: pulumi.Input[str] | None,
    description: str,
    policy: pulumi.Input[str],
    former_prefix: str,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The role ``<name>-role`` that ``service`` may assume, and ``<name>-policy``.

    ``source_account`` limits the trust to that account (``aws:SourceAccount``).
    Both are children of ``component``; ``former_prefix`` is their former
    name's middle (``<former.name>-<former_prefix>-role``, see
    :class:`~components.moved.MovedComponent`).
    """
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=_trust_policy(service, source_account),
        description=description,
        opts=component.child(f"{former_prefix}-role"),
    )
    role_policy = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=policy,
        opts=component.child(f"{former_prefix}-policy"),
    )
    return role, role_policy
