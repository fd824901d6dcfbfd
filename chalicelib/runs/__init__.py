"""Run records: what each execution of code did (endpoint trigger, package method call, task
attempt, workflow script, package build), written once when it ends.

    with runs.recording(runs.ENDPOINT, account_id, endpoint=endpoint_id) as run:
        answer = sandbox.run_http_handler(..., on_report=runs.on_report)
        run.http_status = answer.status

The sandbox hands each call's report (cpu, memory peak, stdout/stderr, the user's traceback) to
`on_report`, which adds it to the run being recorded in this context. Records go to the run
store in use (chalicelib/runs/store.py, DynamoDB by default); a task attempt's record is written
by the worker in the same write as the task's finish (`Recording.seal`, then the task store).

No run is lost to a failed write: the client retries throttling and network errors (4 attempts,
models/base.py), and a record that still cannot be written is logged whole, as JSON, in an
ERROR line (`run <id> could not be recorded; the record: {...}`), which CloudWatch keeps; the
execution it describes is not failed for it.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import secrets
import time
from typing import Any
from collections.abc import Iterator

from chalicelib.config import get_settings
from chalicelib.errors import Invalid, TaskportError
from chalicelib.models.runs import Run, RunEntry, RunStoreFailed
from chalicelib.observability import logs, metrics
from chalicelib.runs.store import run_store

log = logging.getLogger("taskport.runs")

ENDPOINT = "endpoint"
METHOD = "method"
TASK = "task"
WORKFLOW = "workflow"
BUILD = "build"
KINDS = (ENDPOINT, METHOD, TASK, WORKFLOW, BUILD)
OK, ERROR, TIMEOUT, KILLED, REFUSED = "ok", "error", "timeout", "killed", "refused"
STATUSES = (OK, ERROR, TIMEOUT, KILLED, REFUSED)
OUTPUT_CAP = 64 * 1024
TRACEBACK_CAP = 16 * 1024
# A sandbox failure class name -> the run status it means (when no report says otherwise).
SANDBOX_STATUSES = {"Timeout": TIMEOUT, "Crashed": ERROR, "ScriptError": ERROR,
                    "TooLarge": REFUSED, "Refused": REFUSED}

_current: contextvars.ContextVar[Recording | None] = contextvars.ContextVar("taskport_run",
                                                                            default=None)


def new_run_id() -> str:
    """`run_<ms since epoch, 13 digits><12 hex>`: ids sort by start time."""
    return f"run_{int(time.time() * 1000):013d}{secrets.token_hex(6)}"


def cap(text: str, limit: int = OUTPUT_CAP) -> tuple[str, bool]:
    """`text` cut to at most `limit` UTF-8 bytes (never mid-character), and whether it was cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode("utf-8", errors="ignore"), True


class Recording:
    """One execution being recorded: reports accumulate, `finish` writes the record once."""

    def __init__(self, kind: str, account_id: str, subject: dict[str, Any], *,
                 subject_key: str | None = None, task_key: str | None = None,
                 http: bool = False) -> None:
        self.run_id = new_run_id()
        self.kind = kind
        self.account_id = account_id
        self.subject = {k: v for k, v in subject.items() if v is not None}
        self.subject_key = subject_key
        self.task_key = task_key
        self.started = time.time()
        self._clock = time.monotonic()
        self.http = http  # the execution answers an HTTP request: a failure's status is kept
        self.http_status: int | None = None
        self.status: str | None = None
        self.error: dict[str, str] | None = None
        self.cpu_ms: float | None = None
        self.max_rss_bytes: int | None = None
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._truncated = {"stdout": False, "stderr": False}
        self.entry: RunEntry | None = None  # set once the run ended (seal)
        self.written = False

    def report(self, report: Any) -> None:
        """Add one sandbox call's report (sandbox.CallReport) to this run, and log the call."""
        self.cpu_ms = (self.cpu_ms or 0.0) + float(report.cpu_ms or 0.0)
        self.max_rss_bytes = max(self.max_rss_bytes or 0, int(report.max_rss_bytes or 0))
        self._stdout.append(report.stdout or "")
        self._stderr.append(report.stderr or "")
        self._truncated["stdout"] |= bool(report.stdout_truncated)
        self._truncated["stderr"] |= bool(report.stderr_truncated)
        if report.status != OK:
            self.status = report.status
            if report.error:
                self.error = _error_view(report.error)
        log.info("sandbox call %s in %d ms", report.status, report.duration_ms,
                 extra={"outcome": report.status, "duration_ms": round(report.duration_ms, 1),
                        "cpu_ms": round(float(report.cpu_ms or 0.0), 1),
                        "max_rss_bytes": report.max_rss_bytes, "run": self.run_id})
        metrics.sandbox_call(report.status, float(report.duration_ms))

    def fail(self, exc: BaseException) -> None:
        """Record how the execution failed (a sandbox failure, or the platform's own)."""
        found = getattr(exc, "report", None)
        if found is not None and self.cpu_ms is None:
            self.report(found)
        if self.status is None or self.status == OK:
            self.status = SANDBOX_STATUSES.get(type(exc).__name__, ERROR)
        if self.error is None:
            self.error = error_of(exc)
        if self.http and self.http_status is None and isinstance(exc, TaskportError):
            self.http_status = exc.status_code

    def seal(self, status: str | None = None) -> RunEntry:
        """End the run (once): its record, to be written, and its log line."""
        if self.entry is not None:
            return self.entry
        stdout, out_cut = cap("".join(self._stdout))
        stderr, err_cut = cap("".join(self._stderr))
        final = status or self.status or OK
        expires = self.started + get_settings().run_retention_seconds
        run = Run(
            run_id=self.run_id, account_id=self.account_id, kind=self.kind, subject=self.subject,
            status=final, started_at=_iso(self.started),
            duration_ms=round((time.monotonic() - self._clock) * 1000, 1), cpu_ms=self.cpu_ms,
            max_rss_bytes=self.max_rss_bytes, http_status=self.http_status, stdout=stdout,
            stderr=stderr, stdout_truncated=out_cut or self._truncated["stdout"],
            stderr_truncated=err_cut or self._truncated["stderr"],
            error=self.error if final != OK else None, expires_at=_iso(expires))
        self.entry = RunEntry(run, self.subject_key, self.task_key, expires)
        level = logging.INFO if final == OK else logging.WARNING
        log.log(level, "%s run %s in %d ms%s", self.kind, final, run.duration_ms,
                f": {run.error['type']}: {run.error['message']}" if run.error else "",
                extra={"run": self.run_id, "kind": self.kind, "outcome": final,
                       "duration_ms": run.duration_ms, "account": self.account_id,
                       "error_type": (run.error or {}).get("type"),
                       # `method` names a request's HTTP method in every other line
                       **{("package_method" if k == "method" else k): v
                          for k, v in self.subject.items()}})
        return self.entry

    def finish(self, status: str | None = None) -> Run | None:
        """End the run and write its record (once); the run, or None when the store refused it
        (its whole record is then in the log)."""
        if self.entry is not None:
            return self.entry.run if self.written else None
        entry = self.seal(status)
        self.written = save(entry)
        return entry.run if self.written else None


def save(entry: RunEntry) -> bool:
    """Write a run's record; False when the store refused it, after logging the whole record
    at ERROR (so that what the execution did is still found, in the log)."""
    try:
        run_store().put(entry)
    except RunStoreFailed:
        record = {**entry.run._asdict(), "subject_key": entry.subject_key,
                  "task_key": entry.task_key}
        log.exception("run %s could not be recorded; the record: %s", entry.run.run_id,
                      json.dumps(record, separators=(",", ":"), default=str),
                      extra={"run": entry.run.run_id, "kind": entry.run.kind,
                             "account": entry.run.account_id})
        return False
    return True


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def user_frames(traceback: str) -> str:
    """A traceback without the platform's frames (the sandbox's own code that called the user's)."""
    kept: list[str] = []
    skipping = False
    for line in traceback.splitlines(keepends=True):
        if line.startswith('  File "'):
            skipping = "/chalicelib/" in line.split('"', 2)[1]
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return "".join(kept)


def _error_view(error: dict[str, Any]) -> dict[str, str]:
    traceback, _ = cap(user_frames(str(error.get("traceback") or "")), TRACEBACK_CAP)
    return {"type": str(error.get("type") or "Error"), "message": str(error.get("message") or ""),
            "traceback": traceback}


def error_of(exc: BaseException) -> dict[str, str]:
    """What a run shows of a failure: the user's exception and frames for a script error, the
    message of a domain error, and nothing of the platform's internals otherwise."""
    if hasattr(exc, "error_type"):  # sandbox.ScriptError: the user's own exception
        return _error_view({"type": exc.error_type, "message": getattr(exc, "error_message", ""),
                            "traceback": getattr(exc, "traceback", "")})
    if isinstance(exc, TaskportError):
        return {"type": type(exc).__name__, "message": exc.message, "traceback": ""}
    return {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__, "traceback": ""}


@contextlib.contextmanager
def recording(kind: str, account_id: str, *, subject_key: str | None = None,
              task_key: str | None = None, http: bool = False,
              **subject: Any) -> Iterator[Recording]:
    """Record the block as one run: a failure that leaves it is recorded and re-raised."""
    run = Recording(kind, account_id, subject, subject_key=subject_key, task_key=task_key,
                    http=http)
    token = _current.set(run)
    try:
        with logs.bound(run=run.run_id):
            try:
                yield run
            except BaseException as exc:
                run.fail(exc)
                raise
            finally:
                run.finish()
    finally:
        _current.reset(token)


@contextlib.contextmanager
def attached(run: Recording) -> Iterator[Recording]:
    """Make `run` the one sandbox reports go to in this context (a worker's task thread)."""
    token = _current.set(run)
    try:
        with logs.bound(run=run.run_id):
            yield run
    finally:
        _current.reset(token)


def on_report(report: Any) -> None:
    """The sandbox's `on_report`: adds a call's report to the run recorded in this context."""
    run = _current.get()
    if run is not None:
        run.report(report)


def current() -> Recording | None:
    """The run being recorded in this context, if any."""
    return _current.get()


# Task types whose attempts are runs of another kind (chalicelib/packages/invocation.py,
# chalicelib/workflows.py); every other type's attempt is a `task` run.
METHOD_TASK = "package.method"
WORKFLOW_TASK = "workflow.task"


def method_subject(params: dict[str, Any]) -> dict[str, Any]:
    """The subject of a package method call, from the call's parameters."""
    instance = f"{params.get('workspace')}/{params.get('instance')}"
    return {"subject_key": f"instance:{instance}", "instance": instance,
            "method": params.get("method"), "package": params.get("package"),
            "version": params.get("version")}


def for_task(task: Any) -> Recording:
    """A recording of one attempt of `task` (not yet attached: see `attached`)."""
    params = task.params or {}
    subject: dict[str, Any] = {"task": task.key, "task_type": task.task_type,
                               "attempt": task.attempt}
    kind = TASK
    if task.task_type == METHOD_TASK:
        kind = METHOD
        subject.update(method_subject(params))
    elif task.task_type == WORKFLOW_TASK:
        kind = WORKFLOW
        subject.update(subject_key=f"workflow:{params.get('workflow')}",
                       workflow=params.get("workflow"), workflow_task=params.get("task_id"),
                       script=params.get("script"))
    subject_key = subject.pop("subject_key", None)
    return Recording(kind, task.account_id, subject, subject_key=subject_key, task_key=task.key)


def validate_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    return str(kind)


def validate_status(status: Any) -> str:
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
    return str(status)


def get(account_id: str, run_id: str) -> Run:
    """The account's run, or NotFound (also for another account's)."""
    return run_store().get(run_id, account_id)


def search(account_id: str, *, endpoint: str | None = None, task: str | None = None,
           instance: str | None = None, workflow: str | None = None, kind: str | None = None,
           status: str | None = None, limit: int, cursor: str | None = None
           ) -> tuple[list[Run], str | None]:
    """A page of the account's runs, newest first; at most one of endpoint, task, instance and
    workflow narrows it to a subject."""
    subjects = {name: value for name, value in (("endpoint", endpoint), ("instance", instance),
                                                ("workflow", workflow)) if value}
    if len(subjects) + bool(task) > 1:
        raise Invalid("give at most one of endpoint, task, instance and workflow",
                      field=next(iter(subjects)) if subjects else "task")
    if instance is not None and instance.count("/") != 1:
        raise Invalid("instance must be <workspace>/<instance>", field="instance")
    subject = next((f"{name}:{value}" for name, value in subjects.items()), None)
    return run_store().list_runs(account_id, subject=subject, task_key=task or None,
                           kind=validate_kind(kind) if kind else None,
                           status=validate_status(status) if status else None,
                           limit=limit, cursor=cursor)


def list_for_task(account_id: str, task_key: str, limit: int = 100) -> list[Run]:
    """The newest runs (attempts) of one task."""
    return run_store().list_runs(account_id, task_key=task_key, limit=limit)[0]
