"""A spare: the child that sets itself up while it waits, then runs one call and exits.

Forked ahead of its call (by the zygote, zygote.py, or by the warm parent itself, parent.py);
everything here runs in that child, never in the serving process. Its set-up: setsid() (the
wall-clock kill takes its whole group), its pipes on descriptors 3 and 4 and every other
descriptor closed, a scrubbed environment, a fresh working directory, its own uid under a root
parent (and its own IPC and mount namespaces where the parent may unshare), RLIMIT_NOFILE and
RLIMIT_CORE, a rehearsal of a trivial call, then the seccomp filter (isolation.py); it says
READY, reads its call, says TAKEN, lowers the limits that depend on the call, runs it, answers.
"""
from __future__ import annotations

import ctypes
import fcntl
import math
import os
import resource
import select
import shutil
import signal
from dataclasses import dataclass, field
from typing import Any

from chalicelib.sandbox import child, isolation, uids
from chalicelib.sandbox.wire import Limits, decode_frame, encode_frame, failure, frame_complete

CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_OPEN_FILES = 256
READY = b"R"
TAKEN = b"T"  # a spare's first answer byte: it has the call, and will run it
ANSWER_FD = 3  # in the child: the answer pipe
CALL_FD = 4  # in the child: the call pipe, closed once the call is read
LINGER_SECONDS = 2  # at most, after answering (see _linger)


@dataclass
class Setup:
    """What the warm parent decides once, before any spare or the zygote is forked (so every
    one of them inherits it)."""

    # How the kernel contains a call (isolation.py): "namespaces" where the parent may unshare
    # (root), else "seccomp"; decided once in parent.prepare(), before the zygote is forked.
    isolation: str = "seccomp"
    # Directories to expose under roots that others cannot traverse.
    hidden: dict[str, list[str]] = field(default_factory=dict)
    private_tmp_bytes: int = 64 * 1024 * 1024
    shared_dirs: tuple[str, ...] = ()  # read-only in every call's fresh /tmp (the bundle cache)
    environment_block: tuple[int, int] = (0, 0)  # the parent's environment in memory, to zero
    by_zygote: bool = False  # True in the zygote, and so in every spare it forks


SETUP = Setup()


def run(call_fd: int, answer_fd: int, workdir: str, uid: int | None,
        dirty_uid: int | None) -> None:  # pragma: no cover - child process
    """Set up, say READY, wait for the one call, run it under its limits, answer, exit."""
    code = 0
    try:
        os.setsid()
        _settle_pipes(answer_fd, call_fd)
        if SETUP.by_zygote:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # the zygote ignores it
        else:
            set_up_process()
        os.environ["HOME"] = os.environ["TMPDIR"] = workdir
        if dirty_uid is not None:
            uids.kill_processes_of(dirty_uid)  # the parent removes its files once this is READY
        if uid is not None and SETUP.isolation == "namespaces":
            isolation.private_view(workdir, uid, SETUP.private_tmp_bytes,
                                   None if SETUP.by_zygote else SETUP.hidden, SETUP.shared_dirs)
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
        write_all(ANSWER_FD, READY)
        frame = _read_frame(CALL_FD)
        os.close(CALL_FD)
        if not frame:
            os._exit(0)  # the parent went away before handing over a call
        # Before any of the call runs: a spare that dies before saying so never had the call.
        write_all(ANSWER_FD, TAKEN)
        if uid is None:
            _reclaim_workdir()
        header, body = decode_frame(frame)
        limits = Limits.from_dict(header["limits"])
        _set_limits(limits, vsz, int(header.get("tasks") or 0))
        answer_header, answer = child.answer(header["call"], body, int(limits.output_bytes or 0))
        write_all(ANSWER_FD, encode_frame(answer_header, answer))
        _linger(ANSWER_FD)
    except BaseException as exc:  # noqa: BLE001 - the child must always end here
        try:
            write_all(ANSWER_FD, encode_frame(failure("crashed", f"the sandbox failed: "
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


def set_up_process(interrupt: Any = signal.SIG_DFL) -> None:  # pragma: no cover - a child
    """What every spare needs and no call changes: signal dispositions, /dev/null for standard
    streams, a scrubbed environment. The zygote does it once for all the spares it forks (and
    keeps ignoring SIGINT: `interrupt`)."""
    signal.signal(signal.SIGINT, interrupt)
    for sig in (signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
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
    env_start, env_end = SETUP.environment_block
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


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[written:]


def _virtual_size() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()
