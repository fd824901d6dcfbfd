"""Who may call the sandbox server, and how much a call may ask of it."""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from chalicelib import sandbox
from chalicelib.sandbox import Limits, server

AS_ROOT = os.geteuid() == 0
NOBODY = 65534


@pytest.fixture
def small_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A spawned server whose maxima are small; this test's calls go to it."""
    from chalicelib import config

    url, stop = server.spawn(Limits(wall_seconds=1, cpu_seconds=1, memory_bytes=64 << 20,
                                    output_bytes=1 << 16, processes=4, file_bytes=1 << 20))
    monkeypatch.setenv("TASKPORT_SANDBOX_URL", url)
    config.get_settings.cache_clear()
    yield url
    stop()


def test_a_call_cannot_ask_more_wall_time_than_the_server_allows(small_server):
    started = time.monotonic()
    with pytest.raises(sandbox.Timeout):
        sandbox.run_function("import time\ndef f():\n    time.sleep(20)\n", "f.py", "f", [], {},
                             Limits(wall_seconds=30, cpu_seconds=30))
    assert time.monotonic() - started < 10


def test_a_call_cannot_ask_more_memory_than_the_server_allows(small_server):
    source = "def f():\n    return len(bytearray(256 << 20))\n"
    with pytest.raises(sandbox.ScriptError) as caught:
        sandbox.run_function(source, "f.py", "f", [], {}, Limits(memory_bytes=4 << 30))
    assert caught.value.error_type == "MemoryError"


def test_user_code_cannot_reach_the_sandbox_server(small_server):
    source = (
        "import socket\n"
        "def f(path):\n"
        "    try:\n"
        "        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:\n"
        "            sock.connect(path)\n"
        "            sock.sendall(b'GET /health HTTP/1.1\\r\\n\\r\\n')\n"
        "            return sock.recv(100).decode()\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
    )
    answer = sandbox.run_function(source, "f.py", "f", [server.socket_path(small_server)], {},
                                  Limits(wall_seconds=5))
    assert answer == "PermissionError"


@pytest.mark.skipif(not AS_ROOT, reason="needs root to connect as another uid")
def test_a_peer_of_another_uid_is_refused_though_it_reaches_the_socket(small_server):
    path = server.socket_path(small_server)
    assert path is not None
    os.chmod(os.path.dirname(path), 0o711)  # past the directory's permissions: the peer check
    os.chmod(path, 0o666)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        answer = b"?"
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(path)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b"answered:" + sock.recv(100)
        except OSError as exc:
            answer = type(exc).__name__.encode()
        finally:
            os.write(write_end, answer)
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    answer = os.read(read_end, 200)
    os.close(read_end)
    assert answer in (b"answered:", b"ConnectionResetError", b"BrokenPipeError"), answer
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:  # its own user still may
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
