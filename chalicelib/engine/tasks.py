"""The engine's public face: create, read, settle, wait for, watch and list tasks."""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import time
from collections import Counter
from typing import Any, NamedTuple
from collections.abc import Callable, Iterator, Sequence

from chalicelib.config import Settings, get_settings
from chalicelib.engine import dispatch, hooks, registry
from chalicelib.errors import Gone, Invalid, NotFound
from chalicelib.models import tasks as store
from chalicelib.observability import metrics
from chalicelib.models.tasks import (CANCELED, ERROR, EXECUTING, FINISHED, OPEN, QUEUED, STATUSES,
                                     SUCCESS, Task)

__all__ = ["TaskSpec", "Task", "create_tasks", "get_task", "get_tasks", "cancel_task",
           "complete_task", "wait_for", "watch", "list_tasks", "output_files", "new_key", "is_engine_key",
           "QUEUED", "EXECUTING", "SUCCESS", "ERROR", "CANCELED", "FINISHED", "OPEN", "STATUSES"]

KEY_PATTERN = re.compile(r"^[A-Z2-7]{26}$")
CLIENT_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._@/+=-]{0,254}$")
FIRST_POLL_SECONDS = 0.05
POLL_GROWTH = 1.5
MAX_POLL_SECONDS = 1.0
MAX_LIST_LIMIT = 1000


class TaskSpec(NamedTuple):
    """One task to create.

    key None -> a new random key; enqueue False -> the task stays queued until settled by
    complete_task/cancel_task; notify is opaque data for finish hooks; group makes the task
    listable with list_tasks. These fields are the only channel from a domain into the engine:
    nothing is ever read out of `params`, which a user may fill with anything.
    """

    task_type: str
    params: dict[str, Any]
    key: str | None = None
    enqueue: bool = True
    notify: dict[str, Any] | None = None
    group: str | None = None


def new_key() -> str:
    """A fresh task key: 128 random bits as 26 characters of base32."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def is_engine_key(key: Any) -> bool:
    """Whether `key` has the shape of a key the engine made (the only keys that are capabilities)."""
    return isinstance(key, str) and bool(KEY_PATTERN.match(key))


def iso(epoch: float) -> str:
    """An epoch time as ISO 8601 UTC with microseconds."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def expiry(finished_epoch: float) -> float | None:
    """When a task finished at `finished_epoch` expires (TASKPORT_TASK_RETENTION_DAYS; 0: never)."""
    retention = get_settings().task_retention_seconds
    return finished_epoch + retention if retention > 0 else None


def _prepare(account_id: str, workspace: str, spec: TaskSpec, now: float,
             settings: Settings) -> store.NewTask:
    task_type = registry.resolve(account_id, spec.task_type)
    if task_type.grouped and spec.group is None:
        raise Invalid(f"tasks of type {task_type.name!r} are created only through their own API",
                      field="task_type")
    if not isinstance(spec.params, dict):
        raise Invalid("task parameters must be an object", field="params")
    params = spec.params
    if task_type.validate is not None:
        params = task_type.validate(dict(params)) or params
    size = len(json.dumps(params, separators=(",", ":")).encode("utf-8"))
    if size > settings.max_task_input_bytes:
        raise Invalid(f"task parameters are {size} bytes; the limit is {settings.max_task_input_bytes}",
                      field="params")
    if spec.key is None:
        key, client_key = new_key(), False
    else:
        if not isinstance(spec.key, str) or not CLIENT_KEY_PATTERN.match(spec.key):
            raise Invalid("a task key is 1-255 characters of letters, digits and :._@/+=-", field="key")
        if is_engine_key(spec.key):
            raise Invalid("a chosen task key may not have the shape of an engine key", field="key")
        key, client_key = spec.key, True
    if spec.notify is not None and not isinstance(spec.notify, dict):
        raise Invalid("notify must be an object", field="notify")
    if spec.group is not None and (not isinstance(spec.group, str) or not spec.group):
        raise Invalid("a group is a non-empty string", field="group")
    return store.NewTask(key=key, account_id=account_id, workspace=workspace,
                         task_type=task_type.name, params=params, notify=spec.notify,
                         group=spec.group,
                         lease_expires=now + settings.task_lease_seconds if spec.enqueue else None,
                         client_key=client_key)


def create_tasks(account_id: str, workspace: str, specs: Sequence[TaskSpec]) -> list[Task]:
    """Validate and create tasks (BatchWriteItem), then enqueue them (SendMessageBatch).

    errors.Invalid carries the field and details["index"] of the offending spec; a chosen key
    that exists already raises errors.Conflict with details["existing"].
    """
    settings = get_settings()
    if not specs:
        raise Invalid("at least one task is required", field="tasks")
    if len(specs) > settings.max_tasks_per_request:
        raise Invalid(f"at most {settings.max_tasks_per_request} tasks in one request, "
                      f"got {len(specs)}", field="tasks")
    now = time.time()
    prepared = []
    for index, spec in enumerate(specs):
        try:
            prepared.append(_prepare(account_id, workspace, spec, now, settings))
        except Invalid as err:
            err.details.setdefault("index", index)
            raise
    keys = [task.key for task in prepared]
    if len(set(keys)) != len(keys):
        raise Invalid("two tasks of one request have the same key", field="key")
    created = store.insert(prepared, iso(now))
    dispatch.send([task.key for task in prepared if task.lease_expires is not None], account_id)
    for task_type, count in Counter(task.task_type for task in created).items():
        metrics.task_created(task_type, count)
    return created


def output_files(account_id: str, task_type: str) -> tuple[str, ...] | None:
    """The output files a task type declares in advance, or None when it does not say."""
    found = registry.find(account_id, task_type)
    return found.files if found is not None else None


def _expired(task: Task) -> bool:
    # DynamoDB deletes expired items lazily (usually within a couple of days): past its expiry
    # a task is answered as missing at once.
    return task.expires_at is not None and dt.datetime.fromisoformat(task.expires_at).timestamp() <= time.time()


def _visible(task: Task | None, key: str, account_id: str | None) -> Task:
    if task is None or (account_id is not None and task.account_id != account_id) or _expired(task):
        raise NotFound(f"no task {key!r}", field="key")
    return task


def get_task(key: str, account_id: str | None = None) -> Task:
    """One task (consistent read); NotFound when missing or another account's."""
    return _visible(store.get(key, consistent=True), key, account_id)


def get_tasks(keys: Sequence[str], account_id: str | None = None) -> list[Task]:
    """Tasks in the order asked (BatchGetItem, consistent); NotFound names the first missing key."""
    found = store.get_many(keys, consistent=True)
    return [_visible(found.get(key), key, account_id) for key in keys]


def _settle(key: str, account_id: str, status: str, *, result: Any = None,
            error: str | None = None) -> Task:
    now = time.time()
    task = store.settle(key, account_id, status, iso(now), result=result, error=error,
                        expires_at=expiry(now), hooks_due=now + hooks.HOOKS_GRACE_SECONDS)
    if task is None:
        current = get_task(key, account_id)
        raise Gone(f"task {key!r} is {current.status} already", field="key",
                   details={"task": current})
    hooks.finished_durably(task)
    return task


def cancel_task(key: str, account_id: str) -> Task:
    """queued | executing -> canceled; errors.Gone when the task is finished already."""
    return _settle(key, account_id, CANCELED, error="canceled")


def complete_task(key: str, account_id: str, result: Any) -> Task:
    """queued | executing -> success with `result` (manual completion); errors.Gone when finished."""
    return _settle(key, account_id, SUCCESS, result=result)


def _poll_intervals() -> Iterator[float]:
    interval = FIRST_POLL_SECONDS
    while True:
        yield interval
        interval = min(interval * POLL_GROWTH, MAX_POLL_SECONDS)


def _cycle(task: Task) -> list[tuple[str, str]]:
    """(event time, status) of each step since the task was last queued, from its recorded events."""
    queued = task.events["queued"]
    steps = [(queued, QUEUED)]
    if task.status == QUEUED:
        return steps
    started = task.events.get("started")
    if started and started < queued:  # a start before a re-drive belongs to an earlier attempt
        started = None
    if task.status == EXECUTING or started:
        steps.append((started or task.updated_at, EXECUTING))
    if task.finished:
        steps.append((task.events.get("completed") or task.updated_at, task.status))
    return steps


def _as_of(task: Task, status: str) -> Task:
    """The task as it was when it entered `status` (queued or executing) during its last cycle."""
    names = ("queued",) if status == QUEUED else ("queued", "started")
    return task._replace(status=status, progress=None, result=None, error=None, files=[],
                         events={name: task.events[name] for name in names})


def _changes(before: Task, after: Task) -> list[tuple[str, Task]]:
    """Every status change from `before` (as last seen) to `after`, with the time it happened.

    A poll can miss a status (queued -> executing -> success between two reads); the events
    the task recorded tell which ones, so none is lost.
    """
    rank = {QUEUED: 0, EXECUTING: 1}
    steps = _cycle(after)
    if after.events["queued"] == before.events["queued"]:
        seen = rank.get(before.status, 2)
        steps = [(at, status) for at, status in steps if rank.get(status, 2) > seen]
    elif before.status == QUEUED:
        steps = steps[1:]  # re-driven since: still (or again) queued is no change
    changes, latest = [], ""
    for at, status in steps:
        latest = max(latest, at)  # clocks of two machines may disagree: keep the task's own order
        changes.append((latest, after if status == after.status else _as_of(after, status)))
    return changes


def watch(keys: Sequence[str], deadline_seconds: float, account_id: str | None = None, *,
          initial: Sequence[Task] | None = None, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[list[Task]]:
    """Yield every task once, then each status change, until all finish or the deadline.

    Changes come in the order they happened; a status passed between two polls is replayed
    from the task's events (as the task was then: no progress or result). `initial` (the tasks
    just created) saves the first read. Polls with consistent reads at growing intervals
    (50 ms up to 1 s), reading only the tasks that are still open.
    """
    deadline = clock() + deadline_seconds
    first = list(initial) if initial is not None else get_tasks(keys, account_id)
    current = {task.key: task for task in first}
    yield [current[key] for key in keys]
    intervals = _poll_intervals()
    while True:
        open_keys = [key for key, task in current.items() if not task.finished]
        remaining = deadline - clock()
        if not open_keys or remaining <= 0:
            return
        sleep(min(next(intervals), remaining))
        changes: list[tuple[str, Task]] = []
        for task in get_tasks(open_keys, account_id):
            changes.extend(_changes(current[task.key], task))
            current[task.key] = task
        if changes:
            changes.sort(key=lambda change: change[0])
            yield [task for _, task in changes]


def wait_for(keys: Sequence[str], deadline_seconds: float, account_id: str | None = None, *,
             initial: Sequence[Task] | None = None, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> list[Task]:
    """The tasks once all are finished, or as they are when the deadline passes."""
    latest: dict[str, Task] = {}
    for batch in watch(keys, deadline_seconds, account_id, initial=initial, clock=clock,
                       sleep=sleep):
        latest.update((task.key, task) for task in batch)
    if latest and any(not task.finished for task in latest.values()):
        # watch yields status changes only; a final read carries the latest progress too.
        latest.update((task.key, task) for task in get_tasks(
            [key for key, task in latest.items() if not task.finished], account_id))
    return [latest[key] for key in keys]


def list_tasks(account_id: str, workspace: str, group: str,
               status: str | Sequence[str] | None = None, limit: int | None = None,
               cursor: str | None = None) -> tuple[list[Task], str | None]:
    """A page of a group's tasks (ordered by status, then key) and the cursor of the next page."""
    statuses: list[str] | None = None
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown or not statuses:
            raise Invalid(f"status must be among {', '.join(STATUSES)}", field="status")
        statuses = sorted(set(statuses))
    page = get_settings().list_page_size if limit is None else limit
    if not isinstance(page, int) or page < 1:
        raise Invalid("limit must be a positive integer", field="limit")
    return store.list_group(account_id, workspace, group, statuses, min(page, MAX_LIST_LIMIT), cursor)
