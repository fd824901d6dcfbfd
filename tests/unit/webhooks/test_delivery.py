"""Delivery pieces that need no AWS: event URL, webhook-id, body, SQS step."""
from __future__ import annotations

import json
from types import SimpleNamespace

from chalicelib.webhooks import delivery


def test_event_url_appends_event_to_existing_query():
    assert delivery._event_url("https://h.example/hook", "completed") == (
        "https://h.example/hook?event=completed")
    assert delivery._event_url("https://h.example/hook?token=a&b=2", "canceled") == (
        "https://h.example/hook?token=a&b=2&event=canceled")


def test_webhook_id_is_one_per_task_event():
    first = delivery.webhook_id("wf:acct:titles:1", "completed")
    assert first == delivery.webhook_id("wf:acct:titles:1", "completed")
    assert first.startswith("msg_")
    assert first != delivery.webhook_id("wf:acct:titles:1", "canceled")
    assert first != delivery.webhook_id("wf:acct:titles:2", "completed")


def test_event_body_is_the_seed_shape():
    done = SimpleNamespace(status="success", result={"Pick": "a"}, params={"input": {"L": "a"}})
    canceled = SimpleNamespace(status="canceled", result=None, params={"input": {"L": "a"}})
    assert json.loads(delivery.event_body(done, "id-1")) == {
        "id": "id-1", "input": {"L": "a"}, "output": {"Pick": "a"}}
    assert json.loads(delivery.event_body(canceled, "id-1")) == {
        "id": "id-1", "input": {"L": "a"}, "output": None}
    assert delivery.event_of(done) == "completed" and delivery.event_of(canceled) == "canceled"
    assert delivery.event_of(SimpleNamespace(status="queued")) is None


def test_step_survives_the_queue():
    step = delivery.Step("wf:a:b:c", "0001", 3, 1700000000.5)
    assert delivery.Step.from_json(step.to_json()) == step
