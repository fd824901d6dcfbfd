"""The caller's side: send a call to wherever the sandbox runs, and turn the answer into a value.

Where is chosen by settings (TASKPORT_SANDBOX_MODE, else inferred):
- `server`: the local sandbox server at TASKPORT_SANDBOX_URL (the local stack starts one):
  `unix:<socket path>`, or `http://host:port` for anything else speaking the same HTTP;
- `lambda`: invoke the `sandbox` Lambda (settings.sandbox_function) - the default on AWS; package
  bundle calls invoke the `bundle_sandbox` Lambda (settings.bundle_sandbox_function) instead;
- `local`: a private sandbox server that this process spawns on first use, with a scrubbed
  environment (tests, scripts). The default when there is neither a URL nor a Lambda.
All three end in the same runner.execute: a warm parent forking a contained child per call.
"""
from __future__ import annotations

import atexit
import base64
import json
import os
import socket
import threading
from typing import Any
from collections.abc import Callable
from urllib.parse import urlsplit

from chalicelib.config import get_settings
from chalicelib.errors import ConfigurationError
from chalicelib.sandbox import http1
from chalicelib.sandbox.errors import Crashed
from chalicelib.sandbox.wire import Limits, decode_frame, encode_frame

MODES = ("server", "lambda", "local")
UNIX_SCHEME = "unix:"
TRANSPORT_SLACK_SECONDS = 5.0

_local_lock = threading.Lock()
_local: tuple[int, str, Callable[[], None]] | None = None
_connections = threading.local()


def mode() -> str:
    """Where calls run, from settings."""
    settings = get_settings()
    if settings.sandbox_mode:
        if settings.sandbox_mode not in MODES:
            raise ConfigurationError(f"TASKPORT_SANDBOX_MODE must be one of {', '.join(MODES)}, "
                                     f"got {settings.sandbox_mode!r}")
        return settings.sandbox_mode
    if settings.sandbox_url:
        return "server"
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return "lambda"
    return "local"


def call(call: dict[str, Any], body: bytes, limits: Limits) -> tuple[dict[str, Any], bytes]:
    """Run `call` in the sandbox; the answer's header and body (failures raise)."""
    limits = limits.resolved()
    where = mode()
    if where == "lambda":
        frame = _invoke_lambda(call, body, limits)
    else:
        url = get_settings().sandbox_url if where == "server" else local_url()
        if not url:
            raise ConfigurationError("TASKPORT_SANDBOX_MODE=server needs TASKPORT_SANDBOX_URL")
        frame = _post(url, encode_frame({"call": call, "limits": limits.as_dict()}, body),
                      float(limits.wall_seconds or 0) + TRANSPORT_SLACK_SECONDS)
    return decode_frame(frame)


def local_url() -> str:
    """The URL of this process's private sandbox server, spawned on first use."""
    global _local
    with _local_lock:
        if _local is None or _local[0] != os.getpid():
            from chalicelib.sandbox import server

            url, stop = server.spawn()
            _local = (os.getpid(), url, stop)
            atexit.register(stop)
        return _local[1]


def stop_local() -> None:
    """Stop the private sandbox server, if this process started one."""
    global _local
    with _local_lock:
        if _local is not None and _local[0] == os.getpid():
            _local[2]()
        _local = None


class _Connection:
    """A kept-alive HTTP/1.1 connection to one sandbox server (one per thread)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        if port < 0:  # a Unix socket; host is its path
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(host)
            except OSError:
                self.sock.close()
                raise
            self.authority = "sandbox"
        else:
            self.sock = socket.create_connection((host, port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.authority = f"{host}:{port}"
        self.reader = self.sock.makefile("rb")

    def post(self, target: str, body: bytes, timeout: float) -> tuple[int, bytes, bool]:
        """(status, body, whether the server still keeps the connection) of one POST.
        Raises _Stale when the server had closed the connection before answering anything."""
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(http1.request("POST", target, self.authority, body,
                                            "application/octet-stream"))
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _Stale() from exc
        try:
            head = http1.read_head(self.reader)
        except ConnectionResetError as exc:
            raise _Stale() from exc
        if head is None:
            raise _Stale()
        if len(head.start) < 2 or not head.start[1].isdigit():
            raise http1.BadMessage(f"malformed status line {' '.join(head.start)[:100]!r}")
        length = head.content_length()
        if length is None:
            raise http1.BadMessage("the answer has no Content-Length")
        return int(head.start[1]), http1.read_body(self.reader, length), head.keeps_alive()

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class _Stale(Exception):
    """A kept-alive connection the server had closed: nothing was answered on it."""


def _post(url: str, frame: bytes, timeout: float) -> bytes:
    if url.startswith(UNIX_SCHEME):
        key = (url[len(UNIX_SCHEME):], -1)
    else:
        parts = urlsplit(url)
        key = (parts.hostname or "127.0.0.1", parts.port or 80)
    connections = _connections.__dict__.setdefault("by_address", {})
    for attempt in range(2):
        connection = connections.pop(key, None)
        try:
            if connection is None:
                connection = _Connection(*key)
            status, data, keep_alive = connection.post("/run", frame, timeout)
        except _Stale:
            connection.close()
            if attempt == 0:
                continue  # closed while idle (e.g. the server restarted): once more, afresh
            raise Crashed(f"the sandbox server at {url} closed the connection") from None
        except (OSError, http1.BadMessage) as exc:
            if connection is not None:
                connection.close()
            raise Crashed(f"the sandbox server at {url} did not answer: {exc}") from exc
        if keep_alive:
            connections[key] = connection
        else:
            connection.close()
        if status != 200:
            raise Crashed(f"the sandbox server answered {status}: {data[:200]!r}")
        return data
    raise Crashed(f"the sandbox server at {url} did not answer")


def _invoke_lambda(call: dict[str, Any], body: bytes, limits: Limits) -> bytes:
    from chalicelib import aws
    from chalicelib.sandbox import bundles, staging

    # A body or answer over the 6 MB invoke goes through S3 by presigned URLs (staging.py).
    staged = staging.Staged(int(float(limits.wall_seconds or 0) + TRANSPORT_SLACK_SECONDS)
                            + staging.URL_SLACK_SECONDS)
    stored = False
    try:
        payload = json.dumps({"call": call, "limits": limits.as_dict(),
                              **staged.event_fields(body)})
        settings = get_settings()
        # Package bundles run on their own function's Python (steamship's wheels: 3.11); every
        # other call on the sandbox function's.
        function = (settings.bundle_sandbox_function if call.get("kind") == bundles.KIND
                    else settings.sandbox_function)
        response = aws.client("lambda").invoke(FunctionName=function,
                                               InvocationType="RequestResponse", Payload=payload)
        raw = response["Payload"].read()
        if response.get("FunctionError"):
            raise Crashed(f"the sandbox function failed: {raw[:500]!r}")
        try:
            answer = json.loads(raw)
            stored = answer.get("frame_stored") is True
            return staged.stored_frame() if stored else base64.b64decode(answer["frame"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Crashed("the sandbox function answered something unreadable") from exc
    finally:
        staged.remove(stored)
