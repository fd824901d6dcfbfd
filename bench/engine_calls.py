"""AWS calls per task-engine operation, counted against moto, beside the minimum and the target.

Run: python bench/engine_calls.py [blocked seconds, default 10]
Every call botocore makes (boto3 and pynamodb alike) is counted at the client's call entry.
Caches are warm first (credentials, queue URL), as in a warm Lambda; the deployed settings
carry the queue URL, so no GetQueueUrl is ever made there.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1", "TASKPORT_ADMIN_TOKEN": "bench-admin"}.items():
    os.environ.setdefault(name, value)
os.environ.pop("AWS_ENDPOINT_URL", None)

from tests.unit.engine.calls import count_calls  # noqa: E402


def _summary(calls: list[str]) -> str:
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in Counter(calls).items())


def main(blocked_seconds: float) -> None:
    from chalice.test import Client
    from moto import mock_aws

    with mock_aws():
        from chalicelib import aws
        from chalicelib.config import get_settings
        from chalicelib.local.resources import ensure_resources

        queues = ensure_resources()
        from app import app
        from chalicelib.engine import worker

        rows: list[tuple[str, float, str, str, str]] = []
        with Client(app) as client:
            admin = {"Authorization": "Bearer bench-admin", "Content-Type": "application/json"}
            created = json.loads(client.http.post("/admin/v1/accounts", headers=admin,
                                                  body=json.dumps({"handle": "bench"})).body)
            headers = {"Authorization": f"Secret {created['credentials']['secret_key']}",
                       "Content-Type": "application/json"}

            def create(tasks: list[dict]) -> list[str]:
                response = client.http.post("/v1/create", headers=headers,
                                            body=json.dumps({"tasks": tasks}))
                return [s["key"] for s in json.loads(response.body)]

            aws.queue_url(get_settings().tasks_queue)
            create([{"task_name": "hello", "name": "warm"}])  # credential cache, connections

            with count_calls() as calls:
                one = create([{"task_name": "hello", "name": "one"}])
            rows.append(("create 1 task (POST /v1/create)", len(calls), "2", "2", _summary(calls)))

            with count_calls() as calls:
                hundred = create([{"task_name": "hello", "name": str(i)} for i in range(100)])
            rows.append(("create 100 tasks in one request", len(calls), "14", "<= 14", _summary(calls)))

            with count_calls() as calls:
                client.http.get(f"/v1/status?tasks={one[0]}")
            rows.append(("status of 1 key", len(calls), "1", "1", _summary(calls)))

            with count_calls() as calls:
                client.http.get("/v1/status?" + "&".join(f"tasks={k}" for k in hundred[:10]))
            rows.append(("status of 10 keys", len(calls), "1", "1", _summary(calls)))

            sqs = aws.client("sqs")
            messages = []
            while True:
                batch = sqs.receive_message(QueueUrl=queues["tasks_queue"],
                                            MaxNumberOfMessages=10).get("Messages", [])
                if not batch:
                    break
                messages.extend(batch)
            records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
            with count_calls() as calls:
                for start in range(0, len(records), 10):  # Lambda's batches of 10
                    worker.handle_batch(records[start:start + 10])
            rows.append((f"worker calls per task (hello, {len(records)} tasks)",
                         len(calls) / len(records), "2", "<= 2", _summary(calls)))

            with count_calls() as calls:
                worker.handle_batch(records[:10])
            rows.append(("worker calls per duplicate message", len(calls) / 10, "1", "-",
                         _summary(calls)))

            os.environ["TASKPORT_BLOCK_WAIT_SECONDS"] = str(blocked_seconds)
            get_settings.cache_clear()
            manual = create([{"task_name": "hello", "name": "never run"}])
            start = time.monotonic()
            with count_calls() as calls:
                client.http.get(f"/v1/status?tasks={manual[0]}&block=true")
            waited = time.monotonic() - start
            rows.append((f"reads per blocked second (blocked {waited:.1f} s)", len(calls) / waited,
                         "-", "~1 (polls 50 ms growing x1.5 to 1 s)", _summary(calls)))

    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'AWS calls':>9}  {'minimum':>7}  target   calls made")
    for name, count, minimum, target, made in rows:
        shown = f"{count:.2f}" if isinstance(count, float) and not count.is_integer() else f"{count:g}"
        print(f"{name:<{width}}  {shown:>9}  {minimum:>7}  {target:<7}  {made}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
