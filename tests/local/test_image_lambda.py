"""Image tasks and the `sandbox` Lambda: an image over what fits its 6 MB invoke reaches the
function by a presigned URL of a staged object, and an answer over what fits its response goes
back the same way (chalicelib/sandbox/staging.py).

The Lambda client is a stand-in that hands the payload to the sandbox function's body in this
process (as tests/unit/sandbox/test_calls.py does); S3 is a real moto server on 127.0.0.1, so
the function fetches and stores over HTTP as it does on AWS."""
from __future__ import annotations

import base64
import io
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import aws, config, sandbox
from chalicelib.sandbox import aws_lambda, staging
from tests.local.test_stack import emulator  # noqa: F401 - the moto server fixture

INVOKE_PAYLOAD_LIMIT = 6 * 1024 * 1024
BUCKET = "taskport-test-images"


class LambdaClient:
    """Stands in for boto3's Lambda client: the payload goes to the sandbox function's body."""

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []  # (request, response) bytes of each invoke
        self.events: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: str) -> dict[str, Any]:
        self.events.append(json.loads(Payload))
        answer = json.dumps(aws_lambda.handle(json.loads(Payload))).encode()
        self.sizes.append((len(Payload.encode("utf-8")), len(answer)))
        return {"StatusCode": 200, "Payload": io.BytesIO(answer)}


@pytest.fixture
def lambda_sandbox(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaClient]:  # noqa: F811
    fake = LambdaClient()
    real = aws.client
    monkeypatch.setenv("TASKPORT_SANDBOX_MODE", "lambda")
    monkeypatch.setenv("TASKPORT_BUCKET", BUCKET)
    config.get_settings.cache_clear()
    monkeypatch.setattr(aws, "client", lambda service: fake if service == "lambda" else real(service))
    real("s3").create_bucket(Bucket=BUCKET)
    yield fake
    config.get_settings.cache_clear()


def _left_in_bucket() -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=staging.PREFIX)
    return [item["Key"] for item in listed.get("Contents", [])]


def _noise_png(size: tuple[int, int]) -> bytes:
    """A PNG that does not compress: about 3 bytes a pixel."""
    from PIL import Image

    pixels = random.Random(12).randbytes(size[0] * size[1] * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(out, "PNG")
    return out.getvalue()


def _image_task(task: Any, data: bytes, params: dict[str, Any],
                monkeypatch: pytest.MonkeyPatch) -> tuple[Any, dict[str, bytes]]:
    """(result, stored files) of an image task run on `data` as its fetched image."""
    from chalicelib.builtin_tasks import images
    from chalicelib.engine.registry import RunContext

    files: dict[str, bytes] = {}
    monkeypatch.setattr(images, "_fetch", lambda url: data)
    ctx = RunContext(key="k", account_id="acct", workspace="default", attempt=1,
                     settings=config.get_settings(), report_progress=lambda value: None,
                     store_file=lambda name, body, content_type: files.__setitem__(name, body))
    return task(params, ctx), files


def test_image_over_the_invoke_size_is_decoded_by_url_like_the_inline_path(
        lambda_sandbox, monkeypatch):
    from chalicelib.builtin_tasks import images

    data = _noise_png((1300, 1200))
    assert len(data) > staging.INLINE_BODY_BYTES
    params = {"url": "https://images.example/noise.png"}
    thumbs, thumb_files = _image_task(images.run_thumbs, data, params, monkeypatch)
    info, _ = _image_task(images.run_info, data, params, monkeypatch)
    assert len(lambda_sandbox.sizes) == 2
    assert all(request < INVOKE_PAYLOAD_LIMIT and response < INVOKE_PAYLOAD_LIMIT
               for request, response in lambda_sandbox.sizes), lambda_sandbox.sizes
    assert _left_in_bucket() == []
    for event in lambda_sandbox.events:  # SigV4 (S3 refuses SigV2 URLs for recent buckets)
        assert "body" not in event and "body_url" not in event["call"]
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in event["body_url"]
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in event["frame_url"]

    monkeypatch.setenv("TASKPORT_SANDBOX_MODE", "local")  # the image inline, as the stack sends it
    config.get_settings.cache_clear()
    assert _image_task(images.run_thumbs, data, params, monkeypatch) == (thumbs, thumb_files)
    assert _image_task(images.run_info, data, params, monkeypatch)[0] == info
    assert info == {"width": 1300, "height": 1200, "format": "PNG", "mode": "RGB",
                    "bytes": len(data)}


def test_answer_over_the_response_size_comes_back_by_url(lambda_sandbox):
    source = "def big(n):\n    return 'x' * n\n"
    assert sandbox.run_function(source, "big.py", "big", [5_000_000], {}) == "x" * 5_000_000
    (request, response), = lambda_sandbox.sizes
    assert response < 1000  # the frame itself was stored, not answered
    assert _left_in_bucket() == []


def test_call_body_that_cannot_be_fetched_fails_the_call_with_its_reason(emulator):  # noqa: F811
    from chalicelib.sandbox.wire import Limits, decode_frame

    event = {"call": {"kind": "function", "source": "def f(b):\n    return len(b)\n",
                      "filename": "f.py", "function": "f", "body_first": True},
             "limits": Limits().resolved().as_dict(), "body_url": f"{emulator}/{BUCKET}/gone"}
    header, _ = decode_frame(base64.b64decode(aws_lambda.handle(event)["frame"]))
    assert header["outcome"] == "crashed"
    assert header["message"].startswith("the call body could not be fetched: "), header
