"""Signing in and out of the console, and its pages without credentials."""
from __future__ import annotations

import http.client
import http.server
import threading
from typing import Any
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import Account, screenshot, sign_in


def test_console_page_loads_without_credentials(page: Any, stack: str) -> None:
    response = page.goto(f"{stack}/console")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_label("Token").wait_for()
    screenshot(page, "sign-in")


def test_sign_in_with_wrong_token_says_so(page: Any, stack: str) -> None:
    page.goto(f"{stack}/console")
    page.get_by_label("Token").fill("tpt_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not accepted" in alert.inner_text()
    assert "invalid credentials" in alert.inner_text()
    assert page.evaluate("sessionStorage.length") == 0
    assert page.get_by_role("link", name="Tasks").is_hidden()


def test_sign_in_keeps_token_in_session_storage_not_url(page: Any, stack: str,
                                                        account: Account) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, stack, account)
    assert page.evaluate("Object.values(sessionStorage)") == [account.token]
    assert all(account.token not in url for url in requests + [page.url])
    for name in ("Tasks", "Endpoints", "Workflows", "Packages"):
        assert page.get_by_role("link", name=name).is_visible()


def test_sign_out_clears_the_token(page: Any, stack: str, account: Account) -> None:
    sign_in(page, stack, account)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Token").wait_for()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    page.get_by_label("Token").wait_for()
    assert page.get_by_role("link", name="Tasks").is_hidden()


def test_console_usable_with_keyboard_only(page: Any, stack: str, account: Account) -> None:
    page.goto(f"{stack}/console")
    page.get_by_label("Token").wait_for()
    assert page.evaluate("document.activeElement.id") == page.get_by_label("Token").get_attribute("id")
    page.keyboard.type(account.token)
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Tasks").wait_for()
    page.get_by_role("link", name="Workflows").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Workflows").wait_for()
    # Every control the page shows has a label a screen reader can read.
    unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, textarea')]
        .filter((el) => !el.labels || !el.labels.length).map((el) => el.name)""")
    assert unlabelled == []


@pytest.fixture(scope="module")
def staged(stack: str) -> Iterator[str]:
    """A reverse proxy that serves the stack under /prod, as an API Gateway stage would."""
    upstream = urlsplit(stack)

    class Proxy(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            if not self.path.startswith("/prod/"):
                self.send_error(404, "outside the stage")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            connection = http.client.HTTPConnection(upstream.netloc, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            connection.request(self.command, self.path[len("/prod"):], body, headers)
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            connection.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/prod"
    httpd.shutdown()


def test_console_works_under_a_stage_prefix(page: Any, staged: str, account: Account) -> None:
    outside: list[str] = []
    page.on("response", lambda response: outside.append(response.url)
            if "/prod/" not in response.url else None)
    sign_in(page, staged, account, "#/workflows")
    page.get_by_role("heading", name="Workflows").wait_for()
    page.locator("p.empty").wait_for()
    assert outside == []
