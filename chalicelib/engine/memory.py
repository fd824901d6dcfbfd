"""An in-memory task store: the DynamoDB store's twin, for unit tests and anything without AWS.

It keeps the same items (status, lease, group sort key) and applies each transition under one
lock after checking the same condition, so it answers exactly as the DynamoDB store does
(tests/unit/engine/test_store_contract.py runs both through one set of tests). Its `runs` is
the in-memory run store that an attempt's finish writes its run into, under the same lock.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from chalicelib.engine.status import FINISHED, OPEN, TaskStatus
from chalicelib.errors import Conflict, Invalid
from chalicelib.models.runs import RunEntry
from chalicelib.models.tasks import Lease, NewTask, Task, lease_shard, lease_value
from chalicelib.runs.memory import MemoryRunStore

Item = dict[str, Any]


def _task(item: Item) -> Task:
    events = {"queued": item["queued_at"]}
    for name, attribute in (("started", "started_at"), ("progress", "progressed_at"),
                            ("completed", "completed_at")):
        if item.get(attribute):
            events[name] = item[attribute]
    expires = item.get("expires_at")
    return Task(key=item["key"], account_id=item["account_id"], workspace=item["workspace"],
                task_type=item["task_type"], params=copy.deepcopy(item["params"]) or {},
                status=TaskStatus(item["status"]), progress=copy.deepcopy(item.get("progress")),
                result=copy.deepcopy(item.get("result")), error=item.get("error"),
                error_code=item.get("error_code"),
                events=events, files=list(item.get("files") or []),
                notify=copy.deepcopy(item.get("notify")), group=item.get("group"),
                attempt=item["attempt"], created_at=item["created_at"],
                updated_at=item["updated_at"],
                expires_at=dt.datetime.fromtimestamp(expires, dt.UTC).isoformat()
                if expires is not None else None)


class MemoryTaskStore:
    """Tasks in a dict, every transition one check-and-set under a lock."""

    def __init__(self, runs: MemoryRunStore | None = None) -> None:
        self._items: dict[str, Item] = {}
        self._lock = threading.Lock()
        self.runs = runs if runs is not None else MemoryRunStore()

    def lease_value(self, expires: float) -> str:
        return lease_value(expires)

    def insert(self, tasks: Sequence[NewTask], now: str) -> list[Task]:
        created = []
        with self._lock:
            for task in tasks:
                if task.client_key and task.key in self._items:
                    raise Conflict(f"a task with key {task.key!r} exists already", field="key",
                                   existing=_task(self._items[task.key]))
                item: Item = {
                    "key": task.key, "account_id": task.account_id, "workspace": task.workspace,
                    "task_type": task.task_type, "status": TaskStatus.QUEUED,
                    "params": copy.deepcopy(task.params), "attempt": 0, "created_at": now,
                    "updated_at": now, "queued_at": now, "notify": copy.deepcopy(task.notify),
                    "group": task.group, "lease_sk": None}
                if task.lease_expires is not None:
                    item["lease_sk"] = lease_value(task.lease_expires)
                self._items[task.key] = item
                created.append(_task(item))
        return created

    def get(self, key: str, *, consistent: bool = False) -> Task | None:
        with self._lock:
            item = self._items.get(key)
            return _task(item) if item is not None else None

    def get_with_lease(self, key: str) -> tuple[Task, str | None] | None:
        with self._lock:
            item = self._items.get(key)
            return (_task(item), item["lease_sk"]) if item is not None else None

    def get_many(self, keys: Iterable[str], *, consistent: bool = False) -> dict[str, Task]:
        with self._lock:
            return {key: _task(self._items[key]) for key in dict.fromkeys(keys)
                    if key in self._items}

    def _update(self, key: str, condition: Callable[[Item], bool], changes: Item,
                run: RunEntry | None = None) -> Task | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or not condition(item):
                return None
            item.update(copy.deepcopy(changes))
            if run is not None:
                self.runs.put(run)
            return _task(item)

    @staticmethod
    def _finishing(status: TaskStatus, now: str, expires_at: float | None,
                   hooks_due: float | None = None) -> Item:
        lease = None if hooks_due is None else lease_value(hooks_due)  # the hooks' outbox
        changes: Item = {"status": status, "updated_at": now, "completed_at": now, "lease_sk": lease}
        if expires_at is not None:
            changes["expires_at"] = int(expires_at)
        return changes

    @staticmethod
    def _handing_back(now: str, message: str) -> Item:
        return {"status": TaskStatus.QUEUED, "updated_at": now, "error": message, "lease_sk": None}

    def claim(self, key: str, now: str, now_epoch: float, lease_expires: float,
              max_attempts: int) -> Task | None:
        expired = lease_value(now_epoch)

        def claimable(item: Item) -> bool:
            return item["lease_sk"] is not None and item["attempt"] < max_attempts and (
                item["status"] == TaskStatus.QUEUED
                or (item["status"] == TaskStatus.EXECUTING and item["lease_sk"] < expired))

        with self._lock:
            item = self._items.get(key)
            if item is None or not claimable(item):
                return None
            item.update({"status": TaskStatus.EXECUTING, "updated_at": now,
                         "attempt": item["attempt"] + 1, "started_at": now,
                         "lease_sk": lease_value(lease_expires)})
            return _task(item)

    @staticmethod
    def _running(attempt: int) -> Callable[[Item], bool]:
        return lambda item: item["status"] == TaskStatus.EXECUTING and item["attempt"] == attempt

    def _finished(self, status: TaskStatus, now: str, result: Any, error: str | None,
                  error_code: str | None, files: list[str] | None, expires_at: float | None,
                  hooks_due: float | None) -> Item:
        changes = self._finishing(status, now, expires_at, hooks_due)
        if result is not None:
            changes["result"] = result
        if error is not None:
            changes["error"] = error
        if error_code is not None:
            changes["error_code"] = error_code
        if files:
            changes["files"] = list(files)
        return changes

    def finish(self, key: str, attempt: int, status: TaskStatus, now: str, *, result: Any = None,
               error: str | None = None, error_code: str | None = None,
               files: list[str] | None = None,
               expires_at: float | None = None, hooks_due: float | None = None) -> Task | None:
        changes = self._finished(status, now, result, error, error_code, files, expires_at,
                                 hooks_due)
        return self._update(key, self._running(attempt), changes)

    def finish_with_run(self, seen: Task, status: TaskStatus, now: str, *, run: RunEntry,
                        result: Any = None, error: str | None = None,
                        error_code: str | None = None,
                        files: list[str] | None = None, expires_at: float | None = None,
                        hooks_due: float | None = None) -> Task | None:
        changes = self._finished(status, now, result, error, error_code, files, expires_at,
                                 hooks_due)
        return self._update(seen.key, self._running(seen.attempt), changes, run)

    def hand_back_with_run(self, seen: Task, message: str, now: str, *,
                           run: RunEntry) -> Task | None:
        return self._update(seen.key, self._running(seen.attempt),
                            self._handing_back(now, message), run)

    def release_hooks(self, key: str) -> bool:
        return self._update(key, lambda item: item["status"] in FINISHED, {"lease_sk": None}) is not None

    def hand_back(self, key: str, attempt: int, message: str, now: str) -> Task | None:
        return self._update(key, self._running(attempt), self._handing_back(now, message))

    def set_progress(self, key: str, attempt: int, value: Any, now: str) -> bool:
        changes = {"progress": value, "progressed_at": now, "updated_at": now}
        return self._update(key, self._running(attempt), changes) is not None

    def settle(self, key: str, account_id: str, status: TaskStatus, now: str, *,
               result: Any = None, error: str | None = None,
               expires_at: float | None = None, hooks_due: float | None = None) -> Task | None:
        changes = self._finishing(status, now, expires_at, hooks_due)
        if result is not None:
            changes["result"] = result
        if error is not None:
            changes["error"] = error
        return self._update(key, lambda item: item["status"] in OPEN
                            and item["account_id"] == account_id, changes)

    def give_up(self, key: str, seen_status: TaskStatus, seen_lease: str | None, message: str,
                now: str, *, expires_at: float | None = None,
                to_people: bool = False) -> Task | None:
        if to_people:
            changes = self._handing_back(now, message)
        else:
            changes = {**self._finishing(TaskStatus.ERROR, now, expires_at), "error": message}
        return self._update(key, lambda item: item["status"] == seen_status
                            and item["lease_sk"] == seen_lease, changes)

    def redrive(self, key: str, seen_status: TaskStatus, seen_lease: str, lease_expires: float,
                now: str) -> Task | None:
        changes: Item = {"lease_sk": lease_value(lease_expires), "updated_at": now}
        if seen_status == TaskStatus.EXECUTING:
            changes.update({"status": TaskStatus.QUEUED, "queued_at": now})
        return self._update(key, lambda item: item["status"] == seen_status
                            and item["lease_sk"] == seen_lease, changes)

    def expired_leases(self, now_epoch: float, limit: int) -> list[Lease]:
        expired = lease_value(now_epoch)
        with self._lock:
            found = sorted((lease_shard(key), item["lease_sk"], key)
                           for key, item in self._items.items()
                           if item["lease_sk"] is not None and item["lease_sk"] < expired)
        return [Lease(key=key, lease_sk=lease_sk) for _, lease_sk, key in found[:limit]]

    def list_group(self, account_id: str, workspace: str, group: str,
                   statuses: Sequence[TaskStatus] | None, limit: int,
                   cursor: str | None) -> tuple[list[Task], str | None]:
        listing = f"{account_id}#{workspace}#{group}"
        after = _decode_cursor(cursor, listing) if cursor else ""
        wanted = set(statuses) if statuses else None
        with self._lock:
            members = sorted((f"{item['status']}#{key}", item) for key, item in self._items.items()
                             if item.get("group") == group and item["account_id"] == account_id
                             and item["workspace"] == workspace
                             and (wanted is None or item["status"] in wanted))
            page = [(sort_key, _task(item)) for sort_key, item in members if sort_key > after]
        if len(page) <= limit:
            return [task for _, task in page], None
        return [task for _, task in page[:limit]], _encode_cursor(listing, page[limit - 1][0])


def _encode_cursor(listing: str, after: str) -> str:
    raw = json.dumps({"l": listing, "a": after}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, listing: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ours, after = decoded["l"], decoded["a"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid("the cursor is not one this service gave", field="cursor") from exc
    if ours != listing or not isinstance(after, str):
        raise Invalid("the cursor belongs to another listing", field="cursor")
    return after


class MemoryWorkQueue:
    """The tasks queue in a list: `send` keeps the keys, `take` hands them out once."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._lock = threading.Lock()

    def send(self, keys: Sequence[str], accounts: str | Mapping[str, str] | None = None) -> list[str]:
        with self._lock:
            self._keys.extend(keys)
        return []

    def take(self) -> list[str]:
        """Every key sent since the last take."""
        with self._lock:
            keys, self._keys = self._keys, []
        return keys
