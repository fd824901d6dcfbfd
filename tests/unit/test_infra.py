"""The IaC: Chalice config, per-function IAM policies and the merge template agree and stay tight."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
FUNCTIONS = {"api_handler": "ApiHandlerRole", "task_worker": "TaskWorkerRole",
             "webhook_sender": "WebhookSenderRole", "janitor": "JanitorRole",
             "sandbox": "SandboxRole", "bundle_sandbox": "BundleSandboxRole"}
SANDBOXES = ("Sandbox", "BundleSandbox")
# Only the name-based policy files (chalice deploy) resolve queue names to URLs.
NAME_LOOKUP_ACTIONS = {"sqs:GetQueueUrl"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from chalice.package import YAMLTemplateSerializer

    path = PROJECT_DIR / "infra" / "template.yml"
    return YAMLTemplateSerializer().load_template(path.read_text(), str(path))


@pytest.fixture(scope="module")
def chalice_config() -> dict[str, Any]:
    return json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())


def _policy_file(function: str) -> dict[str, Any]:
    return json.loads((PROJECT_DIR / ".chalice" / f"policy-{function}.json").read_text())


def _template_policy(template: dict[str, Any], function: str) -> dict[str, Any]:
    policies = template["Resources"][FUNCTIONS[function]]["Properties"]["Policies"]
    assert len(policies) == 1
    return policies[0]["PolicyDocument"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _actions(document: dict[str, Any]) -> set[str]:
    return {action for statement in document["Statement"] for action in _as_list(statement["Action"])}


def test_config_gives_every_function_its_own_policy_file_without_autogen(
        chalice_config: dict[str, Any]) -> None:
    assert chalice_config["autogen_policy"] is False
    assert set(chalice_config["stages"]) >= {"dev", "prod"}
    functions = chalice_config["lambda_functions"]
    assert set(functions) == set(FUNCTIONS)
    for name, settings in functions.items():
        assert settings["iam_policy_file"] == f"policy-{name}.json"
        assert (PROJECT_DIR / ".chalice" / settings["iam_policy_file"]).exists()


def test_config_gives_sandbox_and_worker_their_limits(chalice_config: dict[str, Any]) -> None:
    functions = chalice_config["lambda_functions"]
    assert functions["sandbox"]["lambda_memory_size"] == 2048
    # One image call may take TASKPORT_IMAGE_MEMORY_BYTES beyond the child's own footprint; the
    # function holds that call and its warm parent and spares, so a bomb meets the call's own
    # limit (a clean error) before Lambda's kill of the whole function.
    from chalicelib.config import get_settings

    assert get_settings().image_memory_bytes + 512 * 2**20 <= functions["sandbox"]["lambda_memory_size"] * 2**20
    assert functions["task_worker"]["lambda_timeout"] > 300  # task wall time


def test_sandbox_limits_are_ordered_so_background_calls_get_the_task_wall_time(
        chalice_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import aws, config

    for name in ("TASKPORT_TASK_WALL_SECONDS", "TASKPORT_SANDBOX_INVOKE_TIMEOUT_SECONDS",
                 "TASKPORT_TASK_LEASE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    config.get_settings.cache_clear()
    settings = config.get_settings()
    functions = chalice_config["lambda_functions"]
    # A background package method runs in the sandbox Lambda for up to the task wall time; the
    # worker's invoke must wait for it, and the worker must outlive its invoke.
    assert settings.task_wall_seconds < functions["sandbox"]["lambda_timeout"]
    assert functions["sandbox"]["lambda_timeout"] < settings.sandbox_invoke_timeout_seconds
    assert settings.sandbox_invoke_timeout_seconds < functions["task_worker"]["lambda_timeout"]
    assert functions["task_worker"]["lambda_timeout"] < settings.task_lease_seconds
    invoker = aws.client("lambda")
    assert invoker.meta.config.read_timeout == settings.sandbox_invoke_timeout_seconds
    aws.reset()


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_policies_allow_no_wildcard_action_or_resource(template: dict[str, Any], function: str) -> None:
    for document in (_policy_file(function), _template_policy(template, function)):
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in _as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), action
            for resource in _as_list(statement["Resource"]):
                assert resource != "*", statement


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_template_role_grants_same_actions_as_policy_file(template: dict[str, Any], function: str) -> None:
    assert _actions(_policy_file(function)) - NAME_LOOKUP_ACTIONS == _actions(
        _template_policy(template, function))


@pytest.mark.parametrize("function", ["sandbox", "bundle_sandbox"])
def test_sandbox_role_may_only_write_its_logs(template: dict[str, Any], function: str) -> None:
    for document in (_policy_file(function), _template_policy(template, function)):
        assert _actions(document) == {"logs:CreateLogStream", "logs:PutLogEvents"}
        for statement in document["Statement"]:
            assert f"-{function}:*" in json.dumps(statement["Resource"])


def test_bundle_sandbox_runs_python311_with_the_sandbox_functions_limits(
        template: dict[str, Any], chalice_config: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chalice.test import Client

    import app
    from chalicelib.sandbox import aws_lambda

    resources = template["Resources"]
    bundle, plain = resources["BundleSandbox"]["Properties"], resources["Sandbox"]["Properties"]
    assert bundle["Runtime"] == "python3.11" and plain["Runtime"] == "python3.12"
    assert bundle["EphemeralStorage"] == plain["EphemeralStorage"]
    functions = chalice_config["lambda_functions"]
    for setting in ("lambda_memory_size", "lambda_timeout"):
        assert functions["bundle_sandbox"][setting] == functions["sandbox"][setting]
    # The same body as the sandbox function's.
    monkeypatch.setattr(aws_lambda, "handle", lambda event: {"frame": event["call"]["kind"]})
    with Client(app.app) as client:
        for name in ("sandbox", "bundle_sandbox"):
            answer = client.lambda_.invoke(name, {"call": {"kind": name}})
            assert answer.payload == {"frame": name}


def test_every_function_runtime_may_use_the_dependency_layer(template: dict[str, Any]) -> None:
    layer = template["Resources"]["DependenciesLayer"]["Properties"]["CompatibleRuntimes"]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"]["Runtime"] in layer


def test_bundle_builds_target_the_bundle_sandbox_runtime(template: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from chalicelib import config

    runtime = template["Resources"]["BundleSandbox"]["Properties"]["Runtime"]
    spec = importlib.util.spec_from_file_location("infra_package", PROJECT_DIR / "infra" / "package.py")
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    assert runtime == f"python{package.BUNDLE_PYTHON_VERSION}"
    assert "bundle_sandbox" in package.EXPECTED_HANDLERS
    monkeypatch.delenv("TASKPORT_BUNDLE_PYTHON_VERSION", raising=False)
    config.get_settings.cache_clear()
    assert config.get_settings().bundle_python_version == package.BUNDLE_PYTHON_VERSION
    config.get_settings.cache_clear()


def test_callers_of_the_sandbox_may_invoke_the_bundle_sandbox_too(template: dict[str, Any]) -> None:
    invokers = 0
    for function in FUNCTIONS:
        for statement in _template_policy(template, function)["Statement"]:
            if statement.get("Sid") == "InvokeSandbox":
                invokers += 1
                assert sorted(_as_list(statement["Resource"]), key=json.dumps) == [
                    {"Fn::GetAtt": ["BundleSandbox", "Arn"]},
                    {"Fn::GetAtt": ["Sandbox", "Arn"]}], function
    assert invokers >= 2  # the api handler and the task worker


def test_only_api_handler_may_write_accounts(template: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        for statement in _template_policy(template, function)["Statement"]:
            resources = json.dumps(statement["Resource"])
            if "AccountsTable" in resources and function != "api_handler":
                assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                            "dynamodb:BatchWriteItem"} & set(statement["Action"]), function


def test_template_tables_mirror_model_tables(template: dict[str, Any]) -> None:
    from chalicelib.models.tables import TABLES, TTL_ATTRIBUTE, table_definition

    for setting, spec in TABLES.items():
        logical_id = "".join(part.title() for part in setting.split("_"))  # accounts_table -> AccountsTable
        table = template["Resources"][logical_id]
        assert table["DeletionPolicy"] == "Retain"
        properties = table["Properties"]
        expected = table_definition("name", spec["indexes"])
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["KeySchema"] == expected["KeySchema"]
        assert sorted(properties["AttributeDefinitions"], key=str) == sorted(
            expected["AttributeDefinitions"], key=str)
        assert properties.get("GlobalSecondaryIndexes", []) == expected.get("GlobalSecondaryIndexes", [])
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
        assert properties["SSESpecification"] == {"SSEEnabled": True}


@pytest.mark.parametrize("function,queue,event", [
    ("task_worker", "TasksQueue", "TaskWorkerSqsEventSource"),
    ("webhook_sender", "WebhooksQueue", "WebhookSenderSqsEventSource"),
])
def test_sqs_events_report_batch_item_failures_from_queue_with_dlq(
        template: dict[str, Any], chalice_config: dict[str, Any], function: str, queue: str,
        event: str) -> None:
    logical_id = "".join(part.title() for part in function.split("_"))
    source = template["Resources"][logical_id]["Properties"]["Events"][event]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BatchSize"] == 10
    assert source["Queue"] == {"Fn::Sub": f"${{{queue}.Arn}}"}
    queue_properties = template["Resources"][queue]["Properties"]
    assert queue_properties["VisibilityTimeout"] >= chalice_config["lambda_functions"][function]["lambda_timeout"]
    dlq = queue_properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert template["Resources"][dlq]["Type"] == "AWS::SQS::Queue"


def test_bucket_blocks_public_access_and_encrypts(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["FilesBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]


def test_every_function_gets_resource_names_and_only_api_gets_admin_token(
        template: dict[str, Any]) -> None:
    from chalicelib import config

    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for name in ("TASKPORT_ACCOUNTS_TABLE", "TASKPORT_ENTITIES_TABLE", "TASKPORT_TASKS_TABLE",
                 "TASKPORT_TASKS_QUEUE", "TASKPORT_WEBHOOKS_QUEUE", "TASKPORT_BUCKET"):
        assert name in variables and name in Path(config.__file__).read_text()
    for function in ("APIHandler", "TaskWorker", "WebhookSender", "Janitor", *SANDBOXES):
        own = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
        assert ("TASKPORT_ADMIN_TOKEN" in own) == (function == "APIHandler")
        assert ("TASKPORT_SANDBOX_FUNCTION" in own) == (function not in SANDBOXES)
        assert ("TASKPORT_BUNDLE_SANDBOX_FUNCTION" in own) == (function not in SANDBOXES)
