"""Fixtures for the task API: credentials, a queue drainer, a background worker, an image server."""
from __future__ import annotations

import http.server
import io
import json
import sys
import threading
from typing import Any
from collections.abc import Iterator

import pytest

from tests.conftest import atomic_aws_calls


def secret_headers(account: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Secret {account['credentials']['secret_key']}",
            "Content-Type": "application/json"}


def post(client: Any, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.http.post(path, body=raw, headers={"Content-Type": "application/json",
                                                     **(headers or {})})


def drain(queue_url: str) -> int:
    """Feed every message now on the tasks queue to the worker, as Lambda would; count them."""
    from chalicelib import aws
    from chalicelib.engine import worker

    sqs = aws.client("sqs")
    handled = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=0).get("Messages", [])
        if not messages:
            return handled
        records = [{"messageId": m["MessageId"], "body": m["Body"],
                    "receiptHandle": m["ReceiptHandle"]} for m in messages]
        report = worker.handle_batch(records)
        failed = {f["itemIdentifier"] for f in report["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        handled += len(messages)


@pytest.fixture
def running_worker(world: dict[str, str]) -> Iterator[None]:
    """A thread that keeps draining the tasks queue while the test blocks on the API."""
    with atomic_aws_calls():
        yield from _draining(world)


def _draining(world: dict[str, str]) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if not drain(world["tasks_queue"]):
                stop.wait(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def image_bytes(size: tuple[int, int] = (800, 600), fmt: str = "PNG", mode: str = "RGB") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else 128).save(out, fmt)
    return out.getvalue()


class PillowRefused:
    """An import hook that refuses Pillow and remembers what was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "PIL" or name.startswith("PIL."):
            self.asked.append(name)
            raise ImportError(f"{name} may not be imported by the worker")


def refuse_pillow(monkeypatch: pytest.MonkeyPatch) -> PillowRefused:
    """Until the test ends, importing Pillow in this process fails and is recorded."""
    # The test itself may have made its images with Pillow: those modules are set aside.
    for name in [name for name in sys.modules if name == "PIL" or name.startswith("PIL.")]:
        monkeypatch.delitem(sys.modules, name)
    hook = PillowRefused()
    monkeypatch.setattr(sys, "meta_path", [hook, *sys.meta_path])
    return hook


class ImageServer:
    """A local HTTP server with a dict of path -> (status, content type, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                status, content_type, body = routes.get(self.path, (404, "text/plain", b"missing"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if 300 <= status < 400:
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def images(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImageServer]:
    """Images served on 127.0.0.1, with loopback opened in the egress guard."""
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_EGRESS_ALLOW", "127.0.0.0/8")
    config.get_settings.cache_clear()
    server = ImageServer()
    server.routes["/cat.png"] = (200, "image/png", image_bytes())
    server.routes["/cat.jpg"] = (200, "image/jpeg", image_bytes((300, 1200), "JPEG"))
    server.routes["/notes.txt"] = (200, "text/plain", b"not an image at all")
    server.routes["/moved"] = (302, "text/plain", b"http://169.254.169.254/latest/meta-data")
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
