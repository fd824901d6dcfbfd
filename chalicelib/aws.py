"""Cached boto3 clients: built on first use, never at import time."""
from __future__ import annotations

import functools
import threading
from typing import Any

from chalicelib.config import get_settings


def client(service: str) -> Any:
    """One boto3 client per service per process, pointed at AWS_ENDPOINT_URL when set."""
    settings = get_settings()
    # botocore's default 60 s read timeout would cut a sandbox call that may run for the task
    # wall time (300 s); the invoke waits as long as the sandbox function may run.
    read_timeout = settings.sandbox_invoke_timeout_seconds if service == "lambda" else None
    return _client(service, settings.region, settings.aws_endpoint_url, read_timeout)


_creating = threading.Lock()


@functools.cache
def _client(service: str, region: str, endpoint_url: str | None,
            read_timeout: float | None = None) -> Any:
    # A boto3 session is not thread-safe: the tasks of one worker batch run in threads and
    # may all build their first client at once.
    with _creating:
        config = None
        if read_timeout is not None:
            from botocore.config import Config

            config = Config(read_timeout=read_timeout)
        return _session().client(service, region_name=region, endpoint_url=endpoint_url,
                                 config=config)


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    import boto3  # deferred: boto3 import is most of a cold start

    return boto3.session.Session()


@functools.cache
def queue_url(name_or_url: str) -> str:
    """A queue's URL: deployments pass the URL, the local stack may pass a bare name."""
    if name_or_url.startswith(("https://", "http://")):
        return name_or_url
    return client("sqs").get_queue_url(QueueName=name_or_url)["QueueUrl"]


def reset() -> None:
    """Forget cached settings and queue URLs; clients are keyed by region and endpoint already."""
    from chalicelib import config

    queue_url.cache_clear()
    config.get_settings.cache_clear()
