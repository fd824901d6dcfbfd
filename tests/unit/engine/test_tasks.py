"""The engine's public API: create, keys, conflicts, manual tasks, settle, list, wait, batching."""
from __future__ import annotations

import re
import threading
import time

import pytest

from chalicelib.errors import Conflict, Gone, Invalid, NotFound
from tests.api.dragon.conftest import drain
from tests.conftest import atomic_aws_calls


def test_new_keys_are_26_characters_of_base32():
    from chalicelib.engine.tasks import is_engine_key, new_key

    keys = {new_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(re.fullmatch(r"[A-Z2-7]{26}", key) and is_engine_key(key) for key in keys)


def test_create_reports_the_index_and_field_of_bad_specs(engine, world):  # types of accounts: DynamoDB
    specs = [engine.TaskSpec("hello", {"name": "a"}), engine.TaskSpec("hello", {"name": 1})]
    with pytest.raises(Invalid) as raised:
        engine.create_tasks("acct", "default", specs)
    assert (raised.value.field, raised.value.index) == ("name", 1)
    with pytest.raises(Invalid) as unknown:
        engine.create_tasks("acct", "default", [engine.TaskSpec("nope", {})])
    assert unknown.value.field == "task_type"


def test_chosen_key_created_twice_concurrently_makes_one_task(engine):
    results, errors = [], []
    barrier = threading.Barrier(2)

    def create(name):
        barrier.wait()
        try:
            results.append(engine.create_tasks("acct", "default", [
                engine.TaskSpec("hello", {"name": name}, key="wf:acct:flow:42")])[0])
        except Conflict as err:
            errors.append(err)

    threads = [threading.Thread(target=create, args=(name,)) for name in ("a", "b")]
    with atomic_aws_calls():  # DynamoDB applies each conditional put atomically; moto does not
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 1 and len(errors) == 1
    existing = errors[0].existing
    assert existing.key == "wf:acct:flow:42"
    assert existing.params == results[0].params


def test_chosen_key_may_not_look_like_an_engine_key(engine):
    with pytest.raises(Invalid):
        engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"}, key="A" * 26)])


def test_manual_task_stays_queued_until_completed(engine, world, finished_tasks):
    task = engine.create_tasks("acct", "default", [
        engine.TaskSpec("hello", {"name": "a"}, key="wf:acct:f:1", enqueue=False,
                        notify={"webhook": True})])[0]
    assert drain(world["tasks_queue"]) == 0
    done = engine.complete_task(task.key, "acct", {"answer": 42})
    assert (done.status, done.result, done.notify) == ("success", {"answer": 42}, {"webhook": True})
    assert finished_tasks == [done]
    with pytest.raises(Gone) as again:
        engine.complete_task(task.key, "acct", {})
    assert again.value.task.status == "success"


def test_cancel_and_complete_respect_accounts(engine):
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"})])[0]
    with pytest.raises(NotFound):
        engine.cancel_task(task.key, "other")
    with pytest.raises(NotFound):
        engine.complete_task("missing", "acct", 1)
    assert engine.cancel_task(task.key, "acct").status == "canceled"
    with pytest.raises(Gone):
        engine.cancel_task(task.key, "acct")


def test_get_tasks_hides_other_accounts_and_keeps_order(engine):
    a, b = engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"}),
                                                   engine.TaskSpec("hello", {"name": "b"})])
    assert [t.key for t in engine.get_tasks([b.key, a.key, b.key])] == [b.key, a.key, b.key]
    with pytest.raises(NotFound):
        engine.get_tasks([a.key], account_id="other")
    with pytest.raises(NotFound):
        engine.get_task(a.key, account_id="other")


def test_list_tasks_by_group_filters_status_and_pages(engine, world):
    specs = [engine.TaskSpec("hello", {"name": str(i)}, enqueue=i >= 3, group="wf:g")
             for i in range(7)]
    created = engine.create_tasks("acct", "default", specs)
    engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "x"},
                                                            group="wf:other")])
    engine.create_tasks("acct2", "default", [engine.TaskSpec("hello", {"name": "x"},
                                                             group="wf:g")])
    drain(world["tasks_queue"])
    engine.cancel_task(created[0].key, "acct")

    seen, cursor = [], None
    while True:
        page, cursor = engine.list_tasks("acct", "default", "wf:g", None, limit=2, cursor=cursor)
        seen.extend(page)
        if cursor is None:
            break
    assert sorted(t.key for t in seen) == sorted(t.key for t in created)

    queued, _ = engine.list_tasks("acct", "default", "wf:g", "queued")
    assert sorted(t.key for t in queued) == sorted(t.key for t in created[1:3])
    open_or_canceled, cursor = engine.list_tasks("acct", "default", "wf:g", ["queued", "canceled"],
                                                 limit=2)
    rest, last = engine.list_tasks("acct", "default", "wf:g", ["queued", "canceled"], cursor=cursor)
    assert last is None
    assert {t.status for t in open_or_canceled + rest} == {"queued", "canceled"}
    assert len(open_or_canceled + rest) == 3
    with pytest.raises(Invalid):
        engine.list_tasks("acct", "default", "wf:g", "open")
    with pytest.raises(Invalid):
        engine.list_tasks("acct", "default", "wf:g", None, cursor="garbage!")


def test_wait_for_polls_at_growing_intervals_until_the_deadline(engine):
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"})])[0]
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    tasks = engine.wait_for([task.key], 10, clock=lambda: now[0], sleep=sleep)
    assert tasks[0].status == "queued"
    assert sleeps == sorted(sleeps[:-1]) + sleeps[-1:]
    assert sleeps[0] < sleeps[5] <= 1.0
    assert sum(sleeps) == pytest.approx(10)


def test_create_batches_writes_and_messages(engine, world):
    from chalicelib import aws
    from chalicelib.config import get_settings
    from tests.unit.engine.calls import count_calls

    aws.queue_url(get_settings().tasks_queue)  # deployments configure the URL, not a name
    with count_calls() as calls:
        engine.create_tasks("acct", "default",
                            [engine.TaskSpec("hello", {"name": str(i)}) for i in range(100)])
    assert calls.count("DynamoDB.BatchWriteItem") == 4
    assert calls.count("SQS.SendMessageBatch") == 10
    assert len(calls) == 14


def _sleeping_into(*moves):
    """A fake sleep that makes the next move (a function) happen during each poll's pause."""
    pending = list(moves)

    def sleep(seconds):
        if pending:
            pending.pop(0)()

    return sleep


def test_watch_replays_a_status_passed_between_two_polls(engine):
    from chalicelib.engine import worker

    task = engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"})])[0]
    batches = list(engine.watch([task.key], 10, sleep=_sleeping_into(lambda: worker.run_task(task.key))))
    assert [[t.status for t in batch] for batch in batches] == [["queued"], ["executing", "success"]]
    executing, done = batches[1]
    final = engine.get_task(task.key)
    assert executing.events == {"queued": final.events["queued"], "started": final.events["started"]}
    assert (executing.result, executing.progress) == (None, None)
    assert (done.result, done.events) == ("Hello a", final.events)


def test_watch_replays_a_redrive_as_queued_then_executing(engine, monkeypatch, world):
    from chalicelib.engine import janitor, worker
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    task = engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"})])[0]
    then = time.time() - 10
    store.claim(task.key, iso(then), then, then + 1, 3)  # a worker that died; its lease expired

    def redrive_and_run():
        assert janitor.run()["redriven"] == 1
        worker.run_task(task.key)

    batches = list(engine.watch([task.key], 10, sleep=_sleeping_into(redrive_and_run)))
    assert [[t.status for t in batch] for batch in batches] == [
        ["executing"], ["queued", "executing", "success"]]


def test_watch_interleaves_changes_of_several_tasks_in_time_order(engine, world):
    from chalicelib.engine import worker

    first, second = engine.create_tasks("acct", "default", [
        engine.TaskSpec("hello", {"name": "a"}), engine.TaskSpec("hello", {"name": "b"})])

    def run_both():
        worker.run_task(second.key)
        worker.run_task(first.key)

    batches = list(engine.watch([first.key, second.key], 10, sleep=_sleeping_into(run_both)))
    changes = [(t.key, t.status) for t in batches[1]]
    assert changes == [(second.key, "executing"), (second.key, "success"),
                       (first.key, "executing"), (first.key, "success")]
    assert engine.wait_for([first.key, second.key], 0)[1].result == "Hello b"


def test_watch_of_a_task_canceled_while_queued_has_no_executing_line(engine):
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"})])[0]
    batches = list(engine.watch([task.key], 10,
                                sleep=_sleeping_into(lambda: engine.cancel_task(task.key, "acct"))))
    assert [[t.status for t in batch] for batch in batches] == [["queued"], ["canceled"]]


def test_every_transition_writes_the_status_last(engine, task_types, world):
    """moto applies an update's actions one by one: a concurrent read (the local stack, threaded
    tests) must never see a new status without the events, result or files that go with it."""
    from botocore.client import BaseClient

    from chalicelib.engine import janitor, worker
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    expressions = []
    original = BaseClient._make_api_call

    def recording(self, operation, params):
        # A task attempt's finish is the Update of a transaction (with its run record's Put).
        updates = [params] if operation == "UpdateItem" else [
            item["Update"] for item in params.get("TransactItems", []) if "Update" in item]
        for update in updates:
            names = update["ExpressionAttributeNames"]
            sets = update["UpdateExpression"].split("SET ", 1)[1].split(" REMOVE")[0].split(" ADD")[0]
            expressions.append([names[part.split(" = ")[0].strip()] for part in sets.split(",")])
        return original(self, operation, params)

    task_types("test.files", lambda params, ctx: ctx.write_file("out", b"x") or "ok")
    ran, canceled, redriven = engine.create_tasks("acct", "default", [
        engine.TaskSpec("test.files", {}), engine.TaskSpec("hello", {"name": "a"}),
        engine.TaskSpec("hello", {"name": "b"})])
    BaseClient._make_api_call = recording
    try:
        worker.run_task(ran.key)
        engine.cancel_task(canceled.key, "acct")
        then = time.time() - 10_000
        store.claim(redriven.key, iso(then), then, then + 1, 3)  # by a worker that died
        assert janitor.run()["redriven"] == 1
    finally:
        BaseClient._make_api_call = original
    moves = [names for names in expressions if "status" in names]
    assert len(moves) == 5  # claim, finish, cancel, claim, re-drive
    assert all(names[-1] == "status" for names in moves), moves
    assert engine.get_task(redriven.key).status == "queued"


def test_watch_shows_a_status_read_before_its_events(engine, world):
    """A read that sees `executing` before `started` (an emulator mid-update) still yields it."""
    from chalicelib import aws
    from chalicelib.config import get_settings

    task = engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"})])[0]

    def write(**values):
        names = {f"#{n}": n for n in values}
        aws.client("dynamodb").update_item(
            TableName=get_settings().tasks_table, Key={"pk": {"S": f"TASK#{task.key}"}, "sk": {"S": "TASK"}},
            UpdateExpression="SET " + ", ".join(f"#{n} = :{n}" for n in values),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{n}": {"S": v} for n, v in values.items()})

    later = task.events["queued"].replace("+00:00", "9+00:00")
    batches = list(engine.watch([task.key], 10, sleep=_sleeping_into(
        lambda: write(status="executing"),
        lambda: write(started_at=later, completed_at=later, status="error"))))
    assert [[t.status for t in batch] for batch in batches] == [["queued"], ["executing"], ["error"]]


def test_progress_is_kept_only_for_the_running_attempt_and_asks_for_nothing_back(
        engine, monkeypatch, world):
    from botocore.client import BaseClient

    from chalicelib.models import tasks as store

    task = engine.create_tasks("acct", "default", [engine.TaskSpec("hello", {"name": "a"})])[0]
    now = time.time()
    claimed = store.claim(task.key, "2026-01-01T00:00:00Z", now, now + 60, 3)
    assert claimed is not None
    requests = []
    original = BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        requests.append((operation_name, api_params.get("ReturnValues")))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    assert store.set_progress(task.key, claimed.attempt, {"done": 1}, "2026-01-01T00:00:01Z")
    assert not store.set_progress(task.key, claimed.attempt + 1, {"done": 2},
                                  "2026-01-01T00:00:02Z")  # not this attempt's any more
    assert requests == [("UpdateItem", "NONE"), ("UpdateItem", "NONE")]
    monkeypatch.setattr(BaseClient, "_make_api_call", original)
    assert engine.get_tasks([task.key])[0].progress == {"done": 1}
