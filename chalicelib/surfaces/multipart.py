"""multipart/form-data bodies (how the official Steamship client uploads a package zip)."""
from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import MalformedBody

FILE_FIELD = "file"


class Form(NamedTuple):
    """The text fields of a form and the bytes of its one `file` part (None when it has none)."""

    fields: dict[str, str]
    file: bytes | None


def form(body: bytes, content_type: str) -> Form:
    """Parse a multipart/form-data body; MalformedBody when it is not one."""
    if "boundary=" not in content_type:
        raise MalformedBody("a multipart/form-data body needs a boundary in its Content-Type")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1",
                                                                            "replace")
    # Imported here: the email package's header machinery is a tenth of the app's import, and
    # only package uploads parse a form.
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise MalformedBody("the body is not multipart/form-data")
    fields: dict[str, str] = {}
    file: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise MalformedBody("every form part needs a Content-Disposition name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == FILE_FIELD:
            file = data
            continue
        try:
            fields[name] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBody(f"form field {name!r} is not UTF-8 text") from exc
    return Form(fields, file)
