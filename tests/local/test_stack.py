"""The local stack end to end over real HTTP, and the SQS pollers' Lambda batch semantics."""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import urllib.error
import urllib.request
from typing import Any
from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.local.stack_process import PROJECT_DIR, running_stack



def _free_port() -> int:
    from chalicelib.local.stack import free_port

    return free_port()


def _call(url: str, method: str = "GET", body: Any = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`python -m chalicelib.local.stack` in a child process on a free PORT, with its own emulator."""
    with running_stack(tmp_path_factory.mktemp("dev") / "taskport-dev.json") as started:
        yield {"url": started.url, "process": started.process, "output": started.output,
               "lines": started.lines, "reader": started.reader}


def test_stack_serves_health_over_http_without_credentials(dev_stack: dict[str, Any]) -> None:
    status, body = _call(dev_stack["url"] + "/health")
    assert (status, body) == (200, {"status": "ok", "sandbox": "ok"})


def test_stack_creates_account_over_http_with_admin_token(dev_stack: dict[str, Any]) -> None:
    status, body = _call(dev_stack["url"] + "/admin/v1/accounts", "POST",
                         {"handle": "e2e-acme", "referrers": ["app.example.com"]},
                         {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 201, body
    assert body["handle"] == "e2e-acme"
    assert set(body["credentials"]) == {"token", "secret_key", "api_key", "client_handle", "access_key"}
    again, _ = _call(dev_stack["url"] + "/admin/v1/accounts", "POST", {"handle": "e2e-acme"},
                     {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert again == 409


def test_stack_refuses_admin_call_without_token(dev_stack: dict[str, Any]) -> None:
    status, _ = _call(dev_stack["url"] + "/admin/v1/accounts", "POST", {"handle": "nobody"})
    assert status == 401


def test_stack_prints_admin_token_and_ready_dev_account(dev_stack: dict[str, Any]) -> None:
    printed = "".join(dev_stack["output"])
    assert f"admin token:    {ADMIN_TOKEN}" in printed
    status, body = _call(dev_stack["url"] + "/admin/v1/accounts/dev",
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 200, body
    assert body["credential_kinds"] and body["id"] in printed
    assert "curl " in printed


def test_stack_printed_examples_all_succeed(dev_stack: dict[str, Any]) -> None:
    examples = [line.strip() for line in dev_stack["output"] if line.strip().startswith("curl ")]
    assert len(examples) >= 5
    for example in examples:
        # The examples are meant to be pasted into a shell; -f makes curl fail on an HTTP error.
        done = subprocess.run(example.replace("curl ", "curl -sS -f ", 1), shell=True,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{example}\n{done.stdout}\n{done.stderr}"
        assert done.stdout.strip(), example


def _readme_examples() -> str:
    readme = (PROJECT_DIR / "docs" / "curl.md").read_text()
    section = readme[readme.index("# Calling it"):]
    start = section.index("```sh\n") + len("```sh\n")
    return section[start:section.index("\n```", start)]


def test_stack_runs_the_readme_examples(dev_stack: dict[str, Any]) -> None:
    printed = "".join(dev_stack["output"])
    creds = dict(re.findall(r"^\s+(secret_key|token|access_key):\s+(\S+)$", printed, re.MULTILINE))
    port = dev_stack["url"].rsplit(":", 1)[1]
    script = "set -euo pipefail\n" + _readme_examples().replace("localhost:8000", f"127.0.0.1:{port}")
    # -f: an HTTP error fails the script; -sS: quiet unless something fails.
    script = re.sub(r"\bcurl ", "curl -sS -f ", script)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SECRET": creds["secret_key"], "TOKEN": creds["token"],
                               "ACCESS_KEY": creds["access_key"]})
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert '"result": "Hello Ada"' in done.stdout  # the task
    # the task's result, the endpoint's answer, the package method's answer
    assert done.stdout.count("Hello Ada") == 3
    assert '"code": "open"' in done.stdout  # the workflow task


def test_stack_stops_cleanly_on_sigint(dev_stack: dict[str, Any]) -> None:
    process = dev_stack["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    dev_stack["reader"].join(10)
    rest = []
    while not dev_stack["lines"].empty():
        rest.append(dev_stack["lines"].get())
    assert "Stopped." in "".join(rest)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server in this process, and the settings pointed at it."""
    from chalicelib import aws
    from chalicelib.local.emulator import Emulator

    server = Emulator()
    url = server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    aws.reset()
    try:
        yield url
    finally:
        server.stop()
        aws.reset()


def _queue(name: str) -> str:
    from chalicelib import aws

    return aws.client("sqs").create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "1"})["QueueUrl"]


def _send(queue_url: str, bodies: list[str]) -> None:
    from chalicelib import aws

    aws.client("sqs").send_message_batch(QueueUrl=queue_url, Entries=[
        {"Id": str(i), "MessageBody": body,
         "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "test"}}}
        for i, body in enumerate(bodies)])


def _drain(queue_url: str, wait_seconds: int = 3) -> list[dict[str, Any]]:
    """Every message visible within a few seconds (the failed ones come back after 1 s)."""
    from chalicelib import aws

    return aws.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
        AttributeNames=["All"]).get("Messages", [])


def _chalice_sqs_handler(seen: list[Any], fail_body: str) -> Any:
    """An SQS handler registered on a Chalice app, as app.py registers task_worker."""
    from chalice import Chalice

    app = Chalice(app_name="poller-test")

    @app.on_sqs_message(queue="poller-test", batch_size=10, name="task_worker")
    def task_worker(event: Any) -> dict[str, Any]:
        records = list(event)
        seen.append(event.to_dict())
        return {"batchItemFailures": [{"itemIdentifier": r.to_dict()["messageId"]}
                                      for r in records if r.body == fail_body]}

    return app.handler_map["task_worker"]


def test_poller_leaves_reported_failure_and_deletes_rest(emulator: str) -> None:
    from chalicelib.local.pollers import QueuePoller

    queue_url = _queue("poller-partial")
    _send(queue_url, ["one", "fail", "three"])
    seen: list[Any] = []
    poller = QueuePoller(queue_url, _chalice_sqs_handler(seen, "fail"), lambda: None,
                         name="task_worker", wait_seconds=1)

    deleted = 0
    for _ in range(3):  # one receive may return fewer than all three messages
        deleted += poller.poll_once()
        if deleted == 2:
            break

    redelivered = _drain(queue_url)
    assert [m["Body"] for m in redelivered] == ["fail"]
    assert redelivered[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert sorted(r["body"] for event in seen for r in event["Records"]) == ["fail", "one", "three"]


def test_poller_hands_lambda_shaped_records(emulator: str) -> None:
    from chalicelib import aws
    from chalicelib.local.pollers import QueuePoller

    queue_url = _queue("poller-shape")
    _send(queue_url, ["hello"])
    seen: list[Any] = []
    QueuePoller(queue_url, _chalice_sqs_handler(seen, "none"), lambda: None,
                name="task_worker", wait_seconds=2).poll_once()

    record = seen[0]["Records"][0]
    arn = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1" and record["body"] == "hello"
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test", "binaryValue": None, "stringListValues": [],
        "binaryListValues": [], "dataType": "String"}
    assert _drain(queue_url, wait_seconds=0) == []


def test_poller_leaves_whole_batch_when_handler_raises(emulator: str) -> None:
    from chalicelib.local.pollers import QueuePoller

    queue_url = _queue("poller-raise")
    _send(queue_url, ["a", "b"])

    def broken(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("worker crashed")

    poller = QueuePoller(queue_url, broken, lambda: None, name="task_worker", wait_seconds=2)
    assert poller.poll_once() == 0
    assert sorted(m["Body"] for m in _drain(queue_url)) == ["a", "b"]


def test_dev_account_is_rotated_when_it_exists_already(world: dict[str, str]) -> None:
    from chalicelib import auth
    from chalicelib.errors import Unauthorized
    from chalicelib.local.stack import ensure_dev_account

    first = ensure_dev_account()
    again = ensure_dev_account()

    assert again["id"] == first["id"]
    assert auth.bearer({"Authorization": f"Bearer {again['credentials']['token']}"}).account_id == first["id"]
    with pytest.raises(Unauthorized):
        auth.bearer({"Authorization": f"Bearer {first['credentials']['token']}"})


def test_ticker_calls_chalice_scheduled_handler_with_eventbridge_event() -> None:
    from chalice import Chalice, Rate

    from chalicelib.local.pollers import ScheduleTicker

    app = Chalice(app_name="ticker-test")
    received: queue.Queue[Any] = queue.Queue()

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="janitor")
    def janitor(event: Any) -> None:
        received.put(event)

    ticker = ScheduleTicker(app.handler_map["janitor"], lambda: None, name="janitor",
                            region="us-east-1", interval=0.01)
    ticker.start()
    try:
        event = received.get(timeout=10)
    finally:
        ticker.stop()
    assert event.detail_type == "Scheduled Event" and event.source == "aws.events"
    assert event.resources == ["arn:aws:events:us-east-1:123456789012:rule/janitor"]
