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


HOOKS_GRACE_SECONDS = 60


def finished(task: Task) -> bool:
    """Run every hook for a task that just finished; whether all of them succeeded.

    A hook that raises is logged, never re-raised. Hooks run again when a crash (or a failed
    hook) left the task's hook lease in place (janitor), so each must be safe to repeat.
    """
    ok = True
    for hook in list(_hooks):
        try:
            hook(task)
        except Exception:
            log.exception("finish hook %r failed for task %s", hook, task.key)
            ok = False
    return ok


def finished_durably(task: Task) -> None:
    """Run the hooks of a task finished with a hook lease, then release the lease.

    Hooks act only on tasks that carry `notify`; for the others (a task canceled over the API,
    which cannot tell before its write) the lease is left for the janitor to drop, one write
    off the request's path.
    """
    from chalicelib.models import tasks as store

    if finished(task) and task.notify:
        store.release_hooks(task.key)
