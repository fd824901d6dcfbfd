"""Packages end to end on the local stack over real HTTP: package, version, instance, invoke."""
from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.local.test_stack import _call
from tests.local.test_stack import dev_stack  # noqa: F401 - the stack fixture, started per module


@pytest.fixture(scope="module")
def stack(dev_stack: dict[str, Any]) -> str:  # noqa: F811 - uses the imported fixture
    """The dev stack's URL: routes, pollers, sandbox server and emulator in a child process."""
    return dev_stack["url"]


SOURCE = '''BACKGROUND_METHODS = ["total"]


def greet(config, name="World"):
    return f"{config['greeting']}, {name}!"


def total(numbers):
    return sum(numbers)
'''


def test_package_instance_method_is_invoked_over_http(stack):
    status, account = _call(stack + "/admin/v1/accounts", "POST", {"handle": "pkg-e2e"},
                            {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 201, account
    bearer = {"Authorization": f"Bearer {account['credentials']['token']}"}
    status, answer = _call(stack + "/api/v1/package/create", "POST", {"handle": "greeter"}, bearer)
    assert status == 200, answer
    status, answer = _call(stack + "/api/v1/package/version/create", "POST",
                           {"packageHandle": "greeter", "handle": "1.0.0", "source": SOURCE},
                           bearer)
    assert status == 200, answer
    status, answer = _call(stack + "/api/v1/workspace/create", "POST", {"handle": "lab"}, bearer)
    assert status == 200, answer
    status, answer = _call(stack + "/api/v1/package/instance/create", "POST", {
        "packageHandle": "greeter", "handle": "hi", "fetchIfExists": True,
        "config": {"greeting": "Howdy"}}, {**bearer, "X-Workspace-Handle": "lab"})
    assert status == 200 and answer["data"]["packageInstance"]["workspaceHandle"] == "lab", answer

    assert _call(stack + "/lab/hi/greet", "POST", {"name": "Ann"}, bearer) == (
        200, {"data": "Howdy, Ann!"})
    assert _call(stack + "/lab/hi/greet?name=Bob", "GET", None, bearer) == (
        200, {"data": "Howdy, Bob!"})

    status, answer = _call(stack + "/lab/hi/total", "POST", {"numbers": [1, 2, 3]}, bearer)
    assert status == 200 and answer["task"]["taskState"] in ("waiting", "running"), answer
    deadline = time.monotonic() + 30
    while True:
        status, done = _call(stack + "/api/v1/task/status", "POST",
                             {"taskId": answer["task"]["taskId"]}, bearer)
        if done["task"]["taskState"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (status, done["task"]["taskState"], done.get("data")) == (200, "succeeded", 6), done


def test_catch_all_does_not_shadow_three_segment_routes_over_http(stack):
    status, answer = _call(stack + "/workflows/titles/tasks", "GET", None,
                           {"Authorization": "Basic bm86bm8="})
    assert status == 401 and answer["code"] == "40100"
    status, answer = _call(stack + "/admin/v1/accounts", "GET", None,
                           {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 405 and "error" in answer
