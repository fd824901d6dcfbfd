"""Log lines (and metrics) of events that other domains report: webhook attempts, re-drives."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from chalicelib.observability import metrics

webhook_log = logging.getLogger("taskport.webhooks")
janitor_log = logging.getLogger("taskport.janitor")


def webhook_attempt(delivery_id: str, task_key: str, url: str, status_code: int | None,
                    duration_ms: float, outcome: str, next_retry_seconds: float | None = None,
                    error: str | None = None) -> None:
    """One webhook attempt: INFO when delivered, WARNING when the receiver failed (its own
    failure, not the platform's); the URL's host only (a query may carry the receiver's secret)."""
    host = urlsplit(url).hostname or "?"
    level = logging.INFO if outcome == "delivered" else logging.WARNING
    retry = f", next attempt in {next_retry_seconds:g} s" if next_retry_seconds is not None else ""
    webhook_log.log(level, "webhook to %s: %s (%s) in %d ms%s", host, outcome,
                    status_code if status_code is not None else error or "no answer",
                    duration_ms, retry,
                    extra={"delivery": delivery_id, "task": task_key, "host": host,
                           "status": status_code, "duration_ms": duration_ms,
                           "outcome": outcome, "next_retry_seconds": next_retry_seconds})
    metrics.webhook_attempt(outcome)


def redriven(task_key: str, status: str, attempt: int) -> None:
    """The janitor queued a task again whose lease had expired."""
    janitor_log.info("janitor re-drove task %s (was %s after %d attempts)", task_key, status,
                     attempt, extra={"task": task_key, "attempt": attempt})


def given_up(task_key: str, attempt: int, to_people: bool) -> None:
    """The janitor ended a task whose attempts were spent (or handed it back to people)."""
    janitor_log.warning("janitor gave up on task %s after %d attempts%s", task_key, attempt,
                        ": handed back to people" if to_people else "",
                        extra={"task": task_key, "attempt": attempt})
