"""Work messages on the tasks queue: one small message {"key"} per task, sent in batches of 10."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from chalicelib.engine.slots import Slot
from chalicelib import aws
from chalicelib.config import get_settings

log = logging.getLogger("taskport.engine")
SQS_BATCH = 10


class WorkQueue(Protocol):
    """Where the engine sends the keys of tasks to run (SQS by default)."""

    def send(self, keys: Sequence[str], accounts: str | Mapping[str, str] | None = None) -> list[str]:
        """Send one message per key; the keys whose message failed."""
        ...


_slot: Slot[WorkQueue] = Slot()
install = _slot.install  # None: back to SQS
using = _slot.using  # tests: within a block


def installed() -> WorkQueue | None:
    """The queue installed instead of SQS, if any."""
    return _slot.installed


def send(keys: Sequence[str], accounts: str | Mapping[str, str] | None = None) -> list[str]:
    """Send one message per key (SendMessageBatch); returns the keys whose message failed.

    A failed send loses nothing: the task is written with a lease already, and the janitor
    re-drives it when that lease expires. `accounts` (one account, or key -> account) becomes
    each message's MessageGroupId: on a standard queue that makes it an SQS fair queue, so one
    account's burst does not delay the others' messages.
    """
    if _slot.installed is not None:
        return _slot.installed.send(keys, accounts)
    sqs = aws.client("sqs")
    queue = aws.queue_url(get_settings().tasks_queue)
    failed: list[str] = []
    for start in range(0, len(keys), SQS_BATCH):
        chunk = keys[start:start + SQS_BATCH]
        entries = [{"Id": str(i), "MessageBody": json.dumps({"key": key}),
                    **_group(key, accounts)} for i, key in enumerate(chunk)]
        answer = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        for failure in answer.get("Failed", []):
            key = chunk[int(failure["Id"])]
            log.warning("could not enqueue task %s: %s; the janitor will re-drive it",
                        key, failure.get("Message"))
            failed.append(key)
    return failed


def _group(key: str, accounts: str | Mapping[str, str] | None) -> dict[str, str]:
    account = accounts if isinstance(accounts, str) or accounts is None else accounts.get(key)
    return {"MessageGroupId": account} if account else {}


def key_of(body: str) -> str | None:
    """The task key a message carries, or None when the message is not one of ours."""
    try:
        decoded = json.loads(body)
    except (TypeError, ValueError):
        return None
    key = decoded.get("key") if isinstance(decoded, dict) else None
    return key if isinstance(key, str) and key else None
