"""What runs inside the forked child: load the script, make the call, check what it returned."""
from __future__ import annotations

import json
import linecache
import os
import sys
import traceback
from typing import Any

from chalicelib.sandbox import bundles
from chalicelib.sandbox.wire import failure

ALLOWED_MIMETYPES = ("application/json", "text/plain")
MAX_MESSAGE_CHARS = 2000
MAX_TRACEBACK_CHARS = 16000
DEFAULT_LOG_BYTES = 64 * 1024


def answer(call: dict[str, Any], body: bytes, output_bytes: int) -> tuple[dict[str, Any], bytes]:
    """Run one call and describe its outcome as a frame header and body.

    The body is the captured stdout, then stderr, then the answer's own body; the header gives
    `stdout_length`, `stderr_length` and `body_length` (all three), and the truncation flags.
    """
    capture = _Capture(int(call.get("log_bytes") or DEFAULT_LOG_BYTES))
    try:
        header, data = _answer(call, body, output_bytes)
    finally:
        out, out_truncated, err, err_truncated = capture.stop()
    header.update(stdout_length=len(out), stderr_length=len(err), stdout_truncated=out_truncated,
                  stderr_truncated=err_truncated, body_length=len(out) + len(err) + len(data))
    return header, out + err + data


class _Capture:
    """Descriptors 1 and 2 pointed at two memory files for the call, read back after it.

    At the descriptor level, so that os.write(1, ...), C extensions and subprocesses that
    inherit them are captured as well as print(); the files count against RLIMIT_FSIZE. No
    other descriptor is kept: what is read back is what 1 and 2 hold at the end, when they are
    still the files made here (a script that points them elsewhere keeps its output).
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.files: list[tuple[int, int] | None] = []
        for fd in (1, 2):
            try:
                memory = os.memfd_create("stdout" if fd == 1 else "stderr", 0)
            except OSError:
                self.files.append(None)  # without capture the call still runs, its output lost
                continue
            try:
                os.dup2(memory, fd)
                status = os.fstat(fd)
                self.files.append((status.st_dev, status.st_ino))
            finally:
                os.close(memory)

    def stop(self) -> tuple[bytes, bool, bytes, bool]:
        """(stdout, truncated, stderr, truncated), each at most `cap` bytes."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110 - user code may have replaced the stream
                pass
        kept: list[tuple[bytes, bool]] = []
        for fd, made in zip((1, 2), self.files, strict=False):
            try:
                status = os.fstat(fd)
                if made != (status.st_dev, status.st_ino):
                    raise OSError("no longer the capture file")
                kept.append((os.pread(fd, min(status.st_size, self.cap), 0),
                             status.st_size > self.cap))
            except OSError:
                kept.append((b"", False))
        while len(kept) < 2:
            kept.append((b"", False))
        return kept[0][0], kept[0][1], kept[1][0], kept[1][1]


def _answer(call: dict[str, Any], body: bytes, output_bytes: int) -> tuple[dict[str, Any], bytes]:
    filename = call["filename"]
    try:
        if call["kind"] == bundles.KIND:  # a Steamship package bundle (see bundles.py)
            return _function_answer(bundles.run(call), output_bytes)
        target = _load(call["source"], filename, call.get("function") or "handler")
        if call["kind"] == "http":
            request = _flask_request(call["http"], body)
            result = target(request, *call.get("args", []), **call.get("kwargs", {}))
            return _http_answer(result, output_bytes)
        # `body_first`: the call's body bytes are the first argument (no base64 in the header).
        args = [body, *call.get("args", [])] if call.get("body_first") else call.get("args", [])
        result = target(*args, **call.get("kwargs", {}))
        return _function_answer(result, output_bytes)
    except BaseException as exc:  # noqa: BLE001 - everything the script raises is its answer
        if isinstance(exc, SystemExit):
            return failure("crashed", f"the script called exit({exc.code!r})"), b""
        return {
            "outcome": "exception",
            "type": type(exc).__name__,
            "message": _safe_str(exc)[:MAX_MESSAGE_CHARS],
            "traceback": user_traceback(exc, filename)[-MAX_TRACEBACK_CHARS:],
        }, b""


def user_traceback(exc: BaseException, filename: str) -> str:
    """The traceback of `exc` with only the frames of the user's script (and of its causes)."""
    try:
        described = traceback.TracebackException.from_exception(exc)
        seen: set[int] = set()
        pending = [described]
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            current.stack = traceback.StackSummary.from_list(
                [frame for frame in current.stack if frame.filename == filename])
            pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        return "".join(described.format())
    except BaseException:  # noqa: BLE001 - a hostile exception must not hide the failure
        return f"{type(exc).__name__}: <the traceback could not be formatted>\n"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a hostile __str__ must not hide the failure
        return "<unprintable exception>"


WARM_UP_SOURCE = """
import json
from flask import Response

def handler(request, *args, **kwargs):
    return Response(json.dumps({"method": request.method, "args": request.args.to_dict()}),
                    mimetype="application/json")

def function(*args, **kwargs):
    return "warm"
"""
WARM_UP_CALLS: list[tuple[dict[str, Any], bytes]] = [
    ({"kind": "http", "source": WARM_UP_SOURCE, "filename": "warm-up.py", "function": "handler",
      "http": {"method": "POST", "path": "/warm-up", "headers": {"Content-Type": "text/plain"},
               "query": {"q": ["1"]}}}, b"warm"),
    ({"kind": "function", "source": WARM_UP_SOURCE, "filename": "warm-up.py",
      "function": "function", "args": [1], "kwargs": {}}, b""),
]  # trivial calls a waiting child makes before any user code (see spare._rehearse)


class MissingFunction(Exception):
    """The script does not define the function to call."""


def _load(source: str, filename: str, function: str) -> Any:
    namespace: dict[str, Any] = {"__name__": "__sandbox__", "__file__": filename}
    # The traceback then shows the script's own lines, as it would for a file on disk.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - this is the sandbox
    target = namespace.get(function)
    if not callable(target):
        raise MissingFunction(f"{filename} defines no function {function!r}")
    return target


def _flask_request(http: dict[str, Any], body: bytes) -> Any:
    from urllib.parse import urlencode

    from flask import Request
    from werkzeug.test import EnvironBuilder

    query = urlencode([(k, v) for k, values in http.get("query", {}).items() for v in values])
    headers = dict(http.get("headers") or {})
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    builder = EnvironBuilder(path=http.get("path") or "/", method=http.get("method") or "GET",
                             query_string=query, headers=headers, data=body,
                             content_type=content_type)
    try:
        return Request(builder.get_environ())
    finally:
        builder.close()


def _too_large(size: int, output_bytes: int) -> tuple[dict[str, Any], bytes]:
    return failure("too_large", f"the answer is {size} bytes; the limit is {output_bytes}"), b""


def _function_answer(result: Any, output_bytes: int) -> tuple[dict[str, Any], bytes]:
    try:
        encoded = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return failure("refused", f"the function returned a value that is not plain JSON "
                                  f"({type(result).__name__}): {exc}"), b""
    if len(encoded) > output_bytes:
        return _too_large(len(encoded), output_bytes)
    return {"outcome": "ok", "body_length": len(encoded.encode("utf-8"))}, encoded.encode("utf-8")


def _http_answer(result: Any, output_bytes: int) -> tuple[dict[str, Any], bytes]:
    from werkzeug.wrappers import Response

    if isinstance(result, str):
        body = result.encode("utf-8")
        if len(body) > output_bytes:
            return _too_large(len(body), output_bytes)
        return {"outcome": "ok", "status": 200, "mimetype": "text/plain",
                "headers": [["Content-Type", "text/plain; charset=utf-8"]],
                "body_length": len(body)}, body
    if not isinstance(result, Response):
        return failure("refused", "the handler must return a str or a flask.Response of mimetype "
                                  f"application/json or text/plain, not {type(result).__name__}"), b""
    body = result.get_data()
    if body and result.mimetype not in ALLOWED_MIMETYPES:
        return failure("refused", "the handler returned a flask.Response of mimetype "
                                  f"{result.mimetype!r}; a body needs mimetype "
                                  "application/json or text/plain"), b""
    if len(body) > output_bytes:
        return _too_large(len(body), output_bytes)
    # Every field as a pair, repeated ones too: the parent decides what is passed on.
    headers = [[k, v] for k, v in result.headers.items() if k.lower() != "content-length"]
    return {"outcome": "ok", "status": result.status_code, "mimetype": result.mimetype or "",
            "headers": headers, "body_length": len(body)}, body
