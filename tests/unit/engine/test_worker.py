"""The worker and the janitor fed with generated SQS events: duplicates, crashes, leases, limits."""
from __future__ import annotations

import json
import time

from tests.api.dragon.conftest import drain


def _event(*keys: str, bodies: list[str] | None = None) -> dict:
    bodies = bodies if bodies is not None else [json.dumps({"key": key}) for key in keys]
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body,
                         "eventSource": "aws:sqs"} for i, body in enumerate(bodies)]}


def _hello(engine, account_id="acct", **options):
    return engine.create_tasks(account_id, "default",
                               [engine.TaskSpec("hello", {"name": "Ada"}, **options)])[0]


def test_task_worker_handler_takes_a_plain_lambda_event(engine, finished_tasks):
    import app

    task = _hello(engine)
    assert app.task_worker(_event(task.key), None) == {"batchItemFailures": []}
    done = engine.get_task(task.key)
    assert (done.status, done.result, done.attempt) == ("success", "Hello Ada", 1)
    assert set(done.events) == {"queued", "started", "completed"}
    assert [t.key for t in finished_tasks] == [task.key]


def test_duplicate_messages_run_a_task_once(engine, finished_tasks):
    from chalicelib.engine import worker

    task = _hello(engine)
    assert worker.handle_batch(_event(task.key, task.key)["Records"]) == {"batchItemFailures": []}
    worker.handle_batch(_event(task.key)["Records"])
    assert engine.get_task(task.key).attempt == 1
    assert len(finished_tasks) == 1


def test_late_message_for_running_task_is_a_no_op(engine, task_types):
    from chalicelib.engine import worker

    seen = []

    def nested(params, ctx):
        seen.append(worker.run_task(ctx.key))  # the same task's message arriving meanwhile
        return "done"

    task_types("test.nested", nested)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.nested", {})])[0]
    worker.run_task(task.key)
    assert seen == [None]
    finished = engine.get_task(task.key)
    assert (finished.status, finished.result, finished.attempt) == ("success", "done", 1)


def test_crash_mid_task_ends_in_error_with_the_message(engine, task_types, finished_tasks):
    from chalicelib.engine import worker

    def crash(params, ctx):
        ctx.progress(50)
        raise RuntimeError("disk on fire")

    task_types("test.crash", crash)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.crash", {})])[0]
    assert worker.handle_batch(_event(task.key)["Records"]) == {"batchItemFailures": []}
    failed = engine.get_task(task.key)
    assert (failed.status, failed.error, failed.progress) == ("error", "disk on fire", 50)
    assert finished_tasks[0].status == "error"


def test_handed_back_task_waits_for_a_person_and_nothing_runs_it_again(engine, world, task_types,
                                                                      finished_tasks):
    from chalicelib.engine import janitor, worker

    runs = []

    def give_back(params, ctx):
        runs.append(ctx.attempt)
        raise ValueError("no title fits")

    task_types("test.people", give_back, people_settle=True)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.people", {})])[0]
    assert worker.handle_batch(_event(task.key)["Records"]) == {"batchItemFailures": []}
    waiting = engine.get_task(task.key)
    assert (waiting.status, waiting.error) == ("queued", "no title fits")
    assert waiting.expires_at is None and finished_tasks == []

    worker.handle_batch(_event(task.key)["Records"])  # a duplicate or late message
    drain(world["tasks_queue"])
    assert janitor.run(now=time.time() + 10_000) == {"redriven": 0, "failed": 0, "unsent": 0}
    assert runs == [1] and engine.get_task(task.key).status == "queued"

    done = engine.complete_task(task.key, "acct", {"by": "a person"})
    assert (done.status, done.result) == ("success", {"by": "a person"})
    assert [t.status for t in finished_tasks] == ["success"]


def test_progress_is_recorded_with_an_event(engine, task_types):
    from chalicelib.engine import worker

    observed = []

    def slow(params, ctx):
        ctx.progress({"done": 1, "of": 2})
        observed.append(engine.get_task(ctx.key))
        return "ok"

    task_types("test.progress", slow)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.progress", {})])[0]
    worker.run_task(task.key)
    assert observed[0].status == "executing"
    assert observed[0].progress == {"done": 1, "of": 2}
    assert "progress" in observed[0].events


def test_cancel_while_running_drops_the_result(engine, task_types, finished_tasks):
    from chalicelib.engine import worker

    def canceled_meanwhile(params, ctx):
        engine.cancel_task(ctx.key, "acct")
        ctx.progress(10)
        return "never stored"

    task_types("test.cancel", canceled_meanwhile)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.cancel", {})])[0]
    worker.run_task(task.key)
    final = engine.get_task(task.key)
    assert (final.status, final.result) == ("canceled", None)
    assert [t.status for t in finished_tasks] == ["canceled"]


def test_message_that_names_no_task_is_dropped(engine):
    from chalicelib.engine import worker

    records = _event(bodies=["not json", json.dumps({"other": 1}), json.dumps({"key": "NOPE"})])
    assert worker.handle_batch(records["Records"]) == {"batchItemFailures": []}


def test_infrastructure_error_reports_only_that_message(engine, monkeypatch, world):
    from botocore.exceptions import EndpointConnectionError

    from chalicelib.engine import worker
    from chalicelib.models import tasks as store

    good, bad = _hello(engine), _hello(engine)
    real_claim = store.claim

    def flaky_claim(key, *args, **kwargs):
        if key == bad.key:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.example")
        return real_claim(key, *args, **kwargs)

    monkeypatch.setattr(store, "claim", flaky_claim)
    report = worker.handle_batch(_event(good.key, bad.key)["Records"])
    assert report == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert engine.get_task(good.key).status == "success"
    assert engine.get_task(bad.key).status == "queued"


def test_hook_that_raises_never_loses_the_transition(engine):
    from chalicelib.engine import hooks, worker

    def broken(task):
        raise ValueError("webhook store down")

    hooks.on_finish(broken)
    try:
        task = _hello(engine)
        worker.run_task(task.key)
    finally:
        hooks.remove(broken)
    assert engine.get_task(task.key).status == "success"


def test_janitor_redrives_expired_leases_until_the_attempt_limit(engine, world, monkeypatch,
                                                                   finished_tasks):
    from chalicelib import config
    from chalicelib.engine import janitor
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    monkeypatch.setenv("TASKPORT_TASK_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("TASKPORT_TASK_LEASE_SECONDS", "60")
    config.get_settings.cache_clear()
    task = _hello(engine)
    now = time.time()

    def die_while_running(at):
        # a worker claims the task and its Lambda is killed: nothing else is written
        assert store.claim(task.key, iso(at), at, at + 60, 2) is not None

    die_while_running(now)
    assert janitor.run(now=now + 61) == {"redriven": 1, "failed": 0, "unsent": 0}
    redriven = engine.get_task(task.key)
    assert (redriven.status, redriven.attempt) == ("queued", 1)
    die_while_running(now + 62)
    assert janitor.run(now=now + 200) == {"redriven": 0, "failed": 1, "unsent": 0}
    final = engine.get_task(task.key)
    assert final.status == "error"
    assert final.error == "the task did not finish in 2 attempts"
    assert [t.key for t in finished_tasks] == [task.key]
    drain(world["tasks_queue"])  # the original and the re-driven message are now no-ops
    assert engine.get_task(task.key).status == "error"


def test_janitor_hands_a_task_people_settle_back_to_them_when_its_attempts_are_spent(
        engine, world, monkeypatch, task_types, finished_tasks):
    from chalicelib import config
    from chalicelib.engine import janitor
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    monkeypatch.setenv("TASKPORT_TASK_MAX_ATTEMPTS", "1")
    config.get_settings.cache_clear()
    task_types("test.settled", lambda params, ctx: "never reached", people_settle=True)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.settled", {})])[0]
    now = time.time()
    assert store.claim(task.key, iso(now), now, now + 60, 1) is not None  # its worker dies
    assert janitor.run(now=now + 61) == {"redriven": 0, "failed": 1, "unsent": 0}
    waiting = engine.get_task(task.key)
    assert (waiting.status, waiting.error) == ("queued", "the task did not finish in 1 attempts")
    assert waiting.expires_at is None and finished_tasks == []
    assert janitor.run(now=now + 10_000)["failed"] == 0  # no lease left to expire
    assert engine.cancel_task(task.key, "acct").status == "canceled"


def test_task_people_settle_that_overruns_its_wall_time_is_handed_back(
        engine, monkeypatch, task_types, finished_tasks):
    import threading

    from chalicelib import config
    from chalicelib.engine import worker

    monkeypatch.setenv("TASKPORT_TASK_WALL_SECONDS", "0.2")
    config.get_settings.cache_clear()
    release = threading.Event()
    task_types("test.slow", lambda params, ctx: release.wait(10), people_settle=True)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.slow", {})])[0]
    try:
        worker.run_task(task.key)
    finally:
        release.set()
    waiting = engine.get_task(task.key)
    assert waiting.status == "queued" and "wall-time limit" in waiting.error
    assert finished_tasks == []


def test_redelivered_message_reclaims_a_task_whose_lease_expired(engine, world):
    from chalicelib.engine import worker
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    task = _hello(engine)
    now = time.time()
    store.claim(task.key, iso(now), now, now + 10, 3)
    assert worker.run_task(task.key) is None  # lease still live: no-op
    done = worker.run_task(task.key, clock=lambda: now + 11)
    assert (done.status, done.attempt) == ("success", 2)


def test_janitor_resends_a_queued_task_whose_message_was_lost(engine, world, monkeypatch):
    from chalicelib import aws
    from chalicelib.engine import janitor

    task = _hello(engine)
    aws.client("sqs").purge_queue(QueueUrl=world["tasks_queue"])
    assert janitor.run(now=time.time() + 10_000)["redriven"] == 1
    assert drain(world["tasks_queue"]) == 1
    assert engine.get_task(task.key).status == "success"


def test_janitor_leaves_manual_and_finished_tasks_alone(engine, world):
    from chalicelib.engine import janitor

    manual = _hello(engine, enqueue=False)
    done = _hello(engine)
    drain(world["tasks_queue"])
    assert janitor.run(now=time.time() + 10_000) == {"redriven": 0, "failed": 0, "unsent": 0}
    assert engine.get_task(manual.key).status == "queued"
    assert engine.get_task(done.key).status == "success"


def test_janitor_handler_runs_from_a_schedule_event(engine):
    import app

    event = {"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/janitor"], "detail": {}}
    assert app.janitor(event, None) == {"redriven": 0, "failed": 0, "unsent": 0}


def _queued_messages(queue_url):
    from chalicelib import aws

    sqs = aws.client("sqs")
    bodies = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                    VisibilityTimeout=600).get("Messages", [])
        if not batch:
            return bodies
        bodies.extend(json.loads(m["Body"])["key"] for m in batch)


def _dead_worker(engine, world):
    """A task whose worker claimed it and died: its lease expired ten seconds ago."""
    from chalicelib import aws
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    task = _hello(engine)
    aws.client("sqs").purge_queue(QueueUrl=world["tasks_queue"])
    then = time.time() - 400
    assert store.claim(task.key, iso(then), then, then + 390, 3) is not None
    return task


def _between_listing_and_writes(monkeypatch, action):
    """Run `action` once, after the next janitor pass lists expired leases and before it writes."""
    from chalicelib.models import tasks as store

    real_listing = store.expired_leases
    outcome = []

    def listing_then_action(now, limit):
        leases = real_listing(now, limit)
        if not outcome:
            outcome.append(None)
            outcome[0] = action()
        return leases

    monkeypatch.setattr(store, "expired_leases", listing_then_action)
    return outcome


def test_two_janitor_runs_on_one_expired_lease_redrive_it_once(engine, world, monkeypatch):
    from chalicelib.engine import janitor

    task = _dead_worker(engine, world)
    inner = _between_listing_and_writes(monkeypatch, janitor.run)  # a second janitor, run through
    outer = janitor.run()
    assert inner == [{"redriven": 1, "failed": 0, "unsent": 0}]
    assert outer == {"redriven": 0, "failed": 0, "unsent": 0}
    assert _queued_messages(world["tasks_queue"]) == [task.key]
    assert engine.get_task(task.key).status == "queued"


def test_janitor_runs_on_consecutive_minutes_redrive_a_lease_once(engine, world):
    from chalicelib.engine import janitor

    task = _dead_worker(engine, world)
    now = time.time()
    assert janitor.run(now=now)["redriven"] == 1
    assert janitor.run(now=now + 60)["redriven"] == 0
    assert janitor.run(now=now + 120)["redriven"] == 0
    assert _queued_messages(world["tasks_queue"]) == [task.key]


def test_janitor_racing_a_late_worker_leaves_the_task_to_the_worker(engine, world, monkeypatch):
    from chalicelib.engine import janitor, worker
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    task = _dead_worker(engine, world)

    def late_worker_claims():  # the original message comes back and a worker claims the task
        at = time.time()
        return store.claim(task.key, iso(at), at, at + 360, 3)

    claimed = _between_listing_and_writes(monkeypatch, late_worker_claims)
    assert janitor.run() == {"redriven": 0, "failed": 0, "unsent": 0}
    assert claimed[0] is not None and claimed[0].attempt == 2
    assert _queued_messages(world["tasks_queue"]) == []
    running = engine.get_task(task.key)
    assert (running.status, running.attempt) == ("executing", 2)
    assert worker.run_task(task.key) is None  # a duplicate of that message: the lease is live


def test_worker_makes_two_calls_per_task_with_the_run_record_in_the_finish(engine, world):
    from chalicelib import runs
    from chalicelib.engine import worker
    from tests.unit.engine.calls import count_calls

    tasks = engine.create_tasks("acct", "default",
                                [engine.TaskSpec("hello", {"name": str(i)}) for i in range(10)])
    with count_calls() as calls:
        report = worker.handle_batch(_event(*[t.key for t in tasks])["Records"])
    assert report == {"batchItemFailures": []}
    # the claim, and one transaction: the finish and the attempt's run record; no read
    assert sorted(calls) == ["DynamoDB.TransactWriteItems"] * 10 + ["DynamoDB.UpdateItem"] * 10
    assert {t.status for t in engine.get_tasks([t.key for t in tasks])} == {"success"}
    for task in tasks:
        [run] = runs.list_for_task("acct", task.key)
        assert (run.kind, run.status, run.subject["attempt"]) == ("task", "ok", 1)


def test_janitor_resends_a_task_waiting_behind_a_backlog_less_and_less_often(engine, world):
    from chalicelib.engine import janitor

    task = _hello(engine)  # its message stays in the queue: the workers are behind
    created = time.time()
    resent_at = [minute for minute in range(1, 4 * 60)
                 if janitor.run(now=created + minute * 60)["redriven"]]
    # Every 6 minutes would be 39 messages. The first comes as soon as before, then each lease
    # is as long as the task has waited (capped at an hour).
    assert resent_at == [7, 15, 31, 63, 124, 185]
    assert len(_queued_messages(world["tasks_queue"])) == 1 + len(resent_at)
    assert engine.get_task(task.key).events["queued"] == task.events["queued"]


def test_janitor_redrives_a_dead_workers_task_after_one_lease_however_long_it_waited(engine, world):
    from chalicelib.engine import janitor
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    task = _hello(engine)
    claimed = time.time() + 7200  # claimed after two hours in the queue, then the worker died
    store.claim(task.key, iso(claimed), claimed, claimed + 360, 3)
    assert janitor.run(now=claimed + 361)["redriven"] == 1
    assert janitor.run(now=claimed + 361 + 361)["redriven"] == 1  # queued for 361 s: one lease


def test_finish_hooks_see_the_task_as_stored_with_its_progress(engine, world, task_types,
                                                              finished_tasks):
    from chalicelib.engine import worker

    def reports(params, ctx):
        ctx.progress({"done": 1})
        ctx.write_file("out", b"x")
        return {"ok": True}

    task_types("test.reports", reports)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.reports", {})])[0]
    worker.run_task(task.key)
    [seen] = finished_tasks
    assert seen == engine.get_task(task.key)  # made without a read, equal to the stored task
    assert (seen.progress, seen.files, seen.result) == ({"done": 1}, ["out"], {"ok": True})


def test_superseded_attempt_still_records_its_run_on_its_own(engine, world, task_types):
    from chalicelib import runs
    from chalicelib.engine import worker
    from tests.unit.engine.calls import count_calls

    def canceled_meanwhile(params, ctx):
        engine.cancel_task(ctx.key, "acct")  # the finish's condition will fail
        print("done anyway")
        return "dropped"

    task_types("test.superseded", canceled_meanwhile)
    task = engine.create_tasks("acct", "default", [engine.TaskSpec("test.superseded", {})])[0]
    with count_calls() as calls:
        assert worker.run_task(task.key) is None
    assert engine.get_task(task.key).status == "canceled"
    [run] = runs.list_for_task("acct", task.key)
    assert (run.status, run.subject["attempt"]) == ("ok", 1)
    # claim, the cancel, the refused transaction, then the run's own PutItem
    assert [c for c in calls if c != "DynamoDB.UpdateItem"] == [
        "DynamoDB.TransactWriteItems", "DynamoDB.PutItem"]


def test_failed_finish_keeps_the_attempts_run_and_retries_the_message(engine, task_types):
    from chalicelib import runs
    from chalicelib.engine import store, worker
    from chalicelib.engine.memory import MemoryTaskStore
    from chalicelib.runs.store import run_store

    class Throttled(MemoryTaskStore):
        def finish_with_run(self, *args, **kwargs):
            raise ConnectionError("the table did not answer")

    failing = Throttled(run_store())
    with store.using(failing):
        task = _hello(engine)
        report = worker.handle_batch(_event(task.key)["Records"])
        assert report == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
        assert engine.get_task(task.key).status == "executing"  # a later attempt runs it
    [run] = runs.list_for_task("acct", task.key)
    assert (run.status, run.subject["attempt"]) == ("ok", 1)
