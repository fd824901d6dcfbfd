"""The zygote: an idle single-threaded process that forks the spares for the warm parent.

Forked from the prepared parent before any thread or call (start()); the parent asks it over a
Unix socket for each spare, passing the spare's two pipe ends (Zygote.fork_spare), or to kill a
used uid's processes (Zygote.kill_processes_of). See Zygote for why it exists.
"""
from __future__ import annotations

import array
import ctypes
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

from chalicelib.sandbox import isolation, spare, uids

CLONE_PARENT = 0x00008000
SYS_CLONE = {"x86_64": 56, "aarch64": 220}  # clone(2), whose first argument is the flags
ZYGOTE_REPLY_SECONDS = 10
ZYGOTE_WAKE_SECONDS = 0.2  # how often a stopped zygote is woken while a reply is awaited
_current: Zygote | None = None  # None: none was started, or it died (spares are forked by the parent)


def current() -> Zygote | None:
    """The running zygote, if any."""
    return _current


class ZygoteGone(Exception):
    """The zygote died or stopped answering."""


class Zygote:
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
        global _current
        with self._lock:
            try:
                socket.send_fds(self._sock, [message], fds)
                reply = self._reply()
            except OSError:
                reply = b""
            if not reply:
                if _current is self:
                    _current = None
                    self._sock.close()
                    try:
                        os.kill(self.pid, signal.SIGKILL)  # dead already, or hung
                    except ProcessLookupError:
                        pass
                    try:
                        os.waitpid(self.pid, 0)
                    except ChildProcessError:
                        pass
                raise ZygoteGone()
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


def start() -> None:
    """Fork the zygote (where clone's arguments are known); without it spares are forked here."""
    global _current
    if os.uname().machine not in SYS_CLONE:
        return
    parent_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # Blocked across the fork: a Ctrl-C meant for the parent's terminal group must never reach
    # the zygote before it ignores SIGINT (this process's handler would end it).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    pid = -1
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the zygote, which never returns
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a pending one is discarded
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
                parent_end.close()
                _serve(zygote_end)
            except BaseException:  # noqa: BLE001 - the parent sees the socket close
                code = 1
            finally:
                os._exit(code)
    finally:
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    zygote_end.close()
    _current = Zygote(pid, parent_end)


def _serve(sock: socket.socket) -> None:  # pragma: no cover - runs in the zygote
    """Fork a spare for each request until the parent goes away (end of stream).

    Every page this loop writes is copied again after each fork (the new spare shares it), so
    it is kept to few objects: everything is bound once and the request is plain text.
    """
    # SIGINT stays ignored throughout (a Ctrl-C in a terminal: the parent decides to stop us).
    spare.set_up_process(interrupt=signal.SIG_IGN)  # once for all spares: no thread holds a lock
    if spare.SETUP.isolation == "namespaces":
        # Once for every spare: each spare's mount namespace is a copy of this one, and they
        # share this network namespace (only a loopback, down); no call can make a socket in it.
        isolation.unshare(isolation.CLONE_NEWNS | isolation.CLONE_NEWNET)
        isolation.shared_view(spare.SETUP.hidden)
    spare.SETUP.by_zygote = True
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
                uids.kill_processes_of(int(fields[0]))
                reply = b"0"
            elif request == "fork" and len(fds) == 2:
                workdir, uid, dirty_uid = fields
                pid = clone()
                if pid == 0:
                    sock.close()
                    spare.run(fds[0], fds[1], workdir, int(uid) if uid else None,
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
