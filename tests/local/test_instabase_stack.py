"""HTTP endpoints end to end on the local stack: a script uploaded, an endpoint made, triggered."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.api.instabase.conftest import HELLO, HELLO_PATH
from tests.conftest import ADMIN_TOKEN
from tests.local.test_stack import _call, dev_stack  # noqa: F401  (the stack fixture)

ROOT = "/api/v1/http-endpoint"
WALL_SECONDS = 2
ECHO = '''
import json
from flask import Response

def handler(request, *args, **kwargs):
    return Response(json.dumps({"method": request.method, "json": request.get_json(silent=True),
                                "args": request.args.to_dict(flat=False)}),
                    mimetype="application/json", status=201)
'''
LOOP = "def handler(request):\n    while True:\n        pass\n"


@pytest.fixture(scope="module", autouse=True)
def short_wall_time() -> Iterator[None]:
    """Handlers get WALL_SECONDS: set before the stack starts (autouse fixtures come first)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASKPORT_HANDLER_WALL_SECONDS", str(WALL_SECONDS))
        yield


@pytest.fixture(scope="module")
def stack(dev_stack: dict[str, Any]) -> str:  # noqa: F811
    return dev_stack["url"]


@pytest.fixture(scope="module")
def token(stack: str) -> str:
    status, account = _call(stack + "/admin/v1/accounts", "POST", {"handle": "instabase-e2e"},
                            {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 201, account
    return account["credentials"]["token"]


def _raw(url: str, method: str = "GET", data: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _upload(stack: str, token: str, path: str, source: str) -> None:
    status, _, body = _raw(f"{stack}/api/v1/fs/files?path={quote(path)}", "PUT", source.encode(),
                           {"Authorization": f"Bearer {token}", "Content-Type": "text/x-python"})
    assert status == 200, body
    assert json.loads(body) == {"status": "OK", "path": path, "size": len(source.encode())}


def _endpoint(stack: str, token: str, endpoint_id: str, path: str, script: str) -> None:
    status, body = _call(f"{stack}{ROOT}/{endpoint_id}", "PUT",
                         {"path": path, "handler_script_path": script},
                         {"Authorization": f"Bearer {token}"})
    assert (status, body) == (201, {"id": endpoint_id})


def test_seed_hello_uploaded_and_triggered_over_http(stack: str, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    _upload(stack, token, HELLO_PATH, HELLO)
    status, _, stored = _raw(f"{stack}/api/v1/fs/files?path={quote(HELLO_PATH)}", headers=bearer)
    assert (status, stored) == (200, HELLO.encode())
    _endpoint(stack, token, "my-endpoint-id", "helloworld", HELLO_PATH)

    status, headers, body = _raw(f"{stack}{ROOT}/u/helloworld", headers=bearer)
    assert (status, body) == (200, b"Hello World")
    assert headers["Content-Type"].startswith("text/plain")
    status, _, body = _raw(f"{stack}{ROOT}/u/helloworld", "POST", b"{}",
                           {**bearer, "Content-Type": "application/json"})
    assert (status, body) == (404, b"")  # the seed's handler answers 404 to anything but GET


def test_webhook_post_reaches_handler_with_token_in_query(stack: str, token: str) -> None:
    _upload(stack, token, "/e2e/echo.py", ECHO)
    _endpoint(stack, token, "echo", "echo", "/e2e/echo.py")
    status, headers, body = _raw(f"{stack}{ROOT}/u/echo?access_token={token}&event=completed",
                                 "POST", b'{"id": 7}', {"Content-Type": "application/json"})
    assert status == 201, body
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"method": "POST", "json": {"id": 7},
                                "args": {"event": ["completed"]}}


def test_endless_handler_answers_504_while_others_answer(stack: str, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    _upload(stack, token, "/e2e/loop.py", LOOP)
    _endpoint(stack, token, "loop", "loop", "/e2e/loop.py")
    _upload(stack, token, "/e2e/hello.py", HELLO)
    _endpoint(stack, token, "hello", "hello", "/e2e/hello.py")
    looped: list[tuple[int, float]] = []

    def call_loop() -> None:
        start = time.monotonic()
        status, _, _ = _raw(f"{stack}{ROOT}/u/loop", headers=bearer)
        looped.append((status, time.monotonic() - start))

    worker = threading.Thread(target=call_loop)
    worker.start()
    time.sleep(0.3)  # the endless call is running now
    answers = [_raw(f"{stack}{ROOT}/u/hello", headers=bearer)[::2] for _ in range(3)]
    assert worker.is_alive()
    worker.join(timeout=30)
    assert answers == [(200, b"Hello World")] * 3
    status, took = looped[0]
    assert status == 504
    assert WALL_SECONDS <= took < WALL_SECONDS + 5
