"""Just enough HTTP/1.1 for the one hop between the platform and its sandbox server.

Both ends speak plain HTTP/1.1 with Content-Length bodies on kept-alive connections, so curl
and any HTTP client can still call `GET /health` or `POST /run`. The standard library's
http.server and http.client parse every header block with the email package, which cost about
2 ms per call on a machine that has just been idle (half of the sandbox's latency budget);
these few functions read a message with two buffered readline calls and a read.
Not supported (answered 501 by the server): chunked bodies and any other transfer coding.
"""
from __future__ import annotations

from typing import BinaryIO, NamedTuple

MAX_LINE_BYTES = 8192
MAX_HEADERS = 100
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found",
           411: "Length Required", 413: "Content Too Large", 501: "Not Implemented"}


class BadMessage(Exception):
    """The peer sent something that is not an HTTP/1.1 message this module can read."""


class Unsupported(BadMessage):
    """A well-formed message this module does not read (a transfer coding)."""


class Head(NamedTuple):
    """A message's start line split on spaces (at most three parts) and its headers, by
    lower-case name (a repeated header keeps its last value)."""

    start: tuple[str, ...]
    headers: dict[str, str]

    def content_length(self) -> int | None:
        """The declared body length; None when there is none. Bodies of any other framing
        (Transfer-Encoding) are refused."""
        if "transfer-encoding" in self.headers:
            raise Unsupported("transfer codings are not supported; send Content-Length")
        value = self.headers.get("content-length")
        if value is None:
            return None
        if not value.isdigit():
            raise BadMessage(f"invalid Content-Length {value!r}")
        return int(value)

    def keeps_alive(self) -> bool:
        """Whether the connection stays open after this message (HTTP/1.1's default)."""
        connection = self.headers.get("connection", "").lower()
        version = self.start[0] if self.start[0].startswith("HTTP/") else self.start[-1]
        if version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


def read_head(reader: BinaryIO) -> Head | None:
    """The start line and headers of the next message; None at end of stream before it."""
    line = reader.readline(MAX_LINE_BYTES + 1)
    while line in (b"\r\n", b"\n"):  # tolerated before a request (RFC 9112, 2.2)
        line = reader.readline(MAX_LINE_BYTES + 1)
    if not line:
        return None
    start = _line(line).split(" ", 2)
    if len(start) < 2:
        raise BadMessage(f"malformed start line {_line(line)[:100]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = reader.readline(MAX_LINE_BYTES + 1)
        if line in (b"\r\n", b"\n"):
            return Head(tuple(start), headers)
        if not line:
            raise BadMessage("the stream ended inside a header block")
        name, colon, value = _line(line).partition(":")
        if not colon or not name or name != name.strip():
            raise BadMessage(f"malformed header line {_line(line)[:100]!r}")
        headers[name.lower()] = value.strip()
    raise BadMessage(f"more than {MAX_HEADERS} headers")


def read_body(reader: BinaryIO, length: int) -> bytes:
    """Exactly `length` bytes of body."""
    body = reader.read(length) if length else b""
    if len(body) != length:
        raise BadMessage(f"the stream ended {length - len(body)} bytes short of the body")
    return body


def response(status: int, body: bytes, content_type: str, close: bool = False) -> bytes:
    """A whole response, ready for one sendall."""
    return b"".join((
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n".encode("latin-1"),
        body))


def request(method: str, target: str, host: str, body: bytes, content_type: str) -> bytes:
    """A whole request, ready for one sendall."""
    return b"".join((
        f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1"),
        body))


def _line(raw: bytes) -> str:
    if len(raw) > MAX_LINE_BYTES or not raw.endswith(b"\n"):
        raise BadMessage(f"a line longer than {MAX_LINE_BYTES} bytes, or cut off")
    return raw.rstrip(b"\r\n").decode("latin-1")
