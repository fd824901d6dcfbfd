"""Background invocation: an engine task run in the sandbox by the task worker; task status."""
from __future__ import annotations

import threading
import time

import pytest

from tests.api.steamship.conftest import bearer, call, failure, invoke, make_package, run_worker

SLEEPY = '''import time


def nap(seconds):
    time.sleep(seconds)
    return "rested"
'''


def _status(client, account, task_id):
    return call(client, account, "task/status", {"taskId": task_id})


def _assert_task_shape(task):
    assert set(task) >= {"taskId", "taskState", "taskCreatedOn", "taskLastModifiedOn"}
    assert len(task["taskId"]) == 26
    assert task["taskCreatedOn"].endswith("Z") and task["taskLastModifiedOn"].endswith("Z")


def test_declared_background_method_answers_waiting_task_then_succeeds(client, account, instance,
                                                                       world):
    status, answer = invoke(client, account, "/default/hi/count_to", {"n": 3})
    assert status == 200 and set(answer) == {"task", "status"}
    task = answer["task"]
    _assert_task_shape(task)
    assert task["taskState"] == "waiting" and "taskMessage" not in task
    assert _status(client, account, task["taskId"]) == (200, {"task": task, "status": answer["status"]})
    assert answer["status"]["taskId"] == task["taskId"] and answer["status"]["state"] == "waiting"

    assert run_worker(client, world) == 1
    status, answer = _status(client, account, task["taskId"])
    assert status == 200 and answer["data"] == [1, 2, 3]
    assert answer["task"]["taskState"] == "succeeded"
    assert answer["task"]["taskLastModifiedOn"] >= task["taskLastModifiedOn"]


def test_background_query_flag_queues_an_ordinary_method(client, account, instance, world):
    status, answer = invoke(client, account, "/default/hi/greet?background=true", {"name": "Ann"})
    assert status == 200 and answer["task"]["taskState"] == "waiting"
    run_worker(client, world)
    assert _status(client, account, answer["task"]["taskId"])[1]["data"] == {
        "greeting": "Howdy, Ann!"}


def test_background_get_passes_query_arguments_but_not_the_flag(client, account, instance, world):
    response = client.http.get("/default/hi/echo?background=TRUE&x=1", headers=bearer(account))
    task_id = response.json_body["task"]["taskId"]
    run_worker(client, world)
    assert _status(client, account, task_id)[1]["data"] == {"x": "1"}


def test_background_false_does_not_make_declared_method_synchronous(client, account, instance):
    _, answer = invoke(client, account, "/default/hi/count_to?background=false", {"n": 1})
    assert answer["task"]["taskState"] == "waiting"


def test_background_method_exception_ends_task_failed_with_message(client, account, instance,
                                                                   world):
    _, answer = invoke(client, account, "/default/hi/fail?background=true", {"message": "later"})
    run_worker(client, world)
    status, answer = _status(client, account, answer["task"]["taskId"])
    assert status == 200 and "data" not in answer
    assert answer["task"]["taskState"] == "failed"
    assert answer["task"]["taskMessage"] == "ValueError: later"


def test_background_arguments_that_do_not_fit_end_task_failed(client, account, instance, world):
    _, answer = invoke(client, account, "/default/hi/count_to", {"m": 3})
    run_worker(client, world)
    _, answer = _status(client, account, answer["task"]["taskId"])
    assert answer["task"]["taskState"] == "failed"
    assert answer["task"]["taskMessage"] == "count_to: missing a required argument: 'n'"


def test_background_refusals_happen_before_any_task(client, account, instance, world):
    assert invoke(client, account, "/default/hi/nothing?background=true")[0] == 404
    assert invoke(client, account, "/default/hi/_secret?background=true")[0] == 403
    assert invoke(client, account, "/default/hi/count_to", raw=b"[1]")[0] == 400
    assert run_worker(client, world) == 0


def test_task_status_shows_running_while_worker_runs(client, account, world):
    make_package(client, account, handle="sleepy", source=SLEEPY)
    call(client, account, "package/instance/create", {"packageHandle": "sleepy", "handle": "z"})
    _, answer = invoke(client, account, "/default/z/nap?background=true", {"seconds": 2})
    task_id = answer["task"]["taskId"]
    worker = threading.Thread(target=run_worker, args=(client, world))
    worker.start()
    try:
        states = set()
        deadline = time.monotonic() + 20
        while "running" not in states and time.monotonic() < deadline:
            states.add(_status(client, account, task_id)[1]["task"]["taskState"])
            time.sleep(0.05)
        assert "running" in states
    finally:
        worker.join()
    _, answer = _status(client, account, task_id)
    assert (answer["task"]["taskState"], answer["data"]) == ("succeeded", "rested")


def test_task_status_shows_canceled_task_as_failed(client, account, instance):
    from chalicelib.engine import tasks as engine

    _, answer = invoke(client, account, "/default/hi/count_to", {"n": 2})
    engine.cancel_task(answer["task"]["taskId"], account["id"])
    _, answer = _status(client, account, answer["task"]["taskId"])
    assert answer["task"]["taskState"] == "failed" and answer["task"]["taskMessage"] == "canceled"


@pytest.mark.parametrize("body, status", [({}, 400), ({"taskId": 12}, 400), ({"taskId": ""}, 400),
                                          ({"taskId": "A" * 26}, 404),
                                          ({"taskId": "not-a-key"}, 404)])
def test_task_status_refuses_missing_or_unknown_task(client, account, body, status):
    got, answer = call(client, account, "task/status", body)
    assert got == status and failure(status, answer)[1] == "failed"


def test_task_status_of_other_account_answers_like_missing(client, account, other_account,
                                                           instance):
    _, answer = invoke(client, account, "/default/hi/count_to", {"n": 2})
    theirs = _status(client, other_account, answer["task"]["taskId"])
    missing = _status(client, other_account, "A" * 26)
    assert theirs[0] == missing[0] == 404
    assert theirs[1]["task"]["taskMessage"].replace(answer["task"]["taskId"], "X") == \
        missing[1]["task"]["taskMessage"].replace("A" * 26, "X")


def test_task_status_does_not_show_other_surfaces_tasks(client, account):
    from chalicelib.engine import tasks as engine

    [task] = engine.create_tasks(account["id"], "default",
                                 [engine.TaskSpec(task_type="hello", params={"name": "x"})])
    assert _status(client, account, task.key)[0] == 404
