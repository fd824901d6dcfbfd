"""The task worker: claim a task with a lease, run it within its wall time, record how it ended.

Per task the happy path costs two writes: the claim (one conditional UpdateItem that returns
the task) and the finish (one conditional UpdateItem). A message whose task is finished,
running under a live lease, unknown, or manual is dropped as a no-op; only infrastructure
errors (the claim or the finish could not be written) are reported back for SQS to retry.

The tasks of one batch run at once, each in a thread of its own, so that one slow task cannot
push the others past the Lambda timeout. A task gets TASKPORT_TASK_WALL_SECONDS (300 s) from its
claim; then it ends in error and its thread is left behind, told to stop at its next progress
report or file write. Nothing it does later is recorded: every write is conditional on its
attempt. So task_worker's Lambda timeout (330 s) covers the wall time plus the writes around
it, and the SQS visibility timeout and the lease (360 s) cover the Lambda timeout.
"""
from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from chalicelib import runs
from chalicelib.config import get_settings
from chalicelib.engine import dispatch, hooks, outputs, registry
from chalicelib.engine.tasks import expiry, iso
from chalicelib.models import tasks as store
from chalicelib.models.tasks import ERROR, QUEUED, SUCCESS, Task
from chalicelib.observability import logs, metrics

log = logging.getLogger("taskport.engine")
MAX_RESULT_BYTES = 300 * 1024


def handle_batch(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Process one SQS batch (Lambda's record dicts) at once; answer the partial-failure report."""
    messages: dict[str, list[str]] = {}  # task key -> ids of the messages that name it
    for record in records:
        message_id = record.get("messageId") or record.get("MessageId") or ""
        key = dispatch.key_of(record.get("body") or record.get("Body") or "")
        if key is None:
            log.warning("dropping message %s: it names no task", message_id)
            continue
        messages.setdefault(key, []).append(message_id)
    if len(messages) <= 1:
        recorded = {key: _run_message(key) for key in messages}
    else:
        with ThreadPoolExecutor(max_workers=len(messages),
                                thread_name_prefix="task-worker") as pool:
                # Each thread carries a copy of this invocation's log ids (request_id).
            contexts = [contextvars.copy_context() for _ in messages]
            recorded = dict(zip(messages, pool.map(lambda c, k: c.run(_run_message, k),
                                                   contexts, messages), strict=False))
    return {"batchItemFailures": [{"itemIdentifier": message_id}
                                  for key, ok in recorded.items() if not ok
                                  for message_id in messages[key]]}


def _run_message(key: str) -> bool:
    """Run the task a message names; False when its state could not be written (retry it)."""
    try:
        with logs.bound(task=key):
            run_task(key)
    except Exception:
        # The task's own code never raises here (its failure is its error status): what
        # reaches this point is the store or the network, so SQS retries the message (and
        # parks it in the DLQ after maxReceiveCount).
        log.exception("task %s: could not record its state; the message will be retried", key)
        return False
    return True


def run_task(key: str, *, clock: Callable[[], float] = time.time) -> Task | None:
    """Claim, run and finish one task; None when there was nothing to do."""
    settings = get_settings()
    now = clock()
    task = store.claim(key, iso(now), now, now + settings.task_lease_seconds, settings.task_max_attempts)
    if task is None:
        _settle_unclaimable(key, now, settings.task_max_attempts)
        return None
    log.info("task %s attempt %d started", key, task.attempt,
             extra={"task_type": task.task_type, "attempt": task.attempt,
                    "account": task.account_id})
    ended = _execute(task)
    duration = round((time.time() - now) * 1000, 1)
    outcome = ended.status if ended is not None else "dropped"
    log.info("task %s attempt %d ended: %s in %d ms", key, task.attempt, outcome, duration,
             extra={"task_type": task.task_type, "attempt": task.attempt, "outcome": outcome,
                    "duration_ms": duration, "account": task.account_id})
    if ended is not None and ended.finished:
        metrics.task_finished(task.task_type, ended.status, duration)
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
    """End an open task whose attempts are spent in error (if nothing moved it meanwhile); one
    that people can settle is handed back to them instead."""
    task_type = registry.find(task.account_id, task.task_type)
    to_people = task_type is not None and task_type.people_settle
    ended = store.give_up(task.key, task.status, lease,
                          f"the task did not finish in {max_attempts} attempts", iso(now),
                          expires_at=expiry(now), to_people=to_people)
    if ended is not None and ended.finished:
        hooks.finished(ended)
    return ended


def _execute(task: Task) -> Task | None:
    settings = get_settings()
    wall = settings.task_wall_seconds
    task_type = registry.find(task.account_id, task.task_type)

    def report_progress(value: Any) -> None:
        if not store.set_progress(task.key, task.attempt, value, iso(time.time())):
            raise registry.TaskCanceled(f"task {task.key} is no longer running this attempt")

    def store_file(name: str, data: bytes, content_type: str) -> None:
        outputs.store(task.key, name, data, content_type)

    context = registry.RunContext(key=task.key, account_id=task.account_id,
                                  workspace=task.workspace, attempt=task.attempt,
                                  settings=settings, report_progress=report_progress,
                                  store_file=store_file, deadline=time.monotonic() + wall)
    outcome: dict[str, Any] = {}
    recording = runs.for_task(task)

    def run() -> None:
        with runs.attached(recording):
            _run_attempt()

    def _run_attempt() -> None:
        try:
            if task_type is None:
                raise LookupError(f"unknown task type {task.task_type!r}")
            result = task_type.run(dict(task.params), context)
            size = len(json.dumps(result).encode("utf-8"))
            if size > MAX_RESULT_BYTES:
                raise ValueError(f"the task's result is {size} bytes; the limit is {MAX_RESULT_BYTES}")
            outcome["result"] = result
        except BaseException as exc:  # the task's own failure, whatever it is (even SystemExit)
            outcome["error"] = exc

    # A daemon thread: one that overruns its wall time must not keep the process alive.
    runner = threading.Thread(target=contextvars.copy_context().run, args=(run,),
                              name=f"task-{task.key}", daemon=True)
    runner.start()
    runner.join(wall)
    if runner.is_alive():
        context.stop.set()
        log.warning("task %s ran past its %g s wall time; its thread is abandoned", task.key, wall)
        message = f"the task ran longer than its wall-time limit of {wall:g} s"
        recording.error = {"type": "WallTimeExceeded", "message": message, "traceback": ""}
        recording.finish(runs.TIMEOUT)
        if task_type is not None and task_type.people_settle:
            return store.hand_back(task.key, task.attempt, message, iso(time.time()))
        return _finish(task, ERROR, error=message, files=list(context.files))
    failure = outcome.get("error")
    if failure is not None:
        recording.fail(failure)
    recording.finish(runs.OK if failure is None else None)
    if failure is None:
        return _finish(task, SUCCESS, result=outcome["result"], files=context.files)
    if isinstance(failure, registry.TaskCanceled):
        log.info("task %s was canceled while it ran; its result is dropped", task.key)
        return None
    if task_type is not None and task_type.people_settle:
        log.info("task %s is handed back to people: %s", task.key, failure,
                 extra={"run": recording.run_id})
        return store.hand_back(task.key, task.attempt, _describe(failure), iso(time.time()))
    log.info("task %s failed: %s", task.key, _describe(failure), extra={"run": recording.run_id})
    return _finish(task, ERROR, error=_describe(failure), files=context.files)


def _finish(task: Task, status: str, *, result: Any = None, error: str | None = None,
            files: list[str]) -> Task | None:
    now = time.time()
    return store.finish(task.key, task.attempt, status, iso(now), result=result, error=error,
                        files=files, expires_at=expiry(now))


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    if not isinstance(exc, Exception):  # SystemExit(3) would read "3"
        return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return message or type(exc).__name__

