"""The local sandbox server: a warm parent on 127.0.0.1 that forks one contained child per call.

    POST /run   body: a frame {"call", "limits"} + request body  ->  200, body: the answer frame
    GET /health                                                  ->  200 "ok"

`python -m chalicelib.sandbox.server [--host 127.0.0.1] [--port 0]` prints its URL on the first
line of stdout and serves until killed; it re-executes itself with a scrubbed environment first,
so the parent that every call is forked from never held a credential. `serve()` (the local
stack's entry) and `spawn()` start it that way from Python; `serve_in_process()` serves from the
calling process (forks inherit that process's memory: only for a process holding no secrets).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable

from chalicelib.sandbox import http1, runner
from chalicelib.sandbox.wire import Limits, decode_frame, encode_frame, failure

MAX_REQUEST_BYTES = 64 * 1024 * 1024
# LC_CTYPE: Python sets it itself when it coerces the C locale; the re-exec must keep it.
SAFE_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH")
SECRET_PREFIXES = ("AWS_", "TASKPORT_")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Handler(socketserver.StreamRequestHandler):
    """One kept-alive connection: answer requests until the peer closes it."""

    disable_nagle_algorithm = True

    def handle(self) -> None:
        try:
            while self._answer_one():
                pass
        except OSError:
            pass  # the peer went away

    def _answer_one(self) -> bool:
        """Read and answer one request; whether the connection stays open."""
        try:
            head = http1.read_head(self.rfile)
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
            body = http1.read_body(self.rfile, length or 0)
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
            call, limits = header["call"], Limits.from_dict(header.get("limits") or {})
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


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Start the sandbox server in its own credential-free process; returns (url, stop)."""
    return spawn(host, port)


def serve_in_process(host: str = "127.0.0.1",
                     port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve from this process on a background thread; returns (url, stop)."""
    runner.prepare()
    server = _Server((host, port), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-server", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.server_address[1]}", stop


def clean_environment() -> dict[str, str]:
    """What the sandbox parent keeps of an environment: nothing secret."""
    env = {k: v for k, v in os.environ.items()
           if k in SAFE_ENVIRONMENT and not k.startswith(SECRET_PREFIXES)}
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


def spawn(host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Start `python -m chalicelib.sandbox.server` with a scrubbed environment; (url, stop).

    The server's stdin is a pipe that only this process holds open: when this process ends,
    however it ends, the server reads EOF and exits, so no server outlives its starter.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.sandbox.server", "--host", host, "--port", str(port),
         "--exit-with-stdin"],
        env=clean_environment(), cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        close_fds=True)
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.startswith("http://"):
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
    args.add_argument("--host", default="127.0.0.1")
    args.add_argument("--port", type=int, default=0)
    args.add_argument("--exit-with-stdin", action="store_true",
                      help="exit when stdin reaches EOF (the starter went away)")
    options = args.parse_args(argv)
    if any(k.startswith(SECRET_PREFIXES) or k not in SAFE_ENVIRONMENT for k in os.environ):
        # Start over with nothing secret in the environment block or anywhere in memory.
        os.execve(sys.executable, [sys.executable, "-m", "chalicelib.sandbox.server",
                                   *(argv if argv is not None else sys.argv[1:])],
                  clean_environment())
    threading.stack_size(512 * 1024)  # a forked child inherits every thread's stack mapping
    url, _ = serve_in_process(options.host, options.port)
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


