"""No work lost or stuck: a task whose result cannot be stored ends at once with the reason."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def engine(world: dict[str, str]) -> Any:
    from chalicelib.engine import tasks

    return tasks


@pytest.fixture
def task_type() -> Iterator[Any]:
    from chalicelib.engine import registry

    names: list[str] = []

    def add(name: str, run: Any) -> None:
        registry.register(name, run)
        names.append(name)

    yield add
    for name in names:
        registry._types.pop(name, None)


def _run(key: str) -> dict[str, Any]:
    from chalicelib.engine import worker

    return worker.handle_batch([{"messageId": "m0", "body": json.dumps({"key": key})}])


def test_result_that_does_not_fit_beside_its_parameters_ends_the_task_at_once(engine, task_type):
    # Parameters under their 256 KB limit plus a result under its 300 KB limit: over the
    # 400 KB DynamoDB item. DynamoDB refused the finish on every attempt before.
    task_type("test.big", lambda params, ctx: {"echo": "r" * (290 * 1024)})
    [task] = engine.create_tasks("acct", "default", [engine.TaskSpec(
        "test.big", {"blob": "p" * (250 * 1024)})])
    assert _run(task.key) == {"batchItemFailures": []}
    ended = engine.get_task(task.key)
    assert ended.status == "error" and ended.attempt == 1
    assert "the task's result is" in ended.error and "400 KB" in ended.error


def test_result_that_fits_beside_its_parameters_is_kept(engine, task_type):
    task_type("test.fits", lambda params, ctx: {"echo": "r" * (100 * 1024)})
    [task] = engine.create_tasks("acct", "default", [engine.TaskSpec(
        "test.fits", {"blob": "p" * (250 * 1024)})])
    assert _run(task.key) == {"batchItemFailures": []}
    ended = engine.get_task(task.key)
    assert ended.status == "success" and len(ended.result["echo"]) == 100 * 1024


class Killed(BaseException):
    """The worker dies here: nothing after it runs, no handler catches it."""


def test_finish_hooks_of_a_worker_killed_after_the_finish_run_again_from_the_janitor(
        engine, task_type):
    import time

    from chalicelib.engine import hooks, janitor

    seen: list[str] = []

    def hook(task: Any) -> None:
        if not seen:
            seen.append("killed")
            raise Killed()
        seen.append(task.status)

    task_type("test.notified", lambda params, ctx: {"ok": True})
    [task] = engine.create_tasks("acct", "default", [engine.TaskSpec(
        "test.notified", {}, notify={"test": True})])
    hooks.on_finish(hook)
    try:
        with pytest.raises(Killed):
            _run(task.key)
        assert engine.get_task(task.key).status == "success"
        assert janitor.run(now=time.time() + 120)["rehooked"] == 1
        assert seen == ["killed", "success"]
        # Released: the next pass finds nothing.
        assert "rehooked" not in janitor.run(now=time.time() + 120)
    finally:
        hooks.remove(hook)
