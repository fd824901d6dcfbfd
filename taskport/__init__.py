"""Taskport's Python SDK: one client for every surface and the native API."""
from __future__ import annotations

from taskport.client import Client
from taskport.errors import (BadRequest, Conflict, ConnectionFailed, Forbidden, NotFound, PayloadTooLarge,
                             ServerError, TaskFailed, TaskportError, Unauthorized, WaitTimedOut)

__version__ = "0.1.0"
__all__ = ["BadRequest", "Client", "Conflict", "ConnectionFailed", "Forbidden", "NotFound", "PayloadTooLarge",
           "ServerError", "TaskFailed", "TaskportError", "Unauthorized", "WaitTimedOut"]
