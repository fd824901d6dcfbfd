"""Runs user code (handler scripts, workflow scripts) in a forked, limited child; see runner.py.

    sandbox.run_function(source, filename, function, args, kwargs, limits, on_report=, body=) -> JSON
    sandbox.run_http_handler(source, filename, HttpCall, limits, on_report=) -> HttpAnswer
    sandbox.run_bundle(key, event, fetch, limits, on_report=) -> a Steamship InvocableResponse
Failures raise SandboxError subclasses: Timeout (504), Crashed (500), ScriptError (500),
TooLarge (502), Refused (502). Every call, success or failure, hands a CallReport to
`on_report` once before it returns or raises; a SandboxError carries it as `.report`.
"""
from __future__ import annotations

import json
import time
from typing import Any
from collections.abc import Callable

from chalicelib.sandbox import bundles, client
from chalicelib.sandbox.errors import (BundleMissing, Crashed, Refused, SandboxError, ScriptError, Timeout,
                                       TooLarge)
from chalicelib.sandbox.wire import (STATUS_OF_OUTCOME, CallReport, HttpAnswer, HttpCall, Limits,
                                     checked_http_answer, raise_for)

__all__ = ["Limits", "HttpCall", "HttpAnswer", "CallReport", "SandboxError", "Timeout",
           "Crashed", "ScriptError", "TooLarge", "Refused", "run_function", "run_http_handler"]

OnReport = Callable[[CallReport], None]


def run_function(source: str, filename: str, function: str, args: list[Any] | tuple[Any, ...],
                 kwargs: dict[str, Any], limits: Limits | None = None,
                 on_report: OnReport | None = None, body: bytes | None = None) -> Any:
    """`function(*args, **kwargs)` from the script, run in the sandbox; its JSON return value.
    With `body`, `function(body, *args, **kwargs)`: the bytes travel raw, outside the JSON."""
    def value(header: dict[str, Any], body: bytes) -> Any:
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Crashed("the sandbox answered a malformed value") from exc

    call: dict[str, Any] = {"kind": "function", "source": source, "filename": filename,
            "function": function, "args": list(args), "kwargs": dict(kwargs)}
    if body is not None:
        call["body_first"] = True
    return _run(call, body or b"", limits, on_report, value)


def run_http_handler(source: str, filename: str, request: HttpCall,
                     limits: Limits | None = None, function: str = "handler",
                     on_report: OnReport | None = None) -> HttpAnswer:
    """The script's `handler(flask.Request, *args, **kwargs)` answer, run in the sandbox."""
    http = {"method": request.method, "path": request.path, "headers": dict(request.headers),
            "query": {k: list(v) for k, v in request.query.items()}}

    return _run({"kind": "http", "source": source, "filename": filename, "function": function,
                 "http": http, "args": list(request.args), "kwargs": dict(request.kwargs)},
                request.body, limits, on_report, checked_http_answer)


def run_bundle(key: str, event: dict[str, Any], fetch: Callable[[], bytes],
               limits: Limits | None = None, on_report: OnReport | None = None,
               locate: Callable[[], tuple[str, str]] | None = None) -> Any:
    """The Steamship SDK's answer (its InvocableResponse as a dict) for `event`, run from the
    package bundle `key`; `fetch()` gives the bundle's bytes, asked for only when this sandbox
    has not unpacked that bundle yet (see bundles.py). For the `sandbox` Lambda, `locate()`
    gives a URL and ETag it fetches the bundle by instead: no bundle fits its invoke payload."""
    def value(header: dict[str, Any], body: bytes) -> Any:
        try:
            answer = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Crashed("the package answered something unreadable") from exc
        if not isinstance(answer, dict):
            raise Crashed("the package did not answer an InvocableResponse")
        return answer

    def call() -> dict[str, Any]:
        made = {"kind": bundles.KIND, "bundle": key, "event": event, "filename": "api.py"}
        if locate is not None and client.mode() == "lambda":
            made["bundle_url"], made["bundle_etag"] = locate()
        return made

    # The report of an attempt the sandbox answered `bundle_missing` is not the call's: only
    # the attempt that ran is reported.
    held: list[CallReport] = []
    try:
        answer = _run(call(), b"", limits, held.append, value)
    except BundleMissing:
        return _run(call(), fetch(), limits, on_report, value)
    except SandboxError:
        _pass_on(held, on_report)
        raise
    _pass_on(held, on_report)
    return answer


def _pass_on(held: list[CallReport], on_report: OnReport | None) -> None:
    if held and on_report is not None:
        on_report(held[0])


def _run(call: dict[str, Any], body: bytes, limits: Limits | None, on_report: OnReport | None,
         finish: Callable[[dict[str, Any], bytes], Any]) -> Any:
    """Make the call, turn its answer into a value with `finish`, and report it either way."""
    started = time.monotonic()
    resolved = (limits or Limits()).resolved()
    log_bytes = int(resolved.log_bytes or 0)
    call["log_bytes"] = log_bytes
    try:
        header, data = client.call(call, body, resolved)
    except SandboxError as exc:  # the sandbox itself did not answer
        _report(on_report, exc, _failed_report(exc, (time.monotonic() - started) * 1000))
        raise
    output, answer_body = _split_output(header, data, log_bytes)
    try:
        raise_for(header)
        value = finish(header, answer_body)
    except SandboxError as exc:
        _report(on_report, exc, _report_of(header, output, exc, started))
        raise
    _report(on_report, None, _report_of(header, output, None, started))
    return value


def _report(on_report: OnReport | None, exc: SandboxError | None, report: CallReport) -> None:
    if exc is not None:
        exc.report = report
    if on_report is not None:
        on_report(report)


_Output = tuple[str, bool, str, bool]  # stdout, truncated, stderr, truncated


def _split_output(header: dict[str, Any], data: bytes, cap: int) -> tuple[_Output, bytes]:
    """The captured stdout and stderr at the start of the body, and the answer body after them.

    The lengths come from the child, so they are checked here; the cap is applied again."""
    lengths = header.get("stdout_length", 0), header.get("stderr_length", 0)
    if not all(isinstance(n, int) and n >= 0 for n in lengths) or sum(lengths) > len(data):
        return ("", False, "", False), data
    out_length, err_length = lengths
    out, err = data[:out_length], data[out_length:out_length + err_length]
    output = (out[:cap].decode("utf-8", "replace"),
              bool(header.get("stdout_truncated")) or len(out) > cap,
              err[:cap].decode("utf-8", "replace"),
              bool(header.get("stderr_truncated")) or len(err) > cap)
    return output, data[out_length + err_length:]


def _status_of(header: dict[str, Any], exc: SandboxError | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, ScriptError) and exc.error_type == "MemoryError":
        return "killed"  # the address-space limit, as the script saw it
    if isinstance(exc, Timeout):
        return "timeout"
    if isinstance(exc, (Refused, TooLarge)):
        return "refused"
    return STATUS_OF_OUTCOME.get(str(header.get("outcome")), "error")


def _error_of(exc: SandboxError) -> dict[str, str]:
    if isinstance(exc, ScriptError):
        return {"type": exc.error_type, "message": exc.error_message, "traceback": exc.traceback}
    return {"type": type(exc).__name__, "message": exc.message, "traceback": ""}


def _report_of(header: dict[str, Any], output: _Output, exc: SandboxError | None,
               started: float) -> CallReport:
    usage = header.get("usage") if isinstance(header.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    duration = usage.get("duration_ms")
    return CallReport(
        status=_status_of(header, exc),
        duration_ms=float(duration) if isinstance(duration, (int, float))
        else (time.monotonic() - started) * 1000,
        cpu_ms=float(usage.get("cpu_ms") or 0.0),
        max_rss_bytes=int(usage.get("max_rss_bytes") or 0),
        stdout=output[0], stdout_truncated=output[1],
        stderr=output[2], stderr_truncated=output[3],
        error=_error_of(exc) if exc is not None else None)


def _failed_report(exc: SandboxError, duration_ms: float) -> CallReport:
    return CallReport(status=_status_of({}, exc), duration_ms=duration_ms, cpu_ms=0.0,
                      max_rss_bytes=0, stdout="", stderr="", stdout_truncated=False,
                      stderr_truncated=False, error=_error_of(exc))
