"""The run store: a small protocol, DynamoDB (models/runs.py) by default.

chalicelib.runs.memory is the in-memory twin; tests/unit/runs/test_run_store_contract.py holds
both to the same behaviour. A task store can also write an attempt's run together with the
task's transition (engine/store.py `finish_with_run`); it names the run store it writes to as
its `runs`.
"""
from __future__ import annotations

from typing import Protocol

from chalicelib.engine.slots import Slot
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


_slot: Slot[RunStore] = Slot()
install = _slot.install  # the composition root and tests; None: back to DynamoDB
using = _slot.using  # tests: within a block


def run_store() -> RunStore:
    """The store in use: the one installed, else DynamoDB (models/runs.py's functions)."""
    return dynamodb if _slot.installed is None else _slot.installed
