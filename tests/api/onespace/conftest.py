"""Fixtures for the workflow API: Basic credentials, a real HTTP receiver, a webhook sender loop."""
from __future__ import annotations

import base64
import http.server
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterator

import pytest

from chalicelib import aws, config


@pytest.fixture(autouse=True)
def webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback receivers allowed, a ladder of three quick retries, a short timeout."""
    monkeypatch.setenv("TASKPORT_EGRESS_ALLOW", "127.0.0.0/8")
    monkeypatch.setenv("TASKPORT_WEBHOOK_SCHEDULE", "0,0,0")
    monkeypatch.setenv("TASKPORT_WEBHOOK_TIMEOUT_SECONDS", "2")
    config.get_settings.cache_clear()


def basic_headers(account: dict[str, Any], version: str | None = None) -> dict[str, str]:
    credentials = account["credentials"]
    token = base64.b64encode(
        f"{credentials['client_handle']}:{credentials['access_key']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    if version is not None:
        headers["CS-API-Version"] = version
    return headers


@pytest.fixture
def basic(account: dict[str, Any]) -> dict[str, str]:
    return basic_headers(account)


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 answering from a script of (status, headers, delay)."""

    url: str
    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # When set, each request waits for the barrier and answers 500 if it breaks: only requests
    # that are in flight together get through.
    barrier: threading.Barrier | None = None
    # The first `trickled` requests get their status line and headers (one of `padding` bytes)
    # a byte at a time, `trickle` s apart, until the receiver stops; `trickle_done` is set when
    # all of them are out, before the blank line that ends them.
    trickled: int = 0
    trickle: float = 0.1
    padding: int = 0
    trickle_done: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)

    def take_trickle(self) -> bool:
        with self.lock:
            if self.trickled <= 0:
                return False
            self.trickled -= 1
            return True

    def answer_next(self) -> tuple[int, dict[str, str], float]:
        with self.lock:
            return self.script.pop(0) if self.script else (200, {}, 0.0)


def _handler_for(receiver_ref: list[Receiver]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            receiver = receiver_ref[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in
                                                              self.headers.items()},
                                                  body, time.monotonic()))
            status, headers, delay = receiver.answer_next()
            if receiver.barrier is not None:
                try:
                    receiver.barrier.wait()
                except threading.BrokenBarrierError:
                    status = 500
            if delay:
                time.sleep(delay)
            if receiver.take_trickle():
                head = (f"HTTP/1.1 {status} Whatever\r\nX-Padding: {'a' * receiver.padding}\r\n"
                        f"Content-Length: 2\r\n").encode()
                for index in range(len(head)):
                    if receiver.stopped.is_set():
                        break
                    self.wfile.write(head[index:index + 1])
                    self.wfile.flush()
                    time.sleep(receiver.trickle)
                else:
                    # Set before the blank line: no client can have read the answer yet.
                    receiver.trickle_done.set()
                    self.wfile.write(b"\r\nok")
                self.close_connection = True
                return
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the timeout test hangs up on purpose


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    ref: list[Receiver] = []
    httpd = _QuietServer(("127.0.0.1", 0), _handler_for(ref))
    ref.append(Receiver(f"http://127.0.0.1:{httpd.server_address[1]}/hook"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield ref[0]
    ref[0].stopped.set()
    httpd.shutdown()
    httpd.server_close()


def put_workflow(client: Any, headers: dict[str, str], handle: str = "titles",
                 **definition: Any) -> Any:
    body = {"name": "Pick a title", "input_fields": ["List", "Opt1"],
            "webhook_url": "https://hooks.example.com/x", **definition}
    return client.http.put(f"/workflows/{handle}", headers=headers, body=json.dumps(body))


@pytest.fixture
def workflow(client: Any, basic: dict[str, str], receiver: Receiver) -> dict[str, Any]:
    """A manual workflow 'titles' whose webhook goes to the receiver."""
    response = put_workflow(client, basic, webhook_url=receiver.url)
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def new_id() -> str:
    return str(uuid.uuid4())


def put_task(client: Any, headers: dict[str, str], task_id: str, task_input: Any,
             handle: str = "titles") -> Any:
    return client.http.put(f"/workflows/{handle}/tasks/{task_id}", headers=headers,
                           body=json.dumps({"input": task_input}))


GOOD_INPUT = {"List": "This is the list of titles", "Opt1": "Title option 1"}


def run_sender(client: Any, until: Callable[[], bool], timeout: float = 15.0) -> int:
    """Feed the webhooks queue to `webhook_sender` as Lambda would, until `until()` holds.

    Returns how many batches were handled; deletes what the handler did not report failed.
    """
    sqs = aws.client("sqs")
    url = aws.queue_url(config.get_settings().webhooks_queue)
    deadline = time.monotonic() + timeout
    batches = 0
    while not until():
        assert time.monotonic() < deadline, "the webhook sender did not get there in time"
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            continue
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                              "body": m["Body"], "attributes": {}, "messageAttributes": {},
                              "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:::q",
                              "awsRegion": "us-east-1", "md5OfBody": ""} for m in messages]}
        result = client.lambda_.invoke("webhook_sender", event).payload
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        batches += 1
    return batches
