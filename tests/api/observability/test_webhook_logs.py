"""Webhook attempts and janitor re-drives each log one line with their ids, never a secret."""
from __future__ import annotations

import json
import time

from tests.api.observability.conftest import log_lines  # noqa: F401
from tests.api.onespace.conftest import (GOOD_INPUT, basic, new_id, put_task,  # noqa: F401
                                         receiver, run_sender, webhook_settings, workflow)


def test_webhook_attempts_log_host_status_duration_and_next_retry(
        client, basic, workflow, receiver, log_lines):  # noqa: F811
    receiver.script = [(500, {}, 0.0)]
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                     body=json.dumps({"output": {"RadioList": "x"}}))
    run_sender(client, lambda: len(receiver.received) == 2)
    lines = [entry for entry in log_lines() if entry.get("delivery")]
    retry, delivered = lines
    assert (retry["level"], retry["outcome"], retry["status"]) == ("WARNING", "retry", 500)
    assert retry["host"] == "127.0.0.1" and retry["next_retry_seconds"] == 0
    assert (delivered["level"], delivered["outcome"], delivered["status"]) == (
        "INFO", "delivered", 200)
    assert delivered["delivery"] == retry["delivery"] and delivered["request_id"]
    assert isinstance(delivered["duration_ms"], int | float)
    printed = json.dumps(log_lines())
    assert workflow["webhook_secret"] not in printed
    assert workflow["webhook_secret"].removeprefix("whsec_") not in printed
    signature = receiver.received[0].headers["webhook-signature"].split(",", 1)[1]
    assert signature not in printed


def test_janitor_redrive_is_logged_with_the_task_key(client, account, world, log_lines):  # noqa: F811
    from chalicelib.engine import janitor
    from tests.api.dragon.conftest import secret_headers

    response = client.http.post("/v1/create", headers=secret_headers(account),
                                body=json.dumps({"tasks": {"task_name": "hello", "name": "x"}}))
    key = json.loads(response.body)[0]["key"]
    assert janitor.run(now=time.time() + 10_000)["redriven"] == 1
    [line] = [entry for entry in log_lines() if entry.get("task") == key]
    assert line["level"] == "INFO" and "re-drove" in line["message"]
