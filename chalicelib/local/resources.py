"""Create the tables, queues and bucket when missing (local stack and tests; infra/ on AWS)."""
from __future__ import annotations

import json

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.models.tables import TABLES, TTL_ATTRIBUTE, table_definition


def ensure_tables() -> None:
    """Create each table that does not exist yet."""
    dynamodb = aws.client("dynamodb")
    settings = get_settings()
    existing = set(dynamodb.list_tables()["TableNames"])
    for setting, spec in TABLES.items():
        name = getattr(settings, setting)
        if name in existing:
            continue
        dynamodb.create_table(**table_definition(name, spec["indexes"]))
        dynamodb.get_waiter("table_exists").wait(TableName=name)
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": TTL_ATTRIBUTE})


def ensure_queue(name: str, max_receive_count: int = 5) -> str:
    """Create a queue and its dead-letter queue; return the queue URL."""
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "400",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(max_receive_count)}),
    })["QueueUrl"]


def ensure_bucket() -> None:
    """Create the files bucket when missing."""
    s3 = aws.client("s3")
    bucket = get_settings().bucket
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)


def ensure_resources() -> dict[str, str]:
    """Everything Taskport needs; returns the queue URLs by setting name."""
    settings = get_settings()
    ensure_tables()
    ensure_bucket()
    return {
        "tasks_queue": ensure_queue(_queue_name(settings.tasks_queue)),
        "webhooks_queue": ensure_queue(_queue_name(settings.webhooks_queue)),
    }


def _queue_name(name_or_url: str) -> str:
    return name_or_url.rstrip("/").rsplit("/", 1)[-1]
