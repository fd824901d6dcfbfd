"""Runs in the runs table: one item per execution of code (pk RUN#<id>, sk RUN), kept until TTL.

Run ids start with the time in milliseconds, so every index sorted by id lists newest first
when read backwards. Three indexes, all sparse but the first:
- `by_account` (account_id, run_id): every run of an account;
- `by_subject` (subject_pk "<account>#<kind of subject>:<subject>", run_id): an endpoint's,
  a package instance's, a workflow's or a package's runs;
- `by_task` (task_pk "<account>#<task key>", run_id): the attempts of one task.

Each index holds only the keys and the two attributes a listing filters on (`kind`, `status`):
a run is up to ~145 KB (two 64 KiB outputs and a traceback), and indexes that projected all of
it wrote it in full up to three times more (docs/observability.md, *Where run records are
kept*). A listing reads its page of keys from the index, then the page's items from the table
in one BatchGetItem.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any, NamedTuple

from pynamodb.attributes import (BooleanAttribute, JSONAttribute, NumberAttribute, TTLAttribute,
                                 UnicodeAttribute)
from pynamodb.exceptions import PynamoDBException
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.errors import Invalid, NotFound, TaskportError
from chalicelib.models.base import table_meta


# What the indexes carry beside the keys: the attributes a listing filters on.
LISTED = ["kind", "status"]


class RunStoreFailed(TaskportError):
    """The run record could not be written (the execution itself is not affected)."""


class AccountIndex(GlobalSecondaryIndex):
    """Every run of an account, by id (time)."""

    class Meta:
        index_name = "by_account"
        projection = IncludeProjection(LISTED)

    account_id = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)


class SubjectIndex(GlobalSecondaryIndex):
    """The runs of one endpoint, package instance, workflow or package, by id (time)."""

    class Meta:
        index_name = "by_subject"
        projection = IncludeProjection(LISTED)

    subject_pk = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)


class TaskIndex(GlobalSecondaryIndex):
    """The attempts of one task, by id (time)."""

    class Meta:
        index_name = "by_task"
        projection = IncludeProjection(LISTED)

    task_pk = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)


class RunRecord(Model):
    """One run: pk RUN#<id>, sk RUN."""

    Meta = table_meta("runs_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    started_at = UnicodeAttribute()
    duration_ms = NumberAttribute()
    subject = JSONAttribute()
    stdout = UnicodeAttribute(default="")
    stderr = UnicodeAttribute(default="")
    stdout_truncated = BooleanAttribute(default=False)
    stderr_truncated = BooleanAttribute(default=False)
    cpu_ms = NumberAttribute(null=True)
    max_rss_bytes = NumberAttribute(null=True)
    http_status = NumberAttribute(null=True)
    error = JSONAttribute(null=True)
    subject_pk = UnicodeAttribute(null=True)
    task_pk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    by_account = AccountIndex()
    by_subject = SubjectIndex()
    by_task = TaskIndex()


class Run(NamedTuple):
    """What one execution did, as the API shows it."""

    run_id: str
    account_id: str
    kind: str
    subject: dict[str, Any]
    status: str
    started_at: str
    duration_ms: float
    cpu_ms: float | None
    max_rss_bytes: int | None
    http_status: int | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    error: dict[str, str] | None
    expires_at: str | None


class RunEntry(NamedTuple):
    """A finished run as the store writes it: the run and the keys it is listed under."""

    run: Run
    subject_key: str | None  # "endpoint:<id>", "instance:<ws>/<instance>", ...: by_subject
    task_key: str | None  # the task it is an attempt of: by_task
    expires_at: float  # epoch seconds (TTL)


def _pk(run_id: str) -> str:
    return f"RUN#{run_id}"


def subject_pk(account_id: str, subject: str) -> str:
    """The by_subject key: `subject` is "endpoint:<id>", "instance:<ws>/<instance>", ..."""
    return f"{account_id}#{subject}"


def task_pk(account_id: str, task_key: str) -> str:
    return f"{account_id}#{task_key}"


def _to_run(record: RunRecord) -> Run:
    return Run(run_id=record.run_id, account_id=record.account_id, kind=record.kind,
               subject=record.subject or {}, status=record.status, started_at=record.started_at,
               duration_ms=float(record.duration_ms),
               cpu_ms=float(record.cpu_ms) if record.cpu_ms is not None else None,
               max_rss_bytes=int(record.max_rss_bytes) if record.max_rss_bytes is not None else None,
               http_status=int(record.http_status) if record.http_status is not None else None,
               stdout=record.stdout or "", stderr=record.stderr or "",
               stdout_truncated=bool(record.stdout_truncated),
               stderr_truncated=bool(record.stderr_truncated), error=record.error,
               expires_at=record.expires_at.isoformat() if record.expires_at else None)


def record_of(entry: RunEntry) -> RunRecord:
    """The item of a run (models/tasks.py writes it in the transaction that finishes a task)."""
    run = entry.run
    record = RunRecord(
        _pk(run.run_id), "RUN", run_id=run.run_id, account_id=run.account_id, kind=run.kind,
        status=run.status, started_at=run.started_at, duration_ms=run.duration_ms,
        subject=run.subject, stdout=run.stdout, stderr=run.stderr,
        stdout_truncated=run.stdout_truncated, stderr_truncated=run.stderr_truncated,
        cpu_ms=run.cpu_ms, max_rss_bytes=run.max_rss_bytes, http_status=run.http_status,
        error=run.error, expires_at=dt.datetime.fromtimestamp(int(entry.expires_at), dt.UTC))
    if entry.subject_key is not None:
        record.subject_pk = subject_pk(run.account_id, entry.subject_key)
    if entry.task_key is not None:
        record.task_pk = task_pk(run.account_id, entry.task_key)
    return record


def put(entry: RunEntry) -> None:
    """Write a finished run: one PutItem (retried by the client on throttling and network
    errors, see models/base.py). RunStoreFailed when it still fails."""
    try:
        record_of(entry).save()
    except PynamoDBException as exc:
        raise RunStoreFailed(f"run {entry.run.run_id} could not be recorded: {exc}") from exc


def get(run_id: str, account_id: str) -> Run:
    """The account's run; NotFound for a missing one and for another account's alike."""
    try:
        record = RunRecord.get(_pk(run_id), "RUN")
    except RunRecord.DoesNotExist:
        record = None
    if record is None or record.account_id != account_id:
        raise NotFound(f"no run {run_id!r}")
    return _to_run(record)


def _encode_cursor(last_key: dict[str, Any]) -> str:
    raw = json.dumps(last_key, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, hash_name: str, hash_value: str) -> dict[str, Any]:
    """A query's start key from a cursor this listing gave; Invalid(field=cursor) otherwise
    (nothing a client crafts reaches the query: a malformed start key is DynamoDB's 500)."""
    try:
        last_key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ours = (isinstance(last_key, dict) and set(last_key) == {"pk", "sk", hash_name, "run_id"}
                and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
                        and 0 < len(v["S"]) <= 1024 for v in last_key.values())
                and last_key[hash_name]["S"] == hash_value and last_key["sk"]["S"] == "RUN"
                and last_key["pk"]["S"] == f"RUN#{last_key['run_id']['S']}")
    except (ValueError, TypeError, RecursionError):
        ours = False
    if not ours:
        raise Invalid("the cursor is not one this listing gave", field="cursor")
    return last_key


def list_runs(account_id: str, *, subject: str | None = None, task_key: str | None = None,
              kind: str | None = None, status: str | None = None, limit: int,
              cursor: str | None = None) -> tuple[list[Run], str | None]:
    """A page of the account's runs, newest first, of one subject or task if given."""
    if task_key is not None:
        index: Any = RunRecord.by_task
        hash_name, hash_value = "task_pk", task_pk(account_id, task_key)
    elif subject is not None:
        index = RunRecord.by_subject
        hash_name, hash_value = "subject_pk", subject_pk(account_id, subject)
    else:
        index = RunRecord.by_account
        hash_name, hash_value = "account_id", account_id
    condition = None
    if kind is not None:
        condition = RunRecord.kind == kind
    if status is not None:
        condition = (RunRecord.status == status) if condition is None \
            else condition & (RunRecord.status == status)
    start = decode_cursor(cursor, hash_name, hash_value) if cursor else None
    results = index.query(hash_value, filter_condition=condition, scan_index_forward=False,
                          limit=limit, page_size=limit, last_evaluated_key=start)
    keys = [record.pk for record in results]
    last_key = results.last_evaluated_key
    return _items(keys), (_encode_cursor(last_key) if last_key and len(keys) >= limit else None)


def _items(pks: list[str]) -> list[Run]:
    """The runs of a page of index keys, in the index's order (BatchGetItem, 100 keys a call).

    A run that expired between the index read and this one is left out, as it would have been
    a moment later.
    """
    if not pks:
        return []
    found = {record.pk: record for record in RunRecord.batch_get([(pk, "RUN") for pk in pks])}
    return [_to_run(found[pk]) for pk in pks if pk in found]
