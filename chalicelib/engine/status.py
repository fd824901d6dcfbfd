"""TaskStatus: the one type of a task's state, shared by the engine, the store and every surface.

A leaf module (it imports nothing of Taskport) so that the store below the engine can use it
without importing the engine.
"""
from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """queued -> executing -> success | error, or canceled from queued or executing.

    A str: it compares, hashes, formats and serialises as its value ("queued").
    """

    QUEUED = "queued"
    EXECUTING = "executing"
    SUCCESS = "success"
    ERROR = "error"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        """Whether the status is final."""
        return self in FINISHED


OPEN = (TaskStatus.QUEUED, TaskStatus.EXECUTING)
FINISHED = (TaskStatus.SUCCESS, TaskStatus.ERROR, TaskStatus.CANCELED)
STATUSES = tuple(TaskStatus)
