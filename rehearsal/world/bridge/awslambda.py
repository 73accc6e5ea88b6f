"""Lambda: functions (code from the Pulumi archive), permissions, async-invoke config.

What moto stores but does not enforce, although it matters in AWS:
reserved concurrency (no throttling: the Throttles alarm never sees data),
the VPC config (subnets and security groups are not checked, no ENIs), and
active tracing (no X-Ray). moto never runs the code either: the rehearsal
routes invocations to the real handlers (rehearsal/world/moto_lambda.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from rehearsal.world.bridge import base
from rehearsal.world.bridge.archive import archive_to_zip
from rehearsal.world.bridge.base import BridgeContext, Change, Created, PlanContext, Translation
from rehearsal.world.bridge.iam import trusted_role

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ALIAS = "aws:lambda/alias:Alias"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"

# Function names: at most 64 characters (Lambda quotas).
FUNCTION_NAME_MAX = 64
# The service principal that assumes a function's execution role.
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
# Statement ids: at most 100 characters (AddPermission API reference).
STATEMENT_ID_MAX = 100


def _invoke_arn(region: str, function_arn: str) -> str:
    """The API Gateway invocation URI pulumi-aws exports as ``invokeArn``."""
    return (
        f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _vpc_config(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    vpc = inputs.get("vpcConfig")
    if not vpc:
        return None
    config: dict[str, Any] = {
        "SubnetIds": list(vpc.get("subnetIds") or []),
        "SecurityGroupIds": list(vpc.get("securityGroupIds") or []),
    }
    if vpc.get("ipv6AllowedForDualStack") is not None:
        config["Ipv6AllowedForDualStack"] = bool(vpc["ipv6AllowedForDualStack"])
    return config


def _logging_config(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    logging = inputs.get("loggingConfig")
    if not logging:
        return None
    keys = {
        "logFormat": "LogFormat",
        "logGroup": "LogGroup",
        "applicationLogLevel": "ApplicationLogLevel",
        "systemLogLevel": "SystemLogLevel",
    }
    return {aws: logging[key] for key, aws in keys.items() if logging.get(key)}


def create_function(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateFunction`` with the zipped archive, then ``PutFunctionConcurrency``.

    The role must exist in moto (``CreateFunction`` checks it, as AWS does),
    so Pulumi's dependency order (role before function) is exercised here.
    """
    resource = base.Registration(FUNCTION, name, inputs)
    lam = ctx.client("lambda")
    function_name = resource.physical_name(FUNCTION_NAME_MAX)
    if (inputs.get("packageType") or "Zip") != "Zip":
        raise resource.error("only Zip packages are supported")
    code = archive_to_zip(resource.required("code"), ctx.project_dir)
    environment = inputs.get("environment") or {}
    tracing = inputs.get("tracingConfig") or {}
    ephemeral = inputs.get("ephemeralStorage") or {}
    dead_letter = inputs.get("deadLetterConfig") or {}
    role_arn = trusted_role(
        ctx, resource, "role", principals=(LAMBDA_PRINCIPAL,), api_call="lambda:CreateFunction"
    )
    response = resource.call(
        "lambda:CreateFunction",
        lam.create_function,
        FunctionName=function_name,
        Runtime=inputs.get("runtime"),
        Role=role_arn,
        Handler=inputs.get("handler"),
        Code={"ZipFile": code},
        Description=inputs.get("description"),
        # Numbers arrive as floats from the Pulumi wire format; the API wants ints.
        Timeout=_int(inputs.get("timeout")),
        MemorySize=_int(inputs.get("memorySize")),
        Publish=inputs.get("publish"),
        Environment={"Variables": dict(environment.get("variables") or {})}
        if environment
        else None,
        TracingConfig={"Mode": tracing["mode"]} if tracing.get("mode") else None,
        VpcConfig=_vpc_config(inputs),
        Architectures=list(inputs["architectures"]) if inputs.get("architectures") else None,
        EphemeralStorage={"Size": int(ephemeral["size"])} if ephemeral.get("size") else None,
        DeadLetterConfig={"TargetArn": dead_letter["targetArn"]}
        if dead_letter.get("targetArn")
        else None,
        KMSKeyArn=inputs.get("kmsKeyArn"),
        LoggingConfig=_logging_config(inputs),
    )
    reserved = inputs.get("reservedConcurrentExecutions")
    # pulumi-aws treats -1 as "unreserved" (no PutFunctionConcurrency call).
    if reserved is not None and int(reserved) >= 0:
        resource.call(
            "lambda:PutFunctionConcurrency",
            lam.put_function_concurrency,
            FunctionName=function_name,
            ReservedConcurrentExecutions=int(reserved),
        )
    arn = str(response["FunctionArn"])
    version = str(response.get("Version") or "$LATEST")
    code_sha = str(response.get("CodeSha256") or base64.b64encode(hashlib.sha256(code).digest()))
    return resource.created(
        function_name,
        name=function_name,
        arn=arn,
        invokeArn=_invoke_arn(ctx.region, arn),
        qualifiedArn=f"{arn}:{version}",
        qualifiedInvokeArn=_invoke_arn(ctx.region, f"{arn}:{version}"),
        version=version,
        lastModified=response.get("LastModified"),
        codeSha256=code_sha,
        sourceCodeHash=code_sha,
        sourceCodeSize=len(code),
    )


#: What a second apply may change in place: the code and the settings that
#: UpdateFunctionConfiguration takes. Each change publishes a version when the
#: program publishes (``publish``), as the provider does after an update.
FUNCTION_UPDATABLE = frozenset(
    {"code", "description", "timeout", "memorySize", "environment", "handler", "runtime"}
)


def update_function(ctx: BridgeContext, change: Change) -> Created:
    """``UpdateFunctionCode`` and/or ``UpdateFunctionConfiguration``, then ``PublishVersion``."""
    resource = change.registration()
    inputs, existing, changed = change.inputs, change.existing, change.changed
    lam = ctx.client("lambda")
    function_name = existing.id
    if "code" in changed:
        code = archive_to_zip(resource.required("code"), ctx.project_dir)
        resource.call(
            "lambda:UpdateFunctionCode",
            lam.update_function_code,
            FunctionName=function_name,
            ZipFile=code,
        )
    settings = changed - {"code"}
    if settings:
        environment = inputs.get("environment") or {}
        resource.call(
            "lambda:UpdateFunctionConfiguration",
            lam.update_function_configuration,
            FunctionName=function_name,
            Description=inputs.get("description"),
            Timeout=_int(inputs.get("timeout")),
            MemorySize=_int(inputs.get("memorySize")),
            Handler=inputs.get("handler"),
            Runtime=inputs.get("runtime"),
            Environment={"Variables": dict(environment.get("variables") or {})}
            if "environment" in settings
            else None,
        )
    version = str(existing.outputs.get("version") or "$LATEST")
    if inputs.get("publish"):
        published = resource.call(
            "lambda:PublishVersion", lam.publish_version, FunctionName=function_name
        )
        version = str(published["Version"])
    arn = str(existing.outputs.get("arn"))
    return change.updated(
        version=version,
        qualifiedArn=f"{arn}:{version}",
        qualifiedInvokeArn=_invoke_arn(ctx.region, f"{arn}:{version}"),
    )


def create_permission(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``AddPermission``; the id is the statement id, like pulumi-aws's."""
    resource = base.Registration(PERMISSION, name, inputs)
    statement_id = inputs.get("statementId") or (
        f"{inputs['statementIdPrefix']}{base.auto_name(name, 20)}"
        if inputs.get("statementIdPrefix")
        else base.auto_name(name, STATEMENT_ID_MAX)
    )
    resource.call(
        "lambda:AddPermission",
        ctx.client("lambda").add_permission,
        FunctionName=str(resource.required("function")),
        StatementId=statement_id,
        Action=resource.required("action"),
        Principal=resource.required("principal"),
        SourceArn=inputs.get("sourceArn"),
        SourceAccount=inputs.get("sourceAccount"),
        EventSourceToken=inputs.get("eventSourceToken"),
        Qualifier=inputs.get("qualifier"),
        PrincipalOrgID=inputs.get("principalOrgId"),
        FunctionUrlAuthType=inputs.get("functionUrlAuthType"),
    )
    return resource.created(statement_id, statementId=statement_id)


def create_event_invoke_config(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``PutFunctionEventInvokeConfig``: retries and destinations of async invokes.

    AWS checks that the function's execution role may send to the
    destinations (e.g. ``sqs:SendMessage`` on the DLQ); moto does not, and
    neither does the bridge: the program's IAM tests cover that policy.
    moto stores the config but its async invokes never go to the
    destination.
    """
    resource = base.Registration(EVENT_INVOKE_CONFIG, name, inputs)
    function_name = str(resource.required("functionName"))
    destinations: dict[str, Any] = {}
    config = inputs.get("destinationConfig") or {}
    for key, aws in (("onFailure", "OnFailure"), ("onSuccess", "OnSuccess")):
        if config.get(key) and config[key].get("destination"):
            destinations[aws] = {"Destination": config[key]["destination"]}
    resource.call(
        "lambda:PutFunctionEventInvokeConfig",
        ctx.client("lambda").put_function_event_invoke_config,
        FunctionName=function_name,
        Qualifier=inputs.get("qualifier"),
        MaximumRetryAttempts=_int(inputs.get("maximumRetryAttempts")),
        MaximumEventAgeInSeconds=_int(inputs.get("maximumEventAgeInSeconds")),
        DestinationConfig=destinations or None,
    )
    # pulumi-aws's id: the function name, with ":qualifier" when one is set.
    qualifier = inputs.get("qualifier")
    resource_id = f"{function_name}:{qualifier}" if qualifier else function_name
    return resource.created(resource_id)


def _routing_config(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    routing = inputs.get("routingConfig") or {}
    weights = routing.get("additionalVersionWeights")
    if not weights:
        return None
    return {"AdditionalVersionWeights": {str(k): float(v) for k, v in weights.items()}}


def create_alias(ctx: BridgeContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """``CreateAlias``; pulumi-aws's id and ``arn`` are the alias's qualified function ARN."""
    resource = base.Registration(ALIAS, name, inputs)
    response = resource.call(
        "lambda:CreateAlias",
        ctx.client("lambda").create_alias,
        FunctionName=str(resource.required("functionName")),
        Name=str(resource.required("name")),
        FunctionVersion=str(resource.required("functionVersion")),
        Description=inputs.get("description"),
        RoutingConfig=_routing_config(inputs),
    )
    arn = str(response["AliasArn"])
    return resource.created(arn, arn=arn, invokeArn=_invoke_arn(ctx.region, arn))


def fabricate_alias(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's alias: the qualified ARN ``create_alias`` would answer."""
    function = str(inputs.get("functionName") or name)
    arn = ctx.arn("lambda", f"function:{function}:{inputs.get('name') or name}")
    return base.created(arn, inputs, arn=arn)


def fabricate_function(ctx: PlanContext, name: str, inputs: Mapping[str, Any]) -> Created:
    """Plan's function: the name ``create_function`` would give it, its ARNs and ``$LATEST``."""
    function_name = base.physical_name(inputs, name, FUNCTION_NAME_MAX)
    arn = ctx.arn("lambda", f"function:{function_name}")
    return base.created(
        function_name,
        inputs,
        name=function_name,
        arn=arn,
        qualifiedArn=f"{arn}:$LATEST",
        invokeArn=_invoke_arn(ctx.region, arn),
        version="$LATEST",
    )


TRANSLATIONS = (
    Translation(
        token=FUNCTION,
        create=create_function,
        handled=frozenset(
            {
                "name",
                "code",
                "role",
                "handler",
                "runtime",
                "description",
                "timeout",
                "memorySize",
                "publish",
                "environment",
                "tracingConfig",
                "vpcConfig",
                "architectures",
                "ephemeralStorage",
                "deadLetterConfig",
                "kmsKeyArn",
                "loggingConfig",
                "reservedConcurrentExecutions",
                "packageType",
            }
        ),
        ignored={
            "layers": "the layers the program attaches (the Powertools public layer) are "
            "owned by another AWS account and do not exist in the emulator; a function runs "
            "from its deployed archive, with the rehearsal's virtualenv standing in for the "
            "layer and the runtime's packages. In AWS a missing or wrong layer ARN fails "
            "CreateFunction, and without the layer the handler cannot import",
            "sourceCodeHash": "only decides when pulumi-aws re-uploads the code",
            "skipDestroy": "only changes deletion; the twin never deletes",
            "replaceSecurityGroupsOnDestroy": "only changes deletion; the twin never deletes",
            "replacementSecurityGroupIds": "only changes deletion; the twin never deletes",
        },
        fabricate=fabricate_function,
        update=update_function,
        updatable=FUNCTION_UPDATABLE,
        key_inputs=(
            "name",
            "runtime",
            "handler",
            "code",
            "memorySize",
            "timeout",
            "reservedConcurrentExecutions",
            "tracingConfig.mode",
            "layers",
            "vpcConfig",
            "environment.variables",
        ),
    ),
    Translation(
        token=PERMISSION,
        create=create_permission,
        handled=frozenset(
            {
                "function",
                "statementId",
                "statementIdPrefix",
                "action",
                "principal",
                "sourceArn",
                "sourceAccount",
                "eventSourceToken",
                "qualifier",
                "principalOrgId",
                "functionUrlAuthType",
            }
        ),
        fabricate=base.fabricate_arn("lambda"),
        key_inputs=("function", "qualifier", "action", "principal", "sourceArn"),
    ),
    Translation(
        token=ALIAS,
        create=create_alias,
        handled=frozenset(
            {"functionName", "name", "functionVersion", "description", "routingConfig"}
        ),
        fabricate=fabricate_alias,
        key_inputs=("functionName", "name", "functionVersion"),
    ),
    Translation(
        token=EVENT_INVOKE_CONFIG,
        create=create_event_invoke_config,
        handled=frozenset(
            {
                "functionName",
                "qualifier",
                "maximumRetryAttempts",
                "maximumEventAgeInSeconds",
                "destinationConfig",
            }
        ),
        fabricate=base.fabricate_arn("lambda"),
        key_inputs=(
            "functionName",
            "maximumRetryAttempts",
            "maximumEventAgeInSeconds",
            "destinationConfig.onFailure.destination",
        ),
    ),
)
