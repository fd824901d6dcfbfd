"""What crosses the sandbox boundary: limits, calls, answers, and the frame that carries them.

A frame is `<4-byte big-endian header length><JSON header><raw body bytes>`; the body carries
bytes (request data, handler answers) without base64. Frames are never unpickled: the child
is untrusted, so the parent only ever parses JSON from it.
"""
from __future__ import annotations

import json
import re
import struct
from types import MappingProxyType
from typing import Any, NamedTuple
from collections.abc import Mapping, Sequence

from chalicelib.sandbox.errors import (BundleMissing, Crashed, Refused, SandboxError,
                                       ScriptError, Timeout, TooLarge)

HEADER_SLACK = 64 * 1024  # room for the JSON header (error message, traceback) beyond the output cap


class Limits(NamedTuple):
    """Per-call limits; None fields take the defaults of settings (DESIGN.md Limits)."""

    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    memory_bytes: int | None = None
    output_bytes: int | None = None
    processes: int | None = None
    file_bytes: int | None = None
    log_bytes: int | None = None  # cap on each of stdout and stderr kept for the report

    def resolved(self) -> Limits:
        """Every field filled: given values win, settings give the rest."""
        from chalicelib.config import get_settings

        settings = get_settings()
        wall = float(self.wall_seconds if self.wall_seconds is not None
                     else settings.handler_wall_seconds)
        return Limits(
            wall_seconds=wall,
            cpu_seconds=float(self.cpu_seconds if self.cpu_seconds is not None else wall),
            memory_bytes=int(self.memory_bytes if self.memory_bytes is not None
                             else settings.handler_memory_bytes),
            output_bytes=int(self.output_bytes if self.output_bytes is not None
                             else settings.handler_output_bytes),
            processes=int(self.processes if self.processes is not None
                          else settings.sandbox_processes),
            file_bytes=int(self.file_bytes if self.file_bytes is not None
                           else settings.sandbox_file_bytes),
            log_bytes=int(self.log_bytes if self.log_bytes is not None
                          else settings.run_output_bytes),
        )

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        return cls(**{k: data.get(k) for k in cls._fields})


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class HttpCall(NamedTuple):
    """An HTTP request to hand to a script's handler as a flask.Request (read, never changed)."""

    method: str
    path: str
    headers: Mapping[str, str] = _EMPTY
    query: Mapping[str, Sequence[str]] = _EMPTY
    body: bytes = b""
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = _EMPTY


class HttpAnswer(NamedTuple):
    """What the handler answered: status, headers, body and its mimetype."""

    status: int
    headers: dict[str, str]
    body: bytes
    mimetype: str


ALLOWED_MIMETYPES = ("application/json", "text/plain")  # the only ones a body may have
MAX_ANSWER_HEADERS = 64
MAX_ANSWER_HEADER_BYTES = 8 * 1024  # names, values and their separators, all headers together
# Never passed on from a handler. Hop-by-hop headers and Content-Length belong to the
# platform's own connection; the rest would act on the API's origin, which every account's
# endpoints and the console share (a cookie, a wiped site storage, a pinned HSTS policy).
DROPPED_HEADERS = frozenset({
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "content-length", "set-cookie", "set-cookie2", "clear-site-data",
    "strict-transport-security",
})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # controls but tab: CR, LF, NUL...


def checked_http_answer(header: Mapping[str, Any], body: bytes) -> HttpAnswer:
    """The answer a handler's frame describes, checked by a process user code cannot reach:
    status, header names and values, header count and size, and one Content-Type chosen by the
    mimetype rule. Refused when any of it is not acceptable; what DROPPED_HEADERS names is
    removed, and the answer always says `X-Content-Type-Options: nosniff`."""
    status = header.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise Refused(f"the handler answered an invalid status {status!r}")
    if status in (204, 304) and body:
        raise Refused(f"the handler answered a body with status {status}, which has none")
    pairs = _header_pairs(header.get("headers"))
    if len(pairs) > MAX_ANSWER_HEADERS:
        raise Refused(f"the handler answered {len(pairs)} headers; at most "
                      f"{MAX_ANSWER_HEADERS} are passed on")
    size = sum(len(name) + len(value) + 4 for name, value in pairs)
    if size > MAX_ANSWER_HEADER_BYTES:
        raise Refused(f"the handler answered {size} bytes of headers; at most "
                      f"{MAX_ANSWER_HEADER_BYTES} are passed on")
    headers: dict[str, str] = {}
    spelling: dict[str, str] = {}  # lower-case name -> the first spelling seen
    content_types: list[str] = []
    for name, value in pairs:
        _check_header(name, value)
        lower = name.lower()
        if lower == "content-type":
            content_types.append(value)
        elif lower not in DROPPED_HEADERS and lower != "x-content-type-options":
            key = spelling.setdefault(lower, name)
            # Repeated fields are one comma-separated field (RFC 9110 5.3); Set-Cookie, the
            # exception, is never passed on.
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
    mimetype, content_type = _content_type(content_types, bool(body))
    if content_type:
        headers["Content-Type"] = content_type
    headers["X-Content-Type-Options"] = "nosniff"
    return HttpAnswer(status=status, headers=headers, body=body, mimetype=mimetype)


def _header_pairs(raw: Any) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, (dict, list)):
        raise Refused("the handler answered malformed headers")
    items: list[Any] = list(raw.items()) if isinstance(raw, dict) else raw
    pairs = []
    for item in items:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not all(isinstance(part, str) for part in item)):
            raise Refused("the handler answered malformed headers")
        pairs.append((item[0], item[1]))
    return pairs


def _check_header(name: str, value: str) -> None:
    if not _TOKEN.match(name):
        raise Refused(f"the handler answered a header named {name[:100]!r}, which is not a "
                      "valid header name")
    if _FORBIDDEN_IN_VALUE.search(value):
        raise Refused(f"the handler's header {name!r} holds a line break or control character")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise Refused(f"the handler's header {name!r} holds characters that a header cannot "
                      "carry (only ISO-8859-1)") from None


def _content_type(values: list[str], has_body: bool) -> tuple[str, str]:
    """(mimetype, the one Content-Type to send) from the handler's Content-Type headers."""
    kinds = {value.split(";", 1)[0].strip().lower() for value in values}
    if len(kinds) > 1:
        raise Refused(f"the handler answered {len(values)} different Content-Type headers")
    mimetype = kinds.pop() if kinds else ""
    if mimetype not in ALLOWED_MIMETYPES:
        if has_body:
            raise Refused("the handler returned a flask.Response of mimetype "
                          f"{mimetype!r}; a body needs mimetype application/json or text/plain")
        return mimetype, ""  # no body: nothing for a type to describe
    charset = "utf-8" if mimetype == "text/plain" else ""
    for parameter in values[0].split(";")[1:]:
        key, _, given = parameter.partition("=")
        given = given.strip().strip('"')
        if key.strip().lower() == "charset" and _TOKEN.match(given) and len(given) <= 40:
            charset = given
    return mimetype, f"{mimetype}; charset={charset}" if charset else mimetype


class CallReport(NamedTuple):
    """What one sandbox call did, success or failure (handed to `on_report` once per call)."""

    status: str            # "ok" | "error" | "timeout" | "killed" | "refused"
    duration_ms: float
    cpu_ms: float          # user+system CPU of the call's process tree
    max_rss_bytes: int
    stdout: str            # what user code printed, capped (Limits.log_bytes each)
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    error: dict[str, str] | None   # {"type", "message", "traceback"}; the user's frames only


STATUSES = ("ok", "error", "timeout", "killed", "refused")
# The report status of each answer outcome; a script's MemoryError is the memory limit.
STATUS_OF_OUTCOME = {"ok": "ok", "exception": "error", "crashed": "error", "timeout": "timeout",
                     "killed": "killed", "too_large": "refused", "refused": "refused"}


def encode_frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    """One frame: header length, JSON header, raw body."""
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(raw)) + raw + body


def decode_frame(frame: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and body of a complete frame; Crashed when it is cut short or malformed."""
    if len(frame) < 4:
        raise Crashed("the sandbox answered nothing")
    (length,) = struct.unpack(">I", frame[:4])
    if len(frame) < 4 + length:
        raise Crashed("the sandbox answer was cut short")
    try:
        header = json.loads(frame[4:4 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Crashed("the sandbox answer is malformed") from exc
    if not isinstance(header, dict):
        raise Crashed("the sandbox answer is malformed")
    return header, frame[4 + length:]


def frame_complete(buffer: bytes | bytearray) -> bool:
    """Whether `buffer` holds at least one whole frame (body length is in the header)."""
    if len(buffer) < 4:
        return False
    (length,) = struct.unpack(">I", bytes(buffer[:4]))
    if len(buffer) < 4 + length:
        return False
    try:
        header = json.loads(bytes(buffer[4:4 + length]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return True  # malformed, but complete as far as reading goes
    body_length = header.get("body_length", 0) if isinstance(header, dict) else 0
    return len(buffer) >= 4 + length + (body_length if isinstance(body_length, int) else 0)


FAILURES: dict[str, type[SandboxError]] = {
    "timeout": Timeout, "crashed": Crashed, "killed": Crashed, "too_large": TooLarge,
    "refused": Refused, "bundle_missing": BundleMissing,
}


def failure(outcome: str, message: str) -> dict[str, Any]:
    """A failure header (outcome one of FAILURES, or `exception`)."""
    return {"outcome": outcome, "message": message}


def raise_for(header: dict[str, Any]) -> None:
    """Raise the SandboxError a failure header describes; return for `ok`."""
    outcome = header.get("outcome")
    if outcome == "ok":
        return
    if outcome == "exception":
        raise ScriptError(str(header.get("type") or "Exception"), str(header.get("message") or ""),
                          str(header.get("traceback") or ""))
    kind = FAILURES.get(str(outcome), Crashed)
    raise kind(str(header.get("message") or f"the sandbox failed ({outcome})"))
