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

import array
import atexit
import collections
import ctypes
import errno
import fcntl
import functools
import logging
import math
import os
import queue
import resource
import select
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from chalicelib.sandbox import bundles, child, isolation
from chalicelib.sandbox.errors import Crashed
from chalicelib.sandbox.wire import (HEADER_SLACK, Limits, decode_frame, encode_frame, failure,
                                     frame_complete)

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
ORPHAN_SWEEPS = 10  # rounds of killing reparented strays (each round kills what the last freed)
UID_BASE = 2_000_000  # well above any uid a distribution hands out
UID_SLOTS = 1024  # per warm parent; parents are told apart by pid, so their uids never meet
SHARED_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_OPEN_FILES = 256
POOL_SIZE = 2  # spares kept ready per warm parent
HANDOVER_ATTEMPTS = POOL_SIZE + 2  # spares tried for one call, each having died before taking it
SPARE_SETUP_SECONDS = 10
READY = b"R"
TAKEN = b"T"  # a spare's first answer byte: it has the call, and will run it
FILE_CLOCK_MARGIN_SECONDS = 0.05  # file times lag the clock by up to one tick (<= 10 ms)
ANSWER_FD = 3  # in the child: the answer pipe
CALL_FD = 4  # in the child: the call pipe, closed once the call is read
CLONE_PARENT = 0x00008000
SYS_CLONE = {"x86_64": 56, "aarch64": 220}  # clone(2), whose first argument is the flags
ZYGOTE_REPLY_SECONDS = 10
ZYGOTE_WAKE_SECONDS = 0.2  # how often a stopped zygote is woken while a reply is awaited
SYS_WAITID = {"x86_64": 247, "aarch64": 95}
SIGINFO_BYTES = 128  # siginfo_t; si_code at offset 8, si_status at 24 (both 64-bit ABIs)
RUSAGE_BYTES = 144  # struct rusage: two timevals, then ru_maxrss (KiB) and 13 more longs
LINGER_SECONDS = 2  # at most, after answering (see _linger)
CPUCLOCK_SCHED = 2  # a process CPU clock id is ((~pid) << 3) | CPUCLOCK_SCHED

_prepared = False
_prepare_lock = threading.Lock()
_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()
_next_slot = 0
_baseline_tasks = 0
_environment_block = (0, 0)
_zygote: _Zygote | None = None
_set_up_by_zygote = False  # True in the zygote, and so in every spare it forks
# How the kernel contains a call (isolation.py): "namespaces" where this parent may unshare
# (root), else "seccomp"; decided once in prepare(), before the zygote is forked.
_isolation = "seccomp"
_hidden: dict[str, list[str]] = {}  # directories to expose under roots others cannot traverse
_private_tmp_bytes = 64 * 1024 * 1024
_shared_dirs: tuple[str, ...] = ()  # read-only in every call's fresh /tmp (the bundle cache)


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
        _choose_isolation()
        isolation.prepare_seccomp()
        if os.geteuid() != 0:
            # Without a uid per call, this is how a call's processes that left its group are
            # found: orphans are reparented here instead of to init, and killed after the call.
            _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        import gc

        gc.freeze()  # forked children then share the warm heap instead of copying it
        _start_zygote()
        if os.geteuid() != 0:
            _baseline_tasks = _count_own_tasks()  # the zygote included
        _prepared = True
    _nursery()  # start forking spares now, before the first call


def _choose_isolation() -> None:
    global _isolation, _hidden, _private_tmp_bytes, _shared_dirs
    from chalicelib.config import get_settings

    _private_tmp_bytes = get_settings().sandbox_file_bytes
    if isolation.namespaces_available():
        _isolation = "namespaces"
        _hidden = isolation.hidden_roots(isolation.interpreter_paths())
        # Made now, before any spare: a bundle cache configured under a temporary directory is
        # bound read-only into each call's fresh /tmp (the default lives outside them).
        _shared_dirs = (str(bundles.cache_root()),)
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
    return _isolation


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
            _write_all(spare.call_fd, frame)
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
                        _release_uid(dirty[0])
                    continue
                spare = _hatch(dirty)
                with self._lock:
                    self._ready.append(spare)
            except Exception:  # noqa: BLE001 - the nursery must outlive one failed fork
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


def _make_workdir(uid: int | None) -> str:
    global _workdirs_root
    with _workdirs_lock:
        if _workdirs_root is None:
            # One directory per parent, so that making and removing working directories leaves
            # the shared /tmp untouched (see _remove_files_of); a call may enter its own
            # directory in it but list none.
            _workdirs_root = tempfile.mkdtemp(prefix="taskport-sandbox-")
            os.chmod(_workdirs_root, 0o711)
            atexit.register(shutil.rmtree, _workdirs_root, True)
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
    uid = _take_uid() if os.geteuid() == 0 else None
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
            _release_uid(uid)
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
        _release_uid(dirty[0])
    return spare


def _fork_spare(call_read: int, call_write: int, answer_read: int, answer_write: int,
                workdir: str, uid: int | None, dirty_uid: int | None) -> int:
    """Start a child running _run_spare; its pid. The zygote forks it when there is one."""
    zygote = _zygote
    if zygote is not None:
        try:
            return zygote.fork_spare(call_read, answer_write, workdir, uid, dirty_uid)
        except _ZygoteGone:
            logging.getLogger("taskport").warning(
                "the sandbox zygote is gone; spares are forked from the serving process")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        os.close(call_write)
        os.close(answer_read)
        _run_spare(call_read, answer_write, workdir, uid, dirty_uid)
    return pid


class _ZygoteGone(Exception):
    """The zygote died or stopped answering."""


class _Zygote:
    """A single-threaded process forked from the prepared parent before any call, whose only
    work is forking spares.

    A process pays for every page it writes after a fork (the page is copied, since its child
    shares it). The serving parent writes all the time (threads, HTTP, answers), so forking
    spares from it cost it ~350 such copies per call; the zygote idles between forks and
    copies ~70. It forks with clone(CLONE_PARENT): each spare's parent is the
    serving process, which waits for it, reads its exit status and kills its group as before.
    """

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self._sock = sock
        self._sock.settimeout(ZYGOTE_WAKE_SECONDS)
        self._lock = threading.Lock()

    def fork_spare(self, call_read: int, answer_write: int, workdir: str, uid: int | None,
                   dirty_uid: int | None) -> int:
        """The pid of a new spare holding these two pipe ends (the zygote closes its copies)."""
        reply = self._ask(b"\0".join((b"fork", workdir.encode(), _text(uid), _text(dirty_uid))),
                          [call_read, answer_write])
        if not reply.isdigit():
            raise OSError(f"the sandbox zygote could not fork: {reply.decode(errors='replace')}")
        return int(reply)

    def kill_processes_of(self, uid: int) -> None:
        """Kill every process of a used uid (the zygote does it itself: no fork)."""
        reply = self._ask(b"kill\0" + _text(uid), [])
        if reply != b"0":
            raise OSError(f"the sandbox zygote could not kill uid {uid}'s processes: "
                          f"{reply.decode(errors='replace')}")

    def _ask(self, message: bytes, fds: list[int]) -> bytes:
        global _zygote
        with self._lock:
            try:
                socket.send_fds(self._sock, [message], fds)
                reply = self._reply()
            except OSError:
                reply = b""
            if not reply:
                if _zygote is self:
                    _zygote = None
                    self._sock.close()
                    try:
                        os.kill(self.pid, signal.SIGKILL)  # dead already, or hung
                    except ProcessLookupError:
                        pass
                    _reap(self.pid)
                raise _ZygoteGone()
        return reply

    def _reply(self) -> bytes:
        """The zygote's reply; b"" when it closed or did not answer in time. Without a uid of
        its own a call could have stopped the zygote (SIGSTOP): it is woken while we wait."""
        deadline = time.monotonic() + ZYGOTE_REPLY_SECONDS
        while True:
            os.kill(self.pid, signal.SIGCONT)
            try:
                return self._sock.recv(256)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    return b""


def _text(number: int | None) -> bytes:
    return b"" if number is None else b"%d" % number


def _start_zygote() -> None:
    """Fork the zygote (where clone's arguments are known); without it spares are forked here."""
    global _zygote
    if os.uname().machine not in SYS_CLONE:
        return
    parent_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the zygote, which never returns
        code = 0
        try:
            parent_end.close()
            _serve_as_zygote(zygote_end)
        except BaseException:  # noqa: BLE001 - the parent sees the socket close
            code = 1
        finally:
            os._exit(code)
    zygote_end.close()
    _zygote = _Zygote(pid, parent_end)


def _serve_as_zygote(sock: socket.socket) -> None:  # pragma: no cover - runs in the zygote
    """Fork a spare for each request until the parent goes away (end of stream).

    Every page this loop writes is copied again after each fork (the new spare shares it), so
    it is kept to few objects: everything is bound once and the request is plain text.
    """
    global _set_up_by_zygote
    # At once: the set-up below (namespaces) takes a while, and a Ctrl-C meant for the parent's
    # terminal group during it would end the zygote. _set_up_process resets it; it is set again.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_up_process()  # once for every spare: no other thread can hold a lock here
    if _isolation == "namespaces":
        # Once for every spare: each spare's mount namespace is a copy of this one, and they
        # share this network namespace (only a loopback, down); no call can make a socket in it.
        isolation.unshare(isolation.CLONE_NEWNS | isolation.CLONE_NEWNET)
        isolation.shared_view(_hidden)
    _set_up_by_zygote = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal: the parent stops us
    clone = _clone_with_our_parent()
    recvmsg, send, close = sock.recvmsg, sock.send, os.close
    ancillary_size = socket.CMSG_SPACE(2 * 4)
    while True:
        message, ancillary, _, _ = recvmsg(1 << 16, ancillary_size)
        if not message:
            return
        fds = array.array("i")
        for _, _, data in ancillary:  # SCM_RIGHTS: descriptors as C ints
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        try:
            request, *fields = message.decode().split("\0")
            if request == "kill" and not fds:
                _kill_processes_of(int(fields[0]))
                reply = b"0"
            elif request == "fork" and len(fds) == 2:
                workdir, uid, dirty_uid = fields
                pid = clone()
                if pid == 0:
                    sock.close()
                    _run_spare(fds[0], fds[1], workdir, int(uid) if uid else None,
                               int(dirty_uid) if dirty_uid else None)  # never returns
                reply = b"%d" % pid
            else:
                raise ValueError(f"unknown request {request!r} with {len(fds)} descriptors")
        except (OSError, ValueError, IndexError) as exc:
            reply = f"{type(exc).__name__}: {exc}".encode()
        finally:
            for fd in fds:
                close(fd)
        send(reply)


def _clone_with_our_parent() -> Callable[[], int]:  # pragma: no cover - runs in the zygote
    """A function like os.fork(), except that the child's parent is this process's parent:
    clone(2) with CLONE_PARENT, wrapped in the interpreter's own before- and after-fork work
    as os.fork wraps fork(2). Only for a single-threaded process: no C library lock is held."""
    api = ctypes.pythonapi
    before, in_child, in_parent = api.PyOS_BeforeFork, api.PyOS_AfterFork_Child, \
        api.PyOS_AfterFork_Parent
    for function in (before, in_child, in_parent):
        function.restype = None
    syscall = ctypes.PyDLL(None, use_errno=True).syscall  # holds the GIL across the call
    syscall.restype = ctypes.c_long
    arguments = (ctypes.c_long(SYS_CLONE[os.uname().machine]),
                 ctypes.c_long(CLONE_PARENT | signal.SIGCHLD), ctypes.c_long(0), ctypes.c_long(0),
                 ctypes.c_long(0), ctypes.c_long(0))

    def clone() -> int:
        before()
        pid = syscall(*arguments)
        if pid == 0:
            in_child()
            return 0
        in_parent()
        if pid < 0:
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number))
        return pid

    return clone


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
        _release_uid(spare.uid)


_spares_lock = threading.Lock()
_spare_pids: set[int] = set()  # spares forked and not yet reaped: this process's own children


def _kill_orphans() -> None:
    """Unprivileged: kill and reap every child of this process that is neither the zygote nor
    a spare, i.e. a call's process whose parent died (this process is their subreaper)."""
    for _ in range(ORPHAN_SWEEPS):
        zygote = _zygote
        with _spares_lock:
            known = set(_spare_pids) | ({zygote.pid} if zygote is not None else set())
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
    frame, failed, taken = _await_frame(pid, read_fd, limits)
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


def _await_frame(pid: int, read_fd: int,
                 limits: Limits) -> tuple[bytes, dict[str, Any] | None, bool]:
    """What the child wrote until a whole frame, its exit, or a limit; with the failure header
    when a limit (wall clock, answer size) ended the call, and whether the child said TAKEN."""
    assert limits.wall_seconds is not None and limits.output_bytes is not None
    deadline = time.monotonic() + limits.wall_seconds
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
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"", failure("timeout", f"the call ran longer than "
                                               f"{limits.wall_seconds:g} s and was killed"), taken
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


def _run_spare(call_fd: int, answer_fd: int, workdir: str, uid: int | None,
               dirty_uid: int | None) -> None:  # pragma: no cover - child process
    """Set up, say READY, wait for the one call, run it under its limits, answer, exit."""
    code = 0
    try:
        os.setsid()
        _settle_pipes(answer_fd, call_fd)
        if _set_up_by_zygote:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # the zygote ignores it
        else:
            _set_up_process()
        os.environ["HOME"] = os.environ["TMPDIR"] = workdir
        if dirty_uid is not None:
            _kill_processes_of(dirty_uid)  # the parent removes its files once this is READY
        if uid is not None and _isolation == "namespaces":
            isolation.private_view(workdir, uid, _private_tmp_bytes,
                                   None if _set_up_by_zygote else _hidden, _shared_dirs)
        os.chdir(workdir)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        # The limits that do not depend on the call are set now, the others once it is here.
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _rehearse()
        # Last, once the spare's own set-up is done: from here on only the call runs.
        isolation.install_seccomp()
        vsz = _virtual_size()
        _write_all(ANSWER_FD, READY)
        frame = _read_frame(CALL_FD)
        os.close(CALL_FD)
        if not frame:
            os._exit(0)  # the parent went away before handing over a call
        # Before any of the call runs: a spare that dies before saying so never had the call.
        _write_all(ANSWER_FD, TAKEN)
        if uid is None:
            _reclaim_workdir()
        header, body = decode_frame(frame)
        limits = Limits.from_dict(header["limits"])
        _set_limits(limits, vsz, int(header.get("tasks") or 0))
        answer_header, answer = child.answer(header["call"], body, int(limits.output_bytes or 0))
        _write_all(ANSWER_FD, encode_frame(answer_header, answer))
        _linger(ANSWER_FD)
    except BaseException as exc:  # noqa: BLE001 - the child must always end here
        try:
            _write_all(ANSWER_FD, encode_frame(failure("crashed", f"the sandbox failed: "
                                                                  f"{type(exc).__name__}: {exc}")))
        except BaseException:  # noqa: BLE001
            code = 70
    finally:
        os._exit(code)


def _linger(answer_fd: int) -> None:  # pragma: no cover - child process
    """Stay alive until the parent has read the answer and closed its end (it reads the call's
    CPU and peak memory from /proc meanwhile): exiting first would make it wait for the
    teardown of this address space."""
    poller = select.poll()
    poller.register(answer_fd, select.POLLERR)  # a pipe's write end: the reader has closed
    poller.poll(LINGER_SECONDS * 1000)


def _rehearse() -> None:  # pragma: no cover - child process
    """Take trivial calls through the whole path (frame, limits, answer) before any user code.

    A freshly forked child shares the parent's pages, and the first call to touch an object
    copies its page; here that happens while the child waits, not while a call waits for it.
    """
    for call, body in child.WARM_UP_CALLS:
        frame = encode_frame({"call": call, "limits": Limits().as_dict(), "tasks": 0,
                              "body_length": len(body)}, body)
        frame_complete(frame)
        header, data = decode_frame(frame)
        limits = Limits.from_dict(header["limits"])
        answer_header, answer = child.answer(header["call"], data, limits.output_bytes or 1 << 16)
        frame_complete(encode_frame(answer_header, answer))


def _reclaim_workdir() -> None:  # pragma: no cover - child process
    """Without a uid of its own, an earlier call could have planted files here: remove them."""
    os.chmod(".", 0o700)
    for name in os.listdir("."):
        try:
            if os.path.isdir(name) and not os.path.islink(name):
                shutil.rmtree(name, ignore_errors=True)
            else:
                os.unlink(name)
        except OSError:
            continue


def _read_frame(fd: int) -> bytes:  # pragma: no cover - child process
    """The call's frame, read up to its own length (not to EOF: one wake-up less)."""
    buffer = bytearray()
    while not frame_complete(buffer):
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        buffer += chunk
    return bytes(buffer)


def _set_up_process() -> None:  # pragma: no cover - a spare, or the zygote once
    """What every spare needs and no call changes: signal dispositions, /dev/null for standard
    streams, a scrubbed environment. The zygote does it once for all the spares it forks."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-size writes fail with EFBIG instead
    _quiet_std_streams()
    _scrub_environment()


def _settle_pipes(answer_fd: int, call_fd: int) -> None:  # pragma: no cover - child process
    """The answer and call pipes on descriptors 3 and 4, every other one above 2 closed."""
    # Park both pipe ends above every descriptor we keep, then settle them on 3 and 4.
    answer_fd = fcntl.fcntl(answer_fd, fcntl.F_DUPFD, CALL_FD + 1)
    call_fd = fcntl.fcntl(call_fd, fcntl.F_DUPFD, CALL_FD + 1)
    os.dup2(answer_fd, ANSWER_FD)
    os.dup2(call_fd, CALL_FD)
    # No descriptor is at or above the hard limit (Linux caps that at fs.nr_open); one
    # close_range(2) where the C library has it.
    ceiling = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    os.closerange(CALL_FD + 1, ceiling if 0 < ceiling < 1 << 31 else 1 << 20)


def _quiet_std_streams() -> None:  # pragma: no cover - child process
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    import io
    import sys

    # Fresh objects: the inherited ones may hold locks taken by another thread of the parent.
    # The encoding is named, so that no locale is looked up three times per child.
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                  write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  write_through=True)


def _scrub_environment() -> None:  # pragma: no cover - child process
    """Only a few harmless variables (each spare adds HOME and TMPDIR: its directory)."""
    os.environ.clear()
    os.environ.update({"PATH": CHILD_PATH, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"})
    # /proc/self/environ shows the block the parent was started with, inherited by fork;
    # overwrite it so that nothing from the parent's environment can be read back.
    env_start, env_end = _environment_block
    if env_end > env_start:
        ctypes.memset(env_start, 0, env_end - env_start)


def _set_limits(limits: Limits, vsz: int, tasks: int) -> None:  # pragma: no cover - child
    """Lowered once the call is here; CPU and address space count from this moment."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = max(1, math.ceil((limits.cpu_seconds or 1) + used.ru_utime + used.ru_stime))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = vsz + int(limits.memory_bytes or 0)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    files = int(limits.file_bytes or 0)
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    # Under a uid of its own the count starts at zero; otherwise it is shared with the
    # parent's user, and the parent says how many tasks that user already has.
    processes = int(limits.processes or 1) + tasks
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[written:]


def _take_uid() -> int:
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


def _release_uid(uid: int) -> None:
    with _uid_lock:
        _uids_in_use.discard(uid)


def _sweep_uid(uid: int, since: float) -> None:
    """Kill every process of a used uid (in the zygote, else from a short-lived child), then
    remove its files."""
    zygote = _zygote
    if zygote is not None:
        try:
            zygote.kill_processes_of(uid)
            _remove_files_of(uid, since)
            return
        except _ZygoteGone:
            pass
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        code = 0
        try:
            _kill_processes_of(uid)
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.waitpid(pid, 0)
    _remove_files_of(uid, since)


def _kill_processes_of(uid: int) -> None:  # pragma: no cover - runs in a single-threaded child
    """Kill every process of `uid`, even ones that left the call's group (in a single-threaded
    root process: a spare, the zygote, or the short-lived child of _sweep_uid).

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


def _remove_files_of(uid: int, since: float) -> None:
    """Remove what `uid` left in the shared temporary directories (its processes are dead).

    A directory whose entries have not changed since the call began (less a margin for the
    kernel's coarse file clock) holds nothing of it and is not read: a busy /tmp costs ms.
    """
    if _isolation == "namespaces":
        return  # the call had a private tmpfs on each of them, gone with its mount namespace
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


