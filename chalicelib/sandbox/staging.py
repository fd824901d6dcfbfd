"""Bodies and answers too big for the `sandbox` Lambda's 6 MB invoke travel through S3 instead.

The invoker (worker, API) stores a big call body under `sandbox-io/<id>/` and hands the function
a presigned GET URL of it, and always a presigned PUT URL for the answer frame, which the
function uses only when the frame would not fit its response. Both URLs expire shortly after
the call's own time is up and name one object each, so the function's role stays without any
permission. Only the function's warm parent sees them (they are outside the call the child
runs), and the invoker deletes both objects once the call is answered (a lifecycle rule on the
prefix removes what a crash leaves).
"""
from __future__ import annotations

import functools
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib.sandbox.errors import Crashed
from chalicelib.sandbox.wire import encode_frame, failure

PREFIX = "sandbox-io/"
# Raw bytes that may still travel inline: base64 makes 5.6 MB of them, and the call around
# them (the script, its arguments) has the rest of the 6 MB request.
INLINE_BODY_BYTES = 4 * 1024 * 1024
# The answer frame as base64 in the function's response, also at most 6 MB.
INLINE_FRAME_CHARS = 5_500_000
URL_SLACK_SECONDS = 60
TRANSFER_SECONDS = 60.0
MAX_STAGED_BYTES = 64 * 1024 * 1024


class Staged:
    """The objects of one call: the body (when it did not fit) and the answer frame."""

    def __init__(self, expires_seconds: int) -> None:
        from chalicelib.config import get_settings

        settings = get_settings()
        self.signer = signer(settings.region, settings.aws_endpoint_url)
        self.bucket = settings.bucket
        self.expires_seconds = expires_seconds
        base = f"{PREFIX}{uuid.uuid4().hex}/"
        self.body_key: str | None = None
        self.frame_key = base + "frame"
        self._base = base

    def event_fields(self, body: bytes) -> dict[str, str]:
        """What the invoke carries besides the call: the body inline or its URL, the frame's URL."""
        import base64

        fields = {"frame_url": self._presign("put_object", self.frame_key)}
        if len(body) <= INLINE_BODY_BYTES:
            fields["body"] = base64.b64encode(body).decode("ascii")
            return fields
        self.body_key = self._base + "body"
        try:
            _s3().put_object(Bucket=self.bucket, Key=self.body_key, Body=body)
        except _aws_errors() as exc:
            raise Crashed(f"the call body could not be staged for the sandbox function: {exc}") \
                from exc
        fields["body_url"] = self._presign("get_object", self.body_key)
        return fields

    def stored_frame(self) -> bytes:
        """The answer frame the function stored instead of answering it."""
        try:
            return bytes(_s3().get_object(Bucket=self.bucket, Key=self.frame_key)["Body"].read())
        except _aws_errors() as exc:
            raise Crashed(f"the sandbox function's stored answer could not be read: {exc}") \
                from exc

    def remove(self, frame_stored: bool) -> None:
        """Delete what this call stored (nothing is left for a later reader)."""
        keys = [key for key in (self.body_key, self.frame_key if frame_stored else None) if key]
        for key in keys:
            try:
                _s3().delete_object(Bucket=self.bucket, Key=key)
            except _aws_errors():
                continue  # the call is answered; the prefix's lifecycle rule removes it later

    def _presign(self, method: str, key: str) -> str:
        # Signed here, with no AWS call; valid for one object and one method.
        return str(self.signer.generate_presigned_url(method, Params={"Bucket": self.bucket, "Key": key},
                                                  ExpiresIn=self.expires_seconds))


def _s3() -> Any:
    from chalicelib import aws

    return aws.client("s3")


@functools.cache
def signer(region: str, endpoint_url: str | None) -> Any:
    """An S3 client that only signs URLs (staged call bodies and frames, package bundles).

    With SigV4: botocore's default presigned URL here is SigV2, which S3 refuses for buckets
    made since 2020. Its own session, never sending."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("s3", region_name=region, endpoint_url=endpoint_url,
                                          config=Config(signature_version="s3v4"))


def _aws_errors() -> tuple[type[Exception], ...]:
    # Imported here: the sandbox function imports this module and never botocore.
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuses every redirect: a presigned URL answers itself (staged objects, bundles)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a presigned URL answers itself; a redirect is an error


def checked_url(url: Any, what: str = "a staged object's URL") -> str:
    """`url` if it is HTTPS, or plain HTTP to this machine (a local emulator): a signed URL must
    not cross a network in the clear; ValueError naming `what` otherwise."""
    parts = urllib.parse.urlsplit(url if isinstance(url, str) else "")
    if parts.scheme != "https" and not (parts.scheme == "http"
                                         and parts.hostname in ("127.0.0.1", "localhost", "::1")):
        raise ValueError(f"{what} must be an HTTPS URL")
    return str(url)


def download(url: Any) -> bytes:
    """The call body at a presigned GET URL (in the sandbox function)."""
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(checked_url(url), timeout=TRANSFER_SECONDS) as response:
            data = bytes(response.read(MAX_STAGED_BYTES + 1))
    except urllib.error.HTTPError as exc:
        raise ValueError(f"the call body's URL answered {exc.code}") from exc
    if len(data) > MAX_STAGED_BYTES:
        raise ValueError(f"the call body is over {MAX_STAGED_BYTES} bytes")
    return data


def upload(url: Any, frame: bytes) -> None:
    """Store the answer frame at a presigned PUT URL (in the sandbox function)."""
    request = urllib.request.Request(checked_url(url), data=frame, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(request, timeout=TRANSFER_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise ValueError(f"the answer frame's URL answered {exc.code}") from exc


def answer(frame: bytes, frame_url: Any, inline: Callable[[bytes], dict[str, Any]]) -> dict[str, Any]:
    """The function's response: the frame inline when it fits, else stored at `frame_url`."""
    if frame_url is None or len(frame) * 4 // 3 + 4 <= INLINE_FRAME_CHARS:
        return inline(frame)
    try:
        upload(frame_url, frame)
    except (OSError, ValueError) as exc:
        return inline(encode_frame(failure("crashed", f"the answer could not be stored: {exc}")))
    return {"frame_stored": True}
