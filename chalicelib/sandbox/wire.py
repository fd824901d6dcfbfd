"""What crosses the sandbox boundary: limits, calls, answers, and the frame that carries them.

A frame is `<4-byte big-endian header length><JSON header><raw body bytes>`; the body carries
bytes (request data, handler answers) without base64. Frames are never unpickled: the child
is untrusted, so the parent only ever parses JSON from it.
"""
from __future__ import annotations

import json
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
