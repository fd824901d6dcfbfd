"""The run store: a small protocol, DynamoDB (models/runs.py) by default.

chalicelib.runs.memory is the in-memory twin; tests/unit/runs/test_run_store_contract.py holds
both to the same behaviour. A task store can also write an attempt's run together with the
task's transition (engine/store.py `finish_with_run`); it names the run store it writes to as
its `runs`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from chalicelib.models import runs as dynamodb
from chalicelib.models.runs import Run, RunEntry


class RunStore(Protocol):
    """What run recording and Taskport's own API need of a run store."""

    def put(self, entry: RunEntry) -> None:
        """Write a finished run (a run id is written once; writing it again changes nothing);
        RunStoreFailed when it cannot."""
        ...

    def get(self, run_id: str, account_id: str) -> Run:
        """The account's run; NotFound for a missing one and for another account's alike."""
        ...

    def list_runs(self, account_id: str, *, subject: str | None = None,
                  task_key: str | None = None, kind: str | None = None,
                  status: str | None = None, limit: int,
                  cursor: str | None = None) -> tuple[list[Run], str | None]:
        """A page of the account's runs, newest first, of one subject or task if given, and the
        next page's cursor (Invalid(field=cursor) for one this listing did not give)."""
        ...


_installed: RunStore | None = None


def run_store() -> RunStore:
    """The store in use: the one installed, else DynamoDB (models/runs.py's functions)."""
    return dynamodb if _installed is None else _installed


def install(store: RunStore | None) -> None:
    """Use `store` from now on (None: back to DynamoDB); the composition root and tests call it."""
    global _installed
    _installed = store


@contextmanager
def using(store: RunStore) -> Iterator[RunStore]:
    """Use `store` within a block (tests), then whatever was in use before."""
    before = _installed
    install(store)
    try:
        yield store
    finally:
        install(before)
