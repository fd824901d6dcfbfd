"""Steamship package bundles in the sandbox: the warm parent unpacks each bundle once into a
read-only cache (`stage`), and the call's child runs it through the SDK's own entry point (`run`).

A bundle is a zip built at version creation: the package's files (api.py at the root) beside
its installed requirements (the real `steamship` SDK among them). The caller first sends a call
without the bundle's bytes; a parent that has not unpacked that bundle yet answers
`bundle_missing`, and the caller sends it again with the bytes. So a warm call carries only
the event, and the bundle is fetched and unpacked once per parent. The `sandbox` Lambda is sent
no bytes at all (a bundle is over its 6 MB invoke payload): each call names a presigned GET URL
of the bundle (`bundle_url`, its ETag in `bundle_etag`), which this parent fetches only when it
has not unpacked the bundle; the function's role stays without any permission.

Where calls share this parent's uid (no namespaces: Lambda), a call could rewrite a cached
bundle for the calls after it. So such a parent keeps its bundles in a directory of its own and
seals each one when it unpacks it (every entry's inode, size, mode and ctime, which no call can
set back); a bundle whose seal no longer matches is removed and unpacked again before it runs,
and `sweep()` removes what calls left in the cache.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from chalicelib.sandbox import staging

KIND = "bundle"
MISSING = "bundle_missing"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
KEEP_BUNDLES = 32  # unpacked bundles a parent keeps; the least recently used go first
READY_MARK = ".taskport-ready"
URL_FIELDS = ("bundle_url", "bundle_etag")
FETCH_SECONDS = 60.0
OWN_PREFIX = "p"  # p<pid>: the directory of one unprivileged parent's bundles

_Seal = frozenset[tuple[str, int, int, int, int]]
_seals: dict[str, _Seal] = {}  # bundle directory -> its seal, for this process only


def cache_root() -> Path:
    """Where unpacked bundles live (made when missing): readable by the calls, written by the parent."""
    from chalicelib.config import get_settings

    root = Path(get_settings().bundle_cache_dir)
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    if root.stat().st_uid == os.geteuid():
        # The calls' uids read bundles; only this parent may write them.
        os.chmod(root, 0o755)
    return root


def stage(call: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes] | dict[str, Any]:
    """The call as the child runs it (the unpacked bundle's directory in `bundle_dir`, no body),
    or a failure header: `bundle_missing` when the bundle is not here and neither `body` nor a
    `bundle_url` brings it."""
    key = call.get("bundle")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        return {"outcome": "refused", "message": "a bundle call needs a bundle key"}
    try:
        directory = _bundles_dir() / key
    except OSError as exc:
        return {"outcome": "refused", "message": f"the bundle cache is not usable here: {exc}"}
    if (directory / READY_MARK).exists() and not _trusted(directory):
        _seals.pop(str(directory), None)
        shutil.rmtree(directory, ignore_errors=True)
    if not (directory / READY_MARK).exists():
        if not body and isinstance(call.get("bundle_url"), str):
            try:
                body = _download(call["bundle_url"], str(call.get("bundle_etag") or ""))
            except (OSError, ValueError) as exc:
                return {"outcome": "refused", "message": f"the bundle could not be fetched: {exc}"}
        if not body:
            return {"outcome": MISSING, "message": f"bundle {key} is not unpacked here"}
        try:
            _unpack(body, directory)
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            return {"outcome": "refused", "message": f"the bundle could not be unpacked: {exc}"}
        _forget_old(directory.parent, key)
        for gone in [path for path in _seals if not os.path.isdir(path)]:
            del _seals[gone]  # forgotten bundles' seals (about 200 KB each for the SDK)
        if not _shares_uid():
            os.utime(directory / READY_MARK)  # marks it recently used
        else:
            _seals[str(directory)] = _seal(directory)
    elif not _shares_uid():
        os.utime(directory / READY_MARK)  # marks it recently used (a sealed one keeps its time)
    staged = {k: v for k, v in call.items() if k != "bundle_dir" and k not in URL_FIELDS}
    staged["bundle_dir"] = str(directory)
    return staged, b""


def _shares_uid() -> bool:
    """Whether calls run with this process's uid (no uid of their own, no read-only cache)."""
    return os.geteuid() != 0


def _bundles_dir() -> Path:
    if not _shares_uid():
        return cache_root()
    own = cache_root() / f"{OWN_PREFIX}{os.getpid()}"
    if not own.is_dir():
        own.mkdir(mode=0o755)
        _forget_dead_parents(own.parent)
    return own


def _forget_dead_parents(root: Path) -> None:
    for entry in root.glob(f"{OWN_PREFIX}*"):
        pid = entry.name[len(OWN_PREFIX):]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(entry, ignore_errors=True)


def _entry(path: str) -> tuple[str, int, int, int, int]:
    info = os.lstat(path)
    return path, info.st_ino, info.st_size, info.st_mode, info.st_ctime_ns


def _seal(directory: Path) -> _Seal:
    entries = []
    for top, names, files in os.walk(directory):
        entries.append(_entry(top))
        entries.extend(_entry(os.path.join(top, name)) for name in [*names, *files])
    return frozenset(entries)


def _trusted(directory: Path) -> bool:
    if not _shares_uid():
        return True  # root-owned and bound read-only into every call
    sealed = _seals.get(str(directory))
    return sealed is not None and sealed == _seal(directory)


def sweep() -> None:
    """After a call, where calls share this uid: remove whatever the call left in the cache, and
    the bundles whose own directory it changed."""
    if not _shares_uid():
        return
    own = _bundles_dir()
    for entry in [*own.iterdir(), *own.parent.iterdir()]:
        if entry.parent == own.parent and entry.name.startswith(OWN_PREFIX) and entry.is_dir() \
                and not entry.is_symlink():
            continue  # a parent's own directory (this one's is swept entry by entry)
        sealed = _seals.get(str(entry))
        # Only the bundle's own directory entry here (a walk of every bundle after every call
        # would cost more than the calls): a change deeper in is found when the bundle is next
        # staged, before anything runs from it.
        if sealed is not None and _entry(str(entry)) in sealed:
            continue
        _seals.pop(str(entry), None)
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _download(url: str, etag: str) -> bytes:
    """The bundle at a presigned URL, provided it is still the one built (its ETag)."""
    from chalicelib.config import get_settings

    limit = get_settings().max_bundle_bytes
    opener = urllib.request.build_opener(staging.NoRedirects)
    try:
        with opener.open(staging.checked_url(url, "the bundle URL"), timeout=FETCH_SECONDS) as response:
            found = str(response.headers.get("ETag") or "").strip('"')
            data = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise ValueError(f"the bundle URL answered {exc.code}") from exc
    if len(data) > limit:
        raise ValueError(f"it is over {limit} bytes")
    if etag and found != etag:
        raise ValueError("it is not the bundle the version was built with (its ETag differs)")
    return data


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
