"""Taskport's own API: an account's tasks and runs, newest first, paged, isolated per account."""
from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from tests.api.dragon.conftest import drain, secret_headers
from tests.api.observability.conftest import PRINTS, RAISES, get, script_endpoint, token

ROOT = "/taskport/v1"


def _hello(client, account, name="Ada"):
    response = client.http.post("/v1/create", headers=secret_headers(account),
                                body=json.dumps({"tasks": {"task_name": "hello", "name": name}}))
    assert response.status_code == 200, response.body
    return json.loads(response.body)[0]["key"]


def _trigger(client, account, path="probe"):
    return client.http.get(f"/api/v1/http-endpoint/u/{path}", headers=token(account))


def test_tasks_list_newest_first_with_their_fields(client, account, world):
    first, second = _hello(client, account, "one"), _hello(client, account, "two")
    assert drain(world["tasks_queue"]) == 2
    status, body = get(client, f"{ROOT}/tasks", account)
    assert status == 200 and body["next_cursor"] is None
    assert [task["key"] for task in body["tasks"]] == [second, first]
    task = body["tasks"][0]
    assert set(task) == {"key", "type", "status", "created_at", "updated_at", "progress",
                         "attempts", "last_attempt", "result"}
    assert (task["type"], task["status"], task["attempts"]) == ("hello", "success", 1)
    assert task["last_attempt"] == {"number": 1, "status": "succeeded", "error": None}


def test_tasks_page_with_cursor_and_filter_by_status_and_type(client, account, world):
    keys = [_hello(client, account, str(n)) for n in range(3)]
    status, page = get(client, f"{ROOT}/tasks?limit=2", account)
    assert [t["key"] for t in page["tasks"]] == keys[:0:-1] and page["next_cursor"]
    status, rest = get(client, f"{ROOT}/tasks?limit=2&cursor={page['next_cursor']}", account)
    assert [t["key"] for t in rest["tasks"]] == keys[:1]
    assert get(client, f"{ROOT}/tasks?status=success", account)[1]["tasks"] == []
    assert len(get(client, f"{ROOT}/tasks?status=queued&type=hello", account)[1]["tasks"]) == 3
    assert get(client, f"{ROOT}/tasks?type=image.info", account)[1]["tasks"] == []


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("limit=101", "limit"),
                                          ("limit=x", "limit"), ("cursor=nope", "cursor"),
                                          ("status=done", "status")])
def test_bad_task_listing_parameters_answer_400(client, account, query, field):
    status, body = get(client, f"{ROOT}/tasks?{query}", account)
    assert status == 400 and body["error"]["field"] == field and body["error"]["message"]


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("cursor=e30", "cursor"),
                                          ("kind=lunch", "kind"), ("status=fine", "status"),
                                          ("endpoint=a&workflow=b", "endpoint"),
                                          ("instance=nodash", "instance")])
def test_bad_run_listing_parameters_answer_400(client, account, query, field):
    status, body = get(client, f"{ROOT}/runs?{query}", account)
    assert status == 400 and body["error"]["field"] == field


def _crafted(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize("listing, cursor", [
    ("tasks", _crafted({"s": 0, "k": {"pk": {"N": "1"}, "sk": {"S": "TASK"}}})),
    ("tasks", _crafted({"s": 0, "k": {"pk": {"S": "TASK#a"}, "sk": {"S": "TASK"},
                                      "account_id": {"S": "someone-else"},
                                      "created_at": {"S": "2026"}}})),
    ("runs", _crafted({"pk": {"S": "RUN#r"}, "sk": {"S": "RUN"}, "account_id": {"S": "x"},
                       "run_id": {"S": "r"}})),
    ("runs", _crafted([1, 2])),
])
def test_crafted_cursors_answer_400_never_reach_the_table(client, account, listing, cursor):
    status, body = get(client, f"{ROOT}/{listing}?cursor={cursor}", account)
    assert status == 400 and body["error"]["field"] == "cursor"


def test_another_accounts_cursor_is_refused(client, account, other_account, world):
    for n in range(2):
        _hello(client, account, str(n))
    cursor = get(client, f"{ROOT}/tasks?limit=1", account)[1]["next_cursor"]
    status, body = get(client, f"{ROOT}/tasks?cursor={cursor}", other_account)
    assert status == 400 and body["error"]["field"] == "cursor"


def test_task_detail_has_events_and_its_runs(client, account, world):
    key = _hello(client, account)
    drain(world["tasks_queue"])
    status, task = get(client, f"{ROOT}/tasks/{key}", account)
    assert status == 200 and task["result"] == "Hello Ada"
    assert set(task["events"]) >= {"queued", "started", "completed"}
    [run] = task["runs"]
    assert (run["kind"], run["status"], run["subject"]["task"]) == ("task", "ok", key)
    assert run["subject"]["attempt"] == 1 and run["error"] is None
    assert get(client, f"{ROOT}/runs/{run['id']}", account) == (200, run)
    assert get(client, f"{ROOT}/runs?task={key}", account)[1]["runs"] == [run]


def test_another_accounts_task_and_run_answer_404_like_missing_ones(client, account,
                                                                     other_account, world):
    key = _hello(client, account)
    drain(world["tasks_queue"])
    run_id = get(client, f"{ROOT}/tasks/{key}", account)[1]["runs"][0]["id"]
    missing_task = get(client, f"{ROOT}/tasks/{key[:-4]}abcd", other_account)
    assert get(client, f"{ROOT}/tasks/{key}", other_account)[0] == missing_task[0] == 404
    theirs = get(client, f"{ROOT}/runs/{run_id}", other_account)
    missing = get(client, f"{ROOT}/runs/run_0000000000000000000000000", other_account)
    assert theirs[0] == missing[0] == 404
    assert theirs[1]["error"]["type"] == missing[1]["error"]["type"] == "NotFound"
    assert get(client, f"{ROOT}/tasks", other_account)[1]["tasks"] == []
    assert get(client, f"{ROOT}/runs", other_account)[1]["runs"] == []


def test_native_api_needs_the_account_token(client, account):
    response = client.http.get(f"{ROOT}/runs")
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["type"] == "Unauthorized"
    secret = client.http.get(f"{ROOT}/runs", headers=secret_headers(account))
    assert secret.status_code == 401


def test_failed_trigger_is_recorded_with_the_users_error_and_traceback(client, account):
    endpoint = script_endpoint(client, account, RAISES)
    assert _trigger(client, account).status_code == 500
    status, body = get(client, f"{ROOT}/runs?endpoint={endpoint}", account)
    [run] = body["runs"]
    assert (run["kind"], run["status"], run["http_status"]) == ("endpoint", "error", 500)
    assert run["subject"] == {"endpoint": endpoint, "path": "probe", "script": "/s/probe.py"}
    assert run["error"]["type"] == "ValueError" and run["error"]["message"] == "no such order"
    assert "/s/probe.py" in run["error"]["traceback"]
    assert "chalicelib" not in run["error"]["traceback"]


def test_triggers_are_listed_newest_first_by_endpoint_kind_and_status(client, account):
    endpoint = script_endpoint(client, account, PRINTS)
    for _ in range(3):
        assert _trigger(client, account).status_code == 200
    status, body = get(client, f"{ROOT}/runs?endpoint={endpoint}&limit=2", account)
    ids = [run["id"] for run in body["runs"]]
    assert ids == sorted(ids, reverse=True) and body["next_cursor"]
    rest = get(client, f"{ROOT}/runs?endpoint={endpoint}&cursor={body['next_cursor']}",
               account)[1]
    assert len(rest["runs"]) == 1 and rest["runs"][0]["id"] < ids[-1]
    assert rest["runs"][0]["http_status"] == 200
    assert len(get(client, f"{ROOT}/runs?kind=endpoint&status=ok", account)[1]["runs"]) == 3
    assert get(client, f"{ROOT}/runs?kind=endpoint&status=error", account)[1]["runs"] == []
    assert get(client, f"{ROOT}/runs?endpoint=other", account)[1]["runs"] == []


def test_run_record_expires_after_the_retention_days(client, account, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_RUN_RETENTION_DAYS", "2")
    config.get_settings.cache_clear()
    script_endpoint(client, account, PRINTS)
    _trigger(client, account)
    [run] = get(client, f"{ROOT}/runs", account)[1]["runs"]
    started = dt.datetime.fromisoformat(run["started_at"])
    expires = dt.datetime.fromisoformat(run["expires_at"])
    assert dt.timedelta(days=2) - dt.timedelta(seconds=2) <= expires - started <= dt.timedelta(days=2)


def test_run_record_sets_the_tables_ttl_attribute(client, account):
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.models.tables import TTL_ATTRIBUTE

    script_endpoint(client, account, PRINTS)
    _trigger(client, account)
    items = aws.client("dynamodb").scan(TableName=get_settings().runs_table)["Items"]
    assert len(items) == 1 and int(items[0][TTL_ATTRIBUTE]["N"]) > 0
    ttl = aws.client("dynamodb").describe_time_to_live(TableName=get_settings().runs_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == TTL_ATTRIBUTE


def test_timed_out_trigger_is_a_timeout_run_with_its_504(client, account, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_HANDLER_WALL_SECONDS", "1")
    config.get_settings.cache_clear()
    endpoint = script_endpoint(client, account, "import time\n\ndef handler(request, *a, **k):\n"
                                                "    print('waiting')\n    time.sleep(5)\n")
    assert _trigger(client, account).status_code == 504
    [run] = get(client, f"{ROOT}/runs?endpoint={endpoint}&status=timeout", account)[1]["runs"]
    assert run["http_status"] == 504 and run["error"]["type"] == "Timeout"
    assert run["duration_ms"] >= 900


def test_tasks_of_every_surface_are_listed_together(client, account, world):
    from tests.api.onespace.conftest import GOOD_INPUT, basic_headers, new_id, put_task, put_workflow

    dragon_key = _hello(client, account)
    basic = basic_headers(account)
    assert put_workflow(client, basic).status_code == 201
    put_task(client, basic, new_id(), GOOD_INPUT)
    tasks = get(client, f"{ROOT}/tasks", account)[1]["tasks"]
    assert [t["type"] for t in tasks] == ["workflow.task", "hello"]
    assert tasks[1]["key"] == dragon_key and tasks[0]["status"] == "queued"
    assert [t["type"] for t in get(client, f"{ROOT}/tasks?type=workflow.task",
                                   account)[1]["tasks"]] == ["workflow.task"]
