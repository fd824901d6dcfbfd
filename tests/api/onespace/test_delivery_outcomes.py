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
    run_sender(client, _settled(client, basic, task_id))
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
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "failed"
    [attempt] = delivery["attempts"]
    assert "loopback" in attempt["error"]
    assert delivery["reason"].startswith("refused by the egress guard")
    assert receiver.received == []


class Killed(BaseException):
    """The process dies here: nothing after it runs, no handler catches it."""


def test_webhook_of_a_finish_killed_before_its_delivery_is_sent_by_the_janitor(
        client, basic, workflow, receiver, monkeypatch):
    import time

    from chalicelib.engine import janitor
    from chalicelib.models import webhooks as store

    task_id = new_id()
    assert put_task(client, basic, task_id, GOOD_INPUT).status_code == 201
    create = store.create_delivery

    def die(*args, **kwargs):
        raise Killed()

    monkeypatch.setattr(store, "create_delivery", die)
    with pytest.raises(Killed):
        client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                         body=json.dumps({"output": {"RadioList": "x"}}))
    monkeypatch.setattr(store, "create_delivery", create)
    assert _deliveries(client, basic, task_id) == []
    # The stack comes back: its janitor finds the finish whose hooks did not run.
    assert janitor.run(now=time.time() + 120)["rehooked"] == 1
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "delivered" and len(receiver.received) == 1
    assert janitor.run(now=time.time() + 120) == {"redriven": 0, "failed": 0, "unsent": 0}


def test_finish_whose_hooks_ran_is_not_rehooked_and_sends_once(client, basic, workflow, receiver):
    import time

    from chalicelib.engine import janitor

    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    assert janitor.run(now=time.time() + 120) == {"redriven": 0, "failed": 0, "unsent": 0}
    [delivery] = _deliveries(client, basic, task_id)
    # Its first step may have been queued twice: any second POST carries the same webhook-id,
    # which receivers drop (Standard Webhooks), and the delivery records one attempt.
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery["webhook_id"]}
    assert len(delivery["attempts"]) == 1


def test_rerun_finish_hook_reuses_the_delivery_it_started(client, basic, account, workflow,
                                                          receiver):
    from chalicelib import workflows
    from chalicelib.engine import hooks, tasks

    task_id = _finished_task(client, basic)
    task = tasks.get_task(workflows.task_key(account["id"], "titles", task_id))
    assert hooks.finished(task)  # as the janitor would, after a crash it cannot tell from this
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    # Its first step may have been queued twice: any second POST carries the same webhook-id,
    # which receivers drop (Standard Webhooks), and the delivery records one attempt.
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery["webhook_id"]}
    assert len(delivery["attempts"]) == 1
