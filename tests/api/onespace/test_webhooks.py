"""Webhook delivery end to end: a real receiver on 127.0.0.1, the moto queue, webhook_sender."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from standardwebhooks import Webhook

from chalicelib import aws, config
from tests.api.onespace.conftest import GOOD_INPUT, new_id, put_task, put_workflow, run_sender

OUTPUT = {"RadioList": "Title option 1"}


def _complete(client, basic, task_id):
    response = client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                                body=json.dumps({"output": OUTPUT}))
    assert response.status_code == 200, response.body


def _deliveries(client, basic, task_id):
    response = client.http.get(f"/workflows/titles/tasks/{task_id}/deliveries", headers=basic)
    assert response.status_code == 200, response.body
    return json.loads(response.body)["deliveries"]


def _settled(client, basic, task_id, count=1):
    def check():
        deliveries = _deliveries(client, basic, task_id)
        return len(deliveries) >= count and all(d["status"] != "pending" for d in deliveries)
    return check


def _schedule(monkeypatch, schedule, timeout=None):
    monkeypatch.setenv("TASKPORT_WEBHOOK_SCHEDULE", schedule)
    if timeout is not None:
        monkeypatch.setenv("TASKPORT_WEBHOOK_TIMEOUT_SECONDS", timeout)
    config.get_settings.cache_clear()


def _finished_task(client, basic):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    _complete(client, basic, task_id)
    return task_id


def test_completed_event_is_signed_with_the_workflow_secret(client, basic, workflow, receiver):
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    [request] = receiver.received
    assert parse_qs(urlsplit(request.path).query) == {"event": ["completed"]}
    assert urlsplit(request.path).path == "/hook"
    payload = Webhook(workflow["webhook_secret"]).verify(request.body, request.headers)
    assert payload == {"id": task_id, "input": GOOD_INPUT, "output": OUTPUT}
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "delivered" and delivery["event"] == "completed"
    assert delivery["webhook_id"] == request.headers["webhook-id"]
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["duration_ms"] >= 0 and attempt["at"]


def test_canceled_event_carries_null_output(client, basic, workflow, receiver):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    client.http.delete(f"/workflows/titles/tasks/{task_id}", headers=basic)
    run_sender(client, _settled(client, basic, task_id))
    [request] = receiver.received
    assert "event=canceled" in request.path
    assert json.loads(request.body) == {"id": task_id, "input": GOOD_INPUT, "output": None}


def test_rotated_secret_signs_beside_the_old_one(client, basic, workflow, receiver):
    rotated = client.http.post("/workflows/titles/webhook-secret/rotate", headers=basic)
    new_secret = json.loads(rotated.body)["webhook_secret"]
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    [request] = receiver.received
    Webhook(new_secret).verify(request.body, request.headers)
    Webhook(workflow["webhook_secret"]).verify(request.body, request.headers)


def test_receiver_failing_twice_gets_same_id_with_growing_gaps(client, basic, workflow, receiver,
                                                                monkeypatch):
    _schedule(monkeypatch, "1,3")
    receiver.script = [(500, {}, 0), (502, {}, 0)]
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id), timeout=20)
    first, second, third = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    gap1, gap2 = second.at - first.at, third.at - second.at
    assert gap1 >= 0.5 and gap2 >= 2.0 and gap2 > gap1
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 502, 200]


def test_exhausted_ladder_marks_delivery_failed_and_keeps_it(client, basic, workflow, receiver,
                                                             monkeypatch):
    _schedule(monkeypatch, "0,0")
    receiver.script = [(500, {}, 0)] * 5
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "failed" and "3 attempts" in delivery["reason"]
    assert len(delivery["attempts"]) == 3 and len(receiver.received) == 3


def test_410_disables_webhook_until_workflow_put_again(client, basic, workflow, receiver):
    receiver.script = [(410, {}, 0)]
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 1
    shown = json.loads(client.http.get("/workflows/titles", headers=basic).body)
    assert shown["webhook_enabled"] is False and "410" in shown["webhook_disabled_reason"]

    second = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, second))
    [skipped] = _deliveries(client, basic, second)
    assert skipped["status"] == "failed" and skipped["attempts"] == []
    assert "disabled" in skipped["reason"] and len(receiver.received) == 1

    again = put_workflow(client, basic, webhook_url=receiver.url)
    assert json.loads(again.body)["webhook_enabled"] is True
    client.http.post(f"/workflows/titles/tasks/{second}/deliveries/replay", headers=basic)
    run_sender(client, _settled(client, basic, second, count=2))
    assert _deliveries(client, basic, second)[-1]["status"] == "delivered"


@pytest.mark.parametrize("status", [201, 202, 204])
def test_any_2xx_is_delivered(client, basic, workflow, receiver, status):
    receiver.script = [(status, {}, 0)]
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [status]


def test_redirect_is_a_failure_and_never_followed(client, basic, workflow, receiver):
    receiver.script = [(302, {"Location": receiver.url + "?elsewhere=1"}, 0)]
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    first, second = delivery["attempts"]
    assert first["status_code"] == 302 and "not followed" in first["error"]
    assert second["status_code"] == 200
    assert all("elsewhere" not in r.path for r in receiver.received)


def test_slow_receiver_times_out_and_is_retried(client, basic, workflow, receiver, monkeypatch):
    _schedule(monkeypatch, "0,0,0", timeout="0.5")
    receiver.script = [(200, {}, 1.5)]
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    first, second = delivery["attempts"]
    assert first["status_code"] is None and "timed out" in first["error"]
    assert second["status_code"] == 200 and delivery["status"] == "delivered"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(client, basic, workflow, receiver, status):
    receiver.script = [(status, {"Retry-After": "2"}, 0)]
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    first, second = receiver.received
    assert second.at - first.at >= 1.5
    [delivery] = _deliveries(client, basic, task_id)
    assert [a["status_code"] for a in delivery["attempts"]] == [status, 200]


def test_url_refused_at_send_time_is_recorded(client, basic, workflow, receiver, monkeypatch):
    monkeypatch.setenv("TASKPORT_EGRESS_ALLOW", "")
    _schedule(monkeypatch, "0")
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "failed"
    assert all("loopback" in a["error"] for a in delivery["attempts"])
    assert receiver.received == []


def test_replay_sends_the_event_again_with_the_same_webhook_id(client, basic, workflow, receiver):
    task_id = _finished_task(client, basic)
    run_sender(client, _settled(client, basic, task_id))
    replay = client.http.post(f"/workflows/titles/tasks/{task_id}/deliveries/replay", headers=basic)
    assert replay.status_code == 202
    assert json.loads(replay.body)["status"] == "pending"
    run_sender(client, _settled(client, basic, task_id, count=2))
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert [d["status"] for d in _deliveries(client, basic, task_id)] == ["delivered", "delivered"]


def test_replay_of_open_task_is_refused(client, basic, workflow):
    task_id = new_id()
    put_task(client, basic, task_id, GOOD_INPUT)
    response = client.http.post(f"/workflows/titles/tasks/{task_id}/deliveries/replay",
                                headers=basic)
    assert response.status_code == 400 and json.loads(response.body)["code"] == "54421"


def test_duplicated_sqs_message_makes_one_attempt(client, basic, workflow, receiver):
    task_id = _finished_task(client, basic)
    sqs = aws.client("sqs")
    url = aws.queue_url(config.get_settings().webhooks_queue)
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    for _ in range(2):  # SQS delivers at least once: the same step may arrive again later
        client.lambda_.invoke("webhook_sender", client.events.generate_sqs_event(
            [message["Body"]], "taskport-webhooks"))
    assert len(receiver.received) == 1
    [delivery] = _deliveries(client, basic, task_id)
    assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 1


def test_one_batch_delivers_every_event(client, basic, workflow, receiver):
    ids = [_finished_task(client, basic) for _ in range(10)]
    run_sender(client, lambda: len(receiver.received) >= 10 and all(
        _settled(client, basic, task_id)() for task_id in ids))
    assert sorted(json.loads(r.body)["id"] for r in receiver.received) == sorted(ids)
