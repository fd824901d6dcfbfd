"""Signing in and out of the console, and its pages without credentials."""
from __future__ import annotations

from typing import Any

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
