"""Fixtures: a fresh moto-backed AWS world per test, a chalice.test.Client, a ready account."""
from __future__ import annotations

import contextlib
import json
import os
import threading
from typing import Any
from collections.abc import Iterator

import moto  # noqa: F401 - imported first: see below
import pytest

from chalicelib import composition

# moto hooks into every botocore session made after it is imported, and only those: a test that
# made chalicelib.aws's cached session before any test imported moto (tests/unit/test_infra.py
# builds a Lambda client) left it without the hook, and every later world's clients went to
# the real AWS endpoints (a DNS look-up of amazonaws.com, then an error).

ADMIN_TOKEN = "test-admin-token"
composition.install()  # what app.py does: every task type and finish hook, for every test


def _read_aws_models_once() -> None:
    """Each botocore session decodes the AWS model files anew (endpoints, service models: about
    0.2 s per test, as every test's fresh pynamodb connections make new sessions); read each
    file once per process. botocore already shares one decoded file among a session's clients."""
    from botocore import loaders

    read = loaders.JSONFileLoader.load_file
    decoded: dict[str, Any] = {}

    def load_file(self: loaders.JSONFileLoader, file_path: str) -> Any:
        if file_path not in decoded:
            decoded[file_path] = read(self, file_path)
        return decoded[file_path]

    loaders.JSONFileLoader.load_file = load_file


_read_aws_models_once()
STACK_LOG_LINES = 300  # of a dev stack's log, the last lines written during a failing test
_LOG_OFFSETS = pytest.StashKey[dict[Any, int]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Note where each dev stack's log stands as the test starts (see pytest_runtest_makereport)."""
    from tests.local.stack_process import STACK_LOGS

    item.stash[_LOG_OFFSETS] = {log: log.stat().st_size for log in STACK_LOGS if log.exists()}
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test's report shows what the dev stacks logged meanwhile (their pollers, sandbox,
    webhook sender: why a task or a webhook never came is written only there)."""
    from tests.local.stack_process import STACK_LOGS

    report = yield
    if report.failed:
        offsets = item.stash.get(_LOG_OFFSETS, {})
        for log in STACK_LOGS:
            if not log.exists():
                continue
            with log.open("rb") as kept:
                kept.seek(offsets.get(log, 0))
                written = kept.read().decode("utf-8", "replace").splitlines()
            if written:
                report.sections.append((f"dev stack log {log} ({report.when}, last lines)",
                                        "\n".join(written[-STACK_LOG_LINES:])))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the stacks' logs (a failing test's report holds its part)."""
    from tests.local.stack_process import STACK_LOGS

    for log in STACK_LOGS:
        log.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake AWS credentials, no real endpoint, short caches; every cache forgotten per test; the
    process environment as it was after each test."""
    before = dict(os.environ)
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
    # Code under test sets variables itself (the sandbox supervisor sets TASKPORT_SANDBOX_URL),
    # which monkeypatch does not undo: a dead test server's URL was inherited by every dev stack
    # this worker started later, whose sandbox calls then all failed.
    for name in set(os.environ) - set(before):
        del os.environ[name]
    os.environ.update(before)
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
