"""Output files of tasks: written to S3 under the task's key, served by presigned URL."""
from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.errors import NotFound


def object_key(task_key: str, name: str) -> str:
    """Where a task's output file lives in the bucket."""
    return f"tasks/{task_key}/{name}"


def store(task_key: str, name: str, data: bytes, content_type: str) -> None:
    """Write one output file."""
    aws.client("s3").put_object(Bucket=get_settings().bucket, Key=object_key(task_key, name),
                                Body=data, ContentType=content_type)


def url(task_key: str, name: str) -> str:
    """A presigned GET URL for an output file (signed locally: no AWS call)."""
    settings = get_settings()
    return aws.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": settings.bucket, "Key": object_key(task_key, name)},
        ExpiresIn=settings.file_url_seconds)


def _choices(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


@overload
def choose(files: Sequence[str], filename: str | None) -> str: ...


@overload
def choose(files: None, filename: str | None) -> None: ...


@overload
def choose(files: Sequence[str] | None, filename: str | None) -> str | None: ...


def choose(files: Sequence[str] | None, filename: str | None) -> str | None:
    """The output file `filename` selects among `files` (None: not known yet), or NotFound.

    A task with one file serves it whatever the name asked; with several, the name must be one.
    """
    if files is None:
        return None
    if not files:
        raise NotFound("this task has no output file")
    if len(files) == 1:
        return files[0]
    if filename is None:
        raise NotFound(f"a filename is required, choose one of: {_choices(files)}")
    if filename not in files:
        raise NotFound(f"'{filename}' is not a valid filename, choose one of: {_choices(files)}")
    return filename
