"""The `sandbox` Lambda function's body: run one call in a forked child of this warm process.

Its role has no permissions; the caller passes the script in. /tmp is emptied after each call,
since the next call in this warm container would otherwise find what this one left there.
"""
from __future__ import annotations

import base64
import os
import shutil
import tempfile
from typing import Any

from chalicelib.sandbox import runner
from chalicelib.sandbox.wire import Limits


def handle(event: dict[str, Any]) -> dict[str, str]:
    """Event {"call", "limits", "body": base64} -> {"frame": base64 of the answer frame}."""
    body = base64.b64decode(event.get("body") or "")
    frame = runner.execute(event["call"], body, Limits.from_dict(event.get("limits") or {}))
    _empty_tmp()
    return {"frame": base64.b64encode(frame).decode("ascii")}


def _empty_tmp() -> None:
    root = tempfile.gettempdir()
    for entry in os.scandir(root):
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
