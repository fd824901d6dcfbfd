"""Packages and package versions: create, get, list; the source is loaded in the sandbox only."""
from __future__ import annotations

import os

import pytest

from tests.api.steamship.conftest import GREETER, call, failure, make_package

TWO = '''def one():
    return 1


def two():
    return 2
'''


def test_create_package_answers_package_in_data(client, account):
    status, answer = call(client, account, "package/create", {"handle": "greeter"})
    assert status == 200
    package = answer["data"]["package"]
    assert package["handle"] == "greeter" and package["latestVersionHandle"] is None
    assert len(package["id"]) == 32


def test_create_package_conflicts_or_fetches_existing(client, account):
    _, first = call(client, account, "package/create", {"handle": "greeter"})
    status, answer = call(client, account, "package/create", {"handle": "greeter"})
    assert status == 409 and "greeter" in failure(409, answer)[2]
    status, again = call(client, account, "package/create",
                         {"handle": "greeter", "fetchIfExists": True})
    assert status == 200 and again == first


@pytest.mark.parametrize("body", [{}, {"handle": None}, {"handle": ["x"]}, {"handle": "UPPER"},
                                  {"handle": "a/b"}])
def test_create_package_refuses_bad_handle(client, account, body):
    status, answer = call(client, account, "package/create", body)
    assert status == 400 and "handle" in failure(400, answer)[2]


def test_get_package_unknown_or_other_accounts_answers_404(client, account, other_account):
    call(client, account, "package/create", {"handle": "greeter"})
    assert call(client, account, "package/get", {"handle": "greeter"})[0] == 200
    status, answer = call(client, other_account, "package/get", {"handle": "greeter"})
    assert failure(status, answer)[:2] == (404, "failed")
    assert call(client, account, "package/get", {"handle": "nothing"})[0] == 404


def test_list_packages_shows_own_in_pages(client, account, other_account):
    for handle in ("b-pkg", "a-pkg", "c-pkg"):
        call(client, account, "package/create", {"handle": handle})
    call(client, other_account, "package/create", {"handle": "theirs"})
    _, first = call(client, account, "package/list", {"pageSize": 2})
    assert [p["handle"] for p in first["data"]["packages"]] == ["a-pkg", "b-pkg"]
    _, rest = call(client, account, "package/list",
                   {"pageSize": 2, "pageToken": first["data"]["nextPageToken"]})
    assert [p["handle"] for p in rest["data"]["packages"]] == ["c-pkg"]
    assert "nextPageToken" not in rest["data"]


def test_create_version_describes_methods_and_becomes_latest(client, account):
    version = make_package(client, account)
    assert version["handle"] == "1.0.0" and version["packageHandle"] == "greeter"
    methods = {m["name"]: m for m in version["methods"]}
    assert sorted(methods) == ["add", "count_to", "echo", "fail", "greet", "shout", "spin", "tags"]
    assert methods["count_to"]["background"] is True and methods["greet"]["background"] is False
    assert methods["greet"]["parameters"] == ["name"]
    _, answer = call(client, account, "package/get", {"handle": "greeter"})
    assert answer["data"]["package"]["latestVersionHandle"] == "1.0.0"
    status, second = call(client, account, "package/version/create",
                          {"packageHandle": "greeter", "handle": "1.1.0", "source": TWO})
    assert status == 200 and [m["name"] for m in second["data"]["packageVersion"]["methods"]] \
        == ["one", "two"]
    _, answer = call(client, account, "package/get", {"handle": "greeter"})
    assert answer["data"]["package"]["latestVersionHandle"] == "1.1.0"


def test_create_version_loads_source_in_sandbox_not_api_process(client, account):
    source = 'import os\nos.environ["TASKPORT_LOADED_HERE"] = "yes"\n\ndef ping():\n    return 1\n'
    make_package(client, account, source=source)
    assert "TASKPORT_LOADED_HERE" not in os.environ


def test_create_version_of_unknown_or_other_accounts_package_answers_404(client, account,
                                                                          other_account):
    call(client, account, "package/create", {"handle": "greeter"})
    body = {"packageHandle": "greeter", "handle": "1.0.0", "source": TWO}
    status, answer = call(client, other_account, "package/version/create", body)
    assert status == 404 and "greeter" in failure(404, answer)[2]
    status, _ = call(client, account, "package/version/create", {**body, "packageHandle": "nope"})
    assert status == 404


@pytest.mark.parametrize("body, field", [
    ({"handle": "1.0.0", "source": TWO}, "packageHandle"),
    ({"packageHandle": "greeter", "source": TWO}, "handle"),
    ({"packageHandle": "greeter", "handle": "1 0", "source": TWO}, "handle"),
    ({"packageHandle": "greeter", "handle": "1.0.0"}, "source"),
    ({"packageHandle": "greeter", "handle": "1.0.0", "source": 42}, "source"),
])
def test_create_version_refuses_missing_or_wrong_fields(client, account, body, field):
    call(client, account, "package/create", {"handle": "greeter"})
    status, answer = call(client, account, "package/version/create", body)
    assert status == 400 and field in failure(400, answer)[2]


@pytest.mark.parametrize("source, says", [
    ("def broken(:\n    pass\n", "SyntaxError"),
    ("raise RuntimeError('no import for you')\n", "RuntimeError: no import for you"),
    ("VALUE = 1\n", "no public top-level function"),
    ("BACKGROUND_METHODS = ['nope']\n\ndef yes():\n    return 1\n", "nope, which is not a method"),
    ("BACKGROUND_METHODS = 'yes'\n\ndef yes():\n    return 1\n", "list of method names"),
])
def test_create_version_refuses_source_that_does_not_load(client, account, source, says):
    call(client, account, "package/create", {"handle": "greeter"})
    status, answer = call(client, account, "package/version/create",
                          {"packageHandle": "greeter", "handle": "1.0.0", "source": source})
    assert status == 400 and says in failure(400, answer)[2]
    _, listed = call(client, account, "package/version/list", {"packageHandle": "greeter"})
    assert listed["data"]["packageVersions"] == []


def test_create_version_conflicts_and_keeps_original_source(client, account):
    make_package(client, account)
    status, answer = call(client, account, "package/version/create",
                          {"packageHandle": "greeter", "handle": "1.0.0", "source": TWO})
    assert status == 409 and "1.0.0" in failure(409, answer)[2]
    call(client, account, "package/instance/create", {"packageHandle": "greeter", "handle": "hi"})
    response = client.http.post("/default/hi/add", body='{"a": 2, "b": 3}', headers={
        "Authorization": f"Bearer {account['credentials']['token']}",
        "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json_body == {"data": 5}


def test_get_version_answers_version_or_404(client, account, other_account):
    version = make_package(client, account)
    body = {"packageHandle": "greeter", "handle": "1.0.0"}
    assert call(client, account, "package/version/get", body) == (
        200, {"data": {"packageVersion": version}})
    assert call(client, other_account, "package/version/get", body)[0] == 404
    assert call(client, account, "package/version/get", {**body, "handle": "9.9"})[0] == 404
    assert call(client, account, "package/version/get", {"handle": "1.0.0"})[0] == 400


def test_list_versions_of_package(client, account, other_account):
    make_package(client, account)
    call(client, account, "package/version/create",
         {"packageHandle": "greeter", "handle": "2.0.0", "source": TWO})
    _, answer = call(client, account, "package/version/list", {"packageHandle": "greeter"})
    assert [v["handle"] for v in answer["data"]["packageVersions"]] == ["1.0.0", "2.0.0"]
    assert call(client, other_account, "package/version/list",
                {"packageHandle": "greeter"})[0] == 404


def test_package_source_is_kept_in_account_files(client, account):
    version = make_package(client, account, source=GREETER)
    response = client.http.get("/api/v1/fs/list?prefix=/.packages/greeter/",
                               headers={"Authorization": f"Bearer {account['credentials']['token']}"})
    [stored] = response.json_body["files"]
    assert stored["path"].startswith("/.packages/greeter/1.0.0/")
    assert stored["path"].endswith(version["id"] + ".py")


def test_create_version_refuses_source_over_script_limit(client, account, monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_MAX_SCRIPT_BYTES", "100")
    config.get_settings.cache_clear()
    call(client, account, "package/create", {"handle": "greeter"})
    status, answer = call(client, account, "package/version/create",
                          {"packageHandle": "greeter", "handle": "1.0.0", "source": TWO * 5})
    assert status == 413 and "limit is 100" in failure(413, answer)[2]
