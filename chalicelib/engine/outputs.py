"""Output files of tasks: written to S3 under the task's key, served by presigned URL."""
from __future__ import annotations

from chalicelib import aws
from chalicelib.config import get_settings


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
