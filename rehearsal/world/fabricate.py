"""Plausible outputs without an emulator, for ``plan``.

``plan`` only lists what the program declares, so it needs no moto: this
answerer makes up the ids, ARNs and names that later resources consume, in
the same shapes (and, for auto-named resources, the same physical names) as
the moto bridge returns. Unlike the bridge it accepts every type, so that a
resource type the bridge does not cover yet still shows up in the plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from rehearsal.errors import UnknownInvoke
from rehearsal.world.bridge import invokes
from rehearsal.world.bridge.base import Created, physical_name

ACCOUNT_ID = "123456789012"


def _hex_id(name: str, length: int = 16) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


class FabricatedAnswerer:
    """Answers registrations with made-up but well-formed outputs."""

    def __init__(self, region: str, account_id: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id

    def _arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account_id}:{resource}"

    def create(self, token: str, name: str, inputs: Mapping[str, Any]) -> Created:
        """The inputs plus the computed attributes a type's consumers read."""
        computed = self._computed(token, name, inputs)
        outputs = dict(inputs)
        outputs.update(computed)
        resource_id = str(computed.pop("_id", None) or outputs.get("arn") or f"{name}-id")
        outputs.pop("_id", None)
        return Created(id=resource_id, outputs=outputs)

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
        # Same refusal as the bridge: an invoke nobody answers is a gap to close.
        raise UnknownInvoke(token, sorted(invokes.INVOKES))

    def _computed(self, token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        service_path = token.split(":")[1] if token.count(":") >= 2 else ""
        if token == "aws:iam/role:Role":
            role = physical_name(inputs, name, 64)
            return {"_id": role, "name": role, "arn": f"arn:aws:iam::{self.account_id}:role/{role}"}
        if token == "aws:iam/rolePolicy:RolePolicy":
            policy = physical_name(inputs, name, 128)
            return {"_id": f"{inputs.get('role')}:{policy}", "name": policy}
        if token == "aws:cloudwatch/logGroup:LogGroup":
            group = physical_name(inputs, name, 512)
            return {"_id": group, "name": group, "arn": self._arn("logs", f"log-group:{group}")}
        if token == "aws:lambda/function:Function":
            function = physical_name(inputs, name, 64)
            arn = self._arn("lambda", f"function:{function}")
            invoke = (
                f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
                f"{arn}/invocations"
            )
            return {
                "_id": function,
                "name": function,
                "arn": arn,
                "qualifiedArn": f"{arn}:$LATEST",
                "invokeArn": invoke,
                "version": "$LATEST",
            }
        if token == "aws:lb/targetGroup:TargetGroup":
            group = physical_name(inputs, name, 32)
            suffix = f"targetgroup/{group}/{_hex_id(name)}"
            arn = self._arn("elasticloadbalancing", suffix)
            return {"_id": arn, "name": group, "arn": arn, "arnSuffix": suffix}
        if token == "aws:lb/listenerRule:ListenerRule":
            listener = str(inputs.get("listenerArn") or "")
            rule = listener.replace(":listener/", ":listener-rule/", 1)
            arn = f"{rule}/{_hex_id(name)}"
            return {"_id": arn, "arn": arn}
        if token == "aws:cloudwatch/metricAlarm:MetricAlarm":
            alarm = physical_name(inputs, name, 255)
            return {"_id": alarm, "name": alarm, "arn": self._arn("cloudwatch", f"alarm:{alarm}")}
        if token == "aws:cloudwatch/compositeAlarm:CompositeAlarm":
            alarm = str(inputs.get("alarmName") or name)
            return {"_id": alarm, "arn": self._arn("cloudwatch", f"alarm:{alarm}")}
        if token == "aws:cloudwatch/dashboard:Dashboard":
            dashboard = str(inputs.get("dashboardName") or name)
            return {
                "_id": dashboard,
                "dashboardArn": self._arn("cloudwatch", f"dashboard/{dashboard}", region=False),
            }
        if token == "aws:sns/topic:Topic":
            topic = physical_name(inputs, name, 256)
            arn = self._arn("sns", topic)
            return {"_id": arn, "name": topic, "arn": arn}
        if token == "aws:sqs/queue:Queue":
            queue = physical_name(inputs, name, 80)
            url = f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{queue}"
            return {"_id": url, "name": queue, "url": url, "arn": self._arn("sqs", queue)}
        if token == "aws:dynamodb/table:Table":
            table = physical_name(inputs, name, 255)
            return {"_id": table, "name": table, "arn": self._arn("dynamodb", f"table/{table}")}
        if token == "aws:sfn/stateMachine:StateMachine":
            machine = physical_name(inputs, name, 80)
            arn = self._arn("states", f"stateMachine:{machine}")
            return {"_id": arn, "name": machine, "arn": arn}
        if token == "aws:cloudwatch/eventRule:EventRule":
            rule_name = physical_name(inputs, name, 64)
            arn = self._arn("events", f"rule/{rule_name}")
            return {"_id": rule_name, "name": rule_name, "arn": arn}
        if token == "aws:scheduler/schedule:Schedule":
            schedule = physical_name(inputs, name, 64)
            group = str(inputs.get("groupName") or "default")
            return {
                "_id": f"{group}/{schedule}",
                "name": schedule,
                "arn": self._arn("scheduler", f"schedule/{group}/{schedule}"),
            }
        if token == "aws:ssm/parameter:Parameter":
            parameter = physical_name(inputs, name, 2048)
            return {
                "_id": parameter,
                "name": parameter,
                "arn": self._arn("ssm", f"parameter/{parameter.lstrip('/')}"),
            }
        service = service_path.split("/")[0] or "unknown"
        return {"arn": self._arn(service, f"{name}")}
