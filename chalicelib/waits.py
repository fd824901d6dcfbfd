"""Waiting requests (block=true, streams, file waits) per caller: at most a few at once each.

A wait holds a server thread (locally) or a Lambda (on AWS) and polls DynamoDB for up to the
block wait: twenty of them from one caller over tasks that never end used to slow every other
account's calls. A caller is an account when the request presents credentials, else the source
address, since a task key alone (a capability) must not buy unbounded waiting. The count is per
process: on Lambda each invocation is a process of its own, and the function's reserved
concurrency is the bound across them (docs/hardening.md).
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from chalicelib.config import get_settings
from chalicelib.errors import TooManyRequests

_held: dict[str, int] = {}
_lock = threading.Lock()


@contextlib.contextmanager
def waiting(caller: str) -> Iterator[None]:
    """Hold one of the caller's wait slots for the block; TooManyRequests when none is free."""
    most = get_settings().max_waits_per_caller
    with _lock:
        if _held.get(caller, 0) >= most:
            raise TooManyRequests(f"at most {most} blocking or streaming requests at once; "
                                  f"wait for one to end", retry_after=1)
        _held[caller] = _held.get(caller, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _held[caller] -= 1
            if not _held[caller]:
                del _held[caller]
