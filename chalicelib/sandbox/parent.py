"""The warm parent's side of a call: hand it to a contained child, read its answer, clean up.

Used by the local sandbox server and by the sandbox Lambda; the API process never calls it.
Each call gets a child of its own, forked ahead of time ("spare") and set up while it waits on
a pipe for its one call; the parent keeps POOL_SIZE of them ready and forks each replacement,
kills, reaps and sweeps after the answer is sent. Containment per call (see README, "Sandbox"):
- the child calls setsid(), so the wall-clock kill takes its whole process group;
- a scrubbed environment (os.environ and the inherited environment block in memory), a fresh
  temporary working directory (removed after), inherited file descriptors closed;
- RLIMIT_NOFILE and RLIMIT_CORE=0 while it waits; once the call is read RLIMIT_CPU,
  RLIMIT_AS (the child's footprint + the memory limit), RLIMIT_FSIZE and RLIMIT_NPROC;
- the parent is made non-dumpable, so the child cannot read /proc/<parent>/environ or /mem;
- when the parent runs as root, each call runs under its own unprivileged uid, which makes
  RLIMIT_NPROC bite, keeps the child out of root-owned files, and lets the parent kill every
  process the call left behind (even one that left the process group) and remove the files it
  left in the shared temporary directories.
"""
from __future__ import annotations

import atexit
import collections
import ctypes
import errno
import functools
import logging
import math
import os
import queue
import select
import shutil
import signal
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from chalicelib.sandbox import bundles, isolation, uids, zygote
from chalicelib.sandbox.errors import Crashed
from chalicelib.sandbox.spare import READY, SETUP, TAKEN, write_all
from chalicelib.sandbox.spare import run as run_spare
from chalicelib.sandbox.wire import (HEADER_SLACK, Limits, decode_frame, encode_frame, failure,
                                     frame_complete)

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
ORPHAN_SWEEPS = 10  # rounds of killing reparented strays (each round kills what the last freed)
POOL_SIZE = 2  # spares kept ready per warm parent
HANDOVER_ATTEMPTS = POOL_SIZE + 2  # spares tried for one call, each having died before taking it
SPARE_SETUP_SECONDS = 10
SYS_WAITID = {"x86_64": 247, "aarch64": 95}
SIGINFO_BYTES = 128  # siginfo_t; si_code at offset 8, si_status at 24 (both 64-bit ABIs)
RUSAGE_BYTES = 144  # struct rusage: two timevals, then ru_maxrss (KiB) and 13 more longs
CPUCLOCK_SCHED = 2  # a process CPU clock id is ((~pid) << 3) | CPUCLOCK_SCHED
CPUS = os.cpu_count() or 1
CPU_CHECK_SECONDS = 0.01  # at least this long between two reads of a call's CPU clock
_prepared = False
_prepare_lock = threading.Lock()
_baseline_tasks = 0


def prepare() -> None:
    """Once per warm parent: import what calls need, protect the parent, freeze the heap."""
    global _prepared, _baseline_tasks
    with _prepare_lock:
        if _prepared:
            return
        import flask  # noqa: F401 - imported once here so that no call pays for it
        import werkzeug.test  # noqa: F401
        import werkzeug.wrappers  # noqa: F401

        _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        SETUP.environment_block = (int(fields[47]), int(fields[48]))  # env_start, env_end
        _choose_isolation()
        isolation.prepare_seccomp()
        if os.geteuid() != 0:
            # Without a uid per call, this is how a call's processes that left its group are
            # found: orphans are reparented here instead of to init, and killed after the call.
            _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        import gc

        gc.freeze()  # forked children then share the warm heap instead of copying it
        zygote.start()
        if os.geteuid() != 0:
            _baseline_tasks = _count_own_tasks()  # the zygote included
        _prepared = True
    _nursery()  # start forking spares now, before the first call


def _choose_isolation() -> None:
    from chalicelib.config import get_settings

    SETUP.private_tmp_bytes = get_settings().sandbox_file_bytes
    if isolation.namespaces_available():
        SETUP.isolation = "namespaces"
        SETUP.hidden = isolation.hidden_roots(isolation.interpreter_paths())
        # Made now, before any spare: a bundle cache configured under a temporary directory is
        # bound read-only into each call's fresh /tmp (the default lives outside them), and so
        # is an interpreter, virtualenv or checkout there (a clone in /tmp: a call importing
        # Pillow found no module, its site-packages hidden by the call's own /tmp).
        SETUP.shared_dirs = (str(bundles.cache_root()),
                             *isolation.under_private_tmp(isolation.interpreter_paths()))
    elif os.geteuid() == 0 and isolation.hidden_roots(isolation.interpreter_paths()):
        # A uid of its own and no mount namespace: the call could not read the interpreter.
        logging.getLogger("taskport").error(
            "the sandbox runs as root without the right to unshare (CAP_SYS_ADMIN), and the "
            "interpreter lives where the calls' uids cannot read it (%s): handlers will fail to "
            "import the standard library; install Python under a readable prefix",
            ", ".join(isolation.hidden_roots(isolation.interpreter_paths())))


def isolation_mode() -> str:
    """How calls are contained: "namespaces" (root) or "seccomp" (unprivileged)."""
    prepare()
    return SETUP.isolation


def execute(call: dict[str, Any], body: bytes,
            limits: Limits) -> tuple[bytes, Callable[[], None]]:
    """Run one call in a contained child: its answer frame (failures are frames too), and the
    clean-up to run once that answer is on its way.

    The child is a spare forked and set up ahead of time (see _Nursery); it gets the call
    through a pipe. The clean-up kills what the call left in its group, reaps the child,
    removes its directory and orders a replacement: the server hands it to a background thread
    after sending the answer (clean_up_later), so that no fork competes with the sending; the
    Lambda runs it at once, since a frozen Lambda would not run the thread.
    """
    prepare()
    if call.get("kind") == bundles.KIND:  # unpacked here, once per bundle, before any child
        staged = bundles.stage(call, body)
        if isinstance(staged, dict):
            return encode_frame(staged), lambda: None
        call, body = staged
    limits = limits.resolved()
    call = {**call, "log_bytes": limits.log_bytes}  # the capture cap, as capped here
    for attempt in range(HANDOVER_ATTEMPTS):
        spare = _nursery().take()
        answer, untaken = _hand_over(spare, call, body, limits)
        if untaken and attempt + 1 < HANDOVER_ATTEMPTS:
            # The spare died before it took the call: a call sharing its uid killed it, and it
            # had not run since, so the kill could not yet be seen (the kernel may even have
            # read the call into it). Nothing of this call ran: it goes to another spare.
            _clean_up(spare)
            continue
        return answer, functools.partial(_clean_up, spare)
    raise AssertionError("unreachable")  # the last attempt always returns


def _hand_over(spare: _Spare, call: dict[str, Any], body: bytes,
               limits: Limits) -> tuple[bytes, bool]:
    """Write the call to a spare and read its answer; and whether the spare ended before it
    took the call (then nothing of the call ran)."""
    spare.handed_at = time.time()
    try:
        # Sharing the parent's uid, the child's RLIMIT_NPROC must allow for the user's tasks.
        tasks = 0 if spare.uid is not None else (
            _baseline_tasks + threading.active_count() + POOL_SIZE)
        frame = encode_frame({"call": call, "limits": limits.as_dict(), "tasks": tasks,
                              "body_length": len(body)}, body)
        baseline = _baseline(spare.pid)  # before the call is written: it may be done at once
        try:
            write_all(spare.call_fd, frame)
        except OSError:
            pass  # the spare is gone: _read_answer tells why
        finally:
            os.close(spare.call_fd)
        answer, taken = _read_answer(spare.pid, spare.answer_fd, limits, baseline)
    except BaseException:
        os.close(spare.answer_fd)
        _clean_up(spare)
        raise
    os.close(spare.answer_fd)
    return answer, not taken


def clean_up_later(clean_up: Callable[[], None]) -> None:
    """Run a call's clean-up on the background cleaner thread."""
    _cleaner().put(clean_up)


_Used = tuple[int, float]  # a used uid and when its call began


@dataclass
class _Spare:
    """A child forked ahead of a call, set up and waiting on `call_fd` for it."""

    pid: int
    uid: int | None
    workdir: str
    call_fd: int
    answer_fd: int
    handed_at: float = 0.0  # wall-clock time the call was handed over (0: never)


class _SpareDied(Exception):
    """A spare ended before it was ready."""


class _Nursery:
    """Keeps POOL_SIZE spares ready, forking each replacement off the calls' path.

    The replacement for a finished call also sweeps that call's uid before it takes a fresh
    one, so no fork is spent on sweeping and a uid is reused only once swept.
    """

    def __init__(self) -> None:
        self._ready: collections.deque[_Spare] = collections.deque()
        self._lock = threading.Lock()
        self._jobs: queue.Queue[_Used | None] = queue.Queue()
        for _ in range(POOL_SIZE):
            self._jobs.put(None)
        threading.Thread(target=self._hatch_forever, daemon=True, name="sandbox-nursery").start()

    def take(self) -> _Spare:
        """A ready spare; one forked now when none is (a burst beyond the pool)."""
        while True:
            with self._lock:
                spare = self._ready.popleft() if self._ready else None
            if spare is None:
                return _hatch(None)
            if spare.uid is None:
                # Sharing the parent's uid, an earlier call could signal the spare: wake it
                # if stopped, and pass over it if killed.
                try:
                    os.kill(spare.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
                if _has_exited(spare.pid):
                    os.close(spare.call_fd)
                    os.close(spare.answer_fd)
                    _clean_up(spare)
                    continue
            return spare

    def replace(self, used: _Used | None) -> None:
        """A spare was used: fork its replacement, which sweeps the used uid first."""
        self._jobs.put(used)

    def _hatch_forever(self) -> None:
        while True:
            dirty = self._jobs.get()
            try:
                with self._lock:
                    full = len(self._ready) >= POOL_SIZE
                if full:
                    if dirty is not None:  # bursts made extra spares: sweep without one more
                        _sweep_uid(*dirty)
                        uids.release(dirty[0])
                    continue
                spare = _hatch(dirty)
                with self._lock:
                    self._ready.append(spare)
            except Exception:  # noqa: BLE001 - the nursery must outlive one failed fork
                if _exiting:
                    return  # the interpreter is exiting and removed the spares' directories
                logging.getLogger("taskport").exception("could not fork a sandbox spare")
                time.sleep(0.5)
                self._jobs.put(dirty)


_nursery_instance: _Nursery | None = None


def _nursery() -> _Nursery:
    global _nursery_instance
    with _prepare_lock:
        if _nursery_instance is None:
            _nursery_instance = _Nursery()
    return _nursery_instance


_workdirs_lock = threading.Lock()
_live_workdirs: set[str] = set()
_workdirs_root: str | None = None


def live_workdirs() -> set[str]:
    """Working directories of spares and running calls, and the directory that holds them
    (the Lambda's /tmp clean-up keeps them)."""
    with _workdirs_lock:
        return set(_live_workdirs) | ({_workdirs_root} if _workdirs_root else set())


_exiting = False


def _remove_workdirs_root(root: str) -> None:
    global _exiting
    _exiting = True  # a spare being hatched now fails: that is no fault to log
    shutil.rmtree(root, True)


def _make_workdir(uid: int | None) -> str:
    global _workdirs_root
    with _workdirs_lock:
        if _workdirs_root is None:
            # One directory per parent, so that making and removing working directories leaves
            # the shared /tmp untouched (see _remove_files_of); a call may enter its own
            # directory in it but list none.
            _workdirs_root = tempfile.mkdtemp(prefix="taskport-sandbox-")
            os.chmod(_workdirs_root, 0o711)
            atexit.register(_remove_workdirs_root, _workdirs_root)
        workdir = tempfile.mkdtemp(prefix="call-", dir=_workdirs_root)
        _live_workdirs.add(workdir)
    if uid is not None:
        os.chown(workdir, uid, uid)
    return workdir


def _remove_workdir(workdir: str) -> None:
    try:
        os.rmdir(workdir)  # most calls leave their directory empty: one system call
    except OSError:
        shutil.rmtree(workdir, ignore_errors=True)
    with _workdirs_lock:
        _live_workdirs.discard(workdir)


def _hatch(dirty: _Used | None) -> _Spare:
    """Fork a spare and wait until it is set up; it kills what a used uid left running, and
    once it is ready that uid's files are removed here and the uid is free again."""
    dirty_uid = dirty[0] if dirty is not None else None
    uid = uids.take() if os.geteuid() == 0 else None
    workdir = _make_workdir(uid)
    call_read, call_write = os.pipe()
    answer_read, answer_write = os.pipe()
    try:
        with _spares_lock:  # so that no orphan sweep takes the new spare for a stray
            pid = _fork_spare(call_read, call_write, answer_read, answer_write, workdir, uid,
                              dirty_uid)
            _spare_pids.add(pid)
    except BaseException:
        for fd in (call_read, call_write, answer_read, answer_write):
            os.close(fd)
        _remove_workdir(workdir)
        if uid is not None:
            uids.release(uid)
        raise
    os.close(call_read)
    os.close(answer_write)
    spare = _Spare(pid, uid, workdir, call_write, answer_read)
    not_ready = _wait_ready(spare)
    if not_ready is not None:
        os.close(call_write)
        os.close(answer_read)
        _clean_up(spare, replace=False)
        raise _SpareDied(f"sandbox spare {pid} ended before it was ready{not_ready}")
    if dirty is not None:
        _remove_files_of(*dirty)
        uids.release(dirty[0])
    return spare


def _fork_spare(call_read: int, call_write: int, answer_read: int, answer_write: int,
                workdir: str, uid: int | None, dirty_uid: int | None) -> int:
    """Start a child running spare.run; its pid. The zygote forks it when there is one."""
    running = zygote.current()
    if running is not None:
        try:
            return running.fork_spare(call_read, answer_write, workdir, uid, dirty_uid)
        except zygote.ZygoteGone:
            logging.getLogger("taskport").warning(
                "the sandbox zygote is gone; spares are forked from the serving process")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        os.close(call_write)
        os.close(answer_read)
        run_spare(call_read, answer_write, workdir, uid, dirty_uid)
    return pid


def _wait_ready(spare: _Spare) -> str | None:
    """None once the spare says READY; else why not, as the end of a sentence (a spare whose
    set-up failed writes a failure frame instead, and its standard streams lead nowhere)."""
    poller = select.poll()
    poller.register(spare.answer_fd, select.POLLIN | select.POLLHUP)
    if not poller.poll(SPARE_SETUP_SECONDS * 1000):
        return f" (not ready within {SPARE_SETUP_SECONDS} s)"
    try:
        said = os.read(spare.answer_fd, len(READY))
        if said == READY:
            return None
        said += _drain(spare.answer_fd, 1 << 12)
    except OSError as exc:
        return f" ({exc})"
    try:
        message = decode_frame(said)[0].get("message") if frame_complete(said) else None
    except Exception:  # noqa: BLE001 - a garbled frame says nothing more
        message = None
    return f": {message}" if isinstance(message, str) and message else ""


def _clean_up(spare: _Spare, replace: bool = True) -> None:
    """Kill what the call left in its group, reap it, remove its directory; order a new spare."""
    _kill(spare.pid)  # the child is not reaped yet, so its pid (and group id) is still ours
    _reap(spare.pid)
    with _spares_lock:
        _spare_pids.discard(spare.pid)
    if spare.uid is None:
        _kill_orphans()
    _remove_workdir(spare.workdir)
    if replace:
        _nursery().replace((spare.uid, spare.handed_at) if spare.uid is not None else None)
    elif spare.uid is not None:
        _sweep_uid(spare.uid, spare.handed_at)
        uids.release(spare.uid)


_spares_lock = threading.Lock()
_spare_pids: set[int] = set()  # spares forked and not yet reaped: this process's own children


def _kill_orphans() -> None:
    """Unprivileged: kill and reap every child of this process that is neither the zygote nor
    a spare, i.e. a call's process whose parent died (this process is their subreaper)."""
    for _ in range(ORPHAN_SWEEPS):
        running = zygote.current()
        with _spares_lock:
            known = set(_spare_pids) | ({running.pid} if running is not None else set())
        strays = [pid for pid in _own_children() if pid not in known]
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in strays:
            _reap(pid)


def _own_children() -> list[int]:
    pids: list[int] = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children", "rb") as children:
                pids.extend(int(pid) for pid in children.read().split())
    except (OSError, ValueError):
        pass  # a thread ended meanwhile: the next round looks again
    return pids


_cleanup_queue: queue.Queue[Callable[[], None]] | None = None


def _cleaner() -> queue.Queue[Callable[[], None]]:
    global _cleanup_queue
    with _prepare_lock:
        if _cleanup_queue is None:
            _cleanup_queue = queue.Queue()
            threading.Thread(target=_clean_up_forever, args=(_cleanup_queue,), daemon=True,
                             name="sandbox-cleaner").start()
    return _cleanup_queue


def _clean_up_forever(jobs: queue.Queue[Callable[[], None]]) -> None:
    while True:
        clean_up = jobs.get()
        try:
            clean_up()
        except Exception:  # noqa: BLE001 - the cleaner must outlive one bad job
            logging.getLogger("taskport").exception("sandbox clean-up failed")


_Baseline = tuple[float, float]  # when a call was handed over, and the CPU its spare had used


def _baseline(pid: int) -> _Baseline:
    """Now, and the CPU a waiting spare has used (its set-up, not part of the call)."""
    return time.monotonic(), _cpu_seconds(pid)


def _read_answer(pid: int, read_fd: int, limits: Limits,
                 baseline: _Baseline) -> tuple[bytes, bool]:
    """The child's answer frame (or a failure frame) with the call's "usage" added: duration
    from this process's clock, CPU and peak memory from the kernel's account of the exited
    child, never from the child's own word; and whether the child took the call (False: it
    ended before, and nothing of the call ran). The child is left unreaped, so its pid stays
    ours."""
    started, cpu_before = baseline
    frame, failed, taken = _await_frame(pid, read_fd, limits, cpu_before)
    duration_ms = (time.monotonic() - started) * 1000
    # A child that answered is read while it still runs: waiting for its exit (the teardown of
    # its address space) cost 2.4 ms of a 7 ms call here. One that failed is waited for.
    usage = _usage_now(pid) if failed is None and frame_complete(frame) else None
    exit_info = None
    if usage is None:
        _kill(pid)  # it has failed, or is exiting: nothing it still runs can add to the answer
        exit_info, usage = _wait_for_exit(pid)
    header: dict[str, Any]
    body = b""
    if failed is not None:
        header = failed
    elif frame_complete(frame):
        try:
            header, body = decode_frame(frame)
        except Crashed as exc:
            header = failure("crashed", exc.message)
        length = header.get("body_length", 0)
        if not isinstance(length, int) or not 0 <= length <= len(body):
            header, body = failure("crashed", "the sandbox answer is malformed"), b""
        body = body[:length]
    else:
        header = _death_notice(exit_info, limits)
    cpu_seconds, max_rss_bytes = usage if usage is not None else (cpu_before, 0)
    header["usage"] = {"duration_ms": duration_ms, "max_rss_bytes": max_rss_bytes,
                       "cpu_ms": max(0.0, (cpu_seconds - cpu_before) * 1000)}
    header["body_length"] = len(body)
    return encode_frame(header, body), taken or failed is not None or frame_complete(frame)


def _await_frame(pid: int, read_fd: int, limits: Limits,
                 cpu_before: float) -> tuple[bytes, dict[str, Any] | None, bool]:
    """What the child wrote until a whole frame, its exit, or a limit; with the failure header
    when a limit (wall clock, CPU, answer size) ended the call, and whether it said TAKEN.

    The CPU limit is kept here, from the child's CPU clock: RLIMIT_CPU counts whole seconds
    from the child's start (its set-up included), so alone it let a 1 s call run for up to 2 s.
    A process with n threads spends at most n CPU seconds per second, so the clock is first read
    once the budget could be spent on every CPU: a short call never reads it."""
    assert limits.wall_seconds is not None and limits.output_bytes is not None
    deadline = time.monotonic() + limits.wall_seconds
    cpu_end = cpu_before + limits.cpu_seconds if limits.cpu_seconds else math.inf
    cpu_check = time.monotonic() + (cpu_end - cpu_before) / CPUS
    cap = limits.output_bytes + HEADER_SLACK + 2 * int(limits.log_bytes or 0)
    buffer = bytearray()
    taken = False
    poller = select.poll()
    poller.register(read_fd, select.POLLIN | select.POLLHUP)
    pidfd: int | None = None
    try:
        opened = os.pidfd_open(pid)
        poller.register(opened, select.POLLIN)
        pidfd = opened
    except (AttributeError, OSError):
        pass
    exited = False
    eof = False
    try:
        while not frame_complete(buffer):
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                return b"", failure("timeout", f"the call ran longer than "
                                               f"{limits.wall_seconds:g} s and was killed"), taken
            if now >= cpu_check:
                cpu_left = cpu_end - _cpu_seconds(pid)
                if cpu_left <= 0:
                    return b"", failure("timeout", f"the call used more than "
                                                   f"{limits.cpu_seconds:g} s of CPU and was "
                                                   "killed"), taken
                cpu_check = now + max(cpu_left / CPUS, CPU_CHECK_SECONDS)
            remaining = min(remaining, max(cpu_check - now, 0))
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
            if pidfd is None and _has_exited(pid):
                exited = True
            if exited and not eof:
                buffer += _drain(read_fd, cap + 1 - len(buffer))
            if not taken and buffer[:1] == TAKEN:  # a frame starts with a zero byte
                del buffer[:1]
                taken = True
            if len(buffer) > cap:
                return b"", failure("too_large", f"the answer is over the limit of "
                                                 f"{limits.output_bytes} bytes"), taken
            if exited or (eof and frame_complete(buffer)):
                break
        return bytes(buffer), None, taken
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
        # None while it runs; a five-field waitid_result once it has exited (left unreaped).
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


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


def _cpu_seconds(pid: int) -> float:
    """User+system CPU a live process has used so far (its process CPU clock); 0 if unknown."""
    try:
        return time.clock_gettime(((~pid) << 3) | CPUCLOCK_SCHED)
    except OSError:
        return 0.0


_Usage = tuple[float, int]  # CPU seconds (user+system, with the children it reaped), peak RSS


def _usage_now(pid: int) -> _Usage | None:
    """CPU (its own, to the nanosecond, and that of the children it reaped) and peak RSS of a
    child that has not exited yet; None once it is exiting (its memory is gone)."""
    try:
        cpu = time.clock_gettime(((~pid) << 3) | CPUCLOCK_SCHED)
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/status", "rb") as status:
            peak = next((line for line in status if line.startswith(b"VmHWM:")), None)
        if peak is None:
            return None
        children = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
        return cpu + children, int(peak.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None


_ExitInfo = tuple[int, int]  # waitid's si_code and si_status


def _wait_for_exit(pid: int) -> tuple[_ExitInfo | None, _Usage | None]:
    """Wait for a (killed) child to exit, leaving it unreaped; how it ended and its rusage.

    waitid(2) fills a rusage even with WNOWAIT, which the C library's waitid and os.waitid do
    not pass on: the raw system call, where its number is known."""
    number = SYS_WAITID.get(os.uname().machine)
    if number is None:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return None, None
        return ((info.si_code, info.si_status) if info is not None else None), None
    siginfo = ctypes.create_string_buffer(SIGINFO_BYTES)
    usage = ctypes.create_string_buffer(RUSAGE_BYTES)
    syscall = _libc().syscall
    syscall.restype = ctypes.c_long
    while True:
        done = syscall(ctypes.c_long(number), ctypes.c_long(os.P_PID), ctypes.c_long(pid),
                       siginfo, ctypes.c_long(os.WEXITED | os.WNOWAIT), usage)
        if done == 0:
            break
        if ctypes.get_errno() != errno.EINTR:
            return None, None
    code, status = struct.unpack_from("=i", siginfo.raw, 8)[0], \
        struct.unpack_from("=i", siginfo.raw, 24)[0]
    user_s, user_us, system_s, system_us, max_rss_kib = struct.unpack_from("=5q", usage.raw, 0)
    cpu = user_s + system_s + (user_us + system_us) / 1e6
    return (code, status), (cpu, max_rss_kib * 1024)


def _death_notice(exit_info: _ExitInfo | None, limits: Limits) -> dict[str, Any]:
    """Why a child ended without a whole answer."""
    if exit_info is None:
        return failure("crashed", "the call ended without answering")
    code, status = exit_info
    if code in (os.CLD_KILLED, os.CLD_DUMPED):
        if status == signal.SIGXCPU:
            return failure("timeout", f"the call used more than {limits.cpu_seconds:g} s of CPU "
                                      "and was killed")
        if status == signal.SIGKILL:
            return failure("killed", "the call was killed (SIGKILL: out of memory, or a kill) "
                                     "without answering")
        return failure("killed", f"the call was killed by signal {_signal_name(status)} "
                                 "without answering")
    return failure("crashed", f"the call exited with status {status} without answering")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _sweep_uid(uid: int, since: float) -> None:
    """Kill every process of a used uid (in the zygote, else from a short-lived child), then
    remove its files."""
    running = zygote.current()
    if running is not None:
        try:
            running.kill_processes_of(uid)
            _remove_files_of(uid, since)
            return
        except zygote.ZygoteGone:
            pass
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        code = 0
        try:
            uids.kill_processes_of(uid)
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.waitpid(pid, 0)
    _remove_files_of(uid, since)


def _remove_files_of(uid: int, since: float) -> None:
    """Remove what `uid` left in the shared temporary directories (its processes are dead)."""
    if SETUP.isolation == "namespaces":
        return  # the call had a private tmpfs on each of them, gone with its mount namespace
    uids.remove_files_of(uid, since)


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
