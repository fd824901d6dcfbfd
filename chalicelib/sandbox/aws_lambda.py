"""The `sandbox` Lambda function's body: run one call in a forked child of this warm process.

Its role has no permissions; the caller passes the script in. What a call leaves in the shared
temporary directories (/tmp, /var/tmp, /dev/shm, /run/lock, where they exist and are writable)
is removed after it (entries that were there before the first call are kept, and so are the
working directories of the spare children waiting for the next calls), since the next call in
this warm container would otherwise find it; the unpacked package bundles are kept (made before
that first look, so they count as there before) but swept of what a call left in them. Limits
are capped at this function's settings.
"""
from __future__ import annotations

import base64
import os
import shutil
from typing import Any

from chalicelib.sandbox import bundles, isolation, maxima, runner, staging
from chalicelib.sandbox.wire import Limits, encode_frame, failure

SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")

_before: dict[str, set[str]] | None = None


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """Event {"call", "limits", "body": base64 | "body_url", "frame_url"?} -> {"frame": base64
    of the answer frame}, or {"frame_stored": true} once put at frame_url (see staging.py)."""
    global _before
    # Only inside Lambda, where these directories belong to this function alone; never on a
    # shared machine.
    in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    if in_lambda and _before is None:
        _make_bundle_cache()
        _before = {root: _entries(root) for root in SHARED_DIRS}
    isolation.require_network_policy()
    # Whatever the invoker asks, no more than this function's own settings allow.
    limits = maxima.capped(Limits.from_dict(event.get("limits") or {}), maxima.from_settings())
    try:
        body = staging.download(event["body_url"]) if "body_url" in event \
            else base64.b64decode(event.get("body") or "")
    except (OSError, ValueError) as exc:
        return _inline(encode_frame(failure("crashed", f"the call body could not be fetched: {exc}")))
    frame, clean_up = runner.execute(event["call"], body, limits)
    clean_up()  # at once: a frozen Lambda would not run a background thread
    if in_lambda and _before is not None:
        _remove_new_entries(_before)
        try:
            bundles.sweep()
        except OSError:
            pass  # no usable cache: nothing was unpacked into it
    return staging.answer(frame, event.get("frame_url"), _inline)


def _inline(frame: bytes) -> dict[str, Any]:
    return {"frame": base64.b64encode(frame).decode("ascii")}


def _make_bundle_cache() -> None:
    """Made before the first look at /tmp, so the clean-up keeps it: what makes a warm bundle
    call warm. A cache that cannot be made fails bundle calls only, with its reason."""
    try:
        bundles.cache_root()
    except OSError:
        return


def _entries(root: str) -> set[str]:
    try:
        return set(os.listdir(root))
    except OSError:
        return set()


def _remove_new_entries(before: dict[str, set[str]]) -> None:
    live = runner.live_workdirs()  # spares forked for the next calls wait in these
    for root, keep in before.items():
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        for entry in entries:
            if entry.name in keep or entry.path in live:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue
