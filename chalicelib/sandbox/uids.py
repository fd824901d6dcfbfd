"""The uid pool of a root parent: one unprivileged uid per call, taken, swept and released.

Each call of a root parent runs under a uid of its own, so that RLIMIT_NPROC bites, root-owned
files stay out of reach, and everything the call left can be found by its uid: the next spare
forked under a used uid first kills that uid's processes (kill_processes_of, in the spare or the
zygote), and once it is ready the parent removes that uid's files from the shared temporary
directories (remove_files_of) and releases the uid. A uid is reused only once swept.
"""
from __future__ import annotations

import os
import shutil
import signal
import threading

UID_BASE = 2_000_000  # well above any uid a distribution hands out
UID_SLOTS = 1024  # per warm parent; parents are told apart by pid, so their uids never meet
SHARED_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # every world-writable one
FILE_CLOCK_MARGIN_SECONDS = 0.05  # file times lag the clock by up to one tick (<= 10 ms)
_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()
_next_slot = 0


def take() -> int:
    """A free uid of this parent's range, now in use."""
    global _next_slot
    base = UID_BASE + ((os.getpid() % (1 << 21)) << 10)
    with _uid_lock:
        # Round robin, not lowest-free: processes the sweep just killed may still be unreaped
        # zombies (reparented to init), and they count against RLIMIT_NPROC for their uid.
        for step in range(UID_SLOTS):
            uid = base + (_next_slot + step) % UID_SLOTS
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                _next_slot = (_next_slot + step + 1) % UID_SLOTS
                return uid
    raise RuntimeError("every sandbox uid is in use")


def release(uid: int) -> None:
    """The uid is free again (its processes killed and its files removed)."""
    with _uid_lock:
        _uids_in_use.discard(uid)


def kill_processes_of(uid: int) -> None:  # pragma: no cover - runs in a single-threaded child
    """Kill every process of `uid`, even ones that left the call's group (in a single-threaded
    root process: a spare, the zygote, or the short-lived child of parent._sweep_uid).

    The real and effective uid become `uid` just for the kill, so that kill(-1) reaches that
    uid's processes and nothing else; the saved uid 0 lets this process become root again.
    """
    os.setresuid(uid, uid, 0)
    try:
        os.kill(-1, signal.SIGKILL)  # every process this uid may signal, except this one
    except ProcessLookupError:
        pass
    finally:
        os.setresuid(0, 0, 0)


def remove_files_of(uid: int, since: float) -> None:
    """Remove what `uid` left in the shared temporary directories (its processes are dead).

    A directory whose entries have not changed since the call began (less a margin for the
    kernel's coarse file clock) holds nothing of it and is not read: a busy /tmp costs ms.
    """
    for root in SHARED_TMP_DIRS:
        try:
            status = os.stat(root)
            if max(status.st_mtime, status.st_ctime) < since - FILE_CLOCK_MARGIN_SECONDS:
                continue
            entries = list(os.scandir(root))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue
