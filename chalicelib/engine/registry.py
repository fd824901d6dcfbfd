"""Task types by name, and resolvers for account-defined ones; chalicelib.composition fills both."""
from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple
from collections.abc import Callable

from chalicelib.config import Settings
from chalicelib.errors import Invalid

class TaskCanceled(Exception):
    """Raised into running code when its task was canceled (or re-driven) under it."""


Run = Callable[[dict[str, Any], "RunContext"], Any]
Validate = Callable[[dict[str, Any]], "dict[str, Any] | None"]
Resolver = Callable[[str, str], "TaskType | None"]


class TaskType(NamedTuple):
    """A runnable kind of task.

    `validate(params)` raises errors.Invalid(field=...) and may return normalised params;
    `files`, when known in advance, names the output files (surfaces check a filename early);
    `people_settle` marks tasks that people can complete: when such a task's run fails, overruns
    its wall time or spends its attempts, the task is handed back (queued again, without a lease
    or a message, the failure in its `error`) for complete_task or cancel_task, instead of
    ending in error. `grouped` marks types whose domain files every task in a group (TaskSpec.group):
    a spec without one, such as a task API user's, is refused.
    """

    name: str
    run: Run
    validate: Validate | None = None
    files: tuple[str, ...] | None = None
    people_settle: bool = False
    grouped: bool = False
    description: str | None = None
    params_schema: dict[str, Any] | None = None


class RunContext:
    """What a running task may use: its identity, a progress callback and an output-file writer.

    `deadline` (time.monotonic()) is when the task's wall time ends: code that calls something
    with its own time limit (the sandbox) should pass `remaining_seconds()` on. `stop` is set when
    the worker gave up on the task (wall time spent); progress and file writes then raise.
    """

    __slots__ = ("key", "account_id", "workspace", "attempt", "settings", "report_progress",
                 "store_file", "files", "deadline", "stop")

    def __init__(self, *, key: str, account_id: str, workspace: str, attempt: int,
                 settings: Settings, report_progress: Callable[[Any], None],
                 store_file: Callable[[str, bytes, str], None], deadline: float | None = None):
        self.key = key
        self.account_id = account_id
        self.workspace = workspace
        self.attempt = attempt
        self.settings = settings
        self.report_progress = report_progress
        self.store_file = store_file
        self.files: list[str] = []
        self.deadline = deadline
        self.stop = threading.Event()

    def remaining_seconds(self) -> float | None:
        """Seconds left of the task's wall time (never negative), or None when unlimited."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def _check_running(self) -> None:
        if self.stop.is_set():
            raise TaskCanceled(f"task {self.key} ran out of wall time; the worker gave up on it")

    def progress(self, value: Any) -> None:
        """Record the task's progress (any JSON value); raises TaskCanceled if it was canceled."""
        self._check_running()
        self.report_progress(value)

    def write_file(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store an output file under the task's key; raises TaskCanceled once the worker gave up."""
        self._check_running()
        self.store_file(name, data, content_type)
        if name not in self.files:
            self.files.append(name)


_types: dict[str, TaskType] = {}
_resolvers: list[Resolver] = []


def register(name: str, run: Run, validate: Validate | None = None,
             files: tuple[str, ...] | None = None, people_settle: bool = False,
             grouped: bool = False) -> TaskType:
    """Register a task type under `name` (a later registration replaces an earlier one)."""
    task_type = TaskType(name=name, run=run, validate=validate, files=files,
                         people_settle=people_settle, grouped=grouped)
    _types[name] = task_type
    return task_type


def add_resolver(resolver: Resolver) -> None:
    """Add a lookup for types not registered by name: fn(account_id, task_type) -> TaskType | None."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def find(account_id: str, name: str) -> TaskType | None:
    """The task type `name` as seen by the account, or None."""
    found = _types.get(name)
    if found is not None:
        return found
    for resolver in _resolvers:
        found = resolver(account_id, name)
        if found is not None:
            return found
    return None


def resolve(account_id: str, name: Any) -> TaskType:
    """The task type `name`, or Invalid naming the field `task_type`."""
    if not isinstance(name, str) or not name:
        raise Invalid("the task type must be a non-empty string", field="task_type")
    found = find(account_id, name)
    if found is None:
        raise Invalid(f"unknown task type {name!r}", field="task_type")
    return found


def builtin(name: str) -> TaskType | None:
    """The registered (not resolved) task type `name`, or None."""
    return _types.get(name)


def names() -> list[str]:
    """The names of the registered (not resolved) task types."""
    return sorted(_types)
