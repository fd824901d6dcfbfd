"""An in-memory run store: the DynamoDB store's twin, for unit tests and anything without AWS.

It answers what models/runs.py answers for the same writes (the same values, newest first, the
same filters, cursors that belong to one listing); tests/unit/runs/test_run_store_contract.py
runs both through one set of tests.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from typing import Any

from chalicelib.errors import Invalid, NotFound
from chalicelib.models.runs import Run, RunEntry


def _stored(entry: RunEntry) -> Run:
    """The run as DynamoDB gives it back: JSON values copied, the TTL in whole seconds."""
    run = entry.run
    return run._replace(
        subject=json.loads(json.dumps(run.subject or {})),
        error=json.loads(json.dumps(run.error)) if run.error is not None else None,
        duration_ms=float(run.duration_ms),
        cpu_ms=float(run.cpu_ms) if run.cpu_ms is not None else None,
        max_rss_bytes=int(run.max_rss_bytes) if run.max_rss_bytes is not None else None,
        http_status=int(run.http_status) if run.http_status is not None else None,
        expires_at=dt.datetime.fromtimestamp(int(entry.expires_at), dt.UTC).isoformat())


class MemoryRunStore:
    """Runs in a dict, with the keys each is listed under."""

    def __init__(self) -> None:
        self._runs: dict[str, tuple[Run, str | None, str | None]] = {}
        self._lock = threading.Lock()

    def put(self, entry: RunEntry) -> None:
        with self._lock:
            self._runs[entry.run.run_id] = (_stored(entry), entry.subject_key, entry.task_key)

    def get(self, run_id: str, account_id: str) -> Run:
        with self._lock:
            found = self._runs.get(run_id)
        if found is None or found[0].account_id != account_id:
            raise NotFound(f"no run {run_id!r}")
        return found[0]

    def list_runs(self, account_id: str, *, subject: str | None = None,
                  task_key: str | None = None, kind: str | None = None,
                  status: str | None = None, limit: int,
                  cursor: str | None = None) -> tuple[list[Run], str | None]:
        listing = f"{account_id}#task:{task_key}" if task_key is not None else (
            f"{account_id}#{subject}" if subject is not None else account_id)
        before = _decode_cursor(cursor, listing) if cursor else None
        with self._lock:
            members = sorted(
                (run for run, subject_key, run_task in self._runs.values()
                 if run.account_id == account_id
                 and (task_key is None or run_task == task_key)
                 and (task_key is not None or subject is None or subject_key == subject)
                 and (kind is None or run.kind == kind)
                 and (status is None or run.status == status)
                 and (before is None or run.run_id < before)),
                key=lambda run: run.run_id, reverse=True)
        page = members[:limit]
        more = len(members) > limit
        return page, (_encode_cursor(listing, page[-1].run_id) if more else None)


def _encode_cursor(listing: str, after: str) -> str:
    raw = json.dumps({"l": listing, "a": after}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, listing: str) -> str:
    try:
        decoded: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ours, after = decoded["l"], decoded["a"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid("the cursor is not one this listing gave", field="cursor") from exc
    if ours != listing or not isinstance(after, str):
        raise Invalid("the cursor is not one this listing gave", field="cursor")
    return after
