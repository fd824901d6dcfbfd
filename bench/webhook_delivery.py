"""Bench: one SQS batch of 10 webhook deliveries to a receiver taking 200 ms each, delivered
concurrently by `webhook_sender`, beside the same 10 delivered one after another in the same run
(median of a few rounds, after an untimed warm-up batch); and the AWS calls that one new workflow
task costs (manual and automated).

    /work/main/.venv/bin/python bench/webhook_delivery.py

Runs against moto in-process with a real HTTP receiver on 127.0.0.1.
"""
from __future__ import annotations

import base64
import collections
import http.server
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from typing import Any
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                   "TASKPORT_ADMIN_TOKEN": "bench", "TASKPORT_EGRESS_ALLOW": "127.0.0.0/8",
                   "TASKPORT_WEBHOOK_SCHEDULE": "0"})
os.environ.pop("AWS_ENDPOINT_URL", None)

BATCH = 10
RECEIVER_DELAY = 0.2
ROUNDS = 5


class _SlowReceiver(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(RECEIVER_DELAY)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # socketserver's 5 would make a batch's connections wait their turn


class CallCounter:
    """Counts every AWS API call made through botocore (boto3 and pynamodb alike)."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    def __enter__(self) -> CallCounter:
        import botocore.client

        self._original = botocore.client.BaseClient._make_api_call
        counter = self

        def counted(client: Any, operation: str, params: Any) -> Any:
            counter.calls[operation] += 1
            return counter._original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted
        return self

    def __exit__(self, *exc: object) -> None:
        import botocore.client

        botocore.client.BaseClient._make_api_call = self._original


def _serve(ports: multiprocessing.Queue[int]) -> None:
    httpd = _Server(("127.0.0.1", 0), _SlowReceiver)
    ports.put(httpd.server_address[1])
    httpd.serve_forever()


def _drain(queue_url: str) -> Iterator[list[dict[str, Any]]]:
    from chalicelib import aws

    sqs = aws.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return
        for m in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        yield [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]


def _collect(queue_url: str, count: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for batch in _drain(queue_url):
        records += batch
        if len(records) >= count:
            break
    return records


def main() -> None:
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.local.resources import ensure_resources

    # The receiver runs in its own process, as a real one runs on another machine: in-process
    # it would share the GIL with the sender and the emulator and slow both.
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    receiver.start()
    receiver_url = f"http://127.0.0.1:{ports.get(timeout=10)}/hook"

    with mock_aws():
        queues = ensure_resources()
        from app import app
        from chalicelib.webhooks import delivery

        with Client(app) as client:
            created = client.http.post("/admin/v1/accounts", headers={
                "Authorization": "Bearer bench", "Content-Type": "application/json"},
                body=json.dumps({"handle": "bench"}))
            credentials = json.loads(created.body)["credentials"]
            basic = {"Authorization": "Basic " + base64.b64encode(
                f"bench:{credentials['access_key']}".encode()).decode(),
                "Content-Type": "application/json"}
            for handle, script in (("manual", None), ("automated", "/scripts/auto.py")):
                client.http.put(f"/workflows/{handle}", headers=basic, body=json.dumps(
                    {"name": handle, "input_fields": ["a"], "webhook_url": receiver_url,
                     "handler_script_path": script}))

            calls = {}
            for handle in ("manual", "automated"):
                # The first PUT warms the credential and workflow caches, as a warm Lambda has.
                client.http.put(f"/workflows/{handle}/tasks/{uuid.uuid4()}", headers=basic,
                                body=json.dumps({"input": {"a": "warm"}}))
                with CallCounter() as counter:
                    response = client.http.put(f"/workflows/{handle}/tasks/{uuid.uuid4()}",
                                               headers=basic, body=json.dumps({"input": {"a": 1}}))
                assert response.status_code == 201, response.body
                calls[handle] = dict(counter.calls)

            for _ in _drain(queues["webhooks_queue"]):
                pass
            tasks = []
            for _ in range(BATCH):
                task_id = str(uuid.uuid4())
                client.http.put(f"/workflows/manual/tasks/{task_id}", headers=basic,
                                body=json.dumps({"input": {"a": task_id}}))
                done = client.http.post(f"/workflows/manual/tasks/{task_id}/complete",
                                        headers=basic, body=json.dumps({"output": {"ok": True}}))
                tasks.append(task_id)
                assert done.status_code == 200, done.body

            def replayed() -> list[dict[str, Any]]:
                for task_id in tasks:
                    client.http.post(f"/workflows/manual/tasks/{task_id}/deliveries/replay",
                                     headers=basic)
                return _collect(queues["webhooks_queue"], BATCH)

            # The completions' batch warms the sender (threads, connections, caches), untimed.
            assert not delivery.handle_batch(
                _collect(queues["webhooks_queue"], BATCH))["batchItemFailures"]
            concurrent, sequential = [], []
            for _ in range(ROUNDS):
                records = replayed()
                started = time.perf_counter()
                outcome = delivery.handle_batch(records)
                concurrent.append(time.perf_counter() - started)
                assert not outcome["batchItemFailures"]
                records = replayed()
                started = time.perf_counter()
                for record in records:
                    delivery.handle_batch([record])
                sequential.append(time.perf_counter() - started)

            statuses = collections.Counter()
            for task_id in tasks:
                listed = client.http.get(f"/workflows/manual/tasks/{task_id}/deliveries",
                                         headers=basic)
                statuses.update(d["status"] for d in json.loads(listed.body)["deliveries"])

    receiver.terminate()
    print(f"webhook delivery: {BATCH} events, receiver takes {RECEIVER_DELAY * 1000:.0f} ms each, "
          f"median (min-max) of {ROUNDS} rounds")
    print(f"{'':38}{'measured':>22}{'target':>12}")
    for label, times, target in (("one batch, concurrent (webhook_sender)", concurrent, "<= 0.4 s"),
                                 ("same 10, one after another", sequential, "~2 s")):
        spread = f"{statistics.median(times):.3f}s ({min(times):.2f}-{max(times):.2f})"
        print(f"{label:38}{spread:>22}{target:>12}")
    print(f"deliveries recorded: {dict(statuses)}")
    print()
    print("AWS calls per new workflow task (warm process)")
    for handle, target in (("manual", "1 write"), ("automated", "1 write + 1 send")):
        counted = calls[handle]
        writes = sum(n for op, n in counted.items() if op in (
            "PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems", "DeleteItem"))
        sends = sum(n for op, n in counted.items() if op.startswith("SendMessage"))
        reads = sum(n for op, n in counted.items() if op in (
            "GetItem", "Query", "BatchGetItem", "Scan", "GetQueueUrl"))
        print(f"  {handle:10} writes={writes} sends={sends} reads={reads}  "
              f"(target {target})  {counted}")


if __name__ == "__main__":
    main()
