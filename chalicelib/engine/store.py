"""The task store the engine talks to: a small protocol, DynamoDB (models/tasks.py) by default.

Every method that moves a task is one conditional write: it answers the new task, or None (False)
when its condition did not hold, and never reads first. chalicelib.engine.memory is the
in-memory twin; tests/unit/engine/test_store_contract.py holds both to the same behaviour.

A task attempt ends in one write that also records its run (`finish_with_run`,
`hand_back_with_run`: one DynamoDB transaction), into the run store the task store names as its
`runs`; the worker uses them only when that is the run store in use.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from chalicelib.engine.slots import Slot
from chalicelib.engine.status import TaskStatus
from chalicelib.models import tasks as dynamodb
from chalicelib.models.runs import RunEntry
from chalicelib.models.tasks import Lease, NewTask, Task
from chalicelib.runs.store import RunStore


class TaskStore(Protocol):
    """What the engine needs of a task store."""

    @property
    def runs(self) -> RunStore:
        """The run store that finish_with_run and hand_back_with_run write the run into."""
        ...

    def lease_value(self, expires: float) -> str:
        """A lease expiry as the store keeps it (sortable)."""
        ...

    def insert(self, tasks: Sequence[NewTask], now: str) -> list[Task]:
        """Write new tasks; a client key that exists raises Conflict(existing=<that task>)."""
        ...

    def get(self, key: str, *, consistent: bool = False) -> Task | None:
        """One task, or None."""
        ...

    def get_with_lease(self, key: str) -> tuple[Task, str | None] | None:
        """One task and its lease as stored, or None."""
        ...

    def get_many(self, keys: Iterable[str], *, consistent: bool = False) -> dict[str, Task]:
        """The tasks that exist among `keys`, by key."""
        ...

    def claim(self, key: str, now: str, now_epoch: float, lease_expires: float,
              max_attempts: int) -> Task | None:
        """queued (or executing with an expired lease) -> executing, attempt + 1, new lease."""
        ...

    def finish(self, key: str, attempt: int, status: TaskStatus, now: str, *, result: Any = None,
               error: str | None = None, error_code: str | None = None,
               files: list[str] | None = None,
               expires_at: float | None = None, hooks_due: float | None = None) -> Task | None:
        """executing (this attempt) -> success | error; with `hooks_due` the lease stays as the
        outbox of the finish hooks (released by release_hooks, re-run by the janitor)."""
        ...

    def finish_with_run(self, seen: Task, status: TaskStatus, now: str, *, run: RunEntry,
                        result: Any = None, error: str | None = None,
                        error_code: str | None = None, files: list[str] | None = None, expires_at: float | None = None,
                        hooks_due: float | None = None) -> Task | None:
        """`finish` of the attempt `seen` (the task as that attempt holds it, with the progress it
        reported) and `run` written with it, all or nothing: the finished task, made from `seen`
        without reading it back, or None (and no run written) when the attempt was superseded."""
        ...

    def hand_back_with_run(self, seen: Task, message: str, now: str, *,
                           run: RunEntry) -> Task | None:
        """`hand_back` of the attempt `seen` and `run` written with it, as finish_with_run."""
        ...

    def release_hooks(self, key: str) -> bool:
        """A finished task's hooks ran: drop the lease that would have the janitor run them again."""
        ...

    def hand_back(self, key: str, attempt: int, message: str, now: str) -> Task | None:
        """executing (this attempt) -> queued without a lease, for people to settle."""
        ...

    def set_progress(self, key: str, attempt: int, value: Any, now: str) -> bool:
        """Record progress of the running attempt; False when it is no longer running."""
        ...

    def settle(self, key: str, account_id: str, status: TaskStatus, now: str, *,
               result: Any = None, error: str | None = None,
               expires_at: float | None = None, hooks_due: float | None = None) -> Task | None:
        """queued | executing -> `status` for the owning account."""
        ...

    def give_up(self, key: str, seen_status: TaskStatus, seen_lease: str | None, message: str,
                now: str, *, expires_at: float | None = None,
                to_people: bool = False) -> Task | None:
        """An open task whose attempts are spent -> error (or back to people)."""
        ...

    def redrive(self, key: str, seen_status: TaskStatus, seen_lease: str, lease_expires: float,
                now: str) -> Task | None:
        """An open task whose lease expired -> queued with a fresh lease."""
        ...

    def expired_leases(self, now_epoch: float, limit: int) -> list[Lease]:
        """Tasks whose lease expired before `now_epoch`."""
        ...

    def list_group(self, account_id: str, workspace: str, group: str,
                   statuses: Sequence[TaskStatus] | None, limit: int,
                   cursor: str | None) -> tuple[list[Task], str | None]:
        """A page of a group's tasks (by status, then key) and the next page's cursor."""
        ...


_slot: Slot[TaskStore] = Slot()
install = _slot.install  # the composition root and tests; None: back to DynamoDB
using = _slot.using  # tests: within a block


def task_store() -> TaskStore:
    """The store in use: the one installed, else DynamoDB (models/tasks.py's functions)."""
    return dynamodb if _slot.installed is None else _slot.installed
