"""One account cannot starve another: fair queues, concurrent and per-account local batches."""
from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.conftest import atomic_aws_calls


def _queue() -> str:
    from chalicelib import aws

    return aws.client("sqs").create_queue(QueueName="fairness")["QueueUrl"]


def test_one_accounts_slow_batch_does_not_hold_another_accounts_messages(world):
    from chalicelib import aws
    from chalicelib.local.pollers import QueuePoller

    url = _queue()
    release = threading.Event()
    handled: dict[str, float] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        bodies = [json.loads(r["body"])["key"] for r in event["Records"]]
        if any(b.startswith("slow") for b in bodies):
            release.wait(10)
        for body in bodies:
            handled[body] = time.monotonic()
        return {"batchItemFailures": []}

    sqs = aws.client("sqs")
    with atomic_aws_calls():
        for n in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"key": f"slow{n}"}),
                             MessageGroupId="account-a")
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"key": "quick"}),
                         MessageGroupId="account-b")
        poller = QueuePoller(url, handler, lambda: None, name="task_worker")
        started = time.monotonic()
        poller.start()
        try:
            for _ in range(100):
                if "quick" in handled:
                    break
                time.sleep(0.05)
            assert "quick" in handled and handled["quick"] - started < 4
            assert not any(key.startswith("slow") for key in handled)
        finally:
            release.set()
            poller.stop()


def test_task_and_webhook_messages_carry_the_account_as_message_group(world):
    from chalicelib import aws, config
    from chalicelib.engine import tasks

    [task] = tasks.create_tasks("acct-1", "default", [tasks.TaskSpec("hello", {"name": "x"})])
    url = aws.queue_url(config.get_settings().tasks_queue)
    [message] = aws.client("sqs").receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["All"], AttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"]) == {"key": task.key}
    assert message["Attributes"]["MessageGroupId"] == "acct-1"
