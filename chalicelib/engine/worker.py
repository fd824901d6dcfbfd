"""The task worker: claim a task with a lease, run it within its wall time, record how it ended.

Per task the happy path costs two AWS calls: the claim (one conditional UpdateItem that returns
the task) and the finish, one TransactWriteItems that carries the conditional finish (or
hand-back) and the attempt's run record, so a run record costs no call of its own. When the
finish's condition fails (the attempt was canceled or re-driven meanwhile) the run is written
on its own. A message whose task is finished, running under a live lease, unknown, or manual is
dropped as a no-op; only infrastructure errors (the claim or the finish could not be written)
are reported back for SQS to retry, and then too the attempt's run is written on its own.

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
from chalicelib.engine.store import TaskStore, task_store
from chalicelib.models.runs import RunEntry
from chalicelib.models.tasks import ERROR, QUEUED, SUCCESS, Task, TaskStatus
from chalicelib.observability import logs, metrics
from chalicelib.runs.store import run_store

log = logging.getLogger("taskport.engine")
MAX_RESULT_BYTES = 300 * 1024
ITEM_MAX_BYTES = 400 * 1024  # DynamoDB's item limit
ITEM_OVERHEAD_BYTES = 16 * 1024  # keys, index keys, timestamps, status, progress of a task item


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
    task = task_store().claim(key, iso(now), now, now + settings.task_lease_seconds, settings.task_max_attempts)
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
        if task.notify:
            hooks.finished_durably(ended)
        else:
            hooks.finished(ended)
    return ended


def _settle_unclaimable(key: str, now: float, max_attempts: int) -> None:
    """A claim failed: end the task in error if its attempts are spent, else it is a no-op."""
    found = task_store().get_with_lease(key)
    if found is None:
        return
    task, lease = found
    if task.finished or lease is None or task.attempt < max_attempts:
        return
    if task.status == QUEUED or lease < task_store().lease_value(now):
        give_up(task, lease, max_attempts, now)


def give_up(task: Task, lease: str, max_attempts: int, now: float) -> Task | None:
    """End an open task whose attempts are spent in error (if nothing moved it meanwhile); one
    that people can settle is handed back to them instead."""
    task_type = registry.find(task.account_id, task.task_type)
    to_people = task_type is not None and task_type.people_settle
    ended = task_store().give_up(task.key, task.status, lease,
                          f"the task did not finish in {max_attempts} attempts", iso(now),
                          expires_at=expiry(now), to_people=to_people)
    if ended is not None and ended.finished:
        hooks.finished(ended)
    return ended


def _execute(task: Task) -> Task | None:
    settings = get_settings()
    wall = settings.task_wall_seconds
    task_type = registry.find(task.account_id, task.task_type)
    # The task as this attempt holds it (the claim's answer and the progress it reported): the
    # finish answers it with the finish's changes, since the write that finishes asks for nothing.
    held = {"task": task}

    def report_progress(value: Any) -> None:
        now = iso(time.time())
        if not task_store().set_progress(task.key, task.attempt, value, now):
            raise registry.RunStopped(f"task {task.key} is no longer running this attempt")
        seen = held["task"]
        held["task"] = seen._replace(progress=json.loads(json.dumps(value)), updated_at=now,
                                     events={**seen.events, "progress": now})

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
    people_settle = task_type is not None and task_type.people_settle
    if runner.is_alive():
        context.stop.set()
        log.warning("task %s ran past its %g s wall time; its thread is abandoned", task.key, wall)
        message = f"the task ran longer than its wall-time limit of {wall:g} s"
        recording.error = {"type": "WallTimeExceeded", "message": message, "traceback": ""}
        if people_settle:
            return _hand_back(held["task"], recording.seal(runs.TIMEOUT), message)
        return _finish(held["task"], recording.seal(runs.TIMEOUT), ERROR, error=message,
                       files=list(context.files))
    failure = outcome.get("error")
    if failure is None:
        return _finish(held["task"], recording.seal(runs.OK), SUCCESS, result=outcome["result"],
                       files=context.files)
    recording.fail(failure)
    if isinstance(failure, registry.RunStopped):
        log.info("task %s was canceled while it ran; its result is dropped", task.key)
        recording.finish()
        return None
    if people_settle:
        log.info("task %s is handed back to people: %s", task.key, failure,
                 extra={"run": recording.run_id})
        return _hand_back(held["task"], recording.seal(), _describe(failure))
    log.info("task %s failed: %s", task.key, _describe(failure), extra={"run": recording.run_id})
    return _finish(held["task"], recording.seal(), ERROR, error=_describe(failure),
                   error_code=_code_of(failure), files=context.files)


def _finish(task: Task, run: RunEntry, status: TaskStatus, *, result: Any = None,
            error: str | None = None, error_code: str | None = None,
            files: list[str]) -> Task | None:
    now = time.time()
    if status == SUCCESS:
        # The result shares one DynamoDB item (400 KB) with the parameters: a finish over it is
        # refused by DynamoDB on every retry, so the task would run again and again and end
        # "did not finish". It ends now, with the real cause.
        stored = len(json.dumps(task.params).encode("utf-8")) + sum(len(f) for f in files)
        size = len(json.dumps(result).encode("utf-8"))
        room = ITEM_MAX_BYTES - ITEM_OVERHEAD_BYTES - stored
        if size > room:
            status, result = ERROR, None
            error = (f"the task's result is {size} bytes, over the {max(room, 0)} bytes left beside "
                     f"its parameters ({stored} bytes) in the 400 KB record that holds a task")
    changes: dict[str, Any] = {
        "result": result, "error": error, "error_code": error_code, "files": files, "expires_at": expiry(now),
        "hooks_due": now + hooks.HOOKS_GRACE_SECONDS if task.notify else None}
    return _end_attempt(
        run, lambda store: store.finish_with_run(task, status, iso(now), run=run, **changes),
        lambda store: store.finish(task.key, task.attempt, status, iso(now), **changes))


def _hand_back(task: Task, run: RunEntry, message: str) -> Task | None:
    now = iso(time.time())
    return _end_attempt(run, lambda store: store.hand_back_with_run(task, message, now, run=run),
                        lambda store: store.hand_back(task.key, task.attempt, message, now))


def _end_attempt(run: RunEntry, together: Callable[[TaskStore], Task | None],
                 alone: Callable[[TaskStore], Task | None]) -> Task | None:
    """End the attempt with its run in one write (`together`); the run on its own when that
    cannot carry it: the attempt was superseded, the write failed, or the run store in use is
    not the one the task store writes runs into (`alone`, then a second write)."""
    store = task_store()
    if store.runs is not run_store():
        runs.save(run)
        return alone(store)
    try:
        ended = together(store)
    except Exception:
        # Nothing was written; SQS retries the message and a later attempt runs the task again.
        # This attempt's run is still what happened: it is kept, then the failure goes on.
        runs.save(run)
        raise
    if ended is None:
        runs.save(run)
    return ended


def _code_of(exc: BaseException) -> str | None:
    """The code the failing code gave its failure (a package's SteamshipError code), if any."""
    code = getattr(exc, "code", None)
    return code[:200] if isinstance(code, str) and code else None


def _describe(exc: BaseException) -> str:
    message = str(exc).strip()
    if not isinstance(exc, Exception):  # SystemExit(3) would read "3"
        return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return message or type(exc).__name__

