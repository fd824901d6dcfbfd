"""Tasks in the console: live list, a task's page, Cancel, plants in params, and the load figure."""
from __future__ import annotations

import http.server
import io
import threading
import time
import urllib.request
from typing import Any
from collections.abc import Iterator

import pytest

from tests.browser.conftest import PLANT, Account, Api, needs_route, screenshot, sign_in

NATIVE_TASKS = "obs's native tasks API (GET /taskport/v1/tasks, issue 11)"


def _create(api: Api, account: Account, tasks: list[dict[str, Any]]) -> list[str]:
    status, body = api.call("/v1/create", "POST", {"tasks": tasks}, account.secret)
    assert status == 200, body
    return [task["key"] for task in body]


def test_tasks_empty_state_says_what_to_do(page: Any, stack: str, api: Api,
                                           account: Account) -> None:
    needs_route(api, account, "/taskport/v1/tasks", NATIVE_TASKS)
    sign_in(page, stack, account)
    assert "/v1/create" in page.locator("p.empty").inner_text()


def test_task_created_over_api_appears_and_turns_success_without_reload(
        page: Any, stack: str, api: Api, account: Account) -> None:
    needs_route(api, account, "/taskport/v1/tasks", NATIVE_TASKS)
    sign_in(page, stack, account)
    page.locator("p.empty").wait_for()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    [key] = _create(api, account, [{"task_name": "hello", "name": "Ada"}])
    row = page.locator(f'tr[data-key="{key}"]')
    row.wait_for(timeout=20_000)
    row.get_by_text("success", exact=True).wait_for(timeout=30_000)
    assert navigations == []  # no reload: the list polled
    screenshot(page, "tasks")
    row.get_by_role("link", name=key).click()
    page.get_by_role("heading", name="Result").wait_for()
    assert "Hello Ada" in page.locator("main").inner_text()
    screenshot(page, "task")


def test_task_params_and_result_rendered_as_text(page: Any, stack: str, api: Api,
                                                 account: Account) -> None:
    needs_route(api, account, "/taskport/v1/tasks", NATIVE_TASKS)
    [key] = _create(api, account, [{"task_name": "hello", "name": PLANT}])
    sign_in(page, stack, account, f"#/tasks/{key}")
    page.get_by_text("success", exact=True).first.wait_for(timeout=30_000)
    page.get_by_role("heading", name="Result").wait_for()
    assert PLANT in page.locator("main").inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img").count() == 0


def test_open_task_canceled_from_its_page(page: Any, stack: str, api: Api,
                                          account: Account) -> None:
    needs_route(api, account, "/taskport/v1/tasks", NATIVE_TASKS)
    # A workflow task stays open until someone completes or cancels it.
    status, body = api.call("/workflows/hold", "PUT", {
        "name": "Hold", "input_fields": [], "webhook_url": "http://127.0.0.1:9/hook"},
        account.basic)
    assert status == 201, body
    task_id = "6f1c1a52-0d7e-4b5e-9a43-1b2c3d4e5f60"
    status, body = api.call(f"/workflows/hold/tasks/{task_id}", "PUT", {"input": {}},
                            account.basic)
    assert status == 201, body
    key = f"wf:{account.id}:hold:{task_id}"
    sign_in(page, stack, account, f"#/tasks/{key}")
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("canceled", exact=True).first.wait_for(timeout=20_000)
    assert page.get_by_role("button", name="Cancel").count() == 0


def test_tasks_first_paint_with_100_tasks(page: Any, stack: str, api: Api,
                                          account: Account) -> None:
    needs_route(api, account, "/taskport/v1/tasks", NATIVE_TASKS)
    _create(api, account, [{"task_name": "hello", "name": f"n{i}"} for i in range(100)])
    sign_in(page, stack, account, "#/endpoints")
    loads = []
    for _ in range(3):
        page.goto("about:blank")
        page.goto(f"{stack}/console#/tasks")  # a fresh document: its clock starts at navigation
        rows_at = page.wait_for_function(
            "() => document.querySelectorAll('tbody tr').length >= 100 ? performance.now() : false",
            polling="raf", timeout=30_000).json_value()
        paint = page.evaluate(
            "performance.getEntriesByName('first-contentful-paint').map((e) => e.startTime)[0]")
        fetched = page.evaluate("""performance.getEntriesByType('resource')
            .filter((e) => e.name.includes('/taskport/v1/tasks'))
            .map((e) => [e.startTime, e.responseEnd])[0]""")
        loads.append((paint, rows_at, fetched))
    started = time.perf_counter()
    status, _ = api.call("/taskport/v1/tasks?limit=100", headers=account.bearer)
    api_ms = (time.perf_counter() - started) * 1000
    assert status == 200
    print("\nconsole load, Tasks with 100 tasks (3 fresh loads): first contentful paint "
          + ", ".join(f"{paint:.0f}" for paint, _, _ in loads) + " ms; 100 rows painted at "
          + ", ".join(f"{rows:.0f}" for _, rows, _ in loads) + " ms; the list call ran "
          + ", ".join(f"{start:.0f}-{end:.0f}" for _, _, (start, end) in loads)
          + f" ms; the API's page of 100 alone: {api_ms:.0f} ms")
    assert page.locator("tbody tr").count() == 100


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """A PNG served on 127.0.0.1, for tasks that make output files from an image URL."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "PNG")
    png = buffer.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/red.png"
    httpd.shutdown()


def test_task_output_files_linked_from_its_page(page: Any, stack: str, api: Api,
                                                account: Account, image_server: str) -> None:
    needs_route(api, account, "/taskport/v1/tasks", NATIVE_TASKS)
    [key] = _create(api, account, [{"task_name": "image.thumbs", "url": image_server}])
    sign_in(page, stack, account, f"#/tasks/{key}")
    page.get_by_role("heading", name="Output files").wait_for(timeout=30_000)
    links = page.locator("section.files a")
    assert sorted(links.all_inner_texts()) == ["large", "small"]
    with urllib.request.urlopen(links.first.get_attribute("href"), timeout=10) as response:
        assert response.read(3) == b"\xff\xd8\xff"  # a JPEG
