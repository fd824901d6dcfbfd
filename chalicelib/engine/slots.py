"""One replaceable implementation (a store, a queue): the default until another is installed."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """Holds what is installed (the composition root and tests install; None: the default)."""

    def __init__(self) -> None:
        self.installed: T | None = None

    def install(self, value: T | None) -> None:
        """Use `value` from now on (None: back to the default)."""
        self.installed = value

    @contextmanager
    def using(self, value: T) -> Iterator[T]:
        """Use `value` within a block (tests), then whatever was in use before."""
        before = self.installed
        self.installed = value
        try:
            yield value
        finally:
            self.installed = before
