"""Automated workflows: the task engine runs the workflow's script in the sandbox, then the webhook."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from standardwebhooks import Webhook

from tests.api.dragon.conftest import drain
from tests.api.onespace.conftest import GOOD_INPUT, new_id, put_task, put_workflow, run_sender

SCRIPT_PATH = "/workflows/titles.py"
PICK_FIRST = '''def handler(task_input):
    return {"RadioList": task_input["Opt1"], "count": len(task_input)}
'''
BROKEN = '''def handler(task_input):
    raise ValueError("no title fits")
'''


def _store_script(client: Any, account: dict[str, Any], source: str) -> None:
    response = client.http.put(f"/api/v1/fs/files?path={quote(SCRIPT_PATH)}", body=source.encode(),
                               headers={"Authorization": f"Bearer {account['credentials']['token']}",
                                        "Content-Type": "text/x-python"})
    assert response.status_code == 200, response.body


def _automated(client, basic, receiver) -> dict[str, Any]:
    response = put_workflow(client, basic, webhook_url=receiver.url,
                            handler_script_path=SCRIPT_PATH)
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def test_automated_task_runs_script_and_sends_signed_webhook(client, basic, account, receiver,
                                                             world):
    _store_script(client, account, PICK_FIRST)
    workflow = _automated(client, basic, receiver)
    task_id = new_id()
    created = put_task(client, basic, task_id, GOOD_INPUT)
    assert created.status_code == 201
    assert json.loads(created.body)["status"]["code"] == "open"

    assert drain(world["tasks_queue"]) == 1
    got = json.loads(client.http.get(f"/workflows/titles/tasks/{task_id}", headers=basic).body)
    output = {"RadioList": "Title option 1", "count": 2}
    assert got["status"]["code"] == "completed" and got["output"] == output

    run_sender(client, lambda: len(receiver.received) == 1)
    [request] = receiver.received
    assert "event=completed" in request.path
    assert Webhook(workflow["webhook_secret"]).verify(request.body, request.headers) == {
        "id": task_id, "input": GOOD_INPUT, "output": output}


def _get(client, basic, task_id):
    return json.loads(client.http.get(f"/workflows/titles/tasks/{task_id}", headers=basic).body)


def test_failing_script_leaves_task_open_for_a_person(client, basic, account, receiver, world):
    _store_script(client, account, BROKEN)
    workflow = _automated(client, basic, receiver)
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    assert drain(world["tasks_queue"]) == 1
    assert _get(client, basic, task_id)["status"] == {
        "code": "open", "cancelable": True, "canceled": False, "completed": False}
    listed = json.loads(client.http.get("/workflows/titles/tasks?status=open",
                                        headers=basic).body)["tasks"]
    assert [t["id"] for t in listed] == [task_id]
    assert receiver.received == []

    output = {"RadioList": "Title option 2"}
    done = client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                            body=json.dumps({"output": output}))
    assert done.status_code == 200, done.body
    assert _get(client, basic, task_id)["output"] == output
    run_sender(client, lambda: len(receiver.received) == 1)
    assert Webhook(workflow["webhook_secret"]).verify(
        receiver.received[0].body, receiver.received[0].headers)["output"] == output


def test_failing_script_runs_once_and_is_not_redriven(client, basic, account, receiver, world):
    from chalicelib.engine import janitor, worker

    _store_script(client, account, BROKEN)
    _automated(client, basic, receiver)
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    assert drain(world["tasks_queue"]) == 1
    key = _key(account, task_id)
    worker.run_task(key)  # a late duplicate of its message
    assert janitor.run(now=time.time() + 10_000)["redriven"] == 0
    assert drain(world["tasks_queue"]) == 0
    from chalicelib.engine import tasks as engine

    task = engine.get_task(key)
    assert (task.status, task.attempt) == ("queued", 1)
    assert task.error == "ValueError: no title fits"


def test_missing_script_leaves_the_task_open_with_the_reason(client, basic, account, receiver,
                                                              world):
    from chalicelib.engine import tasks as engine

    _automated(client, basic, receiver)  # no script stored
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    assert drain(world["tasks_queue"]) == 1
    assert _get(client, basic, task_id)["status"]["code"] == "open"
    assert "/workflows/titles.py" in engine.get_task(_key(account, task_id)).error


def test_script_gets_no_more_than_the_task_has_left_and_a_timeout_hands_it_back(
        client, basic, account, receiver, world, monkeypatch):
    from chalicelib import config
    from chalicelib.engine import tasks as engine

    _store_script(client, account, "import time\n\ndef handler(task_input):\n"
                                   "    time.sleep(30)\n    return {}\n")
    _automated(client, basic, receiver)
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    monkeypatch.setenv("TASKPORT_TASK_WALL_SECONDS", "3")  # the handler wall time stays 10 s
    config.get_settings.cache_clear()
    assert drain(world["tasks_queue"]) == 1
    # With the handler's 10 s the worker's 3 s wall time would have ended it in error first.
    task = engine.get_task(_key(account, task_id))
    assert task.status == "queued" and "the call ran longer than" in task.error, task.error


def test_new_automated_task_costs_one_write_and_one_send(client, basic, account, receiver,
                                                         world, monkeypatch):
    from chalicelib import workflows

    _store_script(client, account, PICK_FIRST)
    _automated(client, basic, receiver)
    put_task(client, basic, new_id(), GOOD_INPUT)  # the workflow and credentials now cached
    calls = []
    import botocore.client

    real = botocore.client.BaseClient._make_api_call

    def count(self, operation, params):
        calls.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", count)
    assert put_task(client, basic, new_id(), GOOD_INPUT).status_code == 201
    assert sorted(calls) == ["PutItem", "SendMessageBatch"], calls
    assert workflows.WORKFLOW_TASK == "workflow.task"


def _key(account: dict[str, Any], task_id: str) -> str:
    from chalicelib import workflows

    return workflows.task_key(account["id"], "titles", task_id)


def test_failed_automated_task_can_be_canceled(client, basic, account, receiver, world):
    _store_script(client, account, BROKEN)
    _automated(client, basic, receiver)
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    drain(world["tasks_queue"])
    canceled = client.http.delete(f"/workflows/titles/tasks/{task_id}", headers=basic)
    assert canceled.status_code == 200
    assert json.loads(canceled.body)["status"]["code"] == "canceled"


def test_task_canceled_before_its_run_is_not_completed_by_it(client, basic, account, receiver,
                                                             world):
    _store_script(client, account, PICK_FIRST)
    _automated(client, basic, receiver)
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    client.http.delete(f"/workflows/titles/tasks/{task_id}", headers=basic)
    assert drain(world["tasks_queue"]) == 1
    response = client.http.get(f"/workflows/titles/tasks/{task_id}", headers=basic)
    assert json.loads(response.body)["code"] == "61286"
    run_sender(client, lambda: len(receiver.received) == 1)
    assert "event=canceled" in receiver.received[0].path


def test_repeated_put_of_automated_task_runs_script_once(client, basic, account, receiver, world):
    _store_script(client, account, PICK_FIRST)
    _automated(client, basic, receiver)
    task_id = new_id()
    assert put_task(client, basic, task_id, GOOD_INPUT).status_code == 201
    assert put_task(client, basic, task_id, GOOD_INPUT).status_code == 200
    assert drain(world["tasks_queue"]) == 1
    assert _get(client, basic, task_id)["status"]["code"] == "completed"
