"""Tasks in the tasks table: one item per task (pk TASK#<key>, sk TASK); every transition conditional.

Two sparse indexes ride on the same items:
- `by_group` (group_pk = "<account>#<workspace>#<group>", group_sk = "<status>#<key>"): tasks of a
  group, listable per status. Every transition rewrites group_sk, which it can do without
  reading the item because the key is known; tasks without a group have no group_pk and are
  not indexed.
- `by_lease` (lease_pk = "LEASE#<shard>", lease_sk = zero-padded expiry in epoch seconds, KEYS_ONLY):
  every enqueued task that is not finished carries a lease, so the janitor finds lost work with
  one query per shard. The lease is removed by every transition to a final status, and by a
  hand-back (executing -> queued for people to settle), after which nothing re-drives the task.

Every transition to a final status may also set `expires_at` (the table's TTL attribute, epoch
seconds): DynamoDB deletes the finished task some time after that moment.

`by_account` (account_id, created_at) lists an account's tasks of every surface newest first
(Taskport's own API); it reads attributes every task has, so no write changes for it.

A task attempt ends in one TransactWriteItems that carries the finish (or hand-back) with its
condition and the attempt's run record (`finish_with_run`): the worker's second and last call.
A transaction answers no item, so the finished task is made from the task as the attempt held
it; nothing else can change a task while its attempt runs, since every other write to an
executing task moves it out of that attempt (and then the condition fails).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any, NamedTuple
from collections.abc import Iterable, Sequence

from pynamodb.attributes import (JSONAttribute, ListAttribute, NumberAttribute, TTLAttribute,
                                 UnicodeAttribute)
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.engine.status import FINISHED, OPEN, STATUSES, TaskStatus  # noqa: F401  (STATUSES: re-exported)
from chalicelib.errors import Conflict, Invalid
from chalicelib.models import runs
from chalicelib.models.base import connection, save_if, table_meta, update_if, update_quietly
from chalicelib.models.runs import RunEntry

# The names the engine has always exported; each is a TaskStatus.
QUEUED = TaskStatus.QUEUED
EXECUTING = TaskStatus.EXECUTING
SUCCESS = TaskStatus.SUCCESS
ERROR = TaskStatus.ERROR
CANCELED = TaskStatus.CANCELED
LEASE_SHARDS = 8
SORT_SEPARATOR = "#"


class GroupIndex(GlobalSecondaryIndex):
    """Tasks of one group of one account and workspace, ordered by status then key."""

    class Meta:
        index_name = "by_group"
        projection = AllProjection()

    group_pk = UnicodeAttribute(hash_key=True)
    group_sk = UnicodeAttribute(range_key=True)


class LeaseIndex(GlobalSecondaryIndex):
    """Open, enqueued tasks by lease expiry (keys only)."""

    class Meta:
        index_name = "by_lease"
        projection = KeysOnlyProjection()

    lease_pk = UnicodeAttribute(hash_key=True)
    lease_sk = UnicodeAttribute(range_key=True)


class AccountIndex(GlobalSecondaryIndex):
    """Every task of an account by creation time (Taskport's own API lists them newest first)."""

    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class TaskRecord(Model):
    """One task: pk TASK#<key>, sk TASK."""

    Meta = table_meta("tasks_table")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    key = UnicodeAttribute()
    account_id = UnicodeAttribute()
    workspace = UnicodeAttribute()
    task_type = UnicodeAttribute()
    status = UnicodeAttribute()
    params = JSONAttribute()
    attempt = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    queued_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    progressed_at = UnicodeAttribute(null=True)
    progress = JSONAttribute(null=True)
    result = JSONAttribute(null=True)
    error = UnicodeAttribute(null=True)
    error_code = UnicodeAttribute(null=True)  # the failing code's own code (a package's SteamshipError)
    files: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[arg-type]
    notify = JSONAttribute(null=True)
    group = UnicodeAttribute(null=True)
    group_pk = UnicodeAttribute(null=True)
    group_sk = UnicodeAttribute(null=True)
    lease_pk = UnicodeAttribute(null=True)
    lease_sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    by_group = GroupIndex()
    by_lease = LeaseIndex()
    by_account = AccountIndex()


class Task(NamedTuple):
    """A task as every surface sees it."""

    key: str
    account_id: str
    workspace: str
    task_type: str
    params: dict[str, Any]
    status: TaskStatus
    progress: Any
    result: Any
    error: str | None
    events: dict[str, str]
    files: list[str]
    notify: dict[str, Any] | None
    group: str | None
    attempt: int
    created_at: str
    updated_at: str
    expires_at: str | None = None
    error_code: str | None = None  # what the failing code named its failure, when it did

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class NewTask(NamedTuple):
    """What the engine asks the store to write for one new task."""

    key: str
    account_id: str
    workspace: str
    task_type: str
    params: dict[str, Any]
    notify: dict[str, Any] | None
    group: str | None
    lease_expires: float | None
    client_key: bool


class Lease(NamedTuple):
    """One entry of the lease index: a task key and the lease expiry it had when listed."""

    key: str
    lease_sk: str


def _pk(key: str) -> str:
    return f"TASK#{key}"


def lease_shard(key: str) -> str:
    """The lease partition of a task: spread over LEASE_SHARDS so no one partition is hot."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return f"LEASE#{digest[0] % LEASE_SHARDS}"


def lease_value(expires: float) -> str:
    """A lease expiry as a sortable string."""
    return f"{int(expires):012d}"


def group_pk(account_id: str, workspace: str, group: str) -> str:
    return f"{account_id}#{workspace}#{group}"


def _group_sk(status: TaskStatus, key: str) -> str:
    return f"{status}{SORT_SEPARATOR}{key}"


def to_task(record: TaskRecord) -> Task:
    """The domain view of a record."""
    events = {"queued": record.queued_at}
    if record.started_at:
        events["started"] = record.started_at
    if record.progressed_at:
        events["progress"] = record.progressed_at
    if record.completed_at:
        events["completed"] = record.completed_at
    return Task(key=record.key, account_id=record.account_id, workspace=record.workspace,
                task_type=record.task_type, params=record.params or {},
                status=TaskStatus(record.status),
                progress=record.progress, result=record.result, error=record.error,
                events=events, files=list(record.files or []), notify=record.notify,
                group=record.group, attempt=int(record.attempt or 0),
                created_at=record.created_at, updated_at=record.updated_at,
                expires_at=record.expires_at.isoformat() if record.expires_at else None,
                error_code=record.error_code)


def _new_record(task: NewTask, now: str) -> TaskRecord:
    record = TaskRecord(_pk(task.key), "TASK", key=task.key, account_id=task.account_id,
                        workspace=task.workspace, task_type=task.task_type, status=QUEUED,
                        params=task.params, attempt=0, created_at=now, updated_at=now,
                        queued_at=now, notify=task.notify, group=task.group)
    if task.group is not None:
        record.group_pk = group_pk(task.account_id, task.workspace, task.group)
        record.group_sk = _group_sk(QUEUED, task.key)
    if task.lease_expires is not None:
        record.lease_pk = lease_shard(task.key)
        record.lease_sk = lease_value(task.lease_expires)
    return record


def insert(tasks: Sequence[NewTask], now: str) -> list[Task]:
    """Write new tasks: random keys in BatchWriteItem (25 a call), client keys one conditional put each.

    A client key that exists already raises Conflict whose `existing` is that Task.
    """
    records = [_new_record(task, now) for task in tasks]
    chosen = [r for r, t in zip(records, tasks, strict=False) if t.client_key]
    random = [r for r, t in zip(records, tasks, strict=False) if not t.client_key]
    for record in chosen:
        if not save_if(record, TaskRecord.pk.does_not_exist()):
            raise Conflict(f"a task with key {record.key!r} exists already", field="key",
                           existing=get(record.key, consistent=True))
    if len(random) == 1:
        random[0].save()
    elif random:
        with TaskRecord.batch_write() as batch:
            for record in random:
                batch.save(record)
    return [to_task(record) for record in records]


def get(key: str, *, consistent: bool = False) -> Task | None:
    """One task, or None."""
    try:
        return to_task(TaskRecord.get(_pk(key), "TASK", consistent_read=consistent))
    except TaskRecord.DoesNotExist:
        return None


def get_with_lease(key: str) -> tuple[Task, str | None] | None:
    """One task (consistent read) and its lease expiry as stored, or None."""
    try:
        record = TaskRecord.get(_pk(key), "TASK", consistent_read=True)
    except TaskRecord.DoesNotExist:
        return None
    return to_task(record), record.lease_sk


def get_many(keys: Iterable[str], *, consistent: bool = False) -> dict[str, Task]:
    """The tasks that exist among `keys`, by key (BatchGetItem, 100 keys a call)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    if len(wanted) == 1:
        found = get(wanted[0], consistent=consistent)
        return {found.key: found} if found else {}
    records = TaskRecord.batch_get([(_pk(key), "TASK") for key in wanted],
                                   consistent_read=consistent)
    return {record.key: to_task(record) for record in records}


def _update(key: str, actions: list[Any], condition: Condition, status: TaskStatus | None = None) -> Task | None:
    """One conditional UpdateItem (moving the task to `status`, if given); the new task, or None
    when the condition did not hold.

    The status is written last: DynamoDB applies an update at once, but an emulator (moto) may
    apply its actions one by one under a concurrent read, which must then never see the new
    status without its events, result or files.
    """
    record = TaskRecord(_pk(key), "TASK")
    if status is not None:
        actions = [*actions, TaskRecord.status.set(status)]
    return to_task(record) if update_if(record, actions, condition) else None


def _status_actions(status: TaskStatus, key: str, now: str) -> list[Any]:
    """What goes with a move to `status` (the caller passes `status` to _update)."""
    return [TaskRecord.group_sk.set(_group_sk(status, key)), TaskRecord.updated_at.set(now)]


def _finish_actions(status: TaskStatus, key: str, now: str, expires_at: float | None,
                    hooks_due: float | None = None) -> list[Any]:
    # With `hooks_due` the lease stays, as the outbox of the finish hooks: written in the same
    # write as the finish, released once the hooks ran; the janitor re-runs them when it expires.
    lease: list[Any]
    if hooks_due is None:
        lease = [TaskRecord.lease_pk.remove(), TaskRecord.lease_sk.remove()]
    else:
        lease = [TaskRecord.lease_pk.set(lease_shard(key)),
                 TaskRecord.lease_sk.set(lease_value(hooks_due))]
    actions = [*_status_actions(status, key, now), TaskRecord.completed_at.set(now), *lease]
    if expires_at is not None:
        actions.append(TaskRecord.expires_at.set(
            dt.datetime.fromtimestamp(int(expires_at), dt.UTC)))
    return actions


def _hand_back_actions(key: str, now: str, message: str) -> list[Any]:
    """Back to queued for people: no lease (nothing re-drives it), why in `error`, no TTL."""
    return [*_status_actions(QUEUED, key, now), TaskRecord.error.set(message),
            TaskRecord.lease_pk.remove(), TaskRecord.lease_sk.remove()]


def claim(key: str, now: str, now_epoch: float, lease_expires: float, max_attempts: int) -> Task | None:
    """queued (or executing with an expired lease) -> executing, attempt + 1, with a new lease.

    Only enqueued tasks (they carry a lease) can be claimed, and only below the attempt limit.
    """
    condition = (TaskRecord.lease_pk.exists() & (TaskRecord.attempt < max_attempts) & (
        (TaskRecord.status == QUEUED)
        | ((TaskRecord.status == EXECUTING) & (TaskRecord.lease_sk < lease_value(now_epoch)))))
    actions = [*_status_actions(EXECUTING, key, now), TaskRecord.attempt.add(1),
               TaskRecord.started_at.set(now), TaskRecord.lease_sk.set(lease_value(lease_expires))]
    return _update(key, actions, condition, EXECUTING)


def _outcome_actions(result: Any, error: str | None, error_code: str | None,
                     files: list[str] | None) -> list[Any]:
    """What an attempt's finish sets beside its status: what it gave (None: left as it is)."""
    actions = []
    if result is not None:
        actions.append(TaskRecord.result.set(result))
    if error is not None:
        actions.append(TaskRecord.error.set(error))
    if error_code is not None:
        actions.append(TaskRecord.error_code.set(error_code))
    if files:
        actions.append(TaskRecord.files.set(files))
    return actions


def finish(key: str, attempt: int, status: TaskStatus, now: str, *, result: Any = None,
           error: str | None = None, error_code: str | None = None, files: list[str] | None = None,
           expires_at: float | None = None, hooks_due: float | None = None) -> Task | None:
    """executing (this attempt) -> success | error; `expires_at` (epoch) sets the record's TTL;
    `hooks_due` keeps a lease until release_hooks (see _finish_actions)."""
    actions = [*_finish_actions(status, key, now, expires_at, hooks_due),
               *_outcome_actions(result, error, error_code, files)]
    condition = (TaskRecord.status == EXECUTING) & (TaskRecord.attempt == attempt)
    return _update(key, actions, condition, status)


def finish_with_run(seen: Task, status: TaskStatus, now: str, *, run: RunEntry,
                    result: Any = None, error: str | None = None, error_code: str | None = None,
                    files: list[str] | None = None,
                    expires_at: float | None = None, hooks_due: float | None = None) -> Task | None:
    """finish() of the attempt `seen` and its run's PutItem in one transaction; the finished
    task (made from `seen`), or None, with no run written, when the attempt was superseded."""
    actions = [*_finish_actions(status, seen.key, now, expires_at, hooks_due),
               *_outcome_actions(result, error, error_code, files)]
    if not _transition_with_run(seen, [*actions, TaskRecord.status.set(status)], run):
        return None
    return seen._replace(
        status=status, updated_at=now, events={**seen.events, "completed": now},
        result=result if result is not None else seen.result,
        error=error if error is not None else seen.error,
        error_code=error_code if error_code is not None else seen.error_code,
        files=list(files) if files else seen.files,
        expires_at=dt.datetime.fromtimestamp(int(expires_at), dt.UTC).isoformat()
        if expires_at is not None else seen.expires_at)


def hand_back_with_run(seen: Task, message: str, now: str, *, run: RunEntry) -> Task | None:
    """hand_back() of the attempt `seen` and its run's PutItem in one transaction (as
    finish_with_run)."""
    actions = [*_hand_back_actions(seen.key, now, message), TaskRecord.status.set(QUEUED)]
    if not _transition_with_run(seen, actions, run):
        return None
    return seen._replace(status=QUEUED, updated_at=now, error=message)


def _transition_with_run(seen: Task, actions: list[Any], run: RunEntry) -> bool:
    """One TransactWriteItems: the attempt's conditional UpdateItem and its run's PutItem;
    whether the attempt still held the task (if not, nothing was written)."""
    condition = (TaskRecord.status == EXECUTING) & (TaskRecord.attempt == seen.attempt)
    try:
        # The run id as the request token: botocore's retry of a transaction whose answer was
        # lost is then answered as the first one (DynamoDB's idempotency), not refused by the
        # condition that the first one's own finish now fails.
        with TransactWrite(connection=connection(), client_request_token=run.run.run_id) as tx:
            tx.update(TaskRecord(_pk(seen.key), "TASK"), actions, condition=condition)
            tx.save(runs.record_of(run))
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException" and any(
                reason is not None and reason.code == "ConditionalCheckFailed"
                for reason in exc.cancellation_reasons):
            return False
        raise
    return True


def release_hooks(key: str) -> bool:
    """A finished task's hooks ran: drop the lease that would have the janitor run them again."""
    return update_quietly(TaskRecord, _pk(key), "TASK",
                          [TaskRecord.lease_pk.remove(), TaskRecord.lease_sk.remove()],
                          TaskRecord.status.is_in(*FINISHED))


def hand_back(key: str, attempt: int, message: str, now: str) -> Task | None:
    """executing (this attempt) -> queued without a lease: only settle() ends it now (no TTL)."""
    actions = _hand_back_actions(key, now, message)
    condition = (TaskRecord.status == EXECUTING) & (TaskRecord.attempt == attempt)
    return _update(key, actions, condition, QUEUED)


def set_progress(key: str, attempt: int, value: Any, now: str) -> bool:
    """Record progress of the running attempt; False when the task is no longer this attempt's.

    Asks for nothing back: the item carries the task's parameters, which a task reporting
    progress often would otherwise receive again with every report.
    """
    actions = [TaskRecord.progress.set(value), TaskRecord.progressed_at.set(now),
               TaskRecord.updated_at.set(now)]
    condition = (TaskRecord.status == EXECUTING) & (TaskRecord.attempt == attempt)
    return update_quietly(TaskRecord, _pk(key), "TASK", actions, condition)


def settle(key: str, account_id: str, status: TaskStatus, now: str, *, result: Any = None,
           error: str | None = None, expires_at: float | None = None,
           hooks_due: float | None = None) -> Task | None:
    """queued | executing -> `status` for the owning account (cancel, manual completion)."""
    actions = _finish_actions(status, key, now, expires_at, hooks_due)
    if result is not None:
        actions.append(TaskRecord.result.set(result))
    if error is not None:
        actions.append(TaskRecord.error.set(error))
    condition = TaskRecord.status.is_in(*OPEN) & (TaskRecord.account_id == account_id)
    return _update(key, actions, condition, status)


def give_up(key: str, seen_status: TaskStatus, seen_lease: str | None, message: str, now: str, *,
            expires_at: float | None = None, to_people: bool = False) -> Task | None:
    """An open task whose attempts are spent -> error, if nothing moved it since it was read.

    With `to_people` it goes back to queued without a lease instead (see hand_back), no TTL.
    """
    if to_people:
        actions = _hand_back_actions(key, now, message)
    else:
        actions = [*_finish_actions(ERROR, key, now, expires_at), TaskRecord.error.set(message)]
    condition = TaskRecord.status == seen_status
    condition &= (TaskRecord.lease_sk == seen_lease) if seen_lease else TaskRecord.lease_sk.does_not_exist()
    return _update(key, actions, condition, QUEUED if to_people else ERROR)


def redrive(key: str, seen_status: TaskStatus, seen_lease: str, lease_expires: float, now: str) -> Task | None:
    """An open task whose lease expired -> queued with a fresh lease (the caller sends a message).

    An executing task goes back to queued (its queued event is the re-drive's time); a queued
    one, whose message was lost or is late, only gets a new lease.
    """
    actions = [TaskRecord.lease_sk.set(lease_value(lease_expires))]
    if seen_status == EXECUTING:
        actions += [*_status_actions(QUEUED, key, now), TaskRecord.queued_at.set(now)]
    else:
        actions.append(TaskRecord.updated_at.set(now))
    condition = (TaskRecord.status == seen_status) & (TaskRecord.lease_sk == seen_lease)
    return _update(key, actions, condition, QUEUED if seen_status == EXECUTING else None)


def expired_leases(now_epoch: float, limit: int) -> list[Lease]:
    """Tasks whose lease expired before `now_epoch`, oldest first per shard."""
    found: list[Lease] = []
    for shard in range(LEASE_SHARDS):
        for item in TaskRecord.by_lease.query(f"LEASE#{shard}",
                                              TaskRecord.lease_sk < lease_value(now_epoch),
                                              limit=limit - len(found)):
            found.append(Lease(key=item.pk.removeprefix("TASK#"), lease_sk=item.lease_sk))
        if len(found) >= limit:
            break
    return found


def _encode_cursor(status_index: int, last_key: dict[str, Any] | None) -> str:
    raw = json.dumps({"s": status_index, "k": last_key}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decoded(cursor: str, indexes: int, index_keys: tuple[str, str]
             ) -> tuple[int, dict[str, Any] | None]:
    """A cursor's status index and start key, checked to be a task key of that index's shape."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        index, last_key = decoded["s"], decoded["k"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < indexes:
            raise ValueError("the status index is out of range")
        if last_key is not None and (
                not isinstance(last_key, dict)
                or set(last_key) != {"pk", "sk", *index_keys}
                or any(not isinstance(v, dict) or set(v) != {"S"} or not isinstance(v["S"], str)
                       or not v["S"] or len(v["S"]) > 1024 for v in last_key.values())
                or last_key["sk"]["S"] != "TASK" or not last_key["pk"]["S"].startswith("TASK#")):
            raise ValueError("the last key is not a task key")
        json.dumps(last_key, ensure_ascii=False).encode("utf-8")  # no lone surrogate
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise Invalid("the cursor is not one this service gave", field="cursor") from exc
    return index, last_key


def _decode_cursor(cursor: str, hash_key: str, prefixes: Sequence[str | None]
                   ) -> tuple[int, dict[str, Any] | None]:
    """Where a cursor continues; Invalid unless it has the exact shape of one this listing gave,
    so that nothing a client crafts reaches the query (a malformed start key is DynamoDB's 500)."""
    index, last_key = _decoded(cursor, len(prefixes), ("group_pk", "group_sk"))
    prefix = prefixes[index]
    if last_key is not None and (last_key["group_pk"]["S"] != hash_key or (
            prefix is not None and not last_key["group_sk"]["S"].startswith(prefix))):
        raise Invalid("the cursor belongs to another listing", field="cursor")
    return index, last_key


def list_group(account_id: str, workspace: str, group: str, statuses: Sequence[TaskStatus] | None,
               limit: int, cursor: str | None) -> tuple[list[Task], str | None]:
    """A page of a group's tasks, optionally of some statuses only (one query per status)."""
    hash_key = group_pk(account_id, workspace, group)
    prefixes: list[str | None] = [f"{s}{SORT_SEPARATOR}" for s in statuses] if statuses else [None]
    index, last_key = _decode_cursor(cursor, hash_key, prefixes) if cursor else (0, None)
    tasks: list[Task] = []
    while index < len(prefixes) and len(tasks) < limit:
        prefix = prefixes[index]
        condition = TaskRecord.group_sk.startswith(prefix) if prefix else None
        results = TaskRecord.by_group.query(hash_key, condition, limit=limit - len(tasks),
                                            last_evaluated_key=last_key)
        tasks.extend(to_task(record) for record in results)
        last_key = results.last_evaluated_key
        if last_key is None:
            index += 1
    if index >= len(prefixes):
        return tasks, None
    return tasks, _encode_cursor(index, last_key)


def list_account(account_id: str, statuses: Sequence[str] | None, task_type: str | None,
                 limit: int, cursor: str | None) -> tuple[list[Task], str | None]:
    """A page of the account's tasks of every surface, newest first, optionally filtered."""
    condition: Condition | None = TaskRecord.status.is_in(*statuses) if statuses else None
    if task_type is not None:
        by_type = TaskRecord.task_type == task_type
        condition = by_type if condition is None else condition & by_type
    _, last_key = _decoded(cursor, 1, ("account_id", "created_at")) if cursor else (0, None)
    if last_key is not None and last_key["account_id"]["S"] != account_id:
        raise Invalid("the cursor belongs to another listing", field="cursor")
    results = TaskRecord.by_account.query(account_id, filter_condition=condition,
                                          scan_index_forward=False, limit=limit, page_size=limit,
                                          last_evaluated_key=last_key)
    tasks = [to_task(record) for record in results]
    last_key = results.last_evaluated_key
    return tasks, (_encode_cursor(0, last_key) if last_key and len(tasks) >= limit else None)
