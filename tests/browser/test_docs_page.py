"""/docs in a real browser: every operation rendered from the inline document, nothing fetched elsewhere."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi import document


def test_docs_page_renders_every_operation_without_other_requests(page: Any, stack: str) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{stack}/docs")
    page.locator("#op-createTasks").wait_for()
    operations = sum(len(item) for item in document()["paths"].values())
    assert page.locator("section.op[id^=op-]").count() == operations
    assert "Taskport API" in page.locator("#title").inner_text()
    assert requested == [f"{stack}/docs"], requested


def test_docs_filter_hides_operations_that_do_not_match(page: Any, stack: str) -> None:
    page.goto(f"{stack}/docs")
    page.locator("#op-createTasks").wait_for()
    page.get_by_label("Filter operations").fill("/workflows/{handle}/tasks/{task_id}/deliveries")
    assert page.locator("#op-listDeliveries").is_visible()
    assert not page.locator("#op-createTasks").is_visible()
