"""Workflows in the console: completing a task from the output form, deliveries, Replay, rotation."""
from __future__ import annotations

import http.server
import threading
import uuid
from typing import Any
from collections.abc import Iterator

import pytest

from tests.browser.conftest import PLANT, Account, Api, screenshot, sign_in


@pytest.fixture(scope="module")
def failing_receiver() -> Iterator[str]:
    """A webhook receiver on 127.0.0.1 that answers every delivery with 500."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()


def _workflow_task(api: Api, account: Account, receiver: str, url: str = "https://a.example") -> str:
    status, body = api.call("/workflows/review", "PUT", {
        "name": "Review", "input_fields": ["url"], "webhook_url": receiver},
        account.basic)
    assert status == 201, body
    task_id = str(uuid.uuid4())
    status, body = api.call(f"/workflows/review/tasks/{task_id}", "PUT",
                            {"input": {"url": url}}, account.basic)
    assert status == 201, body
    return task_id


def test_failed_delivery_shows_attempts_and_replay_adds_one(
        page: Any, stack: str, api: Api, account: Account, failing_receiver: str) -> None:
    task_id = _workflow_task(api, account, failing_receiver)
    sign_in(page, stack, account)
    page.get_by_role("link", name="Workflows").click()
    page.get_by_role("link", name="review").click()
    page.get_by_role("link", name=task_id).wait_for()
    screenshot(page, "workflow")
    page.get_by_role("link", name=task_id).click()
    page.get_by_label("url").fill("https://a.example/checked")
    page.get_by_label("More output (JSON object)").fill('{"verdict": "approved"}')
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("success", exact=True).wait_for()
    assert '"verdict": "approved"' in page.locator("pre.json").nth(1).inner_text()
    # TASKPORT_WEBHOOK_SCHEDULE=1,1: the first attempt and two retries, each answered 500.
    delivery = page.locator("article.delivery").first
    delivery.get_by_text("failed", exact=True).wait_for(timeout=30_000)
    attempts = delivery.locator("tr.attempt")
    assert attempts.count() == 3
    assert attempts.first.locator("td").nth(1).inner_text() == "500"
    screenshot(page, "workflow-task")
    page.get_by_role("button", name="Replay").click()
    page.locator("article.delivery").nth(1).wait_for()
    page.locator("article.delivery").nth(1).locator("tr.attempt").first.wait_for(timeout=30_000)
    assert page.locator("article.delivery").count() == 2


def test_workflow_task_canceled_from_console(page: Any, stack: str, api: Api, account: Account,
                                             failing_receiver: str) -> None:
    task_id = _workflow_task(api, account, failing_receiver)
    sign_in(page, stack, account, f"#/workflows/review/tasks/{task_id}")
    page.get_by_role("button", name="Cancel task").click()
    page.get_by_text("canceled", exact=True).first.wait_for()
    assert page.get_by_role("button", name="Complete task").count() == 0
    status, body = api.call(f"/workflows/review/tasks/{task_id}", headers=account.basic)
    assert status == 403, body  # the OneSpace API sees the same cancellation


def test_webhook_secret_rotated_shown_once(page: Any, stack: str, api: Api, account: Account,
                                           failing_receiver: str) -> None:
    _workflow_task(api, account, failing_receiver)
    sign_in(page, stack, account, "#/workflows/review")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate webhook secret").click()
    secret = page.locator("code.secret")
    secret.wait_for()
    assert secret.inner_text().startswith("whsec_")


def test_workflow_input_rendered_as_text(page: Any, stack: str, api: Api, account: Account,
                                         failing_receiver: str) -> None:
    task_id = _workflow_task(api, account, failing_receiver, url=PLANT)
    sign_in(page, stack, account, "#/workflows/review")
    page.get_by_role("link", name=task_id).wait_for()
    assert PLANT in page.locator("main").inner_text()
    page.get_by_role("link", name=task_id).click()
    page.get_by_role("heading", name="Input").wait_for()
    assert PLANT in page.locator("pre.json").first.inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img").count() == 0
