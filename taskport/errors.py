"""Typed errors of the SDK: each carries the HTTP status, the surface's own code and its message."""
from __future__ import annotations

from typing import Any


class TaskportError(Exception):
    """An error answer from Taskport (or no answer at all)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 surface: str | None = None, body: Any = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.surface = surface
        self.body = body
        self.field = field

    def __str__(self) -> str:
        where = f"{self.status}" if self.status else "no answer"
        code = f" [{self.code}]" if self.code and self.code != str(self.status) else ""
        return f"{where}{code}: {self.message}"


class BadRequest(TaskportError):
    """400: the request is invalid (`field` names what, when the surface says)."""


class Unauthorized(TaskportError):
    """401: credentials are missing or wrong."""


class Forbidden(TaskportError):
    """403: refused (a Referer off the whitelist, a canceled workflow task)."""


class NotFound(TaskportError):
    """404: no such thing (another account's things look the same)."""


class Conflict(TaskportError):
    """409: it exists already, or was changed meanwhile."""


class PayloadTooLarge(TaskportError):
    """413: over a size limit."""


class ServerError(TaskportError):
    """5xx: the server (or user code behind it: 502 too large, 504 timed out) failed."""


class ConnectionFailed(TaskportError):
    """The server could not be reached."""


class TaskFailed(TaskportError):
    """A task ended in error (its status is `task`)."""

    def __init__(self, message: str, task: Any) -> None:
        super().__init__(message, surface="tasks")
        self.task = task


class WaitTimedOut(TaskportError):
    """A wait ended before the tasks did (their last statuses are `tasks`)."""

    def __init__(self, message: str, tasks: Any) -> None:
        super().__init__(message)
        self.tasks = tasks


BY_STATUS: dict[int, type[TaskportError]] = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
                                             405: BadRequest, 409: Conflict, 413: PayloadTooLarge,
                                             415: BadRequest}


def from_answer(status: int, body: Any, surface: str) -> TaskportError:
    """The typed error for an error answer, reading each surface's own error body."""
    message, code, field = _read(body)
    kind = BY_STATUS.get(status) or (ServerError if status >= 500 else TaskportError)
    return kind(message or f"HTTP {status}", status=status, code=code, surface=surface, body=body, field=field)


def _read(body: Any) -> tuple[str | None, str | None, str | None]:
    """(message, code, field) from any of the five error bodies."""
    if not isinstance(body, dict):
        return (body.strip()[:500] if isinstance(body, str) and body.strip() else None), None, None
    if isinstance(body.get("error"), dict):  # admin and /taskport/v1
        error = body["error"]
        return error.get("message"), error.get("type"), error.get("field")
    if isinstance(body.get("errors"), list) and body["errors"]:  # tasks, 400
        first = body["errors"][0]
        text = "; ".join(f"{e.get('name')}: {e.get('description')}" for e in body["errors"] if isinstance(e, dict))
        return text, None, first.get("name") if isinstance(first, dict) else None
    if "code" in body and "message" in body:  # workflows
        data = body.get("data")
        details = "; ".join(f"{k}: {v}" for k, v in data.items()) if isinstance(data, dict) else ""
        return (f"{body['message']} ({details})" if details else body["message"]), str(body["code"]), None
    if isinstance(body.get("task"), dict) and body["task"].get("taskState") == "failed":  # packages
        task = body["task"]
        code = task.get("taskStatusCode")
        return task.get("taskMessage"), str(code) if code is not None else None, None
    if "msg" in body:  # endpoints and files
        return body["msg"], None, None
    if "message" in body:  # tasks (not 400), and API Gateway's own answers
        return body["message"], None, None
    return None, None, None
