"""The `sandbox` Lambda function's body: run one call in a forked child of this warm process.

Its role has no permissions; the caller passes the script in. What a call leaves in /tmp is
removed after it (entries that were there before the first call are kept, and so are the
working directories of the spare children waiting for the next calls), since the next call in
this warm container would otherwise find it.
"""
from __future__ import annotations

import base64
import os
import shutil
import tempfile
from typing import Any

from chalicelib.sandbox import isolation, maxima, runner
from chalicelib.sandbox.wire import Limits


_tmp_before: set[str] | None = None


def handle(event: dict[str, Any]) -> dict[str, str]:
    """Event {"call", "limits", "body": base64} -> {"frame": base64 of the answer frame}."""
    global _tmp_before
    # Only inside Lambda, where /tmp belongs to this function alone; never on a shared machine.
    in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    if in_lambda and _tmp_before is None:
        _tmp_before = set(os.listdir(tempfile.gettempdir()))
    isolation.require_network_policy()
    body = base64.b64decode(event.get("body") or "")
    # Whatever the invoker asks, no more than this function's own settings allow.
    limits = maxima.capped(Limits.from_dict(event.get("limits") or {}), maxima.from_settings())
    frame, clean_up = runner.execute(event["call"], body, limits)
    clean_up()  # at once: a frozen Lambda would not run a background thread
    if in_lambda and _tmp_before is not None:
        _remove_new_tmp_entries(_tmp_before)
    return {"frame": base64.b64encode(frame).decode("ascii")}


def _remove_new_tmp_entries(keep: set[str]) -> None:
    root = tempfile.gettempdir()
    live = runner.live_workdirs()  # spares forked for the next calls wait in these
    for entry in os.scandir(root):
        if entry.name in keep or entry.path in live:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
