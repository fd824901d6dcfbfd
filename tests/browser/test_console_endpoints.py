"""Endpoints in the console: create and edit with the script saved through the files API, enable
and disable, the Send test request form, and recent calls with the user's own output."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import PLANT, Account, Api, needs_route, screenshot, sign_in

FAILING = 'def handler(request, *args, **kwargs):\n    print("about to fail")\n    raise ValueError("boom")\n'
PLANTED = f'''from flask import Response


def handler(request, *args, **kwargs):
    print({PLANT!r})
    return Response({PLANT!r}, mimetype="text/plain", headers={{"X-Plant": {PLANT!r}}})
'''


def _endpoint(api: Api, account: Account, endpoint_id: str, script: str,
              script_path: str | None = None) -> None:
    script_path = script_path or f"/scripts/{endpoint_id}.py"
    status, body = api.call(f"/api/v1/fs/files?path={quote(script_path)}", "PUT",
                            raw=script.encode(), headers=account.bearer)
    assert status == 200, body
    status, body = api.call(f"/api/v1/http-endpoint/{endpoint_id}", "PUT", {
        "path": endpoint_id, "handler_script_path": script_path}, account.bearer)
    assert status == 201, body


def _send(page: Any, query: str = "") -> None:
    page.get_by_label("Query").fill(query)
    page.get_by_role("button", name="Send test request").click()
    page.locator("strong.http-status").wait_for()


def test_endpoints_empty_state_says_what_to_do(page: Any, stack: str, account: Account) -> None:
    sign_in(page, stack, account, "#/endpoints")
    assert "New endpoint" in page.locator("p.empty").inner_text()


def test_endpoint_created_in_console_answers_test_request(page: Any, stack: str, api: Api,
                                                          account: Account) -> None:
    sign_in(page, stack, account, "#/endpoints")
    page.get_by_role("link", name="New endpoint").click()
    page.get_by_label("Id").fill("hello")
    assert page.get_by_label("Handler script path").input_value() == "/scripts/hello.py"
    screenshot(page, "endpoint-new")
    page.get_by_role("button", name="Create endpoint").click()
    page.get_by_role("heading", name="Endpoint hello").wait_for()
    _send(page, "name=Ada")
    assert page.locator("strong.http-status").inner_text() == "200"
    assert page.locator("pre.response-body").inner_text() == "Hello Ada"
    status, script = api.call("/api/v1/fs/files?path=/scripts/hello.py", headers=account.bearer)
    assert status == 200 and 'print("called with"' in script
    screenshot(page, "endpoint")
    page.get_by_role("link", name="← All endpoints").click()
    page.get_by_role("link", name="hello").wait_for()
    screenshot(page, "endpoints")


def test_endpoint_script_edited_and_disabled_in_place(page: Any, stack: str, api: Api,
                                                      account: Account) -> None:
    _endpoint(api, account, "greet", 'def handler(request, *a, **k):\n    return "v1"\n')
    sign_in(page, stack, account, "#/endpoints/greet")
    editor = page.get_by_label("Handler script", exact=True)
    assert '"v1"' in editor.input_value()
    editor.fill('def handler(request, *a, **k):\n    return "v2"\n')
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved.").wait_for()
    _send(page)
    assert page.locator("pre.response-body").inner_text() == "v2"
    page.get_by_label("Enabled").uncheck()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved.").wait_for()
    status, body = api.call("/api/v1/http-endpoint/greet", headers=account.bearer)
    assert (status, body["state"]) == (200, "DISABLED")


def test_endpoint_print_and_raise_show_line_and_traceback(page: Any, stack: str, api: Api,
                                                          account: Account) -> None:
    needs_route(api, account, "/taskport/v1/runs", "the run records of issue 11 (obs's "
                "/taskport/v1/runs) and the sandbox's stdout/traceback capture (sandbox-io)")
    _endpoint(api, account, "fails", FAILING)
    status, _ = api.call("/api/v1/http-endpoint/u/fails", headers=account.bearer)
    assert status == 500
    _, found = api.call("/taskport/v1/runs?endpoint=fails", headers=account.bearer)
    if not any("about to fail" in (run.get("stdout") or "") for run in found["runs"]):
        pytest.skip("needs the sandbox's stdout capture (sandbox-io, issue 11's sandbox side): "
                    "the endpoint's run has no stdout on this branch")
    sign_in(page, stack, account, "#/endpoints/fails")
    _send(page)
    assert page.locator("strong.http-status").inner_text() == "500"
    run = page.locator("article.run").first
    run.locator("pre.traceback").wait_for()
    assert "about to fail" in run.inner_text()
    traceback = run.locator("pre.traceback").inner_text()
    assert "ValueError: boom" in traceback and "/scripts/fails.py" in traceback
    screenshot(page, "endpoint-calls")


def test_endpoint_plants_in_body_headers_stdout_and_file_name_stay_inert(
        page: Any, stack: str, api: Api, account: Account) -> None:
    _endpoint(api, account, "plant", PLANTED, script_path=f"/scripts/{PLANT}.py")
    sign_in(page, stack, account, "#/endpoints")
    page.get_by_role("link", name="plant").wait_for()
    assert f"/scripts/{PLANT}.py" in page.locator("main").inner_text()
    page.get_by_role("link", name="plant").click()
    page.get_by_role("heading", name="Endpoint plant").wait_for()
    _send(page)
    assert page.locator("pre.response-body").inner_text() == PLANT
    assert PLANT in page.locator("div.answer table").inner_text()  # the X-Plant header
    page.wait_for_timeout(2000)  # recent calls (stdout) refresh after the call
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img").count() == 0
