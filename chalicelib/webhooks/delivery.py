"""Deliver workflow task events: record, sign, POST through the egress guard, retry, give up.

A delivery starts with a pending record and one SQS message. Each message is one step: the
sender waits (hops again) if the step is not due yet, otherwise makes one attempt, records it
with a conditional write (so a duplicated message never records twice) and either finishes the
delivery or sends the next message with the ladder's delay. One event keeps one `webhook-id` on
every attempt and every replay, so receivers can drop duplicates: exactly once in effect.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
import logging
import queue
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from chalicelib import aws, egress
from chalicelib.config import get_settings
from chalicelib.engine.status import TaskStatus
from chalicelib.errors import NotFound
from chalicelib.models import webhooks as store
from chalicelib.models import workflows as workflow_store
from chalicelib.models.base import now
from chalicelib.models.webhooks import DELIVERED, FAILED, PENDING, Attempt, Delivery
from chalicelib.observability import events
from chalicelib.webhooks import ladder, signing

log = logging.getLogger("taskport.webhooks")

EVENTS = {TaskStatus.SUCCESS: "completed", TaskStatus.CANCELED: "canceled"}
RESPONSE_MAX_BYTES = 1024 * 1024
RETRY_AFTER_STATUSES = (429, 503)
EARLY_TOLERANCE = 1.0
# egress's own deadline ends most slow answers first, with its more precise message.
ATTEMPT_SLACK = 1.0


class Step(NamedTuple):
    """One SQS message: make attempt number `attempts_made + 1` of a delivery at `due`."""

    task_key: str
    delivery_id: str
    attempts_made: int
    due: float

    def to_json(self) -> str:
        return json.dumps({"task_key": self.task_key, "delivery_id": self.delivery_id,
                           "attempts_made": self.attempts_made, "due": self.due})

    @classmethod
    def from_json(cls, body: str) -> Step:
        data = json.loads(body)
        return cls(data["task_key"], data["delivery_id"], int(data["attempts_made"]),
                   float(data["due"]))


def webhook_id(task_key: str, event: str) -> str:
    """The `webhook-id` of one event of one task: the same on every attempt and replay."""
    return "msg_" + hashlib.sha256(f"{task_key}:{event}".encode()).hexdigest()[:32]


def event_of(task: Any) -> str | None:
    """The webhook event a finished task sends (`completed`, `canceled`), or None."""
    return EVENTS.get(task.status)


def _new_delivery_id() -> str:
    # Milliseconds first, so that a task's deliveries list in creation order.
    return f"{int(time.time() * 1000):013d}{secrets.token_hex(4)}"


def _send(step: Step, delay: float = 0.0, account_id: str | None = None) -> None:
    # The account as MessageGroupId makes the standard queue an SQS fair queue: one account's
    # burst of deliveries does not delay another's.
    group = {"MessageGroupId": account_id} if account_id else {}
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(get_settings().webhooks_queue),
                                   MessageBody=step.to_json(),
                                   DelaySeconds=ladder.hop_seconds(delay), **group)


def _finish_delivery_id(task: Any, event: str) -> str:
    """The id of the delivery a task's finish starts: the same each time the finish hook runs."""
    finished_at = dt.datetime.fromisoformat(task.events["completed"]).timestamp()
    return f"{int(finished_at * 1000):013d}{webhook_id(task.key, event)[4:12]}"


def start_delivery(task: Any, workflow: str, task_id: str, event: str, *,
                   once: bool = False) -> Delivery:
    """Record a pending delivery of `event` for a workflow task and queue its first attempt.

    The delivery keeps the event's body as it is now, so every attempt sends the same bytes.
    With `once` (the finish hook, which runs again after a crash) the delivery has an id of its
    own event: a second run finds it and only queues its first attempt again if none was made
    (a duplicated step is dropped by the sender).
    """
    delivery = store.create_delivery(
        _finish_delivery_id(task, event) if once else _new_delivery_id(),
        account_id=task.account_id, task_key=task.key, workflow=workflow,
        task_id=task_id, event=event, webhook_id=webhook_id(task.key, event),
        body=event_body(task, task_id), exist_ok=once)
    if delivery.status == PENDING and not delivery.attempts:
        _send(Step(task.key, delivery.delivery_id, 0, time.time()), account_id=task.account_id)
    else:
        log.error("delivery %s of task %s not sent: %s", delivery.delivery_id, task.key,
                  delivery.reason)
    return delivery


def list_deliveries(task_key: str) -> list[Delivery]:
    """Every delivery of a task with its attempts, oldest first."""
    return store.list_deliveries(task_key)


def event_body(task: Any, task_id: str) -> str:
    """The webhook body of the seed: `{"id", "input", "output"}` (output null when canceled)."""
    output = task.result if task.status == TaskStatus.SUCCESS else None
    return json.dumps({"id": task_id, "input": (task.params or {}).get("input") or {},
                       "output": output}, separators=(",", ":"))


def _event_url(url: str, event: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&event={event}" if parts.query else f"event={event}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _finish(step: Step, status: str, reason: str, attempt: Attempt | None = None) -> None:
    store.record_outcome(step.task_key, step.delivery_id, expected_attempts=step.attempts_made,
                         attempt=attempt, status=status, next_attempt_at=None, reason=reason)


def _due_work(steps: list[Step]) -> dict[Step, tuple[Delivery, Any]]:
    """What the due steps need, in few round trips: one BatchGetItem for the deliveries, one
    consistent read per workflow. Stale or duplicated steps are left out."""
    found = store.get_deliveries([(step.task_key, step.delivery_id) for step in steps])
    live = {}
    for step in steps:
        delivery = found.get((step.task_key, step.delivery_id))
        # A missing, finished or further-along delivery means this message was handled already.
        if delivery is not None and delivery.status == PENDING and \
                len(delivery.attempts) == step.attempts_made:
            live[step] = delivery
    workflows: dict[tuple[str, str], Any] = {}
    for delivery in live.values():
        target = (delivery.account_id, delivery.workflow)
        if target not in workflows:
            try:
                workflows[target] = workflow_store.get_workflow(*target, consistent=True)
            except NotFound:
                workflows[target] = None
    return {step: (delivery, workflows[(delivery.account_id, delivery.workflow)])
            for step, delivery in live.items()}


def deliver_step(step: Step, delivery: Delivery, workflow: Any) -> None:
    """Make one attempt of a due, pending delivery and record what happened."""
    if workflow is None:
        _finish(step, FAILED, "the workflow no longer exists")
    elif not workflow.webhook_enabled:
        _finish(step, FAILED, f"the workflow's webhook is disabled: "
                              f"{workflow.webhook_disabled_reason}")
    elif delivery.body is None:
        _finish(step, FAILED, "the delivery holds no event body")
    else:
        _attempt(step, delivery, workflow)


def _attempt(step: Step, delivery: Delivery, workflow: workflow_store.Workflow) -> None:
    settings = get_settings()
    url = _event_url(workflow.webhook_url, delivery.event)
    body = delivery.body or ""  # a delivery is always made with its body; "" keeps the types honest
    started_at = now()
    headers = {"Content-Type": "application/json",
               **signing.signature_headers(workflow.signing_secrets(started_at),
                                           delivery.webhook_id, started_at, body)}
    clock = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    refused = False
    # Everything between the POST and the record of the attempt is inside this try: whatever
    # the receiver answers, the attempt it saw is recorded and the delivery moves on.
    try:
        answer = _post_within(url, headers, body.encode("utf-8"),
                              settings.webhook_timeout_seconds)
        status_code = answer.status
        if 300 <= status_code < 400:
            error = f"redirect to {answer.headers.get('location', '?')} not followed"
        elif not 200 <= status_code < 300:
            error = f"the receiver answered {status_code}"
        if status_code in RETRY_AFTER_STATUSES:
            retry_after = ladder.retry_after_seconds(answer.headers.get("retry-after"), now())
    except egress.Refused as exc:
        # Refused at send time (the name now resolves to a refused address, say): the same
        # refusal would come back on every retry, so the delivery ends with it.
        error, refused = exc.message, True
    except egress.FetchFailed as exc:
        error = exc.message
    except Exception as exc:  # an answer nothing above expected: still this attempt's outcome
        log.exception("webhook attempt of delivery %s failed unexpectedly", step.delivery_id)
        error = f"the attempt failed: {type(exc).__name__}"
    attempt = Attempt(at=started_at, url=url, duration_ms=round((time.monotonic() - clock) * 1000),
                      status_code=status_code, error=error)
    made = step.attempts_made + 1

    def report(outcome: str, retry: float | None = None) -> None:
        events.webhook_attempt(step.delivery_id, step.task_key, url, status_code,
                               attempt.duration_ms, outcome, retry, error)

    if error is None:
        _record(step, attempt, DELIVERED, None, None)
        report("delivered")
        return
    if refused:
        _record(step, attempt, FAILED, None, f"refused by the egress guard: {error}")
        return
    if status_code == 410:
        reason = "the receiver answered 410 Gone: the workflow's webhook is disabled"
        report("disabled")
        if _record(step, attempt, FAILED, None, reason):
            workflow_store.disable_webhook(workflow.account_id, workflow.handle,
                                           workflow.webhook_url, "the receiver answered 410 Gone")
        return
    delay = ladder.next_delay(made, settings.webhook_schedule)
    if delay is None:
        _record(step, attempt, FAILED, None, f"gave up after {made} attempts")
        report("failed")
        return
    if retry_after is not None:
        delay = max(delay, retry_after)
    report("retry", delay)
    due = time.time() + delay
    if _record(step, attempt, PENDING,
               dt.datetime.fromtimestamp(due, dt.UTC), None):
        _send(Step(step.task_key, step.delivery_id, made, due), delay, workflow.account_id)


def _post_within(url: str, headers: dict[str, str], body: bytes,
                 timeout: float) -> egress.Fetched:
    """POST through the egress guard, bounded in total by `timeout`.

    egress bounds each network step (connect, each read) and the body, not the status line and
    headers: a receiver trickling them a byte at a time would hold the attempt, and with it the
    batch, until the Lambda times out. Past the bound the attempt is a failure and the request
    is abandoned on its daemon thread (its own socket timeouts end it).
    """
    outcome: queue.Queue[egress.Fetched | Exception] = queue.Queue(maxsize=1)

    def post() -> None:
        try:
            outcome.put(egress.fetch(url, method="POST", headers=headers, body=body,
                                     timeout=timeout, max_bytes=RESPONSE_MAX_BYTES))
        except Exception as exc:  # handed over to the attempt, which records it
            outcome.put(exc)

    threading.Thread(target=post, name="webhook-post", daemon=True).start()
    try:
        answer = outcome.get(timeout=timeout + ATTEMPT_SLACK)
    except queue.Empty:
        raise egress.FetchFailed(f"could not be fetched: timed out after {timeout:g} s "
                                 "(the whole answer)", url) from None
    if isinstance(answer, Exception):
        raise answer
    return answer


def _record(step: Step, attempt: Attempt, status: str, next_at: dt.datetime | None,
            reason: str | None) -> bool:
    return store.record_outcome(step.task_key, step.delivery_id,
                                expected_attempts=step.attempts_made, attempt=attempt,
                                status=status, next_attempt_at=next_at, reason=reason)


def handle_batch(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """The `webhook_sender` Lambda: one SQS batch, every due step at once on a thread pool.

    Steps not due yet hop again. A step that crashes (not a failed HTTP attempt, which is
    recorded and retried by the ladder, but e.g. DynamoDB failing) is reported in
    `batchItemFailures`, so SQS retries it.
    """
    failed: list[str] = []
    steps: dict[Step, str] = {}
    groups: dict[Step, str | None] = {}  # the account a hop keeps as its MessageGroupId
    for record in records:
        try:
            step = Step.from_json(record["body"])
            steps[step] = record.get("messageId", "")
            groups[step] = (record.get("attributes") or {}).get("MessageGroupId")
        except (KeyError, TypeError, ValueError):
            log.error("dropping malformed webhook step %r", record.get("body"))
    now_epoch = time.time()
    due = [step for step in steps if step.due - now_epoch <= EARLY_TOLERANCE]
    if not steps:
        return {"batchItemFailures": []}
    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        hops = {pool.submit(_send, step, step.due - now_epoch, groups.get(step)): step
                for step in steps if step not in due}
        try:
            work = _due_work(due) if due else {}
        except Exception:
            log.exception("loading %d webhook steps failed", len(due))
            work, failed = {}, [steps[step] for step in due]
        # Each attempt's log lines carry this invocation's ids (a copy of the context each).
        attempts = {pool.submit(contextvars.copy_context().run, deliver_step, step, *loaded): step
                    for step, loaded in work.items()}
        for future, step in [*hops.items(), *attempts.items()]:
            try:
                future.result()
            except Exception:
                log.exception("webhook step %s failed", steps[step])
                failed.append(steps[step])
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
