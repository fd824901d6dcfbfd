"""Files of an account (handler scripts and the like) in S3, and a per-process script cache.

Keys are `files/<account id><path>`; paths look like the Instabase seed's
(`/jaydoe/my_repo/fs/Instabase Drive/handlers/hello.py`): absolute, `/`-separated, spaces allowed.
"""
from __future__ import annotations

import base64
import binascii
import threading
import time
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.errors import Invalid, NotFound, PayloadTooLarge

MAX_PATH_CHARS = 1024
KEY_PREFIX = "files/"


class StoredFile(NamedTuple):
    """A file's metadata."""

    path: str
    size: int
    etag: str
    modified: str


def validate_path(path: Any, field: str = "path") -> str:
    """An absolute file path without empty, `.` or `..` segments, control characters or excess."""
    if not isinstance(path, str) or not path:
        raise Invalid(f"{field} must be a non-empty string", field=field)
    if len(path) > MAX_PATH_CHARS:
        raise Invalid(f"{field} is longer than {MAX_PATH_CHARS} characters", field=field)
    if not path.startswith("/"):
        raise Invalid(f"{field} must start with '/'", field=field)
    if any(ord(c) < 32 or ord(c) == 127 for c in path) or "\\" in path:
        raise Invalid(f"{field} holds control characters or backslashes", field=field)
    segments = path[1:].split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise Invalid(f"{field} may not hold empty, '.' or '..' segments", field=field)
    return path


def validate_prefix(prefix: Any) -> str:
    """A listing prefix: empty (everything) or the start of a path."""
    if prefix in (None, "", "/"):
        return "/"
    if not isinstance(prefix, str) or not prefix.startswith("/") or len(prefix) > MAX_PATH_CHARS:
        raise Invalid("prefix must start with '/'", field="prefix")
    validate_path(prefix.rstrip("/") or "/x", "prefix")
    return prefix


def _key(account_id: str, path: str) -> str:
    return f"{KEY_PREFIX}{account_id}{path}"


def _not_found(path: str) -> NotFound:
    return NotFound(f"no file at {path}")


def _error_code(exc: ClientError) -> str | None:
    return exc.response.get("Error", {}).get("Code")


def _is_missing(exc: ClientError) -> bool:
    code = _error_code(exc)
    return code in ("NoSuchKey", "404", "NotFound")


# Labels that describe how a body was sent, not what the file is: `curl --data-binary` sends
# every file as a form. (A moto server also parses such a body as a form and stores nothing.)
_TRANSFER_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _stored_content_type(content_type: str | None) -> str:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not content_type or not media_type or media_type in _TRANSFER_TYPES:
        return "application/octet-stream"
    return content_type


def put_file(account_id: str, path: str, data: bytes,
             content_type: str | None = None) -> StoredFile:
    """Store a file (replacing any), refused over settings.max_script_bytes."""
    path = validate_path(path)
    limit = get_settings().max_script_bytes
    if len(data) > limit:
        raise PayloadTooLarge(f"the file is {len(data)} bytes; the limit is {limit}")
    response = aws.client("s3").put_object(
        Bucket=get_settings().bucket, Key=_key(account_id, path), Body=data,
        ContentType=_stored_content_type(content_type))
    _scripts.forget(account_id, path)
    return StoredFile(path=path, size=len(data), etag=response["ETag"].strip('"'), modified="")


def read_file(account_id: str, path: str) -> tuple[bytes, str]:
    """A file's bytes and content type; NotFound naming the path."""
    path = validate_path(path)
    try:
        response = aws.client("s3").get_object(Bucket=get_settings().bucket,
                                               Key=_key(account_id, path))
    except ClientError as exc:
        if _is_missing(exc):
            raise _not_found(path) from exc
        raise
    return response["Body"].read(), response.get("ContentType") or "application/octet-stream"


def delete_file(account_id: str, path: str) -> None:
    """Remove a file; NotFound when there is none."""
    path = validate_path(path)
    s3 = aws.client("s3")
    key = _key(account_id, path)
    try:
        s3.head_object(Bucket=get_settings().bucket, Key=key)
    except ClientError as exc:
        if _is_missing(exc):
            raise _not_found(path) from exc
        raise
    s3.delete_object(Bucket=get_settings().bucket, Key=key)
    _scripts.forget(account_id, path)


def _decode_cursor(cursor: str, prefix: str) -> str:
    """The path a listing cursor continues after; Invalid unless it is one list_files gave."""
    try:
        path = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        validate_path(path)
    except (binascii.Error, ValueError, Invalid) as exc:
        raise Invalid("the cursor is not one this service gave", field="cursor") from exc
    if not path.startswith(prefix):
        raise Invalid("the cursor belongs to another listing", field="cursor")
    return path


def list_files(account_id: str, prefix: str, limit: int | None = None,
               cursor: str | None = None) -> tuple[list[StoredFile], str | None]:
    """Files whose path starts with `prefix`, in path order; (page, next cursor or None).

    The cursor is the last path listed (S3's StartAfter), not S3's own continuation token: a
    token the service did not issue is then refused here instead of by S3 (a 500), and it can
    never reach outside the account's prefix.
    """
    prefix = validate_prefix(prefix)
    page = min(limit or get_settings().list_page_size, 1000)
    arguments: dict[str, Any] = {"Bucket": get_settings().bucket, "MaxKeys": page,
                                 "Prefix": _key(account_id, prefix)}
    if cursor:
        arguments["StartAfter"] = _key(account_id, _decode_cursor(cursor, prefix))
    response = aws.client("s3").list_objects_v2(**arguments)
    strip = len(_key(account_id, ""))
    found = [StoredFile(path=item["Key"][strip:], size=item["Size"],
                        etag=item["ETag"].strip('"'), modified=item["LastModified"].isoformat())
             for item in response.get("Contents", [])]
    if not response.get("IsTruncated") or not found:
        return found, None
    last = base64.urlsafe_b64encode(found[-1].path.encode("utf-8")).decode("ascii").rstrip("=")
    return found, last


class ScriptCache:
    """Scripts by (account, path): fresh for `ttl` seconds, then revalidated by ETag.

    A warm trigger within the TTL costs no S3 call; after it, one conditional GET (304 when
    unchanged). A write or delete through this process forgets the entry at once; other warm
    processes see a change within the TTL.
    """

    def __init__(self, size: int = 256) -> None:
        self._entries: dict[tuple[str, str], tuple[float, str, str]] = {}
        self._size = size
        self._lock = threading.Lock()

    def read(self, account_id: str, path: str) -> tuple[str, str]:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get((account_id, path))
        if entry is not None and entry[0] > now:
            return entry[1], entry[2]
        source, etag = self._fetch(account_id, path, entry[2] if entry else None,
                                   entry[1] if entry else None)
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[(account_id, path)] = (now + get_settings().script_cache_seconds,
                                                 source, etag)
        return source, etag

    @staticmethod
    def _fetch(account_id: str, path: str, etag: str | None,
               cached: str | None) -> tuple[str, str]:
        arguments: dict[str, Any] = {"Bucket": get_settings().bucket,
                                     "Key": _key(account_id, path)}
        if etag:
            arguments["IfNoneMatch"] = f'"{etag}"'
        try:
            response = aws.client("s3").get_object(**arguments)
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("304", "NotModified") and cached is not None and etag is not None:
                return cached, etag
            if _is_missing(exc):
                raise NotFound(f"the handler script {path} does not exist") from exc
            raise
        data = response["Body"].read()
        limit = get_settings().max_script_bytes
        if len(data) > limit:
            raise Invalid(f"the script {path} is {len(data)} bytes; the limit is {limit}")
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"the script {path} is not UTF-8 text") from exc
        return source, response["ETag"].strip('"')

    def forget(self, account_id: str | None = None, path: str | None = None) -> None:
        with self._lock:
            if account_id is None:
                self._entries.clear()
            else:
                self._entries.pop((account_id, path or ""), None)


_scripts = ScriptCache()


def read_script(account_id: str, path: str) -> tuple[str, str]:
    """A script's source and ETag, through the per-process cache; NotFound naming the path."""
    return _scripts.read(account_id, validate_path(path, "handler_script_path"))


def reset() -> None:
    """Forget cached scripts (tests)."""
    _scripts.forget()
