"""In-process moto, one DynamoDB request at a time, as the local stack's emulator serves them.

moto's DynamoDB backend has no lock. Its TransactWriteItems deep-copies every table it touches
(its rollback copy) while the worker's other threads write to them: the copy then fails
("dictionary changed size during iteration"), and a rolled-back transaction puts back a copy
that lacks what those threads wrote meanwhile. DynamoDB serializes what it must; so does this.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def dynamodb_serialized() -> Iterator[None]:
    """Inside `mock_aws()`: every DynamoDB request of this process answered one at a time."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    lock = threading.Lock()

    def process_request(self: Any, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target") or b""
        if (target.decode() if isinstance(target, bytes) else target).startswith("DynamoDB_"):
            with lock:
                return original(self, request)
        return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]
