"""The task API over real HTTP against the local stack: tasks created with block=true finish."""
from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.conftest import ADMIN_TOKEN
from tests.local.test_stack import _call, dev_stack  # noqa: F401  (the stack fixture)


def _secret(stack: dict[str, Any], handle: str) -> str:
    status, body = _call(stack["url"] + "/admin/v1/accounts", "POST", {"handle": handle},
                         {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 201, body
    return body["credentials"]["secret_key"]


def test_create_with_block_finishes_over_http(dev_stack: dict[str, Any]) -> None:  # noqa: F811
    secret = _secret(dev_stack, "dragon-e2e")
    status, statuses = _call(dev_stack["url"] + "/v1/create", "POST", {
        "tasks": [{"task_name": "hello", "name": "John"}, {"task_name": "hello", "name": "Jane"}],
        "block": True}, {"Authorization": f"Secret {secret}"})
    assert status == 200, statuses
    assert [s["status"] for s in statuses] == ["success", "success"]
    assert [s["result"] for s in statuses] == ["Hello John", "Hello Jane"]
    keys = "&".join(f"tasks={s['key']}" for s in statuses)
    status, again = _call(f"{dev_stack['url']}/v1/status?{keys}")
    assert (status, again) == (200, statuses)


def test_create_stream_over_http_ends_with_results(dev_stack: dict[str, Any]) -> None:  # noqa: F811
    secret = _secret(dev_stack, "dragon-stream")
    request = urllib.request.Request(
        dev_stack["url"] + "/v1/create_stream", method="POST",
        data=json.dumps({"secret": secret, "tasks": [{"task_name": "hello", "name": "Ada"}]}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["Content-Type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in response.read().decode().splitlines()]
    assert lines[0][0]["status"] == "queued"
    assert lines[-1]["status"] == "success" and lines[-1]["result"] == "Hello Ada"


def test_status_stream_over_http_carries_every_change(dev_stack: dict[str, Any]) -> None:  # noqa: F811
    secret = _secret(dev_stack, "dragon-status-stream")
    status, created = _call(dev_stack["url"] + "/v1/create", "POST", {
        "tasks": [{"task_name": "hello", "name": "Ada"}, {"task_name": "hello", "name": "Bob"}]},
        {"Authorization": f"Secret {secret}"})
    assert status == 200, created
    keys = [s["key"] for s in created]
    query = "&".join(f"tasks={key}" for key in keys)
    with urllib.request.urlopen(f"{dev_stack['url']}/v1/status_stream?{query}", timeout=60) as response:
        lines = [json.loads(line) for line in response.read().decode().splitlines()]
    chain = ["queued", "executing", "success"]
    assert [s["key"] for s in lines[0]] == keys
    for first in lines[0]:
        changes = [line["status"] for line in lines[1:] if line["key"] == first["key"]]
        assert changes == chain[chain.index(first["status"]) + 1:]
    finals = {line["key"]: line["result"] for line in lines[1:] if line["status"] == "success"}
    finals.update({s["key"]: s["result"] for s in lines[0] if s["status"] == "success"})
    assert finals == {keys[0]: "Hello Ada", keys[1]: "Hello Bob"}
