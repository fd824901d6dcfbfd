"""Webhook deliveries and their attempts in the entities table: pk DELIVERY#<task key>, sk <id>.

A delivery keeps the event's body (zlib-compressed), so the sender needs neither the task nor
the tasks table: it reads and writes deliveries, and reads the workflow for its URL and secret.
"""
from __future__ import annotations

import datetime as dt
import zlib
from typing import Any, NamedTuple

from pynamodb.attributes import (BinaryAttribute, ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute,
                                 UTCDateTimeAttribute)
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from chalicelib.errors import Conflict, NotFound
from chalicelib.models.base import now, save_if, table_meta, update_quietly

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
RETENTION = dt.timedelta(days=30)
# An item holds at most 400 KB; what is left beside the body is room for a full ladder of attempts.
MAX_STORED_BODY = 350 * 1024


class AttemptMap(MapAttribute):
    """One HTTP attempt: when, to which URL, the answer's status or the error, how long it took."""

    at = UTCDateTimeAttribute()
    url = UnicodeAttribute()
    duration_ms = NumberAttribute()
    status_code = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)


class DeliveryRecord(Model):
    """One delivery of one event of one task; attempts are appended, one write each."""

    Meta = table_meta("entities_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    account_id = UnicodeAttribute()
    task_key = UnicodeAttribute()
    workflow = UnicodeAttribute()
    task_id = UnicodeAttribute()
    event = UnicodeAttribute()
    webhook_id = UnicodeAttribute()
    status = UnicodeAttribute()
    attempt_count = NumberAttribute(default=0)
    attempts = ListAttribute(of=AttemptMap, default=list)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = NumberAttribute()
    next_attempt_at = UTCDateTimeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    body = BinaryAttribute(null=True, legacy_encoding=False)


class Attempt(NamedTuple):
    """One recorded HTTP attempt."""

    at: dt.datetime
    url: str
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class Delivery(NamedTuple):
    """A delivery as the rest of the code sees it."""

    delivery_id: str
    account_id: str
    task_key: str
    workflow: str
    task_id: str
    event: str
    webhook_id: str
    status: str
    attempts: tuple[Attempt, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    next_attempt_at: dt.datetime | None = None
    reason: str | None = None
    body: str | None = None


def _pk(task_key: str) -> str:
    return f"DELIVERY#{task_key}"


def _to_delivery(record: DeliveryRecord) -> Delivery:
    attempts = tuple(
        Attempt(at=a.at, url=a.url, duration_ms=int(a.duration_ms),
                status_code=None if a.status_code is None else int(a.status_code), error=a.error)
        for a in (record.attempts or ()))
    return Delivery(delivery_id=record.sk, account_id=record.account_id, task_key=record.task_key,
                    workflow=record.workflow, task_id=record.task_id, event=record.event,
                    webhook_id=record.webhook_id, status=record.status, attempts=attempts,
                    created_at=record.created_at, updated_at=record.updated_at,
                    next_attempt_at=record.next_attempt_at, reason=record.reason,
                    body=zlib.decompress(record.body).decode("utf-8") if record.body else None)


def create_delivery(delivery_id: str, *, account_id: str, task_key: str, workflow: str,
                    task_id: str, event: str, webhook_id: str, body: str,
                    exist_ok: bool = False) -> Delivery:
    """Record a new pending delivery of `body`; failed at once when the body cannot be kept.

    With `exist_ok`, a delivery of that id that exists already is answered as it is."""
    stamp = now()
    stored = zlib.compress(body.encode("utf-8"))
    fits = len(stored) <= MAX_STORED_BODY
    record = DeliveryRecord(_pk(task_key), delivery_id, account_id=account_id, task_key=task_key,
                            workflow=workflow, task_id=task_id, event=event,
                            webhook_id=webhook_id, status=PENDING if fits else FAILED,
                            attempt_count=0, attempts=[], created_at=stamp, updated_at=stamp,
                            next_attempt_at=stamp if fits else None,
                            body=stored if fits else None,
                            reason=None if fits else (
                                f"the event body is {len(stored)} bytes compressed; a delivery "
                                f"holds at most {MAX_STORED_BODY}"),
                            expires_at=int((stamp + RETENTION).timestamp()))
    if not save_if(record, DeliveryRecord.pk.does_not_exist()):
        if not exist_ok:
            raise Conflict(f"delivery {delivery_id!r} of task {task_key!r} exists already")
        return get_delivery(task_key, delivery_id)
    return _to_delivery(record)


def get_delivery(task_key: str, delivery_id: str) -> Delivery:
    """One delivery, read consistently, or NotFound."""
    try:
        return _to_delivery(DeliveryRecord.get(_pk(task_key), delivery_id, consistent_read=True))
    except DoesNotExist as exc:
        raise NotFound(f"no delivery {delivery_id!r}") from exc


def get_deliveries(keys: list[tuple[str, str]]) -> dict[tuple[str, str], Delivery]:
    """The deliveries that exist among (task key, delivery id) pairs, read consistently at once."""
    wanted = list(dict.fromkeys(keys))
    records = DeliveryRecord.batch_get([(_pk(task_key), delivery_id)
                                        for task_key, delivery_id in wanted],
                                       consistent_read=True)
    return {(record.task_key, record.sk): _to_delivery(record) for record in records}


def list_deliveries(task_key: str) -> list[Delivery]:
    """Every delivery of a task, oldest first (ids sort by creation time)."""
    return [_to_delivery(record) for record in DeliveryRecord.query(_pk(task_key))]


def record_outcome(task_key: str, delivery_id: str, *, expected_attempts: int,
                   attempt: Attempt | None, status: str, next_attempt_at: dt.datetime | None,
                   reason: str | None) -> bool:
    """Append an attempt (if any) and set the status, only if no one else recorded one since.

    False when the condition failed: a duplicate SQS message already handled this step. The
    write asks for nothing back: the item carries the compressed event body, which the sender
    has already and would otherwise receive and unpack again for every attempt.
    """
    actions: list[Any] = [DeliveryRecord.status.set(status),
                          DeliveryRecord.updated_at.set(now())]
    if attempt is not None:
        actions += [
            DeliveryRecord.attempts.set(DeliveryRecord.attempts.append([AttemptMap(
                at=attempt.at, url=attempt.url, duration_ms=attempt.duration_ms,
                status_code=attempt.status_code, error=attempt.error)])),
            DeliveryRecord.attempt_count.set(expected_attempts + 1),
        ]
    actions.append(DeliveryRecord.next_attempt_at.set(next_attempt_at) if next_attempt_at
                   else DeliveryRecord.next_attempt_at.remove())
    actions.append(DeliveryRecord.reason.set(reason) if reason else DeliveryRecord.reason.remove())
    return update_quietly(DeliveryRecord, _pk(task_key), delivery_id, actions,
                          (DeliveryRecord.status == PENDING) & (
                              DeliveryRecord.attempt_count == expected_attempts))
