"""Workflows end to end on the local stack: HTTP in, the stack's pollers, a signed webhook out."""
from __future__ import annotations

import base64
import http.server
import queue
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from tests.conftest import ADMIN_TOKEN
from tests.local.stack_process import running_stack
from tests.local.test_stack import _call


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[str, queue.Queue]]:
    """A webhook receiver on 127.0.0.1 that answers 200 and hands each request to the test."""
    received: queue.Queue = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received
    httpd.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dev stack in a child process, allowed to reach loopback receivers."""
    with running_stack(tmp_path_factory.mktemp("dev") / "taskport-dev.json",
                       TASKPORT_EGRESS_ALLOW="127.0.0.0/8", TASKPORT_WEBHOOK_SCHEDULE="1,1") as started:
        yield started.url


def _account(stack: str, handle: str) -> tuple[dict, dict[str, str]]:
    status, account = _call(stack + "/admin/v1/accounts", "POST", {"handle": handle},
                            {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 201, account
    token = base64.b64encode(f"{handle}:{account['credentials']['access_key']}".encode()).decode()
    return account, {"Authorization": f"Basic {token}", "CS-API-Version": "2014-08-28"}


def _workflow_with_task(stack: str, basic: dict[str, str], handle: str,
                        definition: dict) -> tuple[dict, str]:
    """A new workflow and one open task of it with input {"List": "a, b"}."""
    status, workflow = _call(stack + f"/workflows/{handle}", "PUT",
                             {"name": handle, "input_fields": ["List"], **definition}, basic)
    assert status == 201, workflow
    task_id = str(uuid.uuid4())
    status, task = _call(stack + f"/workflows/{handle}/tasks/{task_id}", "PUT",
                         {"input": {"List": "a, b"}}, basic)
    assert status == 201 and task["status"]["code"] == "open", task
    return workflow, task_id


def test_completed_task_reaches_receiver_signed(stack, hooks):
    hook_url, received = hooks
    _, basic = _account(stack, "wf-e2e")
    workflow, task_id = _workflow_with_task(stack, basic, "titles", {"webhook_url": hook_url})
    status, done = _call(stack + f"/workflows/titles/tasks/{task_id}/complete", "POST",
                         {"output": {"Pick": "a"}}, basic)
    assert status == 200, done

    path, headers, body = received.get(timeout=90)  # the worker, sandbox and sender share 2 busy CPUs
    assert "event=completed" in path
    assert Webhook(workflow["webhook_secret"]).verify(body, headers) == {
        "id": task_id, "input": {"List": "a, b"}, "output": {"Pick": "a"}}
    deadline = time.monotonic() + 10
    while True:
        _, listed = _call(stack + f"/workflows/titles/tasks/{task_id}/deliveries", headers=basic)
        if listed["deliveries"][0]["status"] == "delivered" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert listed["deliveries"][0]["status"] == "delivered"


def test_automated_task_runs_its_script_and_reaches_receiver(stack, hooks):
    hook_url, received = hooks
    account, basic = _account(stack, "wf-auto")
    script = b"def handler(task_input):\n    return {'Pick': task_input['List'].split(', ')[-1]}\n"
    stored = urllib.request.urlopen(urllib.request.Request(
        stack + "/api/v1/fs/files?path=/workflows/pick.py", data=script, method="PUT",
        headers={"Authorization": f"Bearer {account['credentials']['token']}",
                 "Content-Type": "text/x-python"}), timeout=10)
    assert stored.status == 200
    workflow, task_id = _workflow_with_task(stack, basic, "picks", {
        "webhook_url": hook_url, "handler_script_path": "/workflows/pick.py"})
    assert workflow["mode"] == "automated"

    path, headers, body = received.get(timeout=90)  # the worker, sandbox and sender share 2 busy CPUs
    assert "event=completed" in path
    assert Webhook(workflow["webhook_secret"]).verify(body, headers) == {
        "id": task_id, "input": {"List": "a, b"}, "output": {"Pick": "b"}}
    status, got = _call(stack + f"/workflows/picks/tasks/{task_id}", headers=basic)
    assert status == 200 and got["status"]["completed"] is True and got["output"] == {"Pick": "b"}
