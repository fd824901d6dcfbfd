"""SQS pollers and a schedule ticker that call the app's Lambda handlers the way Lambda does."""
from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import uuid
from typing import Any
from collections.abc import Callable

from chalicelib import aws

log = logging.getLogger("taskport.local")

Handler = Callable[[dict[str, Any], Any], Any]
ContextFactory = Callable[[], Any]


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source hands a function for these received messages."""
    records = []
    for message in messages:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {name: _lambda_attribute(value)
                                  for name, value in message.get("MessageAttributes", {}).items()},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # SQS answers {"StringValue"|"BinaryValue", "DataType"}; Lambda spells them in camelCase and
    # hands binary values base64-encoded.
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode("ascii") if binary is not None else None,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(b).decode("ascii")
                             for b in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }


def scheduled_event(region: str, rule: str) -> dict[str, Any]:
    """The event EventBridge hands a function on a schedule."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012",
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region, "resources": [f"arn:aws:events:{region}:123456789012:rule/{rule}"],
        "detail": {},
    }


def failed_message_ids(result: Any) -> set[str]:
    """The message ids a handler reported in `batchItemFailures` (partial batch response)."""
    if not isinstance(result, dict):
        return set()
    return {item["itemIdentifier"] for item in result.get("batchItemFailures") or []
            if isinstance(item, dict) and "itemIdentifier" in item}


class BackgroundLoop:
    """A daemon thread running `_run` until `stop()`."""

    name: str

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"taskport-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError


class QueuePoller(BackgroundLoop):
    """Long-polls one queue and feeds batches to a handler with Lambda's partial-batch semantics.

    Messages named in the answer's `batchItemFailures` are left on the queue (they come back after
    the visibility timeout, as on Lambda); the rest are deleted. A handler that raises leaves the
    whole batch.

    As Lambda runs several invocations of a function at once, up to `concurrency` batches are
    in flight together; and a received batch is split by MessageGroupId (the account: see
    engine/dispatch.py), one handler call per account, so one account's slow work holds one
    slot and never the batch of another account's messages.
    """

    def __init__(self, queue_url: str, handler: Handler, context_factory: ContextFactory, *,
                 name: str, batch_size: int = 10, wait_seconds: int = 1,
                 concurrency: int = 4) -> None:
        super().__init__()
        self.queue_url = queue_url
        self.name = name
        self._handler = handler
        self._context_factory = context_factory
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._queue_arn: str | None = None
        self._slots = threading.BoundedSemaphore(max(1, concurrency))

    def _run(self) -> None:
        while not self._stop.is_set():
            # Receive only when a slot is free: what is received is handled at once.
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                batches = self._receive()
            except Exception:  # the poller outlives an emulator hiccup, as Lambda's would
                self._slots.release()
                log.exception("poller %s: receive failed", self.name)
                self._stop.wait(1.0)
                continue
            if not batches:
                self._slots.release()
                continue
            for index, batch in enumerate(batches):
                if index and not self._acquire_until_stopped():
                    return
                threading.Thread(target=self._handle_and_release, args=(batch,),
                                 name=f"taskport-{self.name}-batch", daemon=True).start()

    def _acquire_until_stopped(self) -> bool:
        while not self._stop.is_set():
            if self._slots.acquire(timeout=0.5):
                return True
        return False

    def _handle_and_release(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._handle(messages)
        except Exception:
            log.exception("poller %s: a batch failed", self.name)
        finally:
            self._slots.release()

    def _receive(self) -> list[list[dict[str, Any]]]:
        """One received batch, split into one batch per MessageGroupId (in arrival order)."""
        messages = aws.client("sqs").receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds, AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"]).get("Messages", [])
        groups: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            groups.setdefault(message.get("Attributes", {}).get("MessageGroupId", ""),
                              []).append(message)
        return list(groups.values())

    def poll_once(self) -> int:
        """Receive one batch and hand it to the handler; return how many messages were deleted."""
        return sum(self._handle(batch) for batch in self._receive())

    def _handle(self, messages: list[dict[str, Any]]) -> int:
        sqs = aws.client("sqs")
        event = lambda_sqs_event(messages, self._arn(), sqs.meta.region_name)
        try:
            result = self._handler(event, self._context_factory())
        except Exception:
            log.exception("%s raised: the whole batch of %d is left for redelivery",
                          self.name, len(messages))
            return 0
        failed = failed_message_ids(result)
        done = [m for m in messages if m["MessageId"] not in failed]
        if failed:
            log.info("%s reported %d of %d messages failed; left for redelivery",
                     self.name, len(messages) - len(done), len(messages))
        if done:
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        return len(done)

    def _arn(self) -> str:
        if self._queue_arn is None:
            self._queue_arn = aws.client("sqs").get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return self._queue_arn


class ScheduleTicker(BackgroundLoop):
    """Calls a scheduled handler every `interval` seconds (the first call after one interval)."""

    def __init__(self, handler: Handler, context_factory: ContextFactory, *, name: str,
                 region: str, interval: float = 60.0) -> None:
        super().__init__()
        self.name = name
        self._handler = handler
        self._context_factory = context_factory
        self._region = region
        self._interval = interval

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._handler(scheduled_event(self._region, self.name), self._context_factory())
            except Exception:
                log.exception("%s raised", self.name)
