"""Invoking a method at once: arguments, config, refusals, and failures of the package's code."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from chalicelib import config as settings
from tests.api.steamship.conftest import bearer, call, failure, invoke, make_package

SNOOP = '''import os


def environment():
    return {name: os.environ.get(name) for name in
            ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "TASKPORT_ADMIN_TOKEN")}
'''


def test_invoke_post_passes_body_and_config(client, account, instance):
    assert invoke(client, account, "/default/hi/greet", {"name": "Ann"}) == (
        200, {"data": {"greeting": "Howdy, Ann!"}})
    assert invoke(client, account, "/default/hi/add", {"a": 2, "b": 40}) == (200, {"data": 42})


def test_invoke_get_passes_query_arguments(client, account, instance):
    response = client.http.get("/default/hi/greet?name=Bob", headers=bearer(account))
    assert response.status_code == 200
    assert response.json_body == {"data": {"greeting": "Howdy, Bob!"}}


def test_invoke_with_empty_body_uses_defaults(client, account, instance):
    response = client.http.post("/default/hi/greet", headers=bearer(account), body=b"")
    assert (response.status_code, response.json_body) == (
        200, {"data": {"greeting": "Howdy, World!"}})


def test_invoke_method_without_config_parameter_gets_arguments_only(client, account, instance):
    assert invoke(client, account, "/default/hi/echo", {"x": [1, {"y": None}]}) == (
        200, {"data": {"x": [1, {"y": None}]}})


def test_invoke_runs_in_scrubbed_sandbox(client, account):
    make_package(client, account, handle="snoop", source=SNOOP)
    call(client, account, "package/instance/create", {"packageHandle": "snoop", "handle": "s"})
    assert invoke(client, account, "/default/s/environment") == (200, {"data": {
        "AWS_SECRET_ACCESS_KEY": None, "AWS_ACCESS_KEY_ID": None, "TASKPORT_ADMIN_TOKEN": None}})


def test_invoke_in_named_workspace_follows_url_not_header(client, account, package):
    call(client, account, "workspace/create", {"handle": "research"})
    call(client, account, "package/instance/create",
         {"packageHandle": "greeter", "handle": "hi", "config": {"greeting": "Hej"}},
         workspace="research")
    response = client.http.post("/research/hi/greet", body='{"name": "Bo"}',
                                headers=bearer(account, workspace="default"))
    assert response.json_body == {"data": {"greeting": "Hej, Bo!"}}


def test_invoke_unknown_method_answers_404_naming_methods(client, account, instance):
    status, answer = invoke(client, account, "/default/hi/nothing")
    assert status == 404
    message = failure(404, answer)[2]
    assert "'nothing'" in message and "greet" in message and "add" in message


def test_invoke_class_is_not_a_method(client, account, instance):
    assert invoke(client, account, "/default/hi/Helper")[0] == 404


def test_invoke_private_name_is_refused(client, account, instance):
    status, answer = invoke(client, account, "/default/hi/_secret")
    assert status == 403 and "private" in failure(403, answer)[2]


@pytest.mark.parametrize("raw, says", [
    (b'{"name": ', "not valid JSON"),
    (b'["Ann"]', "JSON object"),
    (b"\xff\xfe", "UTF-8"),
])
def test_invoke_refuses_body_that_is_not_a_json_object(client, account, instance, raw, says):
    status, answer = invoke(client, account, "/default/hi/greet", raw=raw)
    assert status == 400 and says in failure(400, answer)[2]


@pytest.mark.parametrize("path, body, says", [
    ("/default/hi/add", {"a": 1}, "missing a required argument: 'b'"),
    ("/default/hi/add", {"a": 1, "b": 2, "c": 3}, "unexpected keyword argument 'c'"),
    ("/default/hi/greet", {"config": {}}, "reserved"),
])
def test_invoke_refuses_arguments_that_do_not_fit(client, account, instance, path, body, says):
    status, answer = invoke(client, account, path, body)
    assert status == 400 and says in failure(400, answer)[2]


def test_invoke_refuses_bad_background_flag(client, account, instance):
    status, answer = invoke(client, account, "/default/hi/greet?background=maybe")
    assert status == 400 and "background" in failure(400, answer)[2]


def test_invoke_exception_answers_500_with_type_and_message(client, account, instance):
    status, answer = invoke(client, account, "/default/hi/fail", {"message": "no luck"})
    assert (status, failure(500, answer)[2]) == (500, "ValueError: no luck")


def test_invoke_timeout_answers_504(client, account, instance, monkeypatch):
    monkeypatch.setenv("TASKPORT_HANDLER_WALL_SECONDS", "1")
    settings.get_settings.cache_clear()
    status, answer = invoke(client, account, "/default/hi/spin")
    assert status == 504 and failure(504, answer)[1] == "failed"
    assert invoke(client, account, "/default/hi/add", {"a": 1, "b": 1}) == (200, {"data": 2})


def test_invoke_answer_over_limit_answers_502(client, account, instance, monkeypatch):
    monkeypatch.setenv("TASKPORT_HANDLER_OUTPUT_BYTES", "2000")
    settings.get_settings.cache_clear()
    status, answer = invoke(client, account, "/default/hi/shout", {"text": "abc"})
    assert status == 502 and "limit" in failure(502, answer)[2]


def test_invoke_value_that_is_not_json_answers_502(client, account, instance):
    status, answer = invoke(client, account, "/default/hi/tags")
    assert status == 502 and "not plain JSON" in failure(502, answer)[2]


@pytest.mark.parametrize("path", ["/nowhere/hi/greet", "/default/nobody/greet",
                                  "/Bad%20Space/hi/greet", "/default/NO_SUCH/greet"])
def test_invoke_unknown_workspace_or_instance_answers_404(client, account, instance, path):
    status, answer = invoke(client, account, path)
    assert status == 404 and failure(404, answer)[1] == "failed"


def test_invoke_other_accounts_instance_answers_like_missing(client, account, other_account,
                                                             instance):
    theirs = invoke(client, other_account, "/default/hi/greet")
    missing = invoke(client, other_account, "/default/nobody/greet")
    assert theirs[0] == missing[0] == 404
    assert theirs[1]["task"]["taskMessage"].replace("'hi'", "X") == \
        missing[1]["task"]["taskMessage"].replace("'nobody'", "X")


def test_invoke_without_token_answers_401(client, instance):
    response = client.http.post("/default/hi/greet", body="{}",
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.json_body["task"]["taskState"] == "failed"


def test_invoke_other_http_method_or_media_type_answers_in_steamship_format(client, account,
                                                                            instance):
    response = client.http.put("/default/hi/greet", body="{}", headers=bearer(account))
    assert response.status_code == 405 and response.json_body["task"]["taskState"] == "failed"
    response = client.http.post("/default/hi/greet", body="name=Ann",
                                headers={**bearer(account), "Content-Type": "text/plain"})
    assert response.status_code == 415 and response.json_body["task"]["taskState"] == "failed"


def _source_path(client, account) -> str:
    response = client.http.get("/api/v1/fs/list?prefix=/.packages/greeter/",
                               headers=bearer(account))
    return response.json_body["files"][0]["path"]


def test_invoke_refuses_source_changed_after_version_was_created(client, account, instance):
    path = _source_path(client, account)
    response = client.http.put(f"/api/v1/fs/files?path={quote(path)}",
                               body=b"def add(a, b):\n    return 'changed'\n",
                               headers={**bearer(account), "Content-Type": "text/x-python"})
    assert response.status_code == 200
    status, answer = invoke(client, account, "/default/hi/add", {"a": 1, "b": 2})
    assert status == 409 and "immutable" in failure(409, answer)[2]


def test_invoke_refuses_source_deleted_after_version_was_created(client, account, instance):
    path = _source_path(client, account)
    assert client.http.delete(f"/api/v1/fs/files?path={quote(path)}",
                              headers=bearer(account)).status_code == 200
    status, answer = invoke(client, account, "/default/hi/add", {"a": 1, "b": 2})
    assert status == 409 and "deleted" in failure(409, answer)[2]


def test_invoke_each_call_starts_from_fresh_module_state(client, account):
    counter = "CALLS = []\n\n\ndef count():\n    CALLS.append(1)\n    return len(CALLS)\n"
    make_package(client, account, handle="counter", source=counter)
    call(client, account, "package/instance/create", {"packageHandle": "counter", "handle": "c"})
    assert [invoke(client, account, "/default/c/count")[1] for _ in range(2)] == [
        {"data": 1}, {"data": 1}]


def test_invoke_refuses_arguments_over_task_input_limit_in_background(client, account, instance,
                                                                      monkeypatch):
    monkeypatch.setenv("TASKPORT_MAX_TASK_INPUT_BYTES", "1000")
    settings.get_settings.cache_clear()
    status, answer = invoke(client, account, "/default/hi/count_to", {"n": "9" * 2000})
    assert status == 400 and "limit is 1000" in failure(400, answer)[2]
