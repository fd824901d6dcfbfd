"""Cached boto3 clients: built on first use, never at import time."""
from __future__ import annotations

import functools
from typing import Any

from chalicelib.config import get_settings


@functools.lru_cache(maxsize=None)
def client(service: str) -> Any:
    """One boto3 client per service per process, pointed at AWS_ENDPOINT_URL when set."""
    import boto3  # deferred: boto3 import is most of a cold start

    settings = get_settings()
    return boto3.session.Session().client(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url
    )


@functools.lru_cache(maxsize=None)
def queue_url(name_or_url: str) -> str:
    """A queue's URL: deployments pass the URL, the local stack may pass a bare name."""
    if name_or_url.startswith(("https://", "http://")):
        return name_or_url
    return client("sqs").get_queue_url(QueueName=name_or_url)["QueueUrl"]


def reset() -> None:
    """Forget every cached client and setting (tests and the local stack switch endpoints)."""
    from chalicelib import config

    client.cache_clear()
    queue_url.cache_clear()
    config.get_settings.cache_clear()
