"""Packages in the console: versions with their methods, instances per workspace, the invoke form."""
from __future__ import annotations

import json
from typing import Any

from tests.browser.conftest import PLANT, Account, Api, screenshot, sign_in

SOURCE = 'def greet(name):\n    return "Hello " + name\n'


def _package_with_instance(api: Api, account: Account) -> None:
    for path, body in (("/api/v1/package/create", {"handle": "greeter"}),
                       ("/api/v1/package/version/create",
                        {"packageHandle": "greeter", "handle": "1.0", "source": SOURCE}),
                       ("/api/v1/package/instance/create",
                        {"packageHandle": "greeter", "handle": "hi"})):
        status, answer = api.call(path, "POST", body, account.bearer)
        assert status == 200, answer


def test_packages_empty_state_says_what_to_do(page: Any, stack: str, account: Account) -> None:
    sign_in(page, stack, account, "#/packages")
    assert "/api/v1/package/create" in page.locator("p.empty").first.inner_text()


def test_package_method_invoked_from_form_shows_value(page: Any, stack: str, api: Api,
                                                      account: Account) -> None:
    _package_with_instance(api, account)
    sign_in(page, stack, account, "#/packages")
    page.get_by_role("link", name="greeter").first.wait_for()
    screenshot(page, "packages")
    page.get_by_role("link", name="greeter").first.click()
    page.get_by_role("heading", name="Invoke a method").wait_for()
    assert page.get_by_label("Method").input_value() == "greet"
    assert json.loads(page.get_by_label("Arguments (JSON object)").input_value()) == {"name": ""}
    page.get_by_label("Arguments (JSON object)").fill(json.dumps({"name": "Ada"}))
    page.get_by_role("button", name="Invoke").click()
    value = page.locator("pre.invoke-value")
    value.wait_for()
    assert value.inner_text() == "Hello Ada"
    screenshot(page, "package")


def test_package_method_value_rendered_as_text(page: Any, stack: str, api: Api,
                                               account: Account) -> None:
    _package_with_instance(api, account)
    sign_in(page, stack, account, "#/packages/greeter")
    page.get_by_label("Arguments (JSON object)").fill(json.dumps({"name": PLANT}))
    page.get_by_role("button", name="Invoke").click()
    page.locator("pre.invoke-value").wait_for()
    assert page.locator("pre.invoke-value").inner_text() == "Hello " + PLANT
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img").count() == 0
