"""Domain errors: one base class, rendered per surface in chalicelib/surfaces/render.py."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class TaskportError(Exception):
    """Base of every error a caller may be told about: what, and which field of the request."""

    status_code = 500

    def __init__(self, message: str, *, field: str | None = None,
                 location: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.location = location


class Invalid(TaskportError):
    """The request is malformed or a value is wrong (400).

    `index` is the position of the offending item in a request of several (tasks of a batch);
    `fields` maps each wrong field to why, when several are reported at once.
    """

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, location: str | None = None,
                 index: int | None = None, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message, field=field, location=location)
        self.index = index
        self.fields = dict(fields or {})


class MalformedBody(Invalid):
    """The body is not parseable JSON or not UTF-8 (400)."""


class InvalidInput(Invalid):
    """The request parses but its values are wrong for the entity (400); `missing` names the
    required fields that were not given, `fields` the other wrong ones."""

    def __init__(self, message: str, *, missing: Sequence[str] = (),
                 fields: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(message, fields=fields, **kwargs)
        self.missing = tuple(missing)


class Unauthorized(TaskportError):
    """Missing, wrong or revoked credentials (401); `challenge` is the scheme a client should use."""

    status_code = 401

    def __init__(self, message: str, *, challenge: str = "Bearer", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.challenge = challenge


class Forbidden(TaskportError):
    """Credentials are right but this action is not allowed (403)."""

    status_code = 403


class NotFound(TaskportError):
    """No such entity, or it belongs to another account (404)."""

    status_code = 404


class Conflict(TaskportError):
    """The entity exists already in another form (409); `existing` is that entity, when known."""

    status_code = 409

    def __init__(self, message: str, *, existing: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.existing = existing


class Gone(TaskportError):
    """The entity existed but is finished or canceled and cannot change (403 or 409 by surface);
    `task` is the task as it is now."""

    status_code = 409

    def __init__(self, message: str, *, task: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.task = task


class TooManyRequests(TaskportError):
    """The caller already holds as many waiting requests as it may (429); retry after `retry_after` s."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PayloadTooLarge(TaskportError):
    """The body or a value is over its limit (413)."""

    status_code = 413


class UnsupportedMediaType(Invalid):
    """The body's Content-Type is not one the route takes (415)."""

    status_code = 415


class MethodNotAllowed(Invalid):
    """The route exists but not for this method (405)."""

    status_code = 405


class UpstreamFailed(TaskportError):
    """User code or a fetched resource failed; status_code is chosen by the raiser (500/502/504)."""

    def __init__(self, message: str, *, status_code: int = 502, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status_code = status_code


class ConfigurationError(TaskportError):
    """A required setting is missing or malformed (500, said loudly in the log)."""
