"""The local sandbox server: a warm parent on a Unix socket that forks one contained child per call.

    POST /run   body: a frame {"call", "limits"} + request body  ->  200, body: the answer frame
    GET /health                                                  ->  200 "ok"

`python -m chalicelib.sandbox.server [--socket PATH]` prints its URL (`unix:<path>`) on the first
line of stdout and serves until killed; it re-executes itself with a scrubbed environment first,
so the parent that every call is forked from never held a credential, and with the limits'
maxima taken from the starter's settings. `serve()` (the local stack's entry) and `spawn()` start
it that way from Python; `serve_in_process()` serves from the calling process (forks inherit
that process's memory: only for a process holding no secrets).

Only the starter's user (and root) may call it: the socket lives in a 0700 directory, and each
connection's peer credentials (SO_PEERCRED) are checked; operators can use
`curl --unix-socket <path> http://sandbox/health`. A call's limits are capped here, whatever it
asks (see docs/sandbox-isolation.md).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from chalicelib.sandbox import http1, isolation, maxima, runner
from chalicelib.sandbox.wire import Limits, decode_frame, encode_frame, failure

MAX_REQUEST_BYTES = 64 * 1024 * 1024
# LC_CTYPE: Python sets it itself when it coerces the C locale; the re-exec must keep it.
SAFE_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH")
SECRET_PREFIXES = ("AWS_", "TASKPORT_")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
URL_SCHEME = "unix:"
SOCKET_NAME = "sandbox.sock"
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class _Handler(socketserver.StreamRequestHandler):
    """One kept-alive connection: answer requests until the peer closes it."""

    def handle(self) -> None:
        try:
            while self._answer_one():
                pass
        except OSError:
            pass  # the peer went away

    def _answer_one(self) -> bool:
        """Read and answer one request; whether the connection stays open."""
        try:
            head = http1.read_head(cast(BinaryIO, self.rfile))
            if head is None:
                return False
            length = head.content_length()
        except http1.Unsupported as exc:
            self._send(501, str(exc).encode(), "text/plain", keep_alive=False)
            return False
        except http1.BadMessage as exc:
            self._send(400, str(exc).encode(), "text/plain", keep_alive=False)
            return False
        route = (head.start[0], head.start[1])
        if route == ("POST", "/run") and length is None:
            self._send(411, b"Content-Length required", "text/plain", keep_alive=False)
            return False
        if (length or 0) > MAX_REQUEST_BYTES:
            self._send(413, b"request too large", "text/plain", keep_alive=False)
            return False
        if head.headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = http1.read_body(cast(BinaryIO, self.rfile), length or 0)
        except http1.BadMessage:
            return False  # the peer closed mid-body: nobody to answer
        keep_alive = head.keeps_alive()
        if route == ("POST", "/run"):
            self._run(body, keep_alive)
        elif route == ("GET", "/health"):
            self._send(200, b"ok", "text/plain", keep_alive)
        else:
            self._send(404, b"not found", "text/plain", keep_alive)
        return keep_alive

    def _run(self, frame: bytes, keep_alive: bool) -> None:
        try:
            header, body = decode_frame(frame)
            call = header["call"]
            limits = maxima.capped(Limits.from_dict(header.get("limits") or {}),
                                   getattr(self.server, "most", Limits()))
        except Exception as exc:  # noqa: BLE001 - a malformed request is answered, not raised
            self._send(400, f"malformed call: {exc}".encode(), "text/plain", keep_alive)
            return
        try:
            answer, clean_up = runner.execute(call, body, limits)
        except Exception as exc:  # noqa: BLE001 - e.g. fork failing under load
            logging.getLogger("taskport").error("sandbox call failed: %r", exc)
            answer = encode_frame(failure("crashed", f"the sandbox could not run the call: {exc}"))
            clean_up = None
        try:
            self._send(200, answer, "application/octet-stream", keep_alive)
        finally:
            if clean_up is not None:  # after the answer is sent: no fork competes with it
                runner.clean_up_later(clean_up)

    def _send(self, status: int, body: bytes, content_type: str, keep_alive: bool) -> None:
        self.wfile.write(http1.response(status, body, content_type, close=not keep_alive))


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128
    most = Limits()  # set by serve_in_process

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Only this process's user and root (who could read its memory anyway) may call."""
        pid, uid, _ = _PEERCRED.unpack(request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                          _PEERCRED.size))
        if uid in (os.getuid(), 0):
            return True
        logging.getLogger("taskport").warning(
            "sandbox server: refused a connection from pid %d (uid %d)", pid, uid)
        return False


def socket_path(url: str) -> str | None:
    """The socket path of a `unix:` URL; None for any other URL."""
    return url[len(URL_SCHEME):] if url.startswith(URL_SCHEME) else None


def serve(host: str | None = None, port: int | None = None) -> tuple[str, Callable[[], None]]:
    """Start the sandbox server in its own credential-free process; returns (url, stop).
    `host` and `port` are ignored (the local stack passes them): it listens on a Unix socket."""
    return spawn()


def serve_in_process(path: str | None = None,
                     most: Limits | None = None) -> tuple[str, Callable[[], None]]:
    """Serve from this process on a background thread; returns (url, stop)."""
    isolation.require_network_policy()
    runner.prepare()
    own_directory = None
    if path is None:
        own_directory = tempfile.mkdtemp(prefix="taskport-sandbox-socket-")  # mode 0700
        path = os.path.join(own_directory, SOCKET_NAME)
    server = _Server(path, _Handler)
    server.most = most or maxima.from_settings()
    os.chmod(path, 0o600)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-server", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        try:
            os.unlink(path)
        except OSError:
            pass
        if own_directory is not None:
            shutil.rmtree(own_directory, ignore_errors=True)

    return URL_SCHEME + path, stop


def clean_environment() -> dict[str, str]:
    """What the sandbox parent keeps of an environment: nothing secret."""
    env = {k: v for k, v in os.environ.items()
           if k in SAFE_ENVIRONMENT and not k.startswith(SECRET_PREFIXES)}
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


def spawn(most: Limits | None = None) -> tuple[str, Callable[[], None]]:
    """Start `python -m chalicelib.sandbox.server` with a scrubbed environment; (url, stop).

    The server's stdin is a pipe that only this process holds open: when this process ends,
    however it ends, the server reads EOF and exits, so no server outlives its starter.
    Calls are capped at `most` (default: this process's settings, see maxima.from_settings).
    """
    isolation.require_network_policy()
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.sandbox.server", "--exit-with-stdin",
         "--max-limits", json.dumps((most or maxima.from_settings()).as_dict())],
        env=clean_environment(), cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        close_fds=True)
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.startswith(URL_SCHEME):
        process.kill()
        process.wait()
        raise RuntimeError(f"the sandbox server did not start (said {line!r})")

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    return line, stop


def _exit_at_eof() -> None:
    """Wait for stdin to close, then stop as SIGTERM would (the main thread runs atexit).

    Reads descriptor 0, not sys.stdin: a daemon thread blocked inside the buffered reader holds
    its lock, and the interpreter's shutdown (after stop()'s SIGTERM) then aborts on it.
    """
    while os.read(0, 4096):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    """Serve until killed, printing the URL first."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--socket", help="the socket's path (default: in a new 0700 directory)")
    args.add_argument("--max-limits", help="JSON: the most a call may ask (default: settings)")
    args.add_argument("--exit-with-stdin", action="store_true",
                      help="exit when stdin reaches EOF (the starter went away)")
    arguments = list(argv if argv is not None else sys.argv[1:])
    options = args.parse_args(arguments)
    if options.max_limits is None:
        # Read while the starter's settings are still in the environment, kept across the re-exec.
        isolation.require_network_policy()
        options.max_limits = json.dumps(maxima.from_settings().as_dict())
        arguments += ["--max-limits", options.max_limits]
    if any(k.startswith(SECRET_PREFIXES) or k not in SAFE_ENVIRONMENT for k in os.environ):
        # Start over with nothing secret in the environment block or anywhere in memory.
        os.execve(sys.executable, [sys.executable, "-m", "chalicelib.sandbox.server",
                                   *arguments], clean_environment())
    threading.stack_size(512 * 1024)  # a forked child inherits every thread's stack mapping
    url, _ = serve_in_process(options.socket, Limits.from_dict(json.loads(options.max_limits)))
    # Exit through the interpreter on SIGTERM (stop()), so that atexit removes the directory
    # that holds the calls' working directories; quietly on SIGINT too, which a Ctrl-C in the
    # terminal of `make dev` sends to this process as well as to the stack.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: sys.exit(0))
    if options.exit_with_stdin:
        threading.Thread(target=_exit_at_eof, name="sandbox-starter-watch", daemon=True).start()
    print(url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()


