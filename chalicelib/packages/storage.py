"""Where package uploads and built bundles live: the bucket, under `packages/<account>/`, apart
from the account's own files (a bundle is far over a script's size limit)."""
from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.errors import Conflict, NotFound

KEY_PREFIX = "packages/"
MISSING_CODES = ("NoSuchKey", "404", "NotFound")


def _key(account_id: str, name: str) -> str:
    return f"{KEY_PREFIX}{account_id}/{name}"


def put(account_id: str, name: str, data: bytes) -> str:
    """Store an upload or a bundle; its ETag."""
    response = aws.client("s3").put_object(Bucket=get_settings().bucket,
                                           Key=_key(account_id, name), Body=data,
                                           ContentType="application/zip")
    return str(response["ETag"]).strip('"')


def read(account_id: str, name: str, etag: str) -> bytes:
    """The stored bytes, provided they are still the ones stored as `etag` (one conditional
    GET); NotFound when gone, Conflict when replaced."""
    try:
        response = aws.client("s3").get_object(Bucket=get_settings().bucket,
                                               Key=_key(account_id, name), IfMatch=f'"{etag}"')
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in MISSING_CODES:
            raise NotFound(f"{name} is gone") from exc
        if code in ("PreconditionFailed", "412"):
            raise Conflict(f"{name} was replaced after it was stored") from exc
        raise
    return bytes(response["Body"].read())


def delete(account_id: str, name: str) -> None:
    """Remove a stored upload or bundle (nothing when there is none)."""
    aws.client("s3").delete_object(Bucket=get_settings().bucket, Key=_key(account_id, name))


def presigned_url(account_id: str, name: str) -> str:
    """A short-lived GET URL of a stored bundle, for the sandbox function, whose role may read
    nothing (signing is local: no AWS call)."""
    from chalicelib.sandbox import staging

    settings = get_settings()
    # SigV4 (botocore's default presigned URL is SigV2, refused by buckets made since 2020).
    return str(staging.signer(settings.region, settings.aws_endpoint_url).generate_presigned_url(
        "get_object", Params={"Bucket": settings.bucket, "Key": _key(account_id, name)},
        ExpiresIn=settings.bundle_url_seconds))
