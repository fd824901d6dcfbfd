"""Log configuration in one place: every `taskport.*` line at INFO and up, with its ids.

Chalice sets the app's logger (`taskport`, the parent of every project logger) to ERROR and
gives it a plain handler; `configure` replaces both. On Lambda (and with
TASKPORT_LOG_FORMAT=json) each line is one JSON object made by aws-lambda-powertools'
formatter; elsewhere one readable line. Ids of what a line is about (request_id, account, task,
run, endpoint, delivery, ...) come from `bound(...)` scopes and from `extra=`.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import re
import sys
import uuid
from typing import Any
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from chalicelib.config import get_settings

ROOT = "taskport"
# Fields a line may carry, in the order the readable format prints them.
FIELDS = ("request_id", "account", "surface", "method", "route", "status", "duration_ms", "task",
          "task_type", "attempt", "run", "kind", "outcome", "endpoint", "instance", "workflow",
          "delivery", "host", "next_retry_seconds", "cpu_ms", "max_rss_bytes", "error_type")
_fields: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "taskport_log_fields", default=MappingProxyType({}))

# Defence in depth: nothing logs headers or credentials, and anything shaped like one is masked.
_SECRETS = re.compile(r"\b(?:tpt|tps|tpa|tpk)_[A-Za-z0-9_-]{8,}|whsec_[A-Za-z0-9+/=]{8,}"
                      r"|(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{16,}")
_SIGNED = re.compile(r"(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+")


def redact(text: str) -> str:
    """`text` with anything shaped like a credential, webhook secret or URL signature masked."""
    return _SIGNED.sub(r"\1[redacted]", _SECRETS.sub("[redacted]", text))


def _has_secret(text: str) -> bool:
    return bool(_SECRETS.search(text) or _SIGNED.search(text))


def bind(**fields: Any) -> None:
    """Add ids to every later line of this context (this request, task or thread)."""
    _fields.set({**_fields.get(), **{k: v for k, v in fields.items() if v is not None}})


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ids to every line logged inside the block."""
    token = _fields.set({**_fields.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


def current() -> dict[str, Any]:
    """The ids bound in this context."""
    return dict(_fields.get())


def new_request_id() -> str:
    """A request id where no API Gateway or Lambda id exists (the local stack, tests)."""
    return str(uuid.uuid4())


class _ContextFilter(logging.Filter):
    """Copies the bound ids and the function name onto each record (extra= wins)."""

    def __init__(self, function: str) -> None:
        super().__init__()
        self.function = function

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _fields.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        if not hasattr(record, "function"):
            record.function = self.function
        return True


class ReadableFormatter(logging.Formatter):
    """`12:00:01.123 INFO  taskport.api  GET /v1/create 200 in 12 ms  request_id=... account=...`"""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        ids = "  ".join(f"{name}={getattr(record, name)}" for name in FIELDS
                        if getattr(record, name, None) is not None)
        line = f"{stamp} {record.levelname:<7} {record.name}  {record.getMessage()}"
        if ids:
            line += "  " + ids
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, by aws-lambda-powertools' formatter (imported at first use:
    it costs a fifth of a cold start, and a function that logs nothing never pays it)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._powertools: logging.Formatter | None = None

    def _formatter(self) -> logging.Formatter:
        if self._powertools is None:
            from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

            self._powertools = LambdaPowertoolsFormatter(
                service=self.service, datefmt="%Y-%m-%dT%H:%M:%S.%F%z", use_datetime_directive=True,
                log_record_order=["level", "timestamp", "message", "service", "function",
                                  "request_id"])
        return self._powertools

    def format(self, record: logging.LogRecord) -> str:
        line = self._formatter().format(record)
        if not _has_secret(line):
            return line
        # Masked field by field, so that the line stays valid JSON.
        data = json.loads(line)
        return json.dumps({k: redact(v) if isinstance(v, str) else v for k, v in data.items()})


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the moment (Lambda, the local stack, pytest capture)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def log_format() -> str:
    """`json` on Lambda or when TASKPORT_LOG_FORMAT=json, else `text`."""
    chosen = get_settings().log_format
    if chosen:
        return chosen
    return "json" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "text"


def formatter() -> logging.Formatter:
    """The formatter `configure` installs (tests use it to read lines as the stack prints them)."""
    return JsonFormatter(ROOT) if log_format() == "json" else ReadableFormatter()


def configure() -> logging.Logger:
    """Make the `taskport` logger emit every line at TASKPORT_LOG_LEVEL (INFO) and up, in the
    deployment's format; idempotent (the local stack and app.py both call it)."""
    settings = get_settings()
    logger = logging.getLogger(ROOT)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = _StdoutHandler()
    handler.setFormatter(formatter())
    handler.addFilter(_ContextFilter(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "local"))
    logger.addHandler(handler)
    logger.setLevel(settings.log_level)
    # Lambda's runtime puts its own handler on the root logger: a line must not appear twice.
    logger.propagate = False
    return logger
