"""The one HTTP hop to the sandbox server: message reading, the server's edges, the client."""
from __future__ import annotations

import io
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator

import pytest

from chalicelib.sandbox import client, http1, server
from chalicelib.sandbox.errors import Crashed
from chalicelib.sandbox.wire import Limits, decode_frame, encode_frame


def head_of(raw: bytes) -> http1.Head | None:
    return http1.read_head(io.BufferedReader(io.BytesIO(raw)))


def test_reads_a_request_head_with_headers_by_lower_case_name():
    head = head_of(b"POST /run HTTP/1.1\r\nHost: x\r\nContent-LENGTH: 12\r\nX-A:  b c \r\n\r\nrest")
    assert head == http1.Head(("POST", "/run", "HTTP/1.1"),
                              {"host": "x", "content-length": "12", "x-a": "b c"})
    assert head.content_length() == 12 and head.keeps_alive()


def test_keep_alive_follows_the_version_and_the_connection_header():
    assert not head_of(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keeps_alive()
    assert not head_of(b"GET / HTTP/1.0\r\n\r\n").keeps_alive()
    assert head_of(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keeps_alive()
    assert not head_of(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").keeps_alive()
    assert head_of(b"HTTP/1.1 200 OK\r\n\r\n").keeps_alive()


def test_end_of_stream_before_a_message_is_none_and_blank_lines_before_it_are_skipped():
    assert head_of(b"") is None
    assert head_of(b"\r\n\r\nGET /health HTTP/1.1\r\n\r\n").start[1] == "/health"


@pytest.mark.parametrize("raw", [
    b"GET\r\n\r\n",  # no target
    b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
    b"GET / HTTP/1.1\r\nName : space before the colon\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n",  # the stream ends inside the headers
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",  # over-long line
    b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n",  # too many headers
])
def test_malformed_heads_are_refused(raw: bytes):
    with pytest.raises(http1.BadMessage):
        head_of(raw)


def test_body_framing_other_than_content_length_is_refused():
    with pytest.raises(http1.Unsupported):
        head_of(b"POST /run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").content_length()
    with pytest.raises(http1.BadMessage):
        head_of(b"POST /run HTTP/1.1\r\nContent-Length: -1\r\n\r\n").content_length()
    assert head_of(b"GET / HTTP/1.1\r\n\r\n").content_length() is None


def test_a_short_body_is_refused():
    with pytest.raises(http1.BadMessage, match="3 bytes short"):
        http1.read_body(io.BufferedReader(io.BytesIO(b"abcdefg")), 10)


# The server, over real sockets (the session's sandbox server process).

def connect(url: str) -> socket.socket:
    """A connection to the server at a `unix:` URL."""
    path = server.socket_path(url)
    assert path is not None, url
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    return sock


def exchange(url: str, raw: bytes, reads: int = 1) -> tuple[list[http1.Head], list[bytes], bool]:
    """Send raw bytes; read `reads` responses; and whether the server then closed."""
    with connect(url) as sock:
        sock.sendall(raw)
        reader = sock.makefile("rb")
        heads, bodies = [], []
        for _ in range(reads):
            head = http1.read_head(reader)
            assert head is not None
            heads.append(head)
            bodies.append(http1.read_body(reader, head.content_length() or 0))
        sock.settimeout(1)
        try:
            closed = reader.read(1) == b""
        except TimeoutError:
            closed = False  # still open, as a kept-alive connection should be
        reader.close()
    return heads, bodies, closed


def run_frame(source: str = "def f():\n    return 7\n") -> bytes:
    call = {"kind": "function", "source": source, "filename": "f.py", "function": "f",
            "args": [], "kwargs": {}}
    return encode_frame({"call": call, "limits": Limits().resolved().as_dict()}, b"")


def post_run(frame: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /run HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n%s\r\n" % (len(frame), extra)
            + frame)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_health_answers_curl_on_the_unix_socket(dirty_sandbox_url: str):
    socket_path = server.socket_path(dirty_sandbox_url)
    assert socket_path is not None
    done = subprocess.run(["curl", "-sS", "--max-time", "20", "--unix-socket",
                           socket_path, "http://sandbox/health"],
                          capture_output=True, timeout=30)
    assert done.returncode == 0 and done.stdout == b"ok", done


def test_one_connection_carries_several_requests_in_order(dirty_sandbox_url: str):
    raw = (post_run(run_frame()) + b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"
           + post_run(run_frame("def f():\n    return 'two'\n"), b"Connection: close\r\n"))
    heads, bodies, closed = exchange(dirty_sandbox_url, raw, reads=3)
    assert [h.start[1] for h in heads] == ["200", "404", "200"]
    header, body = decode_frame(bodies[0])
    assert (header["outcome"], header["body_length"], body) == ("ok", 1, b"7")
    assert decode_frame(bodies[2])[1] == b'"two"'
    assert heads[2].headers["connection"] == "close" and closed


def test_http_1_0_gets_its_answer_and_the_connection_closes(dirty_sandbox_url: str):
    heads, bodies, closed = exchange(dirty_sandbox_url, b"GET /health HTTP/1.0\r\n\r\n")
    assert heads[0].start[1] == "200" and bodies == [b"ok"] and closed


def test_expect_100_continue_is_answered_before_the_body(dirty_sandbox_url: str):
    frame = run_frame()
    with connect(dirty_sandbox_url) as sock:
        reader = sock.makefile("rb")
        sock.sendall(b"POST /run HTTP/1.1\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                     % len(frame))
        continued = http1.read_head(reader)
        assert continued is not None and continued.start[1] == "100"  # before any body was sent
        sock.sendall(frame)
        head = http1.read_head(reader)
        assert head is not None and head.start[1] == "200"
        length = head.content_length()
        assert length is not None
        assert decode_frame(http1.read_body(reader, length))[1] == b"7"
        reader.close()


@pytest.mark.parametrize("raw, status", [
    (b"POST /run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "501"),
    (b"POST /run HTTP/1.1\r\nHost: t\r\n\r\n", "411"),
    (b"POST /run HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", "413"),
    (b"GET / HTTP/1.1\r\nbroken header\r\n\r\n", "400"),
])
def test_requests_that_cannot_be_framed_are_answered_and_the_connection_closed(
        dirty_sandbox_url: str, raw: bytes, status: str):
    heads, _, closed = exchange(dirty_sandbox_url, raw)
    assert heads[0].start[1] == status and closed


def test_a_malformed_frame_is_400_and_the_connection_stays(dirty_sandbox_url: str):
    raw = post_run(b"\x00\x00\x00\x09not json!") + b"GET /health HTTP/1.1\r\n\r\n"
    heads, bodies, closed = exchange(dirty_sandbox_url, raw, reads=2)
    assert heads[0].start[1] == "400" and b"malformed call" in bodies[0]
    assert heads[1].start[1] == "200" and not closed


# The client: kept-alive connections, and what it does when the server closes one.

@pytest.fixture
def scripted_server() -> Iterator[Callable[[list[list[bytes | None]]], str]]:
    """start(script) serves len(script) connections in turn, answering connection i's
    requests with script[i] in order (None: close without answering); returns the URL."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(script: list[list[bytes | None]]) -> None:
        for answers in script:
            sock, _ = listener.accept()
            reader = sock.makefile("rb")
            for answer in answers:
                head = http1.read_head(reader)
                if head is None:
                    break
                http1.read_body(reader, head.content_length() or 0)
                if answer is None:
                    break
                sock.sendall(answer)
            reader.close()
            sock.close()

    def start(script: list[list[bytes | None]]) -> str:
        threading.Thread(target=serve, args=(script,), daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    listener.close()
    client._connections.__dict__.pop("by_address", None)  # this thread's kept-alive ones


def ok(body: bytes) -> bytes:
    return http1.response(200, body, "application/octet-stream")


def test_a_kept_alive_connection_the_server_closed_is_replaced_once(scripted_server):
    url = scripted_server([[ok(b"first")], [ok(b"second")]])  # one answer per connection
    assert client._post(url, b"call", 5) == b"first"
    assert client._post(url, b"call", 5) == b"second"  # stale connection: once more, afresh


def test_a_kept_alive_connection_is_reused(scripted_server):
    url = scripted_server([[ok(b"first"), ok(b"second")]])  # a second connection would hang
    assert client._post(url, b"call", 5) == b"first"
    assert client._post(url, b"call", 5) == b"second"


def test_a_fresh_connection_closed_without_an_answer_is_a_crash(scripted_server):
    url = scripted_server([[None], [None]])
    with pytest.raises(Crashed, match="closed the connection"):
        client._post(url, b"call", 5)


def test_other_statuses_are_a_crash_naming_the_status(scripted_server):
    url = scripted_server([[http1.response(400, b"malformed call: x", "text/plain")]])
    with pytest.raises(Crashed, match="answered 400"):
        client._post(url, b"call", 5)


def test_a_server_that_never_answers_times_out():
    with socket.create_server(("127.0.0.1", 0)) as listener:  # connects, never accepts
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(Crashed, match="did not answer"):
            client._post(url, b"call", 0.5)
    client._connections.__dict__.pop("by_address", None)
