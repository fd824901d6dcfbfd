"""Packages end to end on the local stack over real HTTP: package, version, instance, invoke."""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.local.test_stack import PROJECT_DIR, START_TIMEOUT, _call, _free_port

SOURCE = '''BACKGROUND_METHODS = ["total"]


def greet(config, name="World"):
    return f"{config['greeting']}, {name}!"


def total(numbers):
    return sum(numbers)
'''


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    """The dev stack in a child process: routes, pollers, sandbox server, emulator."""
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "TASKPORT_ADMIN_TOKEN": ADMIN_TOKEN,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "chalicelib.local.stack"], cwd=PROJECT_DIR,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    output: list[str] = []
    try:
        while not any(line.startswith("Press Ctrl-C") for line in output):
            try:
                output.append(lines.get(timeout=START_TIMEOUT))
            except queue.Empty:
                pytest.fail("the stack did not start:\n" + "".join(output))
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


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
