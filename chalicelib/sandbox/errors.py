"""How a sandboxed call can fail; every failure is an errors.UpstreamFailed with its status."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.errors import UpstreamFailed

if TYPE_CHECKING:
    from chalicelib.sandbox.wire import CallReport


class SandboxError(UpstreamFailed):
    """User code did not produce an acceptable answer."""

    default_status = 500
    report: CallReport | None = None  # what the call did, once the caller has its answer

    def __init__(self, message: str, **kwargs: object) -> None:
        super().__init__(message, status_code=self.default_status, **kwargs)


class Timeout(SandboxError):
    """The call ran past its wall-clock or CPU limit and was killed (504)."""

    default_status = 504


class Crashed(SandboxError):
    """The child died without answering: a signal, os._exit, or a sandbox failure (500)."""

    default_status = 500


class BundleMissing(Crashed):
    """The sandbox has not unpacked this package bundle yet: send it again with its bytes."""


class ScriptError(SandboxError):
    """The script raised; `error_type` and `error_message` say what (500)."""

    default_status = 500

    def __init__(self, error_type: str, error_message: str, traceback: str = "") -> None:
        super().__init__(f"{error_type}: {error_message}" if error_message else error_type)
        self.error_type = error_type
        self.error_message = error_message
        self.traceback = traceback


class TooLarge(SandboxError):
    """The answer is over the output limit (502)."""

    default_status = 502


class Refused(SandboxError):
    """The script returned something the caller may not pass on (502)."""

    default_status = 502
