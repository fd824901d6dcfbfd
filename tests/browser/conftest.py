"""Fixtures for the console's browser tests: the dev stack, headless Chromium, a signed-in page."""
from __future__ import annotations

import base64
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.local.stack_process import running_stack

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("TASKPORT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
# The committed screenshots are refreshed only on request (TASKPORT_SCREENSHOTS=1 make test), so
# an ordinary test run leaves the checkout as it was; otherwise they go to a scratch directory.
SCREENSHOTS = (PROJECT_DIR / "docs" / "console" if os.environ.get("TASKPORT_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "taskport-console-screenshots")
# A plant for every place user data is shown: if any of them is parsed as HTML, it sets the flag.
PLANT = "<img src=x onerror=window.__xss=1>"


class Api:
    """JSON calls to the stack over HTTP (what a user's own client would send)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, path: str, method: str = "GET", body: Any = None,
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            text, status = error.read(), error.code
        try:
            return status, json.loads(text or b"null")
        except ValueError:
            return status, text.decode(errors="replace")


class Account:
    """An account's credentials and the headers of each surface's scheme."""

    def __init__(self, created: dict[str, Any]) -> None:
        self.handle = created["handle"]
        self.id = created["id"]
        self.credentials = created["credentials"]
        self.token = self.credentials["token"]

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def secret(self) -> dict[str, str]:
        return {"Authorization": f"Secret {self.credentials['secret_key']}"}

    @property
    def basic(self) -> dict[str, str]:
        raw = f"{self.handle}:{self.credentials['access_key']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (see .ci/run)")
    return CHROMIUM


@pytest.fixture(scope="session")
def stack(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dev stack in a child process; loopback webhook receivers allowed, quick retries."""
    with running_stack(tmp_path_factory.mktemp("dev") / "taskport-dev.json",
                       TASKPORT_EGRESS_ALLOW="127.0.0.0/8", TASKPORT_WEBHOOK_SCHEDULE="1,1") as started:
        yield started.url


@pytest.fixture(scope="session")
def api(stack: str) -> Api:
    return Api(stack)


_accounts = iter(range(1, 10_000))


@pytest.fixture
def account(api: Api) -> Account:
    """A fresh account per test, so that each page shows only what that test made."""
    status, created = api.call("/admin/v1/accounts", "POST",
                               {"handle": f"browser-{os.getpid()}-{next(_accounts)}"},
                               {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status == 201, created
    return Account(created)


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium_path),
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, stack: str) -> Iterator[Any]:
    """A fresh browser context (its own sessionStorage); page errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.errors = errors
    yield tab
    context.close()
    assert not errors, errors


def sign_in(page: Any, stack: str, account: Account, where: str = "") -> None:
    """Open the console and sign in with the token, as a person would."""
    page.goto(f"{stack}/console{where}")
    page.get_by_label("Token").fill(account.token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Tasks", exact=True).wait_for()


def screenshot(page: Any, name: str) -> None:
    """Save the page as <name>.png: into docs/console/ (linked from docs/console.md) on request."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def needs_route(api: Api, account: Account, path: str, missing: str) -> None:
    """Skip when a route this test depends on is not on this branch yet (answers 404/403)."""
    status, _ = api.call(path, headers=account.bearer)
    if status in (403, 404):
        pytest.skip(f"needs {missing}: {path} answers {status} on this branch")
