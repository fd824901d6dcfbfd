"""Fixtures: a fresh moto-backed AWS world per test, a chalice.test.Client, a ready account."""
from __future__ import annotations

import contextlib
import json
import threading
from typing import Any
from collections.abc import Iterator

import pytest

from chalicelib import composition

ADMIN_TOKEN = "test-admin-token"
composition.install()  # what app.py does: every task type and finish hook, for every test


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake AWS credentials, no real endpoint, short caches; every cache forgotten per test."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "TASKPORT_SANDBOX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("TASKPORT_ADMIN_TOKEN", ADMIN_TOKEN)
    _reset_caches()
    yield
    _reset_caches()


def _reset_caches() -> None:
    from chalicelib import auth, aws, tasktypes
    from chalicelib.models import base

    aws.reset()
    auth.reset()
    base.reset()
    tasktypes.reset()


@pytest.fixture
def world() -> Iterator[dict[str, str]]:
    """A fresh emulated AWS account with every table, queue and the bucket created."""
    from moto import mock_aws

    from chalicelib.local.resources import ensure_resources
    from tests.moto_lock import dynamodb_serialized

    with mock_aws(), dynamodb_serialized():
        yield ensure_resources()


@pytest.fixture
def client(world: dict[str, str]) -> Iterator[Any]:
    """A chalice.test.Client over the app, inside the fresh world."""
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}


def create_account(client: Any, handle: str = "acme", referrers: list[str] | None = None) -> dict[str, Any]:
    """Create an account over the admin API and return its JSON (with credentials)."""
    response = client.http.post("/admin/v1/accounts", headers=admin_headers(),
                                body=json.dumps({"handle": handle, "referrers": referrers or []}))
    assert response.status_code == 201, response.body
    return json.loads(response.body)


@pytest.fixture
def account(client: Any) -> dict[str, Any]:
    """A ready account named 'acme' whose Referer whitelist holds app.example.com."""
    return create_account(client, "acme", ["app.example.com"])


@pytest.fixture
def other_account(client: Any) -> dict[str, Any]:
    """A second account, to prove that accounts cannot see each other."""
    return create_account(client, "globex")


@contextlib.contextmanager
def atomic_aws_calls() -> Iterator[None]:
    """Let one AWS call at a time reach moto, as atomic as DynamoDB's own requests.

    moto updates an item in place, attribute by attribute: a read in another thread may
    otherwise iterate the item while it grows ("dictionary changed size during iteration");
    and it checks a ConditionExpression and then writes, with nothing held in between, so two
    threads' `attribute_not_exists` puts of one key could both succeed.
    """
    from botocore.client import BaseClient

    lock = threading.RLock()
    original = BaseClient._make_api_call

    def one_at_a_time(self: Any, operation_name: str, api_params: Any) -> Any:
        with lock:
            return original(self, operation_name, api_params)

    BaseClient._make_api_call = one_at_a_time
    try:
        yield
    finally:
        BaseClient._make_api_call = original
