"""Runs user code (handler scripts, workflow scripts) in a forked, limited child; see runner.py.

    sandbox.run_function(source, filename, function, args, kwargs, limits) -> JSON value
    sandbox.run_http_handler(source, filename, HttpCall, limits) -> HttpAnswer
Failures raise SandboxError subclasses: Timeout (504), Crashed (500), ScriptError (500),
TooLarge (502), Refused (502).
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.sandbox import client
from chalicelib.sandbox.errors import (Crashed, Refused, SandboxError, ScriptError, Timeout,
                                       TooLarge)
from chalicelib.sandbox.wire import HttpAnswer, HttpCall, Limits, raise_for

__all__ = ["Limits", "HttpCall", "HttpAnswer", "SandboxError", "Timeout", "Crashed",
           "ScriptError", "TooLarge", "Refused", "run_function", "run_http_handler"]


def run_function(source: str, filename: str, function: str, args: list[Any] | tuple[Any, ...],
                 kwargs: dict[str, Any], limits: Limits | None = None) -> Any:
    """`function(*args, **kwargs)` from the script, run in the sandbox; its JSON return value."""
    header, body = client.call({"kind": "function", "source": source, "filename": filename,
                                "function": function, "args": list(args), "kwargs": dict(kwargs)},
                               b"", limits or Limits())
    raise_for(header)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Crashed("the sandbox answered a malformed value") from exc


def run_http_handler(source: str, filename: str, request: HttpCall,
                     limits: Limits | None = None, function: str = "handler") -> HttpAnswer:
    """The script's `handler(flask.Request, *args, **kwargs)` answer, run in the sandbox."""
    http = {"method": request.method, "path": request.path, "headers": dict(request.headers),
            "query": {k: list(v) for k, v in request.query.items()}}
    header, body = client.call({"kind": "http", "source": source, "filename": filename,
                                "function": function, "http": http, "args": list(request.args),
                                "kwargs": dict(request.kwargs)}, request.body, limits or Limits())
    raise_for(header)
    headers = header.get("headers") if isinstance(header.get("headers"), dict) else {}
    status = header.get("status")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise Refused(f"the handler answered an invalid status {status!r}")
    return HttpAnswer(status=status, headers={str(k): str(v) for k, v in headers.items()},
                      body=body, mimetype=str(header.get("mimetype") or ""))
