"""List pages: a page size from the request and an opaque token for where the next page starts."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, NamedTuple

from chalicelib.config import get_settings
from chalicelib.errors import Invalid


class PageRequest(NamedTuple):
    """How many items to list, and the storage key to start after (None: from the start)."""

    size: int
    start: dict[str, Any] | None


def page_request(size: Any, token: Any) -> PageRequest:
    """Validate `pageSize` (1 to the list page size, which is also the default) and `pageToken`."""
    most = get_settings().list_page_size
    if size is None:
        size = most
    elif isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= most:
        raise Invalid(f"pageSize must be a whole number from 1 to {most}", field="pageSize")
    if token is None:
        return PageRequest(size, None)
    if not isinstance(token, str):
        raise Invalid("pageToken must be a string", field="pageToken")
    try:
        start = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise Invalid("pageToken is not one this service gave", field="pageToken") from exc
    if not isinstance(start, dict):
        raise Invalid("pageToken is not one this service gave", field="pageToken")
    return PageRequest(size, start)


def next_token(last_key: dict[str, Any] | None) -> str | None:
    """The token of the page after the one that ended at `last_key`."""
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
