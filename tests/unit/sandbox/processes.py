"""Process helpers for the sandbox tests."""
from __future__ import annotations

import time


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def wait_until_gone(pids: list[int], within: float = 5.0) -> list[int]:
    """The pids still alive after `within` seconds (clean-up after a call is asynchronous)."""
    deadline = time.monotonic() + within
    remaining = list(pids)
    while remaining and time.monotonic() < deadline:
        remaining = [pid for pid in remaining if alive(pid)]
        time.sleep(0.02)
    return remaining
