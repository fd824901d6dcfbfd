"""AWS calls per task-engine operation, counted against moto, beside the minimum and the target;
then the write units of one run record, before and after its indexes were narrowed.

Run: python bench/engine_calls.py [blocked seconds, default 10]
Every call botocore makes (boto3 and pynamodb alike) is counted at the client's call entry.
Caches are warm first (credentials, queue URL), as in a warm Lambda; the deployed settings
carry the queue URL, so no GetQueueUrl is ever made there.

Write units are computed from the run items the worker actually sent, by DynamoDB's published
rules (on demand: 1 write unit per KB of an item, rounded up per item and per index entry; a
transactional write costs twice), since moto reports no consumed capacity. "Before" is the same
item written by PutItem into indexes that projected ALL of it.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1", "TASKPORT_ADMIN_TOKEN": "bench-admin"}.items():
    os.environ.setdefault(name, value)
os.environ.pop("AWS_ENDPOINT_URL", None)

from tests.moto_lock import dynamodb_serialized  # noqa: E402
from tests.unit.engine.calls import count_calls  # noqa: E402

KB = 1024
OUTPUT_CAP = 64 * KB
RUN_INDEXES = {"by_account": "account_id", "by_subject": "subject_pk", "by_task": "task_pk"}
INDEX_RANGE = "run_id"


def _summary(calls: list[str]) -> str:
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in Counter(calls).items())


def _value_bytes(value: dict[str, Any]) -> int:
    """An attribute value's size by DynamoDB's rules (strings UTF-8, numbers ~1 byte per two
    digits + 1, maps and lists 3 bytes + 1 per element + their contents)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + 1 + _value_bytes(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _value_bytes(v) for v in inner)
    raise ValueError(kind)


def _item_bytes(item: dict[str, Any], names: Any = None) -> int:
    return sum(len(name.encode("utf-8")) + _value_bytes(value) for name, value in item.items()
               if names is None or name in names)


def _write_units(item: dict[str, Any], projected: list[str] | None) -> tuple[int, int]:
    """The write units of one run item: table and index entries (ALL when `projected` is None)."""
    table = -(-_item_bytes(item) // KB)
    indexes = 0
    for hash_key in RUN_INDEXES.values():
        if hash_key not in item:
            continue  # a sparse index holds no entry for this run
        names = None if projected is None else {"pk", "sk", hash_key, INDEX_RANGE, *projected}
        indexes += -(-_item_bytes(item, names) // KB)
    return table, indexes


def _run_cost_rows(item: dict[str, Any], label: str) -> list[tuple[str, float, str, str, str]]:
    from chalicelib.models.runs import LISTED

    table, before = _write_units(item, None)
    _, after = _write_units(item, LISTED)
    entries = sum(1 for hash_key in RUN_INDEXES.values() if hash_key in item)
    return [(f"write units of a {label} run ({_item_bytes(item) / KB:.1f} KB, {entries} index "
             f"entries), indexes ALL, own PutItem (before)", table + before, "-", "-",
             f"table {table} + indexes {before}"),
            ("  the same, indexes keys+kind+status, in the finish's transaction (now)",
             2 * (table + after), "-", "-", f"2 x (table {table} + indexes {after})"),
            ("  the same, indexes keys+kind+status, own PutItem (endpoint, method, build)",
             table + after, "-", "-", f"table {table} + indexes {after}")]


def main(blocked_seconds: float) -> None:
    from chalice.test import Client
    from moto import mock_aws

    with mock_aws(), dynamodb_serialized():
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
            sent: list[dict[str, Any]] = []
            with count_calls(sent) as calls:
                for first in range(0, len(records), 10):  # Lambda's batches of 10
                    worker.handle_batch(records[first:first + 10])
            rows.append((f"worker calls per task (hello, {len(records)} tasks; 3 before the "
                         "run record rode in the finish)",
                         len(calls) / len(records), "2", "2", _summary(calls)))
            run_item = next(item["Put"]["Item"] for params in sent
                            for item in params.get("TransactItems", []) if "Put" in item)

            finished_key = next(item["Update"]["Key"] for params in sent
                                for item in params.get("TransactItems", []) if "Update" in item)
            task_item = aws.client("dynamodb").get_item(TableName=get_settings().tasks_table,
                                                        Key=finished_key)["Item"]
            token = {"Authorization": f"Bearer {created['credentials']['token']}"}
            client.http.get("/taskport/v1/runs?limit=1", headers=token)  # the token's cache
            with count_calls() as calls:
                listed = client.http.get("/taskport/v1/runs?limit=50", headers=token)
            assert listed.status_code == 200, listed.body
            rows.append(("runs listing, a page of 50 (GET /taskport/v1/runs; 1 before)",
                         len(calls), "2", "2", _summary(calls)))

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

    # The task's own finish: the item, its by_account entry (ALL) rewritten, its lease entry
    # dropped; inside the transaction it is doubled as well.
    task_units = 2 * -(-_item_bytes(task_item) // KB) + 1
    rows.append((f"write units of a hello task's finish UpdateItem ({_item_bytes(task_item) / KB:.1f}"
                 " KB item), before / now in the transaction", task_units, "-", "-",
                 f"{task_units} / {2 * task_units}"))
    rows.extend(_run_cost_rows(run_item, "hello task attempt"))
    large = {**run_item, "stdout": {"S": "x" * OUTPUT_CAP}, "stderr": {"S": "y" * OUTPUT_CAP}}
    rows.extend(_run_cost_rows(large, "128 KiB output task attempt"))
    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  {'AWS calls':>9}  {'minimum':>7}  target   calls made")
    for name, count, minimum, target, made in rows:
        shown = f"{count:.2f}" if isinstance(count, float) and not count.is_integer() else f"{count:g}"
        print(f"{name:<{width}}  {shown:>9}  {minimum:>7}  {target:<7}  {made}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
