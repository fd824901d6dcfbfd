"""multipart/form-data bodies (how the official Steamship client uploads a package zip).

Parsed here rather than by the standard library's email parser, which re-parses nested
multipart parts recursively (a 1.2 MB body of nested parts raised RecursionError) and spends
time linear in the number of parts with a large constant (a 6.5 MB body of 110,000 empty parts
took 20 s of CPU): a form has at most MAX_PARTS parts, each part's headers are at most
MAX_HEADER_BYTES, and a part's content is bytes, never parsed again (the official client labels
its zip part `multipart/form-data`).
"""
from __future__ import annotations

import re
from typing import NamedTuple

from chalicelib.errors import MalformedBody

FILE_FIELD = "file"
MAX_PARTS = 64
MAX_HEADER_BYTES = 8 * 1024
# RFC 2046 boundaries: 1-70 characters of this set, not ending in a space.
BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
PARAMETER = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')


class Form(NamedTuple):
    """The text fields of a form and the bytes of its one `file` part (None when it has none)."""

    fields: dict[str, str]
    file: bytes | None


def _parameters(header_value: str) -> dict[str, str]:
    """A header's `; name=value` parameters (quoted values unquoted), names lower-cased."""
    found: dict[str, str] = {}
    for name, value in PARAMETER.findall(header_value):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found.setdefault(name.lower(), value)
    return found


def _boundary(content_type: str) -> bytes:
    boundary = _parameters(content_type).get("boundary")
    if boundary is None:
        raise MalformedBody("a multipart/form-data body needs a boundary in its Content-Type")
    if not BOUNDARY.match(boundary):
        raise MalformedBody("the multipart boundary is not 1-70 characters of the RFC 2046 set")
    return boundary.encode("ascii")


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            raise MalformedBody("a form part has a header line that is not `Name: value`")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def _parts(body: bytes, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    """The parts between the delimiters, each as (headers, content); MalformedBody otherwise."""
    delimiter = b"--" + boundary
    if body.startswith(delimiter):
        position = 0
    else:
        position = body.find(b"\r\n" + delimiter)  # after a preamble, which is ignored
        if position < 0:
            raise MalformedBody("the body is not multipart/form-data (no boundary line)")
        position += 2
    parts: list[tuple[dict[str, str], bytes]] = []
    while True:
        position += len(delimiter)
        if body.startswith(b"--", position):
            return parts  # the close delimiter; an epilogue after it is ignored
        line_end = body.find(b"\r\n", position)
        if line_end < 0 or body[position:line_end].strip(b" \t"):
            raise MalformedBody("a multipart boundary line is followed by other text")
        if len(parts) == MAX_PARTS:
            raise MalformedBody(f"the form has more than {MAX_PARTS} parts")
        start = line_end + 2
        following = _next_delimiter(body, delimiter, start - 2)
        head_end = body.find(b"\r\n\r\n", start - 2, following + 2)
        if head_end < 0 or head_end - start > MAX_HEADER_BYTES:
            raise MalformedBody("a form part's headers are not closed by an empty line "
                                f"within {MAX_HEADER_BYTES} bytes")
        headers = _headers(body[start:head_end]) if head_end > start else {}
        parts.append((headers, body[head_end + 4:following]))
        position = following + 2


def _next_delimiter(body: bytes, delimiter: bytes, start: int) -> int:
    """Where the CRLF before the next delimiter line is: the delimiter followed by `--`, spaces
    or CRLF (text that merely starts like it, `--boundaryX`, is content)."""
    position = start
    while True:
        position = body.find(b"\r\n" + delimiter, position)
        if position < 0:
            raise MalformedBody("the form's last part is not closed by its boundary")
        after = position + 2 + len(delimiter)
        if body.startswith((b"--", b"\r\n", b" ", b"\t"), after):
            return position
        position = after


def form(body: bytes, content_type: str) -> Form:
    """Parse a multipart/form-data body; MalformedBody when it is not one."""
    fields: dict[str, str] = {}
    file: bytes | None = None
    for headers, data in _parts(body, _boundary(content_type)):
        name = _parameters(";" + headers.get("content-disposition", "").partition(";")[2]).get("name")
        if not headers.get("content-disposition", "").lower().startswith("form-data") or not name:
            raise MalformedBody("every form part needs a Content-Disposition name")
        if name == FILE_FIELD:
            file = data
            continue
        try:
            fields[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBody(f"form field {name!r} is not UTF-8 text") from exc
    return Form(fields, file)
