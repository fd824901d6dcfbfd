"""What Taskport's own API reads: an account's tasks newest first, one task with its runs."""
from __future__ import annotations

from typing import Any

from chalicelib.engine import tasks as engine
from chalicelib.errors import Invalid
from chalicelib.models import tasks as task_store
from chalicelib.models.runs import Run
from chalicelib.models.tasks import STATUSES, Task
from chalicelib.runs import list_for_task

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def page_size(raw: Any) -> int:
    """`limit`: 1-100, default 50; Invalid(field=limit) for anything else."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise Invalid("limit must be a whole number from 1 to 100", field="limit") from exc
    if not 1 <= value <= MAX_LIMIT:
        raise Invalid("limit must be a whole number from 1 to 100", field="limit")
    return value


def list_tasks(account_id: str, status: str | None, task_type: str | None, limit: int,
               cursor: str | None) -> tuple[list[Task], str | None]:
    """A page of the account's tasks of every surface, newest first."""
    if status and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
    return task_store.list_account(account_id, [status] if status else None, task_type or None,
                                   limit, cursor or None)


def task_with_runs(account_id: str, key: str) -> tuple[Task, list[Run]]:
    """One of the account's tasks and its runs (attempts), newest first; NotFound otherwise."""
    task = engine.get_task(key, account_id)
    return task, list_for_task(account_id, key)


def last_attempt(task: Task) -> dict[str, Any] | None:
    """How the task's last finished attempt ended, or None while none has: a task that people
    settle (a workflow task) stays open when its script fails, with the reason in `error`."""
    if task.attempt < 1 or task.status == "executing":
        return None
    if task.status == "canceled":
        return {"number": task.attempt, "status": "canceled", "error": None}
    failed = task.status in ("queued", "error") or task.error is not None
    return {"number": task.attempt, "status": "failed" if failed else "succeeded",
            "error": task.error if failed else None}
