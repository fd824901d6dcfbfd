"""Package bundles and the `sandbox` Lambda: a bundle is over the 6 MB invoke payload, so the
invoke carries a presigned URL of it in the bucket (an emulator over HTTP here), which the
sandbox function fetches once, checks against the version's ETag and keeps unpacked.

The Lambda client is a stand-in that hands the payload to the sandbox function's body in this
process (as tests/unit/sandbox/test_calls.py does); S3 is a real moto server on 127.0.0.1."""
from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws, config, sandbox
from chalicelib.packages import builds, bundles, storage
from chalicelib.sandbox import aws_lambda
from chalicelib.sandbox import bundles as cache
from tests.unit.engine.calls import count_calls
from tests.local.test_stack import emulator  # noqa: F401 - the moto server fixture
from tests.local.test_steamship_packages import ship_zip

INVOKE_PAYLOAD_LIMIT = 6 * 1024 * 1024
ACCOUNT = "acct-lambda-bundles"


class LambdaClient:
    """Stands in for boto3's Lambda client: the payload goes to the sandbox function's body."""

    def __init__(self) -> None:
        self.payload_bytes: list[int] = []
        self.payloads: list[str] = []
        self.functions: list[str] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: str) -> dict[str, Any]:
        self.payload_bytes.append(len(Payload.encode("utf-8")))
        self.payloads.append(Payload)
        self.functions.append(FunctionName)
        answer = aws_lambda.handle(json.loads(Payload))
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


@pytest.fixture(scope="module")
def big_bundle() -> bytes:
    """A real bundle (the SDK installed from the wheelhouse), made sure to be over 6 MB."""
    if not Path(config.get_settings().wheelhouse).is_dir():
        pytest.skip("no wheelhouse (`make` fills it)")
    bundle, _ = builds.build_bundle(ship_zip())
    if len(bundle) <= INVOKE_PAYLOAD_LIMIT:
        out = io.BytesIO(bundle)
        with zipfile.ZipFile(out, "a") as archive:
            archive.writestr("padding.bin", os.urandom(INVOKE_PAYLOAD_LIMIT))
        bundle = out.getvalue()
    return bundle


SANDBOX_FUNCTION, BUNDLE_FUNCTION = "taskport-t-sandbox", "taskport-t-bundle_sandbox"


@pytest.fixture
def lambda_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaClient]:
    """Lambda sandbox mode with the stand-in client, the two functions' names set."""
    fake = LambdaClient()
    real = aws.client
    monkeypatch.setenv("TASKPORT_SANDBOX_MODE", "lambda")
    monkeypatch.setenv("TASKPORT_SANDBOX_FUNCTION", SANDBOX_FUNCTION)
    monkeypatch.setenv("TASKPORT_BUNDLE_SANDBOX_FUNCTION", BUNDLE_FUNCTION)
    config.get_settings.cache_clear()
    monkeypatch.setattr(aws, "client", lambda service: fake if service == "lambda" else real(service))
    yield fake
    config.get_settings.cache_clear()


@pytest.fixture
def lambda_sandbox(emulator: str, lambda_only: LambdaClient,  # noqa: F811
                   monkeypatch: pytest.MonkeyPatch) -> LambdaClient:
    monkeypatch.setenv("TASKPORT_BUCKET", "taskport-test-bundles")
    config.get_settings.cache_clear()
    aws.client("s3").create_bucket(Bucket="taskport-test-bundles")
    return lambda_only


def _stored(bundle: bytes) -> bundles.Target:
    version_id = uuid.uuid4().hex  # a bundle no sandbox has unpacked yet
    path = f"pkg/{version_id}.bundle.zip"
    etag = storage.put(ACCOUNT, path, bundle)
    return bundles.Target(account_id=ACCOUNT, path=path, etag=etag, version_id=version_id,
                          package="zipped", version="1.0.0", instance="hi")


def test_bundle_over_the_invoke_limit_is_fetched_by_url_and_runs(lambda_sandbox, big_bundle):
    assert len(big_bundle) > INVOKE_PAYLOAD_LIMIT
    target = _stored(big_bundle)
    with count_calls() as made:  # the caller's own AWS calls (the invoke is the stand-in's)
        greeting = bundles.call(target, bundles.event(target, "POST", "/greet", {"name": "Ann"},
                                                      {"greeting": "Howdy"}),
                                sandbox.Limits(wall_seconds=60))
        again = bundles.call(target, bundles.event(target, "GET", "/shout", {"text": "warm"},
                                                   {}), sandbox.Limits(wall_seconds=60))
    assert bundles.value(greeting) == {"greeting": "Howdy, Ann!"}
    assert bundles.value(again) == "WARM"
    assert made == []  # no GetObject by the caller, cold or warm: the URL is signed locally
    assert len(lambda_sandbox.payload_bytes) == 2  # one invoke per call: no bundle_missing trip
    assert max(lambda_sandbox.payload_bytes) < 64 * 1024
    # SigV4: S3 refuses SigV2 (botocore's default presigned URL) for buckets made since 2020.
    assert all("X-Amz-Algorithm=AWS4-HMAC-SHA256" in payload for payload in lambda_sandbox.payloads)
    # On the python3.11 function (steamship's wheels), never the sandbox function.
    assert lambda_sandbox.functions == [BUNDLE_FUNCTION, BUNDLE_FUNCTION]


def test_source_call_in_lambda_mode_invokes_the_sandbox_function_not_the_bundles(lambda_only):
    source = "def double(x):\n    return 2 * x\n"
    assert sandbox.run_function(source, "task.py", "double", [21], {},
                                sandbox.Limits(wall_seconds=30)) == 42
    assert lambda_only.functions == [SANDBOX_FUNCTION]


def test_bundle_replaced_in_the_bucket_is_refused_by_its_etag(lambda_sandbox, big_bundle):
    target = _stored(big_bundle)
    storage.put(ACCOUNT, target.path, ship_zip())  # same key, other bytes
    with pytest.raises(sandbox.Refused, match="ETag"):
        bundles.call(target, bundles.event(target, "POST", "/greet", {}, {}),
                     sandbox.Limits(wall_seconds=60))


def _archive(text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as made:
        made.writestr("api.py", text)
    return out.getvalue()


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """The cache under tmp_path, and a download that counts its URLs."""
    urls: list[str] = []

    def download(url: str, etag: str) -> bytes:
        urls.append(url)
        return _archive("VALUE = 'built'\n")

    monkeypatch.setattr(cache, "cache_root", lambda: tmp_path)
    monkeypatch.setattr(cache, "_download", download)
    return urls


def _stage(key: str = "k1") -> tuple[dict[str, Any], bytes]:
    staged = cache.stage({"kind": "bundle", "bundle": key, "event": {},
                          "bundle_url": "https://signed.example/x", "bundle_etag": "e"}, b"")
    assert isinstance(staged, tuple), staged
    return staged


def test_bundle_url_never_reaches_package_code(fetched):
    call, body = _stage()
    assert "bundle_url" not in call and "bundle_etag" not in call and body == b""
    assert (Path(call["bundle_dir"]) / "api.py").read_text() == "VALUE = 'built'\n"
    _stage()
    assert len(fetched) == 1  # unpacked once, then used as it is


def test_bundle_rewritten_by_a_call_sharing_the_uid_is_unpacked_again(fetched, monkeypatch):
    monkeypatch.setattr(cache, "_shares_uid", lambda: True)
    call, _ = _stage()
    api = Path(call["bundle_dir"]) / "api.py"
    api.write_text("VALUE = 'tampered'\n")
    call, _ = _stage()
    assert (Path(call["bundle_dir"]) / "api.py").read_text() == "VALUE = 'built'\n"
    assert len(fetched) == 2


def test_sweep_removes_what_a_call_left_in_the_cache_where_it_shares_the_uid(fetched, monkeypatch,
                                                                             tmp_path):
    monkeypatch.setattr(cache, "_shares_uid", lambda: True)
    call, _ = _stage()
    bundle_dir = Path(call["bundle_dir"])
    (bundle_dir.parent / "left-by-a-call").write_bytes(b"x" * 100)
    (tmp_path / "also-left").mkdir()
    cache.sweep()
    assert sorted(p.name for p in bundle_dir.parent.iterdir()) == [bundle_dir.name]
    assert not (tmp_path / "also-left").exists()
    (bundle_dir / "api.py").write_text("VALUE = 'tampered'\n")
    cache.sweep()  # found when it is next staged (the test above), not by every sweep
    (bundle_dir / "sitecustomize.py").write_text("")
    cache.sweep()
    assert not bundle_dir.exists()


def test_bundle_url_in_the_clear_to_another_machine_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "cache_root", lambda: tmp_path)
    refused = cache.stage({"kind": "bundle", "bundle": "k2", "event": {},
                           "bundle_url": "http://bucket.s3.amazonaws.com/x", "bundle_etag": "e"},
                          b"")
    assert isinstance(refused, dict) and refused["outcome"] == "refused"
    assert "HTTPS" in refused["message"]
