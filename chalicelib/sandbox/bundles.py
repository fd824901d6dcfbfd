"""Steamship package bundles in the sandbox: the warm parent unpacks each bundle once into a
read-only cache (`stage`), and the call's child runs it through the SDK's own entry point (`run`).

A bundle is a zip built at version creation: the package's files (api.py at the root) beside
its installed requirements (the real `steamship` SDK among them). The caller first sends a call
without the bundle's bytes; a parent that has not unpacked that bundle yet answers
`bundle_missing`, and the caller sends it again with the bytes. So a warm call carries only
the event, and the bundle is fetched and unpacked once per parent.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

KIND = "bundle"
MISSING = "bundle_missing"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
KEEP_BUNDLES = 32  # unpacked bundles a parent keeps; the least recently used go first
READY_MARK = ".taskport-ready"


def cache_root() -> Path:
    """Where unpacked bundles live (made when missing): readable by the calls, written by the parent."""
    from chalicelib.config import get_settings

    root = Path(get_settings().bundle_cache_dir)
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    # The calls' uids read bundles; only this parent may write them.
    os.chmod(root, 0o755)
    return root


def stage(call: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes] | dict[str, Any]:
    """The call as the child runs it (the unpacked bundle's directory in `bundle_dir`, no body),
    or a failure header: `bundle_missing` when the bundle is not here and `body` is empty."""
    key = call.get("bundle")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        return {"outcome": "refused", "message": "a bundle call needs a bundle key"}
    directory = cache_root() / key
    if not (directory / READY_MARK).exists():
        if not body:
            return {"outcome": MISSING, "message": f"bundle {key} is not unpacked here"}
        try:
            _unpack(body, directory)
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            return {"outcome": "refused", "message": f"the bundle could not be unpacked: {exc}"}
        _forget_old(directory.parent, key)
    os.utime(directory / READY_MARK)  # marks it recently used
    staged = {k: v for k, v in call.items() if k != "bundle_dir"}
    staged["bundle_dir"] = str(directory)
    return staged, b""


def _unpack(data: bytes, directory: Path) -> None:
    """Unpack into a fresh directory beside `directory`, then rename it into place: a bundle
    is either whole or absent, even when two calls unpack it at once."""
    from chalicelib.config import get_settings

    limit = get_settings().max_bundle_bytes
    with zipfile.ZipFile(BytesIO(data)) as archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > limit:
            raise ValueError(f"it unpacks to more than {limit} bytes")
        for member in members:
            name = member.filename
            if name.startswith("/") or ".." in Path(name).parts or "\\" in name:
                raise ValueError(f"it holds an unsafe path {name!r}")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise ValueError(f"it holds a symbolic link {name!r}")
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        try:
            archive.extractall(staging)
            for path in [staging, *staging.rglob("*")]:
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            (staging / READY_MARK).touch(mode=0o644)
            try:
                os.rename(staging, directory)
            except OSError:
                if not (directory / READY_MARK).exists():
                    raise
                shutil.rmtree(staging, ignore_errors=True)  # another call unpacked it first
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _forget_old(root: Path, keep: str) -> None:
    marks = sorted((mark.stat().st_mtime, mark.parent) for mark in root.glob(f"*/{READY_MARK}")
                   if mark.parent.name != keep)
    recent = time.time() - 300  # a bundle used in the last minutes may have a call running
    for used, directory in marks[:max(0, len(marks) + 1 - KEEP_BUNDLES)]:
        if used < recent:
            shutil.rmtree(directory, ignore_errors=True)


def run(call: dict[str, Any]) -> Any:
    """In the call's child: the SDK's `safe_handler(event)` with the bundle first on sys.path,
    so the package's own api.py and the SDK version it required are what run."""
    import importlib

    # Only the bundle's own packages: an SDK installed beside the sandbox must not stand in for
    # the one the version required (or for one it forgot to require).
    sys.path[:] = [call["bundle_dir"]] + [entry for entry in sys.path
                                          if "site-packages" not in entry
                                          and "dist-packages" not in entry]
    entrypoint = importlib.import_module("steamship.invocable.entrypoint")
    return entrypoint.safe_handler(call["event"])
