"""Webhook deliveries that used to be lost or retried for nothing: every attempt is recorded and
a refusal ends the delivery with its reason."""
from __future__ import annotations

import json

import pytest

from chalicelib import config
from tests.api.onespace.conftest import GOOD_INPUT, new_id, put_task, run_sender


def _finished_task(client, basic) -> str:
    task_id = new_id()
    assert put_task(client, basic, task_id, GOOD_INPUT).status_code == 201
    done = client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                            body=json.dumps({"output": {"RadioList": "x"}}))
    assert done.status_code == 200, done.body
    return task_id


def _deliveries(client, basic, task_id):
    response = client.http.get(f"/workflows/titles/tasks/{task_id}/deliveries", headers=basic)
    return json.loads(response.body)["deliveries"]


def _settled(client, basic, task_id):
    return lambda: all(d["status"] != "pending" for d in _deliveries(client, basic, task_id))


@pytest.mark.parametrize("retry_after", ["²", "-5", "1.5", "Thu, 99 Foo 2026 99:99:99 GMT",
                                         "9" * 400, "\u00a0"])
def test_unparseable_retry_after_is_recorded_and_retried(client, basic, workflow, receiver,
                                                         retry_after):
    receiver.script = [(503, {"Retry-After": retry_after}, 0.0)]
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id), timeout=10)
    [delivery] = _deliveries(client, basic, task_id)
    assert len(receiver.received) == 2
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 200]


def test_refusal_at_send_time_ends_the_delivery_with_the_reason(client, basic, workflow,
                                                                receiver, monkeypatch):
    task_id = _finished_task(client, basic)
    # The URL passed the check when the workflow was saved; at send time it is refused.
    monkeypatch.setenv("TASKPORT_EGRESS_ALLOW", "")
    config.get_settings.cache_clear()
    run_sender(client, _settled(client, basic, task_id), timeout=10)
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "failed"
    [attempt] = delivery["attempts"]
    assert "loopback" in attempt["error"]
    assert delivery["reason"].startswith("refused by the egress guard")
    assert receiver.received == []
