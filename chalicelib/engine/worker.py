"""The task worker: claim a task with a lease, run it, record how it ended.

Per task the happy path costs two writes: the claim (one conditional UpdateItem that returns
the task) and the finish (one conditional UpdateItem). A message whose task is finished,
running under a live lease, unknown, or manual is dropped as a no-op; only infrastructure
errors (the claim or the finish could not be written) are reported back for SQS to retry.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Iterable, Mapping

from chalicelib.config import get_settings
from chalicelib.engine import dispatch, hooks, outputs, registry
from chalicelib.engine.tasks import iso
from chalicelib.models import tasks as store
from chalicelib.models.tasks import ERROR, QUEUED, SUCCESS, Task

log = logging.getLogger("taskport.engine")
MAX_RESULT_BYTES = 300 * 1024


def handle_batch(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Process one SQS batch (Lambda's record dicts); answer the partial-failure report."""
    failures = []
    for record in records:
        message_id = record.get("messageId") or record.get("MessageId") or ""
        key = dispatch.key_of(record.get("body") or record.get("Body") or "")
        if key is None:
            log.warning("dropping message %s: it names no task", message_id)
            continue
        try:
            run_task(key)
        except Exception:
            # The task's own code never raises here (its failure is its error status): what
            # reaches this point is the store or the network, so SQS retries the message (and
            # parks it in the DLQ after maxReceiveCount).
            log.exception("task %s: could not record its state; the message will be retried", key)
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def run_task(key: str, *, clock: Callable[[], float] = time.time) -> Task | None:
    """Claim, run and finish one task; None when there was nothing to do."""
    settings = get_settings()
    now = clock()
    task = store.claim(key, iso(now), now, now + settings.task_lease_seconds, settings.task_max_attempts)
    if task is None:
        _settle_unclaimable(key, now, settings.task_max_attempts)
        return None
    ended = _execute(task)
    if ended is not None and ended.finished:
        hooks.finished(ended)
    return ended


def _settle_unclaimable(key: str, now: float, max_attempts: int) -> None:
    """A claim failed: end the task in error if its attempts are spent, else it is a no-op."""
    found = store.get_with_lease(key)
    if found is None:
        return
    task, lease = found
    if task.finished or lease is None or task.attempt < max_attempts:
        return
    if task.status == QUEUED or lease < store.lease_value(now):
        give_up(task, lease, max_attempts, now)


def give_up(task: Task, lease: str, max_attempts: int, now: float) -> Task | None:
    """End an open task whose attempts are spent in error (if nothing moved it meanwhile)."""
    ended = store.give_up(task.key, task.status, lease,
                          f"the task did not finish in {max_attempts} attempts", iso(now))
    if ended is not None:
        hooks.finished(ended)
    return ended


def _execute(task: Task) -> Task | None:
    settings = get_settings()
    task_type = registry.find(task.account_id, task.task_type)

    def report_progress(value: Any) -> None:
        if store.set_progress(task.key, task.attempt, value, iso(time.time())) is None:
            raise registry.TaskCanceled(f"task {task.key} is no longer running this attempt")

    def store_file(name: str, data: bytes, content_type: str) -> None:
        outputs.store(task.key, name, data, content_type)

    context = registry.RunContext(key=task.key, account_id=task.account_id,
                                  workspace=task.workspace, attempt=task.attempt,
                                  settings=settings, report_progress=report_progress,
                                  store_file=store_file)
    try:
        if task_type is None:
            raise LookupError(f"unknown task type {task.task_type!r}")
        result = task_type.run(dict(task.params), context)
        size = len(json.dumps(result).encode("utf-8"))
        if size > MAX_RESULT_BYTES:
            raise ValueError(f"the task's result is {size} bytes; the limit is {MAX_RESULT_BYTES}")
    except registry.TaskCanceled:
        log.info("task %s was canceled while it ran; its result is dropped", task.key)
        return None
    except Exception as exc:  # the task's own failure, whatever it is, is the task's error
        log.info("task %s failed", task.key, exc_info=True)
        return store.finish(task.key, task.attempt, ERROR, iso(time.time()),
                            error=_describe(exc), files=context.files)
    return store.finish(task.key, task.attempt, SUCCESS, iso(time.time()), result=result,
                        files=context.files)


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    return message or type(exc).__name__

