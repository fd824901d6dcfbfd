"""The janitor (every minute): re-drive open tasks whose lease expired, or end them in error.

A lease expires when a worker died mid-task (Lambda timeout, crash) or when a task's message
was lost or never sent. Below the attempt limit the task is queued again with a new message;
at the limit it ends in error. Each move is one conditional write on the lease the janitor saw,
so a worker that finishes meanwhile, or a second janitor, wins cleanly.

A task still queued may only be waiting behind a backlog, its message intact: each new message
would be one more to wade through. So a queued task's next lease is as long as it has waited
already (at least the lease, at most an hour): under a long backlog it is re-sent about 7, 15,
31 and 63 minutes after it was queued, then hourly, instead of every 6 minutes.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from chalicelib.config import get_settings
from chalicelib.engine import dispatch
from chalicelib.engine.tasks import iso
from chalicelib.engine.worker import give_up
from chalicelib.models import tasks as store
from chalicelib.models.tasks import QUEUED, Task
from chalicelib.observability import events

log = logging.getLogger("taskport.engine")
BATCH = 500
MAX_QUEUED_LEASE_SECONDS = 3600


def run(now: float | None = None, limit: int = BATCH) -> dict[str, int]:
    """One janitor pass; answers how many tasks were re-driven and how many it gave up on (ended
    in error, or handed back to people for the types they settle)."""
    settings = get_settings()
    now = time.time() if now is None else now
    leases = store.expired_leases(now, limit)
    tasks = store.get_many([lease.key for lease in leases], consistent=True)
    redriven: list[str] = []
    failed = 0
    for lease in leases:
        task = tasks.get(lease.key)
        if task is None or task.finished:
            continue
        if task.attempt >= settings.task_max_attempts:
            ended = give_up(task, lease.lease_sk, settings.task_max_attempts, now)
            if ended is not None:
                failed += 1
                events.given_up(task.key, task.attempt, not ended.finished)
            continue
        moved = store.redrive(task.key, task.status, lease.lease_sk,
                              now + _next_lease(task, now, settings.task_lease_seconds), iso(now))
        if moved is not None:
            redriven.append(task.key)
            events.redriven(task.key, task.status, task.attempt)
    unsent = dispatch.send(redriven) if redriven else []
    if redriven or failed:
        log.info("janitor: re-drove %d tasks (%d unsent), gave up on %d",
                 len(redriven), len(unsent), failed)
    return {"redriven": len(redriven), "failed": failed, "unsent": len(unsent)}


def _next_lease(task: Task, now: float, lease_seconds: int) -> float:
    if task.status != QUEUED:
        return lease_seconds
    waited = now - dt.datetime.fromisoformat(task.events["queued"]).timestamp()
    return max(lease_seconds, min(waited, MAX_QUEUED_LEASE_SECONDS))
