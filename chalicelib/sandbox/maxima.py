"""The most a call may ask of the sandbox, enforced by the sandbox's side (server, Lambda)."""
from __future__ import annotations

from typing import Any

from chalicelib.sandbox.wire import Limits


def from_settings() -> Limits:
    """The largest of the handler, task and image limits in settings."""
    from chalicelib.config import get_settings

    settings = get_settings()
    wall = max(settings.handler_wall_seconds, settings.task_wall_seconds)
    # Image tasks decode in the sandbox with a memory limit of their own (builtin_tasks/images.py).
    memory = max(settings.handler_memory_bytes, settings.image_memory_bytes)
    return Limits(wall_seconds=wall, cpu_seconds=wall, memory_bytes=memory,
                  output_bytes=settings.handler_output_bytes,
                  processes=settings.sandbox_processes, file_bytes=settings.sandbox_file_bytes,
                  log_bytes=settings.run_output_bytes)


def capped(limits: Limits, maxima: Limits) -> Limits:
    """Each limit no higher than its maximum (a missing one takes the maximum)."""
    values: dict[str, Any] = {}
    for name, asked, most in zip(Limits._fields, limits, maxima, strict=True):
        values[name] = most if asked is None else (asked if most is None else min(asked, most))
    return Limits(**values)
