"""The run store contract: the DynamoDB store (on moto) and the in-memory store pass the same tests."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.errors import Invalid, NotFound
from chalicelib.models.runs import Run, RunEntry

EXPIRES = 1_800_000_000.5


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        from chalicelib.runs.memory import MemoryRunStore

        return MemoryRunStore()
    request.getfixturevalue("world")
    from chalicelib.models import runs

    return runs


def _entry(number: int, *, account_id: str = "acct", kind: str = "endpoint", status: str = "ok",
           subject_key: str | None = "endpoint:e1", task_key: str | None = None,
           stdout: str = "") -> RunEntry:
    run = Run(run_id=f"run_{1_700_000_000_000 + number:013d}{number:012x}", account_id=account_id,
              kind=kind, subject={"endpoint": "e1", "attempt": 1}, status=status,
              started_at="2027-01-15T08:00:00.000+00:00", duration_ms=12.5, cpu_ms=3.25,
              max_rss_bytes=1024, http_status=200, stdout=stdout, stderr="warn\n",
              stdout_truncated=False, stderr_truncated=True,
              error={"type": "ValueError", "message": "no", "traceback": "tb"} if status != "ok"
              else None, expires_at="2027-01-22T08:00:00.000+00:00")
    return RunEntry(run, subject_key, task_key, EXPIRES)


def _all_pages(store: Any, **query: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    for _ in range(20):
        found, cursor = store.list_runs("acct", cursor=cursor, **query)
        pages.append([run.run_id for run in found])
        if cursor is None:
            return pages
    raise AssertionError("the listing never ended")


def test_put_then_get_answers_every_field_as_written(store):
    entry = _entry(1, status="error", stdout="é" * 10)
    store.put(entry)
    run = store.get(entry.run.run_id, "acct")
    # the TTL is kept in whole seconds, and answered from it
    assert run == entry.run._replace(expires_at="2027-01-15T08:00:00+00:00")
    assert isinstance(run.duration_ms, float) and isinstance(run.max_rss_bytes, int)


def test_get_of_a_missing_run_and_of_another_accounts_is_not_found(store):
    store.put(_entry(1, account_id="other"))
    with pytest.raises(NotFound):
        store.get(_entry(1).run.run_id, "acct")
    with pytest.raises(NotFound):
        store.get("run_missing", "acct")


def test_put_of_the_same_run_twice_keeps_one(store):
    store.put(_entry(1))
    store.put(_entry(1))
    assert _all_pages(store, limit=10) == [[_entry(1).run.run_id]]


def test_listing_is_newest_first_per_account_subject_and_task(store):
    store.put(_entry(1))
    store.put(_entry(2, subject_key="endpoint:e2"))
    store.put(_entry(3, kind="task", subject_key=None, task_key="k1"))
    store.put(_entry(4, kind="method", subject_key="instance:ws/i", task_key="k1"))
    store.put(_entry(5, account_id="other"))
    ids = {n: _entry(n).run.run_id for n in range(1, 6)}
    assert _all_pages(store, limit=10) == [[ids[4], ids[3], ids[2], ids[1]]]
    assert _all_pages(store, subject="endpoint:e1", limit=10) == [[ids[1]]]
    assert _all_pages(store, subject="instance:ws/i", limit=10) == [[ids[4]]]
    assert _all_pages(store, task_key="k1", limit=10) == [[ids[4], ids[3]]]
    assert _all_pages(store, task_key="k2", limit=10) == [[]]


def test_kind_and_status_filter_any_listing(store):
    for number, kind, status in ((1, "endpoint", "ok"), (2, "endpoint", "error"),
                                 (3, "task", "error"), (4, "task", "ok")):
        store.put(_entry(number, kind=kind, status=status, task_key="k1"))
    ids = {n: _entry(n).run.run_id for n in range(1, 5)}
    assert _all_pages(store, status="error", limit=10) == [[ids[3], ids[2]]]
    assert _all_pages(store, kind="task", limit=10) == [[ids[4], ids[3]]]
    assert _all_pages(store, task_key="k1", kind="endpoint", status="ok", limit=10) == [[ids[1]]]
    [[only]] = _all_pages(store, kind="task", status="ok", limit=10)
    assert store.list_runs("acct", kind="task", status="ok", limit=10)[0][0].stderr == "warn\n"
    assert only == ids[4]


def test_pages_follow_their_cursor_to_the_last_run(store):
    for number in range(1, 8):
        store.put(_entry(number))
    pages = _all_pages(store, limit=3)
    assert [run_id for page in pages for run_id in page] == [
        _entry(n).run.run_id for n in range(7, 0, -1)]
    assert all(len(page) <= 3 for page in pages) and len(pages[0]) == 3


def test_a_cursor_of_another_listing_or_made_up_is_invalid(store):
    for number in range(1, 4):
        store.put(_entry(number, task_key="k1"))
    _, cursor = store.list_runs("acct", limit=1)
    assert cursor is not None
    for wrong in ({"task_key": "k1", "cursor": cursor}, {"cursor": "bm90IG91cnM"},
                  {"subject": "endpoint:e2", "cursor": cursor}):
        with pytest.raises(Invalid) as raised:
            store.list_runs("acct", limit=1, **wrong)
        assert raised.value.field == "cursor"
    with pytest.raises(Invalid):
        store.list_runs("other", limit=1, cursor=cursor)


def test_run_indexes_carry_only_keys_and_the_filtered_attributes():
    from chalicelib.models.runs import LISTED, RunRecord
    from chalicelib.models.tables import TABLES

    for name, index in TABLES["runs_table"]["indexes"].items():
        assert (index["projection"], index["attributes"]) == ("INCLUDE", LISTED), name
        model_index = getattr(RunRecord, name)
        assert model_index.Meta.projection.non_key_attributes == LISTED
