"""What user code cannot reach, by the kernel's hand: the machine's addresses, other processes,
another call's IPC objects and files; and what it still can (the interpreter).

Each probe runs in three places where this machine allows: the local sandbox server as root
(namespaces), the server as an unprivileged uid (seccomp), and the Lambda entry point in a
process dropped to an unprivileged uid (seccomp).
"""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import sandbox
from chalicelib.sandbox import Limits
from chalicelib.sandbox.server import REPO_ROOT, clean_environment
from chalicelib.sandbox.wire import decode_frame, raise_for

AS_ROOT = os.geteuid() == 0
NOBODY = 65534
PROBE_LIMITS = Limits(wall_seconds=20, cpu_seconds=10, memory_bytes=128 * 1024 * 1024,
                      output_bytes=256 * 1024, processes=8, file_bytes=1 << 20)
START_SECONDS = 30

LOOPBACK_PROBE = """
import socket

def listening_ports():
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as table:
                for line in table.read().splitlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A":  # LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports

def probe(hosts, ports):
    found = listening_ports()
    reached, errors = [], set()
    for port in sorted(found | set(ports)):
        for host in hosts:
            try:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                with socket.socket(family, socket.SOCK_STREAM) as sock:
                    sock.settimeout(0.3)
                    sock.connect((host, port))
                reached.append([host, port])
            except OSError as exc:
                errors.add(type(exc).__name__)
    return {"found": len(found), "reached": reached, "errors": sorted(errors)}
"""

IPC_PROBE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_CREAT = 0o1000
FILES = ("/run/lock", "/dev/shm", "/tmp", "/var/tmp")

def probe(key, name, create):
    seen = {}
    if create:
        shmid = libc.shmget(key, 4096, IPC_CREAT | 0o666)
        if shmid >= 0:
            address = libc.shmat(shmid, None, 0)
            ctypes.memmove(address, b"planted", 7)
        seen["shm"] = "created" if shmid >= 0 else os.strerror(ctypes.get_errno())
        for directory in FILES:
            try:
                with open(os.path.join(directory, name), "w") as planted:
                    planted.write("planted")
                seen[directory] = "created"
            except OSError as exc:
                seen[directory] = type(exc).__name__
        return seen
    shmid = libc.shmget(key, 0, 0o666)
    if shmid >= 0:
        address = libc.shmat(shmid, None, 0)
        seen["shm"] = ctypes.string_at(address, 7).decode() if address not in (None, 2**64 - 1) \\
            else "found"
    for directory in FILES:
        if os.path.exists(os.path.join(directory, name)):
            seen[directory] = "found"
    return seen
"""

SYSCALL_PROBE = """
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
CALLS = {  # x86_64 numbers and harmless arguments
    "ptrace(TRACEME)": (101, 0, 0, 0, 0),
    "unshare(NEWUSER)": (272, 0x10000000),
    "keyctl(GET_KEYRING_ID)": (250, 0, -3, 0),
    "bpf": (321, 0, 0, 0),
    "io_uring_setup": (425, 1, 0),
    "perf_event_open": (298, 0, 0, -1, -1, 0),
    "process_vm_readv": (310, os.getpid(), 0, 0, 0, 0, 0),
    "userfaultfd": (323, 0),
}

def probe():
    out = {}
    for name, (number, *args) in CALLS.items():
        result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
        out[name] = "allowed" if result >= 0 else os.strerror(ctypes.get_errno())
    for name, family, kind in (("AF_INET", socket.AF_INET, socket.SOCK_STREAM),
                               ("AF_INET6", socket.AF_INET6, socket.SOCK_DGRAM),
                               ("AF_NETLINK", socket.AF_NETLINK, socket.SOCK_RAW),
                               ("AF_PACKET", socket.AF_PACKET, socket.SOCK_RAW),
                               ("AF_UNIX", socket.AF_UNIX, socket.SOCK_STREAM)):
        try:
            socket.socket(family, kind).close()
            out[name] = "allowed"
        except OSError as exc:
            out[name] = os.strerror(exc.errno) if exc.errno else type(exc).__name__
    left, right = socket.socketpair()
    left.sendall(b"x")
    out["socketpair"] = right.recv(1).decode()
    return out
"""

IMPORT_PROBE = """
def probe():
    import glob, json, email, email.parser
    message = email.parser.Parser().parsestr("Subject: hi\\n\\nbody")
    return [message["Subject"], json.dumps(glob.escape("a*"))]
"""

PROCESS_PROBE = """
import os

def probe():
    seen = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                    seen.append([int(name), cmdline.read().decode("latin-1")])
            except OSError:
                seen.append([int(name), None])
    return {"me": os.getpid(), "seen": seen}
"""


def host_addresses() -> list[str]:
    """This machine's own addresses (no DNS): loopback and every interface's."""
    addresses = ["127.0.0.1", "::1"]
    try:
        listing = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True,
                                 timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return addresses
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[2] in ("inet", "inet6"):
            address = fields[3].split("/")[0]
            if not address.startswith("fe80") and address not in addresses:
                addresses.append(address)
    return addresses


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts and records connections; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()
    assert accepted == [], "user code connected to the test's own server"


# Where the sandbox runs: each returns a function running (source, args) there.

UNPRIVILEGED_SERVER = """
import os, sys
from chalicelib.sandbox import isolation
isolation.unshare(isolation.CLONE_NEWNS)
isolation.mount(None, "/", None, isolation.MS_REC | isolation.MS_PRIVATE)
isolation.expose(isolation.hidden_roots(isolation.interpreter_paths()))  # the interpreter only
os.setgroups([])
os.setgid(%(uid)d)
os.setuid(%(uid)d)
os.execv(sys.executable, [sys.executable, "-m", "chalicelib.sandbox.server", "--exit-with-stdin"])
"""

UNPRIVILEGED_LAMBDA = """
import base64, json, os, sys
from chalicelib.sandbox import isolation
isolation.unshare(isolation.CLONE_NEWNS)
isolation.mount(None, "/", None, isolation.MS_REC | isolation.MS_PRIVATE)
isolation.expose(isolation.hidden_roots(isolation.interpreter_paths()))
os.setgroups([])
os.setgid(%(uid)d)
os.setuid(%(uid)d)
os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "taskport-test-sandbox"
from chalicelib.sandbox import aws_lambda
for line in sys.stdin:
    print(json.dumps(aws_lambda.handle(json.loads(line))), flush=True)
"""


def _drop_and_start(script: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", script % {"uid": NOBODY}], cwd=REPO_ROOT,
                            env=clean_environment(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)


def _stop(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    process.stdout.close()


def _read_line(process: subprocess.Popen[bytes], within: float) -> bytes:
    """One line of the process's output, or b"" after `within` seconds."""
    stdout = process.stdout
    assert stdout is not None
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=within)
    return out[0] if out else b""


def _run_here(source: str, args: list[Any]) -> Any:
    return sandbox.run_function(source, "probe.py", "probe", args, {}, PROBE_LIMITS)


@pytest.fixture(scope="module")
def unprivileged_server_url() -> Iterator[str]:
    """The sandbox server running as an unprivileged uid (started from root, then dropped)."""
    if not AS_ROOT:
        yield ""  # this run is unprivileged already: the default local server is the case
        return
    process = _drop_and_start(UNPRIVILEGED_SERVER)
    url = _read_line(process, START_SECONDS).decode().strip()
    if not url:
        _stop(process)
        pytest.fail("the unprivileged sandbox server did not start")
    yield url
    _stop(process)


@pytest.fixture(scope="module")
def unprivileged_lambda() -> Iterator[subprocess.Popen[bytes]]:
    """The Lambda entry point in a warm process running as an unprivileged uid."""
    if not AS_ROOT:
        pytest.skip("needs root to start a process as another uid")
    process = _drop_and_start(UNPRIVILEGED_LAMBDA)
    yield process
    _stop(process)


@pytest.fixture(params=["root server", "unprivileged server", "unprivileged lambda"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A function running (source, args) in the sandbox at one place, and that place's name."""
    from chalicelib import config

    if request.param == "root server":
        if not AS_ROOT:
            pytest.skip("this run is not root")
        return request.param, _run_here
    if request.param == "unprivileged server":
        url = request.getfixturevalue("unprivileged_server_url")
        if url:
            monkeypatch.setenv("TASKPORT_SANDBOX_URL", url)
            config.get_settings.cache_clear()
        return request.param, _run_here
    process = request.getfixturevalue("unprivileged_lambda")

    def run_in_lambda(source: str, args: list[Any]) -> Any:
        assert process.stdin is not None
        call = {"kind": "function", "source": source, "filename": "probe.py",
                "function": "probe", "args": args, "kwargs": {}}
        event = {"call": call, "limits": PROBE_LIMITS.resolved().as_dict(), "body": ""}
        process.stdin.write(json.dumps(event).encode() + b"\n")
        process.stdin.flush()
        line = _read_line(process, START_SECONDS + float(PROBE_LIMITS.wall_seconds or 0))
        assert line, "the Lambda process did not answer"
        header, body = decode_frame(base64.b64decode(json.loads(line)["frame"]))
        raise_for(header)
        return json.loads(body)

    return request.param, run_in_lambda


def test_no_address_of_the_machine_is_reachable_from_user_code(where, listener):
    name, run = where
    outcome = run(LOOPBACK_PROBE, [host_addresses(), [listener]])
    assert outcome["reached"] == [], (name, outcome)
    if name == "root server":
        assert outcome["found"] == 0  # its own network namespace: nothing listens in it


def test_dangerous_system_calls_are_refused(where):
    name, run = where
    if os.uname().machine != "x86_64":
        pytest.skip("the seccomp filter exists for x86_64 only")
    outcome = run(SYSCALL_PROBE, [])
    for call in ("ptrace(TRACEME)", "unshare(NEWUSER)", "keyctl(GET_KEYRING_ID)", "bpf",
                 "io_uring_setup", "perf_event_open", "process_vm_readv", "userfaultfd"):
        assert outcome[call] == os.strerror(1), (name, call, outcome)  # EPERM
    assert outcome["socketpair"] == "x"
    for family in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX"):
        assert outcome[family] == os.strerror(13), (name, family, outcome)  # EACCES


def test_ipc_objects_and_temporary_files_do_not_reach_the_next_call(where):
    name, run = where
    key, marker = 0x7A5C0000 + os.getpid() % 0xFFFF, f"left-by-a-call-{os.getpid()}-{time.time_ns()}"
    planted = run(IPC_PROBE, [key, marker, True])
    assert planted["shm"] == os.strerror(1)  # SysV IPC is refused (so that Lambda is alike)
    if name == "root server":
        assert planted == {"shm": os.strerror(1), "/run/lock": "created", "/dev/shm": "created",
                           "/tmp": "created", "/var/tmp": "created"}
    seen = run(IPC_PROBE, [key, marker, False])
    assert "shm" not in seen, seen
    if name == "root server":
        assert seen == {}, seen
    if name == "unprivileged lambda":  # the function empties them after each call
        assert seen == {}, seen
    # The unprivileged server leaves files in the shared directories, which the next call
    # under the same uid finds: what remains, see docs/sandbox-isolation.md.
    for directory in ("/run/lock", "/dev/shm", "/tmp", "/var/tmp"):
        if name == "root server":
            assert not os.path.exists(os.path.join(directory, marker))  # nor on the host
        else:
            try:
                os.unlink(os.path.join(directory, marker))
            except OSError:
                pass


def test_standard_library_imports_under_the_calls_uid(where):
    _, run = where
    assert run(IMPORT_PROBE, []) == ["hi", '"a[*]"']


def test_user_code_sees_no_other_process():
    if not AS_ROOT:
        pytest.skip("only a root parent can give the call a /proc of its own")
    marker = f"secret-command-line-{time.time_ns()}"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        time.sleep(0.1)
        outcome = _run_here(PROCESS_PROBE, [])
    finally:
        other.kill()
        other.wait(timeout=10)
    pids = {pid for pid, _ in outcome["seen"]}
    assert outcome["me"] in pids
    assert os.getpid() not in pids and other.pid not in pids and 1 not in pids
    assert not [line for _, line in outcome["seen"] if line and marker in line]


NAMESPACE_PROBE = """
import os, time

def probe():
    time.sleep(1)  # both calls alive at once: a freed namespace's number can be reused
    return {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in ("ipc", "mnt", "net")}
"""


def test_each_call_has_its_own_ipc_and_mount_namespaces_and_no_host_network():
    if not AS_ROOT:
        pytest.skip("only a root parent can give calls namespaces")
    host = {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in ("ipc", "mnt", "net")}
    answers: list[dict[str, str]] = []
    calls = [threading.Thread(target=lambda: answers.append(_run_here(NAMESPACE_PROBE, [])))
             for _ in range(2)]
    for call in calls:
        call.start()
    for call in calls:
        call.join(timeout=30)
    first, second = answers
    for kind in ("ipc", "mnt", "net"):
        assert first[kind] != host[kind] and second[kind] != host[kind], kind
    assert first["ipc"] != second["ipc"] and first["mnt"] != second["mnt"]


ESCAPE_PROBE = """
import os, time

def probe():
    read, write = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            time.sleep(60)
        os._exit(0)
    return int(os.read(read, 20))
"""


def test_a_process_that_left_the_calls_group_is_killed_after_the_call(where):
    from tests.unit.sandbox.processes import wait_until_gone

    _, run = where
    escaped = run(ESCAPE_PROBE, [])
    assert wait_until_gone([escaped], within=10) == []


CHILDREN_PROBE = """
import multiprocessing, subprocess, threading

def probe():
    ran = subprocess.run(["/bin/sh", "-c", "echo spawned"], capture_output=True, timeout=10)
    lock = multiprocessing.Lock()  # a POSIX semaphore: a file in /dev/shm
    with lock:
        pass
    out = []
    worker = threading.Thread(target=lambda: out.append("threaded"))
    worker.start()
    worker.join(timeout=10)
    return [ran.stdout.decode().strip(), *out]
"""


def test_subprocesses_threads_and_semaphores_still_work(where):
    _, run = where
    assert run(CHILDREN_PROBE, []) == ["spawned", "threaded"]


IMPORT_FROM_TMP = """
import json
from chalicelib.sandbox import runner
from chalicelib.sandbox.wire import Limits, decode_frame

frame, clean_up = runner.execute({"kind": "function", "filename": "t.py", "function": "f",
                                  "source": "def f():\\n    import beside_the_checkout\\n"
                                            "    return beside_the_checkout.WHERE\\n",
                                  "args": [], "kwargs": {}}, b"", Limits(wall_seconds=20))
clean_up()
header, body = decode_frame(frame)
print(json.dumps([header["outcome"], header.get("message"), body.decode()]))
"""


@pytest.mark.skipif(not AS_ROOT, reason="a call's own /tmp is a root parent's mount namespace")
def test_import_path_under_tmp_stays_readable_in_the_calls_own_tmp(tmp_path):
    from chalicelib.sandbox import isolation

    assert str(tmp_path).startswith("/tmp/")  # where a CI clone or its virtualenv may live
    (tmp_path / "beside_the_checkout.py").write_text("WHERE = 'under /tmp'\n")
    tmp_path.chmod(0o755)
    for parent in tmp_path.parents:
        if str(parent).startswith("/tmp/"):
            parent.chmod(parent.stat().st_mode | 0o711)
    assert isolation.under_private_tmp([str(tmp_path / "a"), str(tmp_path), "/usr/lib", "/tmp"]) == [
        str(tmp_path)]
    done = subprocess.run([sys.executable, "-c", IMPORT_FROM_TMP], cwd=REPO_ROOT, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO_ROOT}:{tmp_path}"},
                          capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    outcome, message, body = json.loads(done.stdout.decode().splitlines()[-1])
    assert outcome == "ok", message
    assert json.loads(body) == "under /tmp"
