"""The warm parent's side of a call: fork a contained child, read its answer, clean up after it.

Used by the local sandbox server and by the sandbox Lambda; the API process never calls it.
Containment per call (see README, "Sandbox"):
- the child calls setsid(), so the wall-clock kill takes its whole process group;
- a scrubbed environment (os.environ and the inherited environment block in memory), a fresh
  temporary working directory (removed after), inherited file descriptors closed;
- RLIMIT_CPU, RLIMIT_AS (the parent's footprint + the memory limit), RLIMIT_FSIZE,
  RLIMIT_NOFILE, RLIMIT_CORE=0 and RLIMIT_NPROC;
- the parent is made non-dumpable, so the child cannot read /proc/<parent>/environ or /mem;
- when the parent runs as root, each call runs under its own unprivileged uid, which makes
  RLIMIT_NPROC bite, keeps the child out of root-owned files, and lets the parent kill every
  process the call left behind (even one that left the process group) and remove the files it
  left in the shared temporary directories.
"""
from __future__ import annotations

import ctypes
import math
import os
import queue
import resource
import select
import shutil
import signal
import tempfile
import threading
import time
from typing import Any

from chalicelib.sandbox import child
from chalicelib.sandbox.wire import HEADER_SLACK, Limits, encode_frame, failure, frame_complete

PR_SET_DUMPABLE = 4
UID_BASE = 2_000_000  # well above any uid a distribution hands out
UID_SLOTS = 1024  # per warm parent; parents are told apart by pid, so their uids never meet
SHARED_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_OPEN_FILES = 256

_prepared = False
_prepare_lock = threading.Lock()
_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()
_baseline_tasks = 0
_environment_block = (0, 0)


def prepare() -> None:
    """Once per warm parent: import what calls need, protect the parent, freeze the heap."""
    global _prepared, _baseline_tasks, _environment_block
    with _prepare_lock:
        if _prepared:
            return
        import flask  # noqa: F401 - imported once here so that no call pays for it
        import werkzeug.test  # noqa: F401
        import werkzeug.wrappers  # noqa: F401

        _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        _environment_block = (int(fields[47]), int(fields[48]))  # env_start, env_end
        if os.geteuid() != 0:
            _baseline_tasks = _count_own_tasks()
        import gc

        gc.freeze()  # forked children then share the warm heap instead of copying it
        _prepared = True


def execute(call: dict[str, Any], body: bytes, limits: Limits, *,
            clean_up_later: bool = False) -> bytes:
    """Run one call in a forked child and answer a frame (always; failures are frames too).

    The answer is returned as soon as it is read; with `clean_up_later` the kill, reap and
    sweep run on a background thread (the server does this; the Lambda cleans up at once,
    since a frozen Lambda would not run the thread).
    """
    prepare()
    limits = limits.resolved()
    uid = _take_uid() if os.geteuid() == 0 else None
    workdir = tempfile.mkdtemp(prefix="taskport-call-")
    pid: int | None = None
    try:
        if uid is not None:
            os.chown(workdir, uid, uid)
        read_fd, write_fd = os.pipe()
        try:
            vsz = _virtual_size()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, which never returns
                os.close(read_fd)
                _run_child(write_fd, call, body, limits, workdir, uid, vsz)
            os.close(write_fd)
            write_fd = -1
            return _read_answer(pid, read_fd, limits)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
    finally:
        if clean_up_later:
            _cleaner().put((pid, uid, workdir))
        else:
            _clean_up(pid, uid, workdir)


def _clean_up(pid: int | None, uid: int | None, workdir: str) -> None:
    """Kill what the call left running, reap it, remove its files, free its uid."""
    if pid is not None:
        _kill(pid)  # the child is not reaped yet, so its pid (and group id) is still ours
        _reap(pid)
    if uid is not None:
        _sweep_uid(uid)
    shutil.rmtree(workdir, ignore_errors=True)
    if uid is not None:
        with _uid_lock:
            _uids_in_use.discard(uid)


_cleanup_queue: queue.Queue[tuple[int | None, int | None, str]] | None = None


def _cleaner() -> queue.Queue[tuple[int | None, int | None, str]]:
    global _cleanup_queue
    with _prepare_lock:
        if _cleanup_queue is None:
            _cleanup_queue = queue.Queue()
            threading.Thread(target=_clean_up_forever, args=(_cleanup_queue,), daemon=True,
                             name="sandbox-cleaner").start()
    return _cleanup_queue


def _clean_up_forever(jobs: queue.Queue[tuple[int | None, int | None, str]]) -> None:
    while True:
        pid, uid, workdir = jobs.get()
        try:
            _clean_up(pid, uid, workdir)
        except Exception:  # noqa: BLE001 - the cleaner must outlive one bad job
            import logging

            logging.getLogger("taskport").exception("sandbox clean-up failed")


def _read_answer(pid: int, read_fd: int, limits: Limits) -> bytes:
    assert limits.wall_seconds is not None and limits.output_bytes is not None
    deadline = time.monotonic() + limits.wall_seconds
    cap = limits.output_bytes + HEADER_SLACK
    buffer = bytearray()
    poller = select.poll()
    poller.register(read_fd, select.POLLIN | select.POLLHUP)
    try:
        pidfd: int | None = os.pidfd_open(pid)
        poller.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):
        pidfd = None
    exited = False
    eof = False
    try:
        while not frame_complete(buffer):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill(pid)
                return encode_frame(failure("timeout", f"the call ran longer than "
                                                       f"{limits.wall_seconds:g} s and was killed"))
            slice_ms = remaining * 1000 if pidfd is not None else min(remaining * 1000, 10)
            for fd, _ in poller.poll(math.ceil(slice_ms)):
                if fd == read_fd:
                    chunk = os.read(read_fd, 1 << 20)
                    if chunk:
                        buffer += chunk
                    else:
                        eof = True
                        poller.unregister(read_fd)
                elif fd == pidfd:
                    exited = True
            if len(buffer) > cap:
                _kill(pid)
                return encode_frame(failure("too_large", f"the answer is over the limit of "
                                                         f"{limits.output_bytes} bytes"))
            if pidfd is None and _has_exited(pid):
                exited = True
            if exited or eof:
                if exited and not eof:
                    buffer += _drain(read_fd, cap + 1 - len(buffer))
                if frame_complete(buffer) or exited:
                    break
        if frame_complete(buffer):
            return bytes(buffer)
        return encode_frame(_death_notice(pid, limits))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _drain(read_fd: int, most: int) -> bytes:
    os.set_blocking(read_fd, False)
    out = bytearray()
    while len(out) < most:
        try:
            chunk = os.read(read_fd, 1 << 20)
        except BlockingIOError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _has_exited(pid: int) -> bool:
    try:
        waited, _ = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) or (0, 0)
    except ChildProcessError:
        return True
    return bool(waited)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _death_notice(pid: int, limits: Limits) -> dict[str, Any]:
    """Why a child ended without a whole answer (waited for, not reaped: its pid stays ours)."""
    _kill(pid)  # the rest of its group may still run
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        info = None
    if info is None:
        return failure("crashed", "the call ended without answering")
    if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        sig = info.si_status
        if sig == signal.SIGXCPU:
            return failure("timeout", f"the call used more than {limits.cpu_seconds:g} s of CPU "
                                      "and was killed")
        return failure("crashed", f"the call was killed by signal {signal.Signals(sig).name} "
                                  "without answering")
    return failure("crashed", f"the call exited with status {info.si_status} without answering")


def _run_child(write_fd: int, call: dict[str, Any], body: bytes, limits: Limits, workdir: str,
               uid: int | None, vsz: int) -> None:  # pragma: no cover - child process
    code = 0
    try:
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-size writes fail with EFBIG instead
        _isolate_fds(write_fd)
        _scrub_environment(workdir)
        os.chdir(workdir)
        _set_limits(limits, vsz, uid)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        header, answer = child.answer(call, body, int(limits.output_bytes or 0))
        _write_all(3, encode_frame(header, answer))
    except BaseException as exc:  # noqa: BLE001 - the child must always end here
        try:
            _write_all(3, encode_frame(failure("crashed", f"the sandbox failed: "
                                                          f"{type(exc).__name__}: {exc}")))
        except BaseException:  # noqa: BLE001
            code = 70
    finally:
        os._exit(code)


def _isolate_fds(write_fd: int) -> None:  # pragma: no cover - child process
    if write_fd != 3:
        os.dup2(write_fd, 3)
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 3:
            try:
                os.close(int(name))
            except OSError:
                pass
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 3:
        os.close(null)
    import io
    import sys

    # Fresh objects: the inherited ones may hold locks taken by another thread of the parent.
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)


def _scrub_environment(workdir: str) -> None:  # pragma: no cover - child process
    os.environ.clear()
    os.environ.update({"PATH": CHILD_PATH, "HOME": workdir, "TMPDIR": workdir,
                       "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"})
    # /proc/self/environ shows the block the parent was started with, inherited by fork;
    # overwrite it so that nothing from the parent's environment can be read back.
    env_start, env_end = _environment_block
    if env_end > env_start:
        ctypes.memset(env_start, 0, env_end - env_start)


def _set_limits(limits: Limits, vsz: int, uid: int | None) -> None:  # pragma: no cover - child
    cpu = max(1, math.ceil(limits.cpu_seconds or 1))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = vsz + int(limits.memory_bytes or 0)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    files = int(limits.file_bytes or 0)
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    processes = int(limits.processes or 1)
    if uid is None:
        # Without a uid of its own the count is shared with the parent's user: allow for it.
        processes += _baseline_tasks + threading.active_count()
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def _write_all(fd: int, data: bytes) -> None:  # pragma: no cover - child process
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[written:]


def _take_uid() -> int:
    base = UID_BASE + ((os.getpid() % (1 << 21)) << 10)
    with _uid_lock:
        for slot in range(UID_SLOTS):
            uid = base + slot
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid
    raise RuntimeError("every sandbox uid is in use")


def _sweep_uid(uid: int) -> None:
    """Kill every process of the call's uid (even ones that left its group) and its tmp files."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        code = 0
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal, except this one
        except ProcessLookupError:
            pass
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.waitpid(pid, 0)
    for root in SHARED_TMP_DIRS:
        try:
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


def _virtual_size() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _count_own_tasks() -> int:
    """Processes and threads of this user: RLIMIT_NPROC counts them all."""
    uid = os.getuid()
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid == uid:
                with open(f"/proc/{name}/status", "rb") as status:
                    for line in status:
                        if line.startswith(b"Threads:"):
                            total += int(line.split()[1])
                            break
        except (OSError, ValueError):
            continue
    return total


_libc_handle: Any = None


def _libc() -> Any:
    global _libc_handle
    if _libc_handle is None:
        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


