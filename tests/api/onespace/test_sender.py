"""The webhook_sender Lambda itself: concurrency, partial batch failures, hops, what it may touch."""
from __future__ import annotations

import collections
import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

from chalicelib import aws, config
from chalicelib.webhooks import delivery
from tests.api.onespace.conftest import GOOD_INPUT, new_id, put_task

PROJECT_DIR = Path(__file__).resolve().parents[3]


def _finished_task(client, basic) -> str:
    task_id = new_id()
    assert put_task(client, basic, task_id, GOOD_INPUT).status_code == 201
    done = client.http.post(f"/workflows/titles/tasks/{task_id}/complete", headers=basic,
                            body=json.dumps({"output": {"RadioList": "x"}}))
    assert done.status_code == 200, done.body
    return task_id


def _deliveries(client, basic, task_id) -> list[dict[str, Any]]:
    response = client.http.get(f"/workflows/titles/tasks/{task_id}/deliveries", headers=basic)
    return json.loads(response.body)["deliveries"]


def _receive(count: int) -> list[dict[str, Any]]:
    """Exactly `count` messages of the webhooks queue, as Lambda records, deleted from it."""
    sqs = aws.client("sqs")
    url = aws.queue_url(config.get_settings().webhooks_queue)
    records: list[dict[str, Any]] = []
    for _ in range(20):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            records.append({"messageId": m["MessageId"], "body": m["Body"]})
        if len(records) >= count:
            break
    assert len(records) == count
    return records


class _Calls:
    """Every AWS call made while recording: (operation, params)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []

    def sends(self) -> list[dict[str, Any]]:
        return [params for op, params in self.made if op == "SendMessage"]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Calls]:
    import botocore.client

    recorded = _Calls()
    original = botocore.client.BaseClient._make_api_call
    lock = threading.Lock()

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            recorded.made.append((operation, params))
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    yield recorded


def test_one_batch_is_delivered_concurrently(client, basic, workflow, receiver, monkeypatch):
    # Ten requests must be in flight at once to get through the receiver's barrier: sent one
    # after another, the first would wait alone until the sender's timeout and fail.
    monkeypatch.setenv("TASKPORT_WEBHOOK_TIMEOUT_SECONDS", "20")
    config.get_settings.cache_clear()
    ids = [_finished_task(client, basic) for _ in range(10)]
    records = _receive(10)
    receiver.barrier = threading.Barrier(10, timeout=15)
    assert delivery.handle_batch(records) == {"batchItemFailures": []}
    for task_id in ids:
        [done] = _deliveries(client, basic, task_id)
        assert done["status"] == "delivered", done
        assert [a["status_code"] for a in done["attempts"]] == [200]


def test_only_crashed_steps_are_reported_as_batch_item_failures(client, basic, workflow,
                                                                 receiver, monkeypatch):
    crashing, fine = _finished_task(client, basic), _finished_task(client, basic)
    records = _receive(2) + [{"messageId": "malformed", "body": "{not a step"}]
    by_task = {json.loads(r["body"])["task_key"].rsplit(":", 1)[1]: r["messageId"]
               for r in records[:2]}
    record_outcome = delivery.store.record_outcome

    def failing(task_key: str, *args: Any, **kwargs: Any) -> Any:
        if task_key.endswith(crashing):
            raise RuntimeError("DynamoDB is unavailable")
        return record_outcome(task_key, *args, **kwargs)

    monkeypatch.setattr(delivery.store, "record_outcome", failing)
    result = delivery.handle_batch(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": by_task[crashing]}]}
    assert _deliveries(client, basic, fine)[0]["status"] == "delivered"
    assert _deliveries(client, basic, crashing)[0]["status"] == "pending"

    # SQS hands the reported message back; this time the step is recorded.
    monkeypatch.setattr(delivery.store, "record_outcome", record_outcome)
    retried = [r for r in records if r["messageId"] == by_task[crashing]]
    assert delivery.handle_batch(retried) == {"batchItemFailures": []}
    assert _deliveries(client, basic, crashing)[0]["status"] == "delivered"


def test_wait_longer_than_15_minutes_hops_through_sqs(client, basic, workflow, receiver,
                                                      monkeypatch, calls):
    monkeypatch.setenv("TASKPORT_WEBHOOK_SCHEDULE", "1800")
    config.get_settings.cache_clear()
    receiver.script = [(500, {}, 0)]
    task_id = _finished_task(client, basic)
    [first] = _receive(1)
    calls.made.clear()
    started = time.time()
    assert delivery.handle_batch([first]) == {"batchItemFailures": []}
    [retry] = calls.sends()
    assert retry["DelaySeconds"] == 900
    step = json.loads(retry["MessageBody"])
    assert step["attempts_made"] == 1
    assert started + 1800 * 0.9 <= step["due"] <= time.time() + 1800 * 1.1
    [pending] = _deliveries(client, basic, task_id)
    assert pending["status"] == "pending" and len(pending["attempts"]) == 1
    next_at = dt.datetime.fromisoformat(pending["next_attempt_at"].replace("Z", "+00:00"))
    assert abs(next_at.timestamp() - step["due"]) < 1

    # The message comes back after 15 minutes, long before the step is due: it hops again.
    calls.made.clear()
    assert delivery.handle_batch([{"messageId": "hop", "body": retry["MessageBody"]}]) == {
        "batchItemFailures": []}
    [hop] = calls.sends()
    assert hop["DelaySeconds"] == 900 and json.loads(hop["MessageBody"]) == step
    assert len(receiver.received) == 1
    assert len(_deliveries(client, basic, task_id)[0]["attempts"]) == 1

    # The last hop waits only for what remains.
    calls.made.clear()
    soon = {**step, "due": time.time() + 600}
    delivery.handle_batch([{"messageId": "last-hop", "body": json.dumps(soon)}])
    [last] = calls.sends()
    assert 598 <= last["DelaySeconds"] <= 600


def test_sender_touches_only_deliveries_workflows_and_its_queue(client, basic, workflow,
                                                                 receiver, calls):
    receiver.script = [(500, {}, 0), (410, {}, 0)]
    task_id = _finished_task(client, basic)
    for _ in range(2):  # a failed attempt (next step queued), then a 410 (webhook disabled)
        [record] = _receive(1)
        calls.made.clear()
        assert delivery.handle_batch([record]) == {"batchItemFailures": []}
        policy = json.loads((PROJECT_DIR / ".chalice" / "policy-webhook_sender.json").read_text())
        allowed: dict[str, set[str]] = collections.defaultdict(set)
        for statement in policy["Statement"]:
            prefixes = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get(
                "dynamodb:LeadingKeys", ["*"])
            for action in statement["Action"]:
                allowed[action].update(p.rstrip("*") for p in prefixes)
        settings = config.get_settings()
        for operation, params in calls.made:
            service = "sqs" if "QueueUrl" in params else "dynamodb"
            assert f"{service}:{operation}" in allowed, operation
            if service == "sqs":
                assert params["QueueUrl"] == aws.queue_url(settings.webhooks_queue)
                continue
            tables = params.get("RequestItems") or {params["TableName"]: {"Keys": [params["Key"]]}}
            assert set(tables) == {settings.entities_table}, operation
            for wanted in tables.values():
                for key in wanted["Keys"]:
                    assert any(key["pk"]["S"].startswith(prefix)
                               for prefix in allowed[f"dynamodb:{operation}"]), (operation, key)
    assert _deliveries(client, basic, task_id)[0]["status"] == "failed"
    shown = json.loads(client.http.get("/workflows/titles", headers=basic).body)
    assert shown["webhook_enabled"] is False


def test_default_timeout_is_15_seconds(client, basic, workflow, receiver, monkeypatch):
    monkeypatch.delenv("TASKPORT_WEBHOOK_TIMEOUT_SECONDS")
    config.get_settings.cache_clear()
    timeouts: list[float] = []
    fetch = delivery.egress.fetch

    def timed_fetch(url: str, **kwargs: Any) -> Any:
        timeouts.append(kwargs["timeout"])
        return fetch(url, **kwargs)

    monkeypatch.setattr(delivery.egress, "fetch", timed_fetch)
    _finished_task(client, basic)
    assert delivery.handle_batch(_receive(1)) == {"batchItemFailures": []}
    assert timeouts == [15.0]


def test_receiver_trickling_its_answer_cannot_hold_the_batch(client, basic, workflow, receiver,
                                                             monkeypatch):
    # Each byte comes well within the timeout, so only a bound on the whole attempt ends it.
    monkeypatch.setenv("TASKPORT_WEBHOOK_TIMEOUT_SECONDS", "1")
    config.get_settings.cache_clear()
    receiver.trickled, receiver.trickle, receiver.padding = 1, 0.1, 600
    task_id = _finished_task(client, basic)
    assert delivery.handle_batch(_receive(1)) == {"batchItemFailures": []}
    assert not receiver.trickle_done.is_set()  # the sender moved on while the answer trickles
    [pending] = _deliveries(client, basic, task_id)
    [attempt] = pending["attempts"]
    assert attempt["status_code"] is None and "timed out after 1 s" in attempt["error"]
    assert pending["status"] == "pending"


def test_event_too_large_to_keep_is_failed_not_lost(client, basic, workflow, receiver,
                                                   monkeypatch, calls):
    from chalicelib.models import webhooks as store

    monkeypatch.setattr(store, "MAX_STORED_BODY", 16)
    task_id = _finished_task(client, basic)
    [kept] = _deliveries(client, basic, task_id)
    assert kept["status"] == "failed" and "holds at most 16" in kept["reason"]
    assert calls.sends() == [] and receiver.received == []
