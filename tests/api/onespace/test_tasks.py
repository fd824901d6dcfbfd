"""Workflow tasks as the seed documents them: create, read, cancel, every error code, versions."""
from __future__ import annotations

import contextlib
import json
import threading

from chalicelib import aws
from tests.api.onespace.conftest import GOOD_INPUT, basic_headers, new_id, put_task
from tests.conftest import atomic_aws_calls

OPEN = {"code": "open", "cancelable": True, "canceled": False, "completed": False}
COMPLETED = {"code": "completed", "cancelable": False, "canceled": False, "completed": True}
CANCELED = {"code": "canceled", "cancelable": False, "canceled": True, "completed": False}


def _error(response):
    body = json.loads(response.body)
    return response.status_code, body["code"], body["data"]


def test_put_task_creates_open_task(client, basic, workflow):
    task_id = new_id()
    response = put_task(client, basic, task_id, GOOD_INPUT)
    assert response.status_code == 201
    assert json.loads(response.body) == {"id": task_id, "status": OPEN, "input": GOOD_INPUT}
    assert response.headers["CS-API-Version"] == "2014-08-28"

    got = client.http.get(f"/workflows/titles/tasks/{task_id}", headers=basic)
    assert got.status_code == 200
    assert json.loads(got.body) == {"id": task_id, "status": OPEN, "input": GOOD_INPUT,
                                    "output": None}


def test_put_same_id_same_input_is_200_without_new_task(client, basic, workflow):
    task_id = new_id()
    assert put_task(client, basic, task_id, GOOD_INPUT).status_code == 201
    again = put_task(client, basic, task_id, GOOD_INPUT)
    assert again.status_code == 200
    assert json.loads(again.body)["id"] == task_id
    listed = json.loads(client.http.get("/workflows/titles/tasks", headers=basic).body)["tasks"]
    assert [t["id"] for t in listed] == [task_id]


def test_put_same_id_other_input_is_409_50688(client, basic, workflow):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    response = put_task(client, basic, task_id, {**GOOD_INPUT, "Opt1": "other"})
    assert _error(response) == (409, "50688", None)


def test_concurrent_puts_of_one_id_create_one_task(client, basic, workflow, monkeypatch):
    # chalice.test swaps os.environ per request, which is not thread-safe (a thread may restore
    # another's copy and leak this test's environment); the app has no stage variables anyway.
    monkeypatch.setattr(type(client.http), "_patched_env_vars",
                        lambda self, variables: contextlib.nullcontext())
    task_id = new_id()
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def put() -> None:
        barrier.wait()
        statuses.append(put_task(client, basic, task_id, GOOD_INPUT).status_code)

    threads = [threading.Thread(target=put) for _ in range(8)]
    with atomic_aws_calls():  # DynamoDB applies each conditional put atomically; moto does not
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [200] * 7 + [201]
    listed = json.loads(client.http.get("/workflows/titles/tasks", headers=basic).body)["tasks"]
    assert len(listed) == 1


def test_put_unparseable_body_is_65464(client, basic, workflow):
    for body in (b"{not json", b"[1]", b"\xff"):
        response = client.http.put(f"/workflows/titles/tasks/{new_id()}", headers=basic, body=body)
        assert _error(response) == (400, "65464", None)


def test_put_missing_fields_is_65577_naming_each(client, basic, workflow):
    response = put_task(client, basic, new_id(), {"Other": "x", "Opt1": ""})
    assert _error(response) == (400, "65577", {"List": "Required field not found.",
                                               "Opt1": "Required field not found."})


def test_put_without_input_object_is_54421(client, basic, workflow):
    for task_input in (None, "text", [1, 2]):
        status, code, data = _error(put_task(client, basic, new_id(), task_input))
        assert (status, code) == (400, "54421") and "input" in data


def test_bad_guid_and_bad_version_are_54421_naming_each(client, account, workflow):
    response = put_task(client, basic_headers(account, "yesterday"), "not-a-guid", GOOD_INPUT)
    status, code, data = _error(response)
    assert (status, code) == (400, "54421")
    assert "CS-API-Version" in data
    id_only = put_task(client, basic_headers(account), "not-a-guid", GOOD_INPUT)
    assert _error(id_only)[2].keys() == {"id"}
    for method in (client.http.get, client.http.delete):
        assert _error(method("/workflows/titles/tasks/123", headers=basic_headers(account)))[:2] \
            == (400, "54421")


def test_version_header_optional_iso_date_and_echoed(client, account, workflow):
    for version in (None, "2014-08-28", "2020-01-01"):
        response = put_task(client, basic_headers(account, version), new_id(), GOOD_INPUT)
        assert response.status_code == 201, version
        assert response.headers["CS-API-Version"] == "2014-08-28"
    for version in ("2014-8-28", "28/08/2014", "2014-02-30", "2013-01-01", ""):
        response = put_task(client, basic_headers(account, version), new_id(), GOOD_INPUT)
        status, code, data = _error(response)
        assert (status, code) == (400, "54421") and "CS-API-Version" in data, version
        assert response.headers["CS-API-Version"] == "2014-08-28"


def test_unknown_workflow_or_task_is_404_66868(client, basic, workflow):
    assert _error(put_task(client, basic, new_id(), GOOD_INPUT, handle="nope")) == (
        404, "66868", None)
    for method in (client.http.get, client.http.delete):
        assert _error(method(f"/workflows/titles/tasks/{new_id()}", headers=basic)) == (
            404, "66868", None)


def test_other_account_sees_task_as_missing(client, basic, workflow, other_account):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    other = basic_headers(other_account)
    assert _error(client.http.get(f"/workflows/titles/tasks/{task_id}", headers=other))[:2] == (
        404, "66868")
    assert _error(client.http.delete(f"/workflows/titles/tasks/{task_id}", headers=other))[:2] == (
        404, "66868")


def test_cancel_open_task_then_it_reads_as_61286(client, basic, workflow):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    canceled = client.http.delete(f"/workflows/titles/tasks/{task_id}", headers=basic)
    assert canceled.status_code == 200
    assert json.loads(canceled.body)["status"] == CANCELED
    assert _error(client.http.get(f"/workflows/titles/tasks/{task_id}", headers=basic)) == (
        403, "61286", None)
    assert _error(put_task(client, basic, task_id, GOOD_INPUT)) == (403, "61286", None)
    assert _error(client.http.delete(f"/workflows/titles/tasks/{task_id}", headers=basic)) == (
        403, "56947", None)


def test_cancel_completed_task_is_56947(client, basic, workflow):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    done = client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                            body=json.dumps({"output": {"RadioList": "Title option 1"}}))
    assert done.status_code == 200
    assert _error(client.http.delete(f"/workflows/titles/tasks/{task_id}", headers=basic)) == (
        403, "56947", None)


def test_complete_task_by_a_person_returns_output(client, basic, workflow):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    output = {"RadioList": "Title option 1"}
    done = client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                            body=json.dumps({"output": output}))
    assert done.status_code == 200
    assert json.loads(done.body)["status"] == COMPLETED
    got = json.loads(client.http.get(f"/workflows/titles/tasks/{task_id}", headers=basic).body)
    assert got == {"id": task_id, "status": COMPLETED, "input": GOOD_INPUT, "output": output}
    again = client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                             body=json.dumps({"output": output}))
    assert again.status_code == 403


def test_complete_needs_an_output_object(client, basic, workflow):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    for body in ({}, {"output": "x"}):
        response = client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                                    body=json.dumps(body))
        assert _error(response)[:2] == (400, "54421")
        assert "output" in _error(response)[2]


def test_list_open_tasks_for_workers(client, basic, workflow):
    ids = [new_id() for _ in range(3)]
    for task_id in ids:
        put_task(client, basic, task_id, GOOD_INPUT)
    client.http.post(f"/workflows/titles/tasks/{ids[0]}/complete", headers=basic,
                     body=json.dumps({"output": {"x": 1}}))
    client.http.delete(f"/workflows/titles/tasks/{ids[1]}", headers=basic)
    open_tasks = json.loads(client.http.get("/workflows/titles/tasks?status=open",
                                            headers=basic).body)["tasks"]
    assert [t["id"] for t in open_tasks] == [ids[2]]
    completed = json.loads(client.http.get("/workflows/titles/tasks?status=completed",
                                           headers=basic).body)["tasks"]
    assert [t["id"] for t in completed] == [ids[0]]
    bad = client.http.get("/workflows/titles/tasks?status=weird", headers=basic)
    assert _error(bad)[:2] == (400, "54421")


def test_manual_task_is_never_queued_for_a_worker(client, basic, workflow, world):
    put_task(client, basic, new_id(), GOOD_INPUT)
    messages = aws.client("sqs").receive_message(QueueUrl=world["tasks_queue"]).get("Messages")
    assert not messages


def test_task_routes_need_basic_credentials(client, workflow):
    response = put_task(client, {"Content-Type": "application/json"}, new_id(), GOOD_INPUT)
    assert _error(response)[:2] == (401, "40100")


def test_every_seed_error_has_its_exact_wire_shape(client, basic, account, workflow):
    canceled, taken = new_id(), new_id()
    put_task(client, basic, canceled, GOOD_INPUT)
    client.http.delete(f"/workflows/titles/tasks/{canceled}", headers=basic)
    put_task(client, basic, taken, GOOD_INPUT)
    cases = [
        (client.http.put(f"/workflows/titles/tasks/{new_id()}", headers=basic, body=b"{nope"),
         400, "65464", "Unable to parse request body.", None),
        (put_task(client, basic, "nope", GOOD_INPUT),
         400, "54421", "Invalid request information.", {"id": "must be a GUID such as "
                                                              "1cbe149a-59f2-425f-ac02-2d0ea3e3a7fe"}),
        (put_task(client, basic, new_id(), {"Opt1": "x"}),
         400, "65577", "Invalid Task input data.", {"List": "Required field not found."}),
        (put_task(client, basic, canceled, GOOD_INPUT), 403, "61286", "Task is canceled.", None),
        (client.http.get(f"/workflows/titles/tasks/{canceled}", headers=basic),
         403, "61286", "Task is canceled.", None),
        (client.http.delete(f"/workflows/titles/tasks/{canceled}", headers=basic),
         403, "56947", "Task is not cancelable.", None),
        (put_task(client, basic, new_id(), GOOD_INPUT, handle="nope"),
         404, "66868", "Invalid Task endpoint.", None),
        (put_task(client, basic, taken, {**GOOD_INPUT, "Opt1": "changed"}),
         409, "50688", "A conflicted Task was found.", None),
    ]
    for response, status, code, message, data in cases:
        assert response.status_code == status, code
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["CS-API-Version"] == "2014-08-28"
        assert json.loads(response.body) == {"code": code, "message": message, "data": data}


def test_half_made_workflow_task_from_the_task_api_is_refused(client, account, basic, workflow):
    # It would list under the workflow without the id the workflow views read.
    response = client.http.post("/v1/create", headers={
        "Authorization": f"Secret {account['credentials']['secret_key']}",
        "Content-Type": "application/json"}, body=json.dumps({"tasks": [
            {"task_name": "workflow.task", "input": {"List": "x"}, "group": "wf:titles"}]}))
    assert response.status_code == 400, response.body
    listed = client.http.get("/workflows/titles/tasks", headers=basic)
    assert listed.status_code == 200 and json.loads(listed.body)["tasks"] == []
