"""What the kernel enforces around a spare before user code runs: namespaces and seccomp.

Every spare installs the same seccomp filter (with PR_SET_NO_NEW_PRIVS) before user code runs,
so a handler behaves alike on Lambda and locally: socket() of every family is refused, and so is
every socketpair() but a connected AF_UNIX stream/seqpacket pair; so are the creation of SysV
IPC objects and POSIX message queues, and system calls no handler needs that reach other
processes or the kernel's wider surface (ptrace, process_vm_*, namespaces, keyrings, bpf, perf,
io_uring - which would bypass the socket rule -, mounts, ...). The filter exists for x86_64 only.

Where the parent is root and may unshare ("namespaces", see docs/sandbox-isolation.md), the
kernel also keeps the call apart without the filter's help: the zygote makes one network
namespace for its spares (a loopback device, left down: no network at all) and one mount view
(mounts private, a fresh /proc with hidepid=2: a call sees its own processes only, since it has
a uid of its own; the interpreter's directories reachable even under a 0700 home, which is
hidden by an empty tmpfs with only those directories bound into it); each spare then gets its
own IPC namespace and mount namespace, in which /tmp, /var/tmp, /dev/shm and /run/lock are one
fresh size-capped tmpfs.
"""
from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
MS_RDONLY, MS_REMOUNT = 1, 32
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000

# x86_64 system call numbers.
SYS_SOCKET, SYS_SOCKETPAIR, SYS_CLONE, SYS_CLONE3 = 41, 53, 56, 435
REFUSED_ALWAYS = {
    101: "ptrace", 310: "process_vm_readv", 311: "process_vm_writev", 272: "unshare",
    308: "setns", 250: "keyctl", 248: "add_key", 249: "request_key", 321: "bpf",
    298: "perf_event_open", 323: "userfaultfd", 425: "io_uring_setup", 426: "io_uring_enter",
    427: "io_uring_register", 165: "mount", 166: "umount2", 155: "pivot_root", 161: "chroot",
    428: "open_tree", 429: "move_mount", 430: "fsopen", 431: "fsconfig", 432: "fsmount",
    433: "fspick", 442: "mount_setattr", 438: "pidfd_getfd", 303: "name_to_handle_at",
    304: "open_by_handle_at", 312: "kcmp", 103: "syslog", 163: "acct", 167: "swapon",
    168: "swapoff", 169: "reboot", 246: "kexec_load", 320: "kexec_file_load",
    175: "init_module", 313: "finit_module", 176: "delete_module", 172: "iopl", 173: "ioperm",
    179: "quotactl", 300: "fanotify_init", 134: "uselib", 153: "vhangup",
}
# Refused everywhere, though a root parent's calls each have an IPC namespace: so that a
# handler that works locally works on Lambda, where nothing would remove what it left.
REFUSED_IPC = {29: "shmget", 64: "semget", 68: "msgget", 240: "mq_open"}
AF_UNIX = 1
SOCK_STREAM, SOCK_SEQPACKET, SOCK_TYPE_MASK = 1, 5, 0xF
PRIVATE_TMP_OPTIONS = "mode=1777,size={size},nr_inodes=16384"

# Classic BPF over struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6];}.
_LD_ABS, _JEQ, _JGE, _JSET, _RET, _AND = 0x20, 0x15, 0x35, 0x45, 0x06, 0x54
_OFFSET_NR, _OFFSET_ARCH = 0, 4


def _arg(index: int) -> int:
    return 16 + 8 * index  # the low 32 bits of args[index] (little endian)


_libc_handle: Any = None


def _libc() -> Any:
    global _libc_handle
    if _libc_handle is None:
        _libc_handle = ctypes.CDLL(None, use_errno=True)
        _libc_handle.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.c_ulong, ctypes.c_char_p]
    return _libc_handle


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def unshare(flags: int) -> None:
    """unshare(2) (os.unshare is Python 3.12+)."""
    _check(_libc().unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    """mount(2)."""
    _check(_libc().mount(source.encode() if source else None, target.encode(),
                         fstype.encode() if fstype else None, flags,
                         data.encode() if data else None), f"mount {target}")


NETWORK_POLICIES = ("none",)


def require_network_policy() -> str:
    """The operator's TASKPORT_SANDBOX_NETWORK; only `none` (no network for user code) exists."""
    from chalicelib.config import get_settings
    from chalicelib.errors import ConfigurationError

    policy = get_settings().sandbox_network
    if policy not in NETWORK_POLICIES:
        raise ConfigurationError(
            f"TASKPORT_SANDBOX_NETWORK={policy!r} is not offered: user code gets no network "
            "(`none`); egress through the egress guard is not built (docs/sandbox-isolation.md)")
    return policy


def namespaces_available() -> bool:
    """Whether this process may give a child its own network, IPC and mount namespaces (tried
    in a short-lived child, so this process keeps its own)."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        code = 1
        try:
            unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def hidden_roots(paths: list[str]) -> dict[str, list[str]]:
    """For each directory that others may not traverse, the needed paths under it:
    {"/root": ["/root/.pyenv/versions/3.11.7"]} for an interpreter under a 0700 home."""
    found: dict[str, list[str]] = {}
    for path in sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)}):
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            ancestor = "/" + "/".join(parts[:depth])
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                targets = found.setdefault(ancestor, [])
                if path != ancestor and not any(path.startswith(t + "/") for t in targets):
                    targets.append(path)
                break
    return found


def interpreter_paths() -> list[str]:
    """What user code needs to read: the interpreter's prefixes and its import path."""
    return [sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix,
            *(p for p in sys.path if p)]


def under_private_tmp(paths: list[str]) -> list[str]:
    """Those of `paths` that lie under a directory each call gets a fresh tmpfs on (a checkout
    or virtualenv under /tmp), outermost only, ancestors first: what must be bound back into
    the call's /tmp for it to import what the interpreter imports."""
    inside = sorted({os.path.normpath(path) for path in paths
                     if any(os.path.normpath(path) == root or os.path.normpath(path).startswith(root + "/")
                            for root in PRIVATE_TMP_DIRS)}, key=len)
    outermost: list[str] = []
    for path in inside:
        if path not in PRIVATE_TMP_DIRS and not any(path.startswith(kept + "/") for kept in outermost):
            outermost.append(path)
    return outermost


def shared_view(hidden: dict[str, list[str]]) -> None:
    """In a fresh mount namespace: mounts private, a fresh /proc showing a reader only the
    processes it could trace, and each hidden root replaced by an empty tmpfs into which the
    needed directories are bound (so an interpreter under /root works, and /root shows nothing
    else). Done once by the zygote; every spare's mount namespace is a copy of it."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
    expose(hidden)


def expose(hidden: dict[str, list[str]]) -> None:
    """Each hidden root replaced by an empty tmpfs holding binds of the needed directories."""
    for root, targets in hidden.items():
        held = [(target, os.open(target, os.O_PATH | os.O_DIRECTORY)) for target in targets]
        try:
            mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711,size=64k")
            for target, fd in held:
                os.makedirs(target, mode=0o711, exist_ok=True)
                mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        finally:
            for _, fd in held:
                os.close(fd)


def private_view(workdir: str, uid: int, tmp_bytes: int,
                 hidden: dict[str, list[str]] | None, shared: tuple[str, ...] = ()) -> None:
    """A call's own IPC and mount namespaces; one fresh tmpfs of `tmp_bytes` on every shared
    temporary directory, holding the call's working directory at its usual path.
    `hidden`: no zygote set up the shared view and network: do it here, for this call alone.
    `shared`: existing directories under a temporary directory that the call reads but cannot
    change (the parent's cache of unpacked package bundles), bound read-only into the fresh tmpfs."""
    unshare(CLONE_NEWNS | CLONE_NEWIPC | (CLONE_NEWNET if hidden is not None else 0))
    if hidden is not None:
        shared_view(hidden)
    kept = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in shared
            if os.path.isdir(path)]
    try:
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
              PRIVATE_TMP_OPTIONS.format(size=max(tmp_bytes, 1 << 20)))
        for directory in PRIVATE_TMP_DIRS[1:]:
            if os.path.isdir(directory) and not os.path.islink(directory):
                mount("/tmp", directory, None, MS_BIND)
        for path, fd in kept:
            if not os.path.isdir(path):  # hidden by the fresh tmpfs: bind the parent's copy back
                os.makedirs(path, mode=0o755)
                mount(f"/proc/self/fd/{fd}", path, None, MS_BIND)
                mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    finally:
        for _, fd in kept:
            os.close(fd)
    parent = os.path.dirname(workdir)
    os.makedirs(parent, mode=0o711, exist_ok=True)  # a call may enter its directory, list none
    os.mkdir(workdir, 0o700)
    os.chown(workdir, uid, uid)


def _jump(code: int, k: int, true: int, false: int) -> bytes:
    return struct.pack("=HBBI", code, true, false, k)


def _statement(code: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, 0, 0, k)


def seccomp_program() -> list[bytes]:
    """The filter's instructions (x86_64): refusals answer EPERM, network ones EACCES."""
    deny, deny_network = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.EACCES
    refused = {**REFUSED_ALWAYS, **REFUSED_IPC}
    # Blocks are appended after a common head; every block ends in a return, so each
    # comparison jumps over the block it does not match by that block's length.
    blocks: list[tuple[int, list[bytes]]] = []
    for number in sorted(refused):
        blocks.append((number, [_statement(_RET, deny)]))
    blocks.append((SYS_CLONE3, [_statement(_RET, RET_ERRNO | errno.ENOSYS)]))  # glibc: clone
    blocks.append((SYS_CLONE, [_statement(_LD_ABS, _arg(0)),
                               _jump(_JSET, NAMESPACE_FLAGS, 0, 1),
                               _statement(_RET, deny),
                               _statement(_RET, RET_ALLOW)]))
    blocks.append((SYS_SOCKET, [_statement(_RET, deny_network)]))
    # A connected stream pair cannot be pointed anywhere else; a datagram one could (sendto).
    blocks.append((SYS_SOCKETPAIR, [_statement(_LD_ABS, _arg(0)),
                                    _jump(_JEQ, AF_UNIX, 0, 4),
                                    _statement(_LD_ABS, _arg(1)),
                                    _statement(_AND, SOCK_TYPE_MASK),
                                    _jump(_JEQ, SOCK_STREAM, 2, 0),
                                    _jump(_JEQ, SOCK_SEQPACKET, 1, 0),
                                    _statement(_RET, deny_network),
                                    _statement(_RET, RET_ALLOW)]))
    program = [_statement(_LD_ABS, _OFFSET_ARCH),
               _jump(_JEQ, AUDIT_ARCH_X86_64, 1, 0),
               _statement(_RET, deny),  # i386 or x32 entry points: nothing
               _statement(_LD_ABS, _OFFSET_NR),
               _jump(_JGE, X32_SYSCALL_BIT, 0, 1),
               _statement(_RET, deny)]
    for number, block in blocks:
        # Reload the number: a block may have loaded an argument, but only after a match.
        program.append(_jump(_JEQ, number, 0, len(block)))
        program.extend(block)
    program.append(_statement(_RET, RET_ALLOW))
    return program


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_prepared_filter: tuple[Any, _SockFprog] | None = None


def prepare_seccomp() -> None:
    """Build the filter once, in the warm parent: every spare inherits it ready to install."""
    global _prepared_filter
    if _prepared_filter is None and os.uname().machine == "x86_64":
        program = b"".join(seccomp_program())
        code = ctypes.create_string_buffer(program, len(program))
        _prepared_filter = (code, _SockFprog(len(program) // 8,
                                             ctypes.cast(code, ctypes.c_void_p)))
    _libc()


def install_seccomp() -> bool:
    """PR_SET_NO_NEW_PRIVS, then the filter; False where no filter exists for this CPU."""
    prepare_seccomp()
    libc = _libc()
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    if _prepared_filter is None:
        return False
    _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(_prepared_filter[1]),
                      0, 0), "PR_SET_SECCOMP")
    return True
