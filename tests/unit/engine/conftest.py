"""Engine fixtures: the engine on the in-memory store (or on moto when a test asks for `world`),
test task types, hook recording."""
from __future__ import annotations

import json
from typing import Any
from collections.abc import Iterator

import pytest


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    """chalicelib.engine.tasks: on DynamoDB and SQS (moto) for tests that take `world`, else on
    the in-memory store and queue, where any AWS call fails the test."""
    from chalicelib.engine import dispatch, store, tasks
    from chalicelib.engine.memory import MemoryTaskStore, MemoryWorkQueue

    if "world" in request.fixturenames:
        yield tasks
        return
    from botocore.client import BaseClient

    def no_aws(self: Any, operation_name: str, api_params: Any) -> Any:
        raise AssertionError(f"{operation_name}: this test runs without AWS; give it `world`")

    from chalicelib.runs import store as run_store
    from chalicelib.runs.memory import MemoryRunStore

    runs = MemoryRunStore()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", no_aws)
        with store.using(MemoryTaskStore(runs)), run_store.using(runs), \
                dispatch.using(MemoryWorkQueue()):
            yield tasks


def run_queued() -> int:
    """Feed every key on the in-memory queue to the worker, as Lambda would; count them."""
    from chalicelib.engine import dispatch, worker

    queue = dispatch.installed()
    assert queue is not None, "the test runs on moto: drain the SQS queue instead"
    handled = 0
    for _ in range(100):
        keys = queue.take()  # type: ignore[attr-defined]
        if not keys:
            return handled
        worker.handle_batch([{"messageId": str(i), "body": json.dumps({"key": key})}
                             for i, key in enumerate(keys)])
        handled += len(keys)
    raise AssertionError("the queue never emptied")


@pytest.fixture
def finished_tasks() -> Iterator[list[Any]]:
    """Every task a finish hook saw during the test."""
    from chalicelib.engine import hooks

    seen: list[Any] = []
    hooks.on_finish(seen.append)
    yield seen
    hooks.remove(seen.append)


@pytest.fixture
def task_types() -> Iterator[dict[str, Any]]:
    """Register throw-away task types for a test (name -> run function)."""
    from chalicelib.engine import registry

    registered: dict[str, Any] = {}

    def add(name: str, run: Any, **options: Any) -> None:
        registered[name] = registry.register(name, run, **options)

    yield add  # type: ignore[misc]
    for name in registered:
        registry._types.pop(name, None)


from tests.api.dragon.conftest import images  # noqa: E402,F401  (the same image server fixture)
