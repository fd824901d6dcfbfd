"""Task wall time, retention of finished tasks, and the timeouts around the worker agreeing."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest

from chalicelib.errors import NotFound

PROJECT_DIR = Path(__file__).resolve().parents[3]
DAY = 86400


def _settings(monkeypatch, **env):
    from chalicelib import config

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config.get_settings.cache_clear()
    return config.get_settings()


def _create(engine, task_type, params=None, **options):
    return engine.create_tasks("acct", "default", [engine.TaskSpec(task_type, params or {}, **options)])[0]


def _abandoned_thread(key):
    return next(t for t in threading.enumerate() if t.name == f"task-{key}")


def _epoch(iso):
    return dt.datetime.fromisoformat(iso).timestamp()


def test_task_over_its_wall_time_ends_in_error_and_its_late_work_is_dropped(
        engine, task_types, monkeypatch, finished_tasks):
    from chalicelib.engine import registry, worker

    _settings(monkeypatch, TASKPORT_TASK_WALL_SECONDS="0.3")
    release = threading.Event()
    late = []

    def stuck(params, ctx):
        release.wait(60)
        for attempt in (lambda: ctx.progress(99), lambda: ctx.write_file("late", b"x")):
            try:
                attempt()
            except registry.RunStopped:
                late.append("refused")
        return "too late"

    task_types("test.stuck", stuck)
    task = _create(engine, "test.stuck")
    assert worker.handle_batch([{"messageId": "m0", "body": json.dumps({"key": task.key})}]) == {
        "batchItemFailures": []}
    ended = engine.get_task(task.key)
    assert ended.status == "error"
    assert ended.error == "the task ran longer than its wall-time limit of 0.3 s"
    assert [t.status for t in finished_tasks] == ["error"]

    release.set()
    _abandoned_thread(task.key).join(60)
    assert late == ["refused", "refused"]
    final = engine.get_task(task.key)
    assert (final.status, final.result, final.progress, final.files) == ("error", None, None, [])


def test_tasks_of_one_batch_run_at_once_so_one_slow_task_delays_no_other(
        engine, task_types, monkeypatch):
    from chalicelib.engine import worker

    _settings(monkeypatch, TASKPORT_TASK_WALL_SECONDS="30")
    # Each task waits until every task of the batch has started: run one after another, the
    # first would wait out its barrier and fail.
    barrier = threading.Barrier(3, timeout=20)

    def meet(params, ctx):
        barrier.wait()
        return params["n"]

    task_types("test.meet", meet)
    keys = [_create(engine, "test.meet", {"n": n}).key for n in range(3)]
    records = [{"messageId": f"m{n}", "body": json.dumps({"key": key})} for n, key in enumerate(keys)]
    assert worker.handle_batch(records) == {"batchItemFailures": []}
    assert [(t.status, t.result) for t in engine.get_tasks(keys)] == [
        ("success", 0), ("success", 1), ("success", 2)]


def test_run_context_tells_the_task_how_much_wall_time_is_left(engine, task_types, monkeypatch):
    from chalicelib.engine import worker

    _settings(monkeypatch, TASKPORT_TASK_WALL_SECONDS="120")
    task_types("test.remaining", lambda params, ctx: ctx.remaining_seconds())
    task = _create(engine, "test.remaining")
    done = worker.run_task(task.key)
    assert 0 < done.result <= 120


def test_task_that_exits_ends_in_error_and_the_worker_carries_on(engine, task_types):
    import sys

    from chalicelib.engine import worker

    task_types("test.exit", lambda params, ctx: sys.exit(3))
    task = _create(engine, "test.exit")
    records = [{"messageId": "m0", "body": json.dumps({"key": task.key})}]
    assert worker.handle_batch(records) == {"batchItemFailures": []}
    failed = engine.get_task(task.key)
    assert (failed.status, failed.error) == ("error", "SystemExit: 3")


def test_result_that_is_not_json_ends_in_error(engine, task_types):
    from chalicelib.engine import worker

    task_types("test.object", lambda params, ctx: object())
    task = _create(engine, "test.object")
    assert worker.handle_batch([{"messageId": "m0", "body": json.dumps({"key": task.key})}]) == {
        "batchItemFailures": []}
    failed = engine.get_task(task.key)
    assert failed.status == "error" and "not JSON serializable" in failed.error


def _ttl_of(world_table, key):
    from chalicelib import aws

    item = aws.client("dynamodb").get_item(TableName=world_table, ConsistentRead=True,
                                            Key={"pk": {"S": f"TASK#{key}"}, "sk": {"S": "TASK"}})["Item"]
    return int(item["expires_at"]["N"]) if "expires_at" in item else None


def test_finished_tasks_carry_a_ttl_of_the_retention_after_completion(engine, task_types, monkeypatch, world):
    from chalicelib.engine import worker

    settings = _settings(monkeypatch, TASKPORT_TASK_RETENTION_DAYS="7")
    task_types("test.fail", lambda params, ctx: 1 / 0)
    succeeded, failed, canceled = (_create(engine, "hello", {"name": "a"}),
                                   _create(engine, "test.fail"), _create(engine, "hello", {"name": "b"}))
    queued = _create(engine, "hello", {"name": "c"})
    worker.run_task(succeeded.key)
    worker.run_task(failed.key)
    engine.cancel_task(canceled.key, "acct")
    for key in (succeeded.key, failed.key, canceled.key):
        task = engine.get_task(key)
        assert task.finished
        completed = int(_epoch(task.events["completed"]))
        assert _ttl_of(settings.tasks_table, key) == completed + 7 * DAY
        assert _epoch(task.expires_at) == completed + 7 * DAY
    assert _ttl_of(settings.tasks_table, queued.key) is None
    assert engine.get_task(queued.key).expires_at is None


def test_tasks_given_up_by_the_janitor_carry_a_ttl(engine, monkeypatch, world):
    from chalicelib.engine import janitor
    from chalicelib.engine.tasks import iso
    from chalicelib.models import tasks as store

    settings = _settings(monkeypatch, TASKPORT_TASK_MAX_ATTEMPTS="1", TASKPORT_TASK_LEASE_SECONDS="60")
    task = _create(engine, "hello", {"name": "a"})
    now = time.time()
    store.claim(task.key, iso(now), now, now + 60, 1)
    assert janitor.run(now=now + 61)["failed"] == 1
    assert _ttl_of(settings.tasks_table, task.key) == int(now + 61) + 30 * DAY


def test_retention_of_zero_keeps_finished_tasks(engine, monkeypatch, world):
    from chalicelib.engine import worker

    settings = _settings(monkeypatch, TASKPORT_TASK_RETENTION_DAYS="0")
    task = _create(engine, "hello", {"name": "a"})
    worker.run_task(task.key)
    assert engine.get_task(task.key).status == "success"
    assert _ttl_of(settings.tasks_table, task.key) is None


def test_task_past_its_expiry_is_answered_as_missing(engine, monkeypatch):
    from chalicelib.engine import worker

    _settings(monkeypatch, TASKPORT_TASK_RETENTION_DAYS="1")
    task = _create(engine, "hello", {"name": "a"})
    worker.run_task(task.key)
    assert engine.get_task(task.key).status == "success"
    later = time.time() + DAY + 5
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(NotFound):
        engine.get_task(task.key)
    with pytest.raises(NotFound):
        engine.get_tasks([task.key, task.key])


@pytest.fixture(scope="module")
def template():
    from chalice.package import YAMLTemplateSerializer

    path = PROJECT_DIR / "infra" / "template.yml"
    return YAMLTemplateSerializer().load_template(path.read_text(), str(path))


def test_task_outputs_in_s3_expire_with_the_same_retention_as_the_records(template):
    from chalicelib.engine import outputs
    from chalicelib.models.tables import TTL_ATTRIBUTE

    tasks_table = template["Resources"]["TasksTable"]["Properties"]
    assert tasks_table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    rules = template["Resources"]["FilesBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    # The rules that expire task outputs (staged sandbox bodies have a rule of their own).
    expiring = [rule for rule in rules if "ExpirationInDays" in rule
                and outputs.object_key("K", "thumb").startswith(rule["Prefix"])]
    assert len(expiring) == 1
    assert expiring[0]["Status"] == "Enabled"
    assert outputs.object_key("K", "thumb").startswith(expiring[0]["Prefix"])
    assert expiring[0]["Prefix"] == "tasks/"
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["TASKPORT_TASK_RETENTION_DAYS"] == expiring[0]["ExpirationInDays"] == {
        "Ref": "TaskRetentionDays"}
    assert template["Parameters"]["TaskRetentionDays"]["MinValue"] >= 1


def test_worker_timeouts_cover_the_task_wall_time(template, monkeypatch):
    """wall time < task_worker's Lambda timeout <= lease and SQS visibility timeout."""
    settings = _settings(monkeypatch)
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    lambda_timeout = config["lambda_functions"]["task_worker"]["lambda_timeout"]
    visibility = template["Resources"]["TasksQueue"]["Properties"]["VisibilityTimeout"]
    # room after the wall time for the claim and finish writes of a batch
    assert settings.task_wall_seconds + 20 <= lambda_timeout
    assert lambda_timeout <= settings.task_lease_seconds
    assert lambda_timeout <= visibility
    assert lambda_timeout <= 900  # Lambda's own maximum
