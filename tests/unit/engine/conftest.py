"""Engine fixtures: a moto world, test task types, hook recording."""
from __future__ import annotations

from typing import Any
from collections.abc import Iterator

import pytest


@pytest.fixture
def engine(world: dict[str, str]) -> Any:
    from chalicelib.engine import tasks

    return tasks


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
