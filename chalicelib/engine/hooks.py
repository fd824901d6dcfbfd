"""Finish hooks: called in the process that moved a task to success, error or canceled."""
from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.models.tasks import Task

log = logging.getLogger("taskport.engine")

FinishHook = Callable[[Task], None]
_hooks: list[FinishHook] = []


def on_finish(hook: FinishHook) -> FinishHook:
    """Register `hook(task)`; usable as a decorator; registering twice is harmless."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def remove(hook: FinishHook) -> None:
    """Unregister a hook (tests)."""
    if hook in _hooks:
        _hooks.remove(hook)


def finished(task: Task) -> None:
    """Run every hook for a task that just finished; a hook that raises is logged, never re-raised."""
    for hook in list(_hooks):
        try:
            hook(task)
        except Exception:
            log.exception("finish hook %r failed for task %s", hook, task.key)
