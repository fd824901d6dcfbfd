"""Log lines: one per request and per run, at INFO/WARNING with their ids; faults at ERROR."""
from __future__ import annotations

import json

from tests.api.dragon.conftest import drain, secret_headers
from tests.api.observability.conftest import RAISES, script_endpoint, token

REQUIRED = {"level", "timestamp", "message", "service", "function", "request_id"}


def test_request_line_logged_at_info_with_request_id_and_account(client, account, log_lines):
    response = client.http.get("/api/v1/fs/list", headers=token(account))
    assert response.status_code == 200
    [line] = [entry for entry in log_lines() if entry.get("method") == "GET"]
    assert REQUIRED <= set(line)
    assert line["level"] == "INFO" and line["service"] == "taskport"
    assert (line["method"], line["status"], line["surface"]) == ("GET", 200, "instabase")
    assert line["account"] == account["id"] and line["request_id"]
    assert isinstance(line["duration_ms"], float)


def test_each_request_gets_its_own_request_id(client, account, log_lines):
    for _ in range(2):
        client.http.get("/api/v1/fs/list", headers=token(account))
    ids = [entry["request_id"] for entry in log_lines() if entry.get("method") == "GET"]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_handler_failure_is_a_warning_with_its_run_not_an_error(client, account, log_lines):
    endpoint = script_endpoint(client, account, RAISES)
    response = client.http.get("/api/v1/http-endpoint/u/probe", headers=token(account))
    assert response.status_code == 500
    lines = log_lines()
    assert [entry for entry in lines if entry["level"] == "ERROR"] == []
    [run_line] = [entry for entry in lines if entry.get("kind") == "endpoint"]
    assert run_line["level"] == "WARNING" and run_line["run"].startswith("run_")
    assert (run_line["endpoint"], run_line["outcome"], run_line["error_type"]) == (
        endpoint, "error", "ValueError")
    [request] = [entry for entry in lines if entry.get("method") == "GET"]
    assert request["request_id"] == run_line["request_id"] and request["status"] == 500


def test_task_attempt_logs_its_start_and_end_with_the_task_key(client, account, world, log_lines):
    response = client.http.post("/v1/create", headers=secret_headers(account),
                                body=json.dumps({"tasks": {"task_name": "hello", "name": "Ada"}}))
    [status] = json.loads(response.body)
    assert drain(world["tasks_queue"]) == 1
    mine = [entry for entry in log_lines() if entry.get("task") == status["key"]]
    started = [e for e in mine if "started" in e["message"]]
    ended = [e for e in mine if e.get("outcome") == "success"]
    assert len(started) == 1 and len(ended) == 1 and ended[0]["level"] == "INFO"
    assert ended[0]["account"] == account["id"] and ended[0]["attempt"] == 1


def test_platform_fault_is_an_error_with_its_traceback(client, account, log_lines, monkeypatch):
    from chalicelib.runs import history

    def broken(*args, **kwargs):
        raise RuntimeError("the table is on fire")

    monkeypatch.setattr(history, "list_tasks", broken)
    response = client.http.get("/taskport/v1/tasks", headers=token(account))
    assert response.status_code == 500
    assert "on fire" not in response.body.decode()
    [fault] = [entry for entry in log_lines() if entry["level"] == "ERROR"]
    assert "RuntimeError: the table is on fire" in fault["exception"]
    assert fault["request_id"] and fault["account"] == account["id"]


def test_secret_shaped_text_is_masked_in_every_format(log_lines):
    import logging

    secret = "tpt_" + "x" * 30
    logging.getLogger("taskport.test").info("got %s and whsec_abcdefghijklmnop and "
                                            "https://b/k?X-Amz-Signature=deadbeef&a=1", secret)
    [line] = [entry for entry in log_lines() if entry.get("location", "").startswith("test_")]
    assert secret not in line["message"] and "whsec_abc" not in line["message"]
    assert "deadbeef" not in line["message"] and "X-Amz-Signature=[redacted]" in line["message"]


def test_nothing_below_error_is_dropped_by_chalice():
    import logging

    from app import app

    assert app.log.name == "taskport"
    assert logging.getLogger("taskport.engine").getEffectiveLevel() == logging.INFO
