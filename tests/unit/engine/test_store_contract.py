"""The task store contract: the DynamoDB store (on moto) and the in-memory store pass the same tests."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.engine.status import TaskStatus
from chalicelib.errors import Conflict, Invalid
from chalicelib.models.tasks import NewTask

NOW = 1_800_000_000.0
T0, T1, T2 = "2027-01-15T08:00:00+00:00", "2027-01-15T08:00:01+00:00", "2027-01-15T08:00:02+00:00"


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        from chalicelib.engine.memory import MemoryTaskStore

        return MemoryTaskStore()
    request.getfixturevalue("world")
    from chalicelib.models import tasks

    return tasks


def _new(key: str, *, enqueue: bool = True, client_key: bool = False, group: str | None = None,
         account_id: str = "acct", lease: float = NOW + 60) -> NewTask:
    return NewTask(key=key, account_id=account_id, workspace="default", task_type="hello",
                   params={"name": key}, notify={"hook": 1}, group=group,
                   lease_expires=lease if enqueue else None, client_key=client_key)


def test_insert_then_get_answers_a_queued_task_with_its_queued_event(store):
    created = store.insert([_new("a"), _new("b", enqueue=False)], T0)
    assert [t.key for t in created] == ["a", "b"]
    task = store.get("a", consistent=True)
    assert (task.status, task.attempt, task.params, task.notify) == (
        TaskStatus.QUEUED, 0, {"name": "a"}, {"hook": 1})
    assert isinstance(task.status, TaskStatus) and task.events == {"queued": T0}
    assert store.get("missing") is None
    assert store.get_with_lease("a")[1] == store.lease_value(NOW + 60)
    assert store.get_with_lease("b")[1] is None and store.get_with_lease("missing") is None


def test_insert_of_an_existing_client_key_is_a_conflict_naming_the_task(store):
    store.insert([_new("wf:1", client_key=True)], T0)
    with pytest.raises(Conflict) as raised:
        store.insert([_new("wf:1", client_key=True)], T1)
    assert raised.value.existing.key == "wf:1" and raised.value.existing.created_at == T0


def test_get_many_answers_the_existing_tasks_by_key(store):
    store.insert([_new("a"), _new("b")], T0)
    assert sorted(store.get_many(["b", "a", "b", "missing"], consistent=True)) == ["a", "b"]
    assert store.get_many([]) == {}
    assert list(store.get_many(["a"])) == ["a"]


def test_claim_takes_a_queued_task_once_until_its_lease_expires(store):
    store.insert([_new("a"), _new("manual", enqueue=False)], T0)
    claimed = store.claim("a", T1, NOW, NOW + 30, 3)
    assert (claimed.status, claimed.attempt, claimed.events["started"]) == (
        TaskStatus.EXECUTING, 1, T1)
    assert store.claim("a", T1, NOW + 10, NOW + 40, 3) is None  # the lease is live
    again = store.claim("a", T2, NOW + 31, NOW + 60, 3)  # the lease expired
    assert again.attempt == 2
    assert store.claim("a", T2, NOW + 61, NOW + 90, 2) is None  # attempts spent
    assert store.claim("manual", T1, NOW, NOW + 30, 3) is None  # never enqueued
    assert store.claim("missing", T1, NOW, NOW + 30, 3) is None


def test_finish_holds_only_for_the_running_attempt_and_drops_the_lease(store):
    store.insert([_new("a")], T0)
    store.claim("a", T1, NOW, NOW + 30, 3)
    assert store.finish("a", 2, TaskStatus.SUCCESS, T2, result="x") is None
    done = store.finish("a", 1, TaskStatus.SUCCESS, T2, result={"r": 1}, files=["thumb"],
                        expires_at=NOW + 86400)
    assert (done.status, done.result, done.files, done.events["completed"]) == (
        TaskStatus.SUCCESS, {"r": 1}, ["thumb"], T2)
    assert done.finished and done.expires_at.startswith("2027-01-16")
    assert store.get_with_lease("a")[1] is None
    assert store.finish("a", 1, TaskStatus.ERROR, T2, error="late") is None
    assert store.get("a").result == {"r": 1}


def test_settle_holds_for_the_owner_of_an_open_task_only(store):
    store.insert([_new("a"), _new("b")], T0)
    assert store.settle("a", "other", TaskStatus.CANCELED, T1, error="canceled") is None
    canceled = store.settle("a", "acct", TaskStatus.CANCELED, T1, error="canceled")
    assert (canceled.status, canceled.error) == (TaskStatus.CANCELED, "canceled")
    assert store.settle("a", "acct", TaskStatus.SUCCESS, T2, result=1) is None
    store.claim("b", T1, NOW, NOW + 30, 3)
    assert store.settle("b", "acct", TaskStatus.SUCCESS, T2, result=[1]).result == [1]


def test_progress_is_recorded_for_the_running_attempt_only(store):
    store.insert([_new("a")], T0)
    assert store.set_progress("a", 1, {"done": 1}, T1) is False  # not running yet
    store.claim("a", T1, NOW, NOW + 30, 3)
    assert store.set_progress("a", 1, {"done": 2}, T2) is True
    assert store.set_progress("a", 2, {"done": 3}, T2) is False
    task = store.get("a")
    assert (task.progress, task.events["progress"]) == ({"done": 2}, T2)


def test_hand_back_and_give_up_move_only_what_was_seen(store):
    store.insert([_new("a"), _new("b"), _new("c")], T0)
    store.claim("a", T1, NOW, NOW + 30, 3)
    back = store.hand_back("a", 1, "the script failed", T2)
    assert (back.status, back.error) == (TaskStatus.QUEUED, "the script failed")
    assert store.get_with_lease("a")[1] is None and store.claim("a", T2, NOW, NOW + 30, 3) is None
    lease = store.get_with_lease("b")[1]
    assert store.give_up("b", TaskStatus.EXECUTING, lease, "spent", T2) is None
    assert store.give_up("b", TaskStatus.QUEUED, "000000000001", "spent", T2) is None
    ended = store.give_up("b", TaskStatus.QUEUED, lease, "spent", T2, expires_at=NOW)
    assert (ended.status, ended.error) == (TaskStatus.ERROR, "spent")
    to_people = store.give_up("c", TaskStatus.QUEUED, store.get_with_lease("c")[1], "spent", T2,
                              to_people=True)
    assert (to_people.status, to_people.error) == (TaskStatus.QUEUED, "spent")
    assert store.get_with_lease("c")[1] is None


def test_redrive_requeues_an_executing_task_or_renews_a_queued_lease(store):
    store.insert([_new("a"), _new("b")], T0)
    store.claim("a", T1, NOW, NOW + 30, 3)
    lease = store.get_with_lease("a")[1]
    assert store.redrive("a", TaskStatus.EXECUTING, "000000000001", NOW + 90, T2) is None
    moved = store.redrive("a", TaskStatus.EXECUTING, lease, NOW + 90, T2)
    assert (moved.status, moved.events["queued"], moved.attempt) == (TaskStatus.QUEUED, T2, 1)
    assert store.get_with_lease("a")[1] == store.lease_value(NOW + 90)
    renewed = store.redrive("b", TaskStatus.QUEUED, store.get_with_lease("b")[1], NOW + 90, T2)
    assert (renewed.status, renewed.events["queued"]) == (TaskStatus.QUEUED, T0)


def test_expired_leases_lists_only_expired_open_tasks_up_to_the_limit(store):
    store.insert([_new(f"k{i}", lease=NOW + i) for i in range(5)] + [_new("late", lease=NOW + 999),
                                                                      _new("m", enqueue=False)], T0)
    expired = store.expired_leases(NOW + 3, 100)
    assert sorted(lease.key for lease in expired) == ["k0", "k1", "k2"]
    assert all(lease.lease_sk == store.lease_value(NOW + int(lease.key[1])) for lease in expired)
    assert len(store.expired_leases(NOW + 3, 2)) == 2
    store.claim("k0", T1, NOW + 3, NOW + 500, 3)
    assert "k0" not in [lease.key for lease in store.expired_leases(NOW + 3, 100)]


def _all_pages(store: Any, statuses: Any, limit: int, account_id: str = "acct") -> list[str]:
    keys: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        page, cursor = store.list_group(account_id, "default", "wf:g", statuses, limit, cursor)
        keys.extend(task.key for task in page)
        if cursor is None:
            return keys
    raise AssertionError("the listing did not end")


def test_list_group_pages_by_status_then_key_within_one_account(store):
    store.insert([_new(f"k{i}", group="wf:g") for i in range(5)]
                 + [_new("other", group="wf:other"), _new("theirs", group="wf:g", account_id="b"),
                    _new("loose")], T0)
    store.claim("k3", T1, NOW, NOW + 30, 3)
    store.settle("k1", "acct", TaskStatus.CANCELED, T1, error="canceled")
    assert _all_pages(store, None, 2) == ["k1", "k3", "k0", "k2", "k4"]
    assert _all_pages(store, [TaskStatus.EXECUTING, TaskStatus.QUEUED], 1) == [
        "k3", "k0", "k2", "k4"]
    assert _all_pages(store, [TaskStatus.SUCCESS], 10) == []
    assert _all_pages(store, None, 10, account_id="b") == ["theirs"]


def test_list_group_refuses_a_cursor_it_did_not_give_or_of_another_listing(store):
    store.insert([_new(f"k{i}", group="wf:g") for i in range(3)], T0)
    _, cursor = store.list_group("acct", "default", "wf:g", None, 1, None)
    assert cursor is not None
    with pytest.raises(Invalid):
        store.list_group("acct", "default", "wf:other", None, 1, cursor)
    with pytest.raises(Invalid):
        store.list_group("acct", "default", "wf:g", None, 1, "not-a-cursor")


def _run(key: str, attempt: int) -> Any:
    from chalicelib.models.runs import Run, RunEntry

    run = Run(run_id=f"run_1800000000000{attempt:012x}", account_id="acct", kind="task",
              subject={"task": key, "task_type": "hello", "attempt": attempt}, status="ok",
              started_at=T1, duration_ms=5.0, cpu_ms=None, max_rss_bytes=None, http_status=None,
              stdout="hi\n", stderr="", stdout_truncated=False, stderr_truncated=False,
              error=None, expires_at=None)
    return RunEntry(run, None, key, NOW + 86400)


def _held(store: Any, key: str) -> Any:
    """The task as its running attempt holds it: the claim's answer, then its progress."""
    claimed = store.claim(key, T1, NOW, NOW + 30, 3)
    assert store.set_progress(key, claimed.attempt, {"done": 1}, T1)
    return claimed._replace(progress={"done": 1}, updated_at=T1,
                            events={**claimed.events, "progress": T1})


def test_finish_with_run_answers_the_stored_task_and_writes_its_run(store):
    store.insert([_new("a")], T0)
    held = _held(store, "a")
    run = _run("a", held.attempt)
    done = store.finish_with_run(held, TaskStatus.SUCCESS, T2, run=run, result={"r": 1},
                                 files=["thumb"], expires_at=NOW + 86400, hooks_due=NOW + 60)
    assert done == store.get("a", consistent=True)  # made without reading it back
    assert (done.status, done.result, done.progress, done.events["completed"]) == (
        TaskStatus.SUCCESS, {"r": 1}, {"done": 1}, T2)
    assert store.get_with_lease("a")[1] == store.lease_value(NOW + 60)  # the hooks' outbox
    assert store.runs.get(run.run.run_id, "acct").stdout == "hi\n"
    assert [r.run_id for r in store.runs.list_runs("acct", task_key="a", limit=5)[0]] == [
        run.run.run_id]


def test_failure_keeps_the_code_its_code_gave_it_beside_its_message(store):
    store.insert([_new("a"), _new("b")], T0)
    held = _held(store, "a")
    done = store.finish_with_run(held, TaskStatus.ERROR, T2, run=_run("a", held.attempt),
                                 error="not today", error_code="NotToday")
    assert done == store.get("a", consistent=True)
    assert (done.error, done.error_code) == ("not today", "NotToday")
    claimed = store.claim("b", T1, NOW, NOW + 30, 3)
    alone = store.finish("b", claimed.attempt, TaskStatus.ERROR, T2, error="x", error_code="Mine")
    assert alone.error_code == store.get("b").error_code == "Mine"


def test_finish_with_run_of_a_superseded_attempt_writes_nothing(store):
    from chalicelib.errors import NotFound

    store.insert([_new("a"), _new("b")], T0)
    held = _held(store, "a")
    store.settle("a", "acct", TaskStatus.CANCELED, T2, error="canceled")
    run = _run("a", held.attempt)
    assert store.finish_with_run(held, TaskStatus.SUCCESS, T2, run=run, result=1) is None
    assert store.get("a").status == TaskStatus.CANCELED
    with pytest.raises(NotFound):
        store.runs.get(run.run.run_id, "acct")
    store.claim("b", T1, NOW, NOW + 30, 3)
    stale = store.get("b")._replace(attempt=2)  # an attempt that is not the running one
    assert store.finish_with_run(stale, TaskStatus.ERROR, T2, run=_run("b", 2), error="x") is None
    assert store.get("b").status == TaskStatus.EXECUTING


def test_hand_back_with_run_answers_the_stored_task_and_writes_its_run(store):
    from chalicelib.errors import NotFound

    store.insert([_new("a")], T0)
    held = _held(store, "a")
    run = _run("a", held.attempt)
    back = store.hand_back_with_run(held, "the script failed", T2, run=run)
    assert back == store.get("a", consistent=True)
    assert (back.status, back.error) == (TaskStatus.QUEUED, "the script failed")
    assert store.get_with_lease("a")[1] is None
    assert store.runs.get(run.run.run_id, "acct").subject["attempt"] == 1
    again = _run("a", 7)
    assert store.hand_back_with_run(held, "again", T2, run=again) is None
    with pytest.raises(NotFound):
        store.runs.get(again.run.run_id, "acct")
