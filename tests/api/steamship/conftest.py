"""Fixtures for the Steamship surface: Bearer calls, a stored package, an instance, the worker."""
from __future__ import annotations

import json
from typing import Any
from collections.abc import Iterator

import pytest

GREETER = '''"""A test package: every public top-level function is a method."""
import json

BACKGROUND_METHODS = ["count_to"]


def greet(config, name="World"):
    return {"greeting": f"{config.get('greeting', 'Hello')}, {name}!"}


def add(a, b):
    return a + b


def echo(**arguments):
    return arguments


def fail(message="boom"):
    raise ValueError(message)


def spin():
    while True:
        pass


def shout(text):
    return text.upper() * 1000


def tags():
    return {"a", "b"}


def count_to(n):
    return list(range(1, int(n) + 1))


def _secret():
    return "private"


class Helper:
    def greet(self):
        return "not a method"
'''


@pytest.fixture(autouse=True)
def forget_scripts() -> Iterator[None]:
    from chalicelib import files

    files.reset()
    yield
    files.reset()


def bearer(account: dict[str, Any], workspace: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {account['credentials']['token']}",
               "Content-Type": "application/json"}
    if workspace is not None:
        headers["X-Workspace-Handle"] = workspace
    return headers


def call(client: Any, account: dict[str, Any] | None, route: str, body: Any = None,
         workspace: str | None = None, raw: bytes | None = None) -> tuple[int, Any]:
    """POST a JSON body to /api/v1/<route>; the status and the parsed answer."""
    headers = bearer(account, workspace) if account else {"Content-Type": "application/json"}
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    response = client.http.post(f"/api/v1/{route}", headers=headers, body=data)
    return response.status_code, json.loads(response.body)


def invoke(client: Any, account: dict[str, Any], path: str, body: Any = None,
           raw: bytes | None = None) -> tuple[int, Any]:
    """POST to a method URL; the status and the parsed answer."""
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    response = client.http.post(path, headers=bearer(account), body=data)
    return response.status_code, json.loads(response.body)


def failure(status: int, answer: Any) -> tuple[int, str, str]:
    """(status, taskState, taskMessage) of a Steamship error answer."""
    task = answer["task"]
    assert task["taskStatusCode"] == status
    return status, task["taskState"], task["taskMessage"]


def make_package(client: Any, account: dict[str, Any], handle: str = "greeter",
                 version: str = "1.0.0", source: str = GREETER) -> dict[str, Any]:
    status, answer = call(client, account, "package/create", {"handle": handle})
    assert status == 200, answer
    status, answer = call(client, account, "package/version/create",
                          {"packageHandle": handle, "handle": version, "source": source})
    assert status == 200, answer
    return answer["data"]["packageVersion"]


@pytest.fixture
def package(client: Any, account: dict[str, Any]) -> dict[str, Any]:
    """The greeter package with version 1.0.0."""
    return make_package(client, account)


@pytest.fixture
def instance(client: Any, account: dict[str, Any], package: dict[str, Any]) -> dict[str, Any]:
    """An instance 'hi' of greeter in the default workspace, config greeting=Howdy."""
    status, answer = call(client, account, "package/instance/create", {
        "packageHandle": "greeter", "handle": "hi", "config": {"greeting": "Howdy"}})
    assert status == 200, answer
    return answer["data"]["packageInstance"]


def run_worker(client: Any, world: dict[str, str]) -> int:
    """Feed the tasks queue to the app's task_worker handler as Lambda would; how many messages."""
    from chalicelib import aws

    sqs = aws.client("sqs")
    handled = 0
    while True:
        messages = sqs.receive_message(QueueUrl=world["tasks_queue"], MaxNumberOfMessages=10,
                                       VisibilityTimeout=0).get("Messages", [])
        if not messages:
            return handled
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                  "body": m["Body"], "attributes": {}, "messageAttributes": {},
                  "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:::tasks",
                  "awsRegion": "us-east-1", "md5OfBody": ""} for m in messages]}
        report = client.lambda_.invoke("task_worker", event).payload
        assert report == {"batchItemFailures": []}
        for message in messages:
            sqs.delete_message(QueueUrl=world["tasks_queue"], ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)
