"""An automated workflow whose script raises: the task stays open, and says why."""
from __future__ import annotations

import json

from tests.api.dragon.conftest import drain
from tests.api.observability.conftest import get
from tests.api.onespace.conftest import (GOOD_INPUT, basic, new_id, put_task,  # noqa: F401
                                         put_workflow, receiver, webhook_settings)
from tests.api.onespace.test_automated import BROKEN, SCRIPT_PATH, _store_script


def test_failing_script_is_visible_in_the_task_answer_its_runs_and_the_log(
        client, basic, account, receiver, world, capsys):  # noqa: F811
    _store_script(client, account, BROKEN)
    assert put_workflow(client, basic, webhook_url=receiver.url,
                        handler_script_path=SCRIPT_PATH).status_code == 201
    task_id = new_id()
    created = json.loads(put_task(client, basic, task_id, GOOD_INPUT).body)
    assert created["last_attempt"] is None
    assert drain(world["tasks_queue"]) == 1

    answer = json.loads(client.http.get(f"/workflows/titles/tasks/{task_id}", headers=basic).body)
    assert answer["status"] == {"code": "open", "cancelable": True, "canceled": False,
                                "completed": False}
    assert answer["last_attempt"] == {"number": 1, "status": "failed",
                                      "error": "ValueError: no title fits"}

    status, body = get(client, "/taskport/v1/runs?workflow=titles", account)
    [run] = body["runs"]
    assert (run["kind"], run["status"]) == ("workflow", "error")
    assert run["subject"]["workflow_task"] == task_id and run["subject"]["attempt"] == 1
    assert run["error"]["type"] == "ValueError" and run["error"]["message"] == "no title fits"
    assert SCRIPT_PATH in run["error"]["traceback"]

    key = run["subject"]["task"]
    status, task = get(client, f"/taskport/v1/tasks/{key}", account)
    assert task["status"] == "queued" and task["error"] == "ValueError: no title fits"
    assert task["last_attempt"]["status"] == "failed" and task["runs"] == [run]
    printed = capsys.readouterr().out
    assert f"run={run['id']}" in printed and "ValueError: no title fits" in printed


def test_manual_workflow_task_has_no_last_attempt_field(client, basic, receiver):  # noqa: F811
    assert put_workflow(client, basic, webhook_url=receiver.url).status_code == 201
    task_id = new_id()
    created = json.loads(put_task(client, basic, task_id, GOOD_INPUT).body)
    assert "last_attempt" not in created
