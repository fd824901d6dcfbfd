"""Errors of package code, as the Steamship SDK reports them."""
from __future__ import annotations

from chalicelib.errors import UpstreamFailed


class MethodFailed(UpstreamFailed):
    """A Steamship package's method answered a failed status; `code` is the package's own."""

    def __init__(self, message: str, *, code: str | None = None, status_code: int = 500) -> None:
        super().__init__(message, status_code=status_code)
        self.code = code
