"""Account-defined task types: /taskport/v1/task-types, and running them through the task API."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.config import get_settings
from tests.api.dragon.conftest import post, secret_headers
from tests.api.instabase.conftest import bearer, put_script
from tests.conftest import create_account

SCRIPT_PATH = "/tasks/shout.py"
SHOUT = '''
def run(params, context):
    context.progress({"done": 1, "of": 2})
    text = params["text"].upper()
    context.output_file("shout.txt", text, "text/plain")
    context.progress(1.0)
    return {"shouted": text}
'''
RAISES = '''
def helper(value):
    raise ValueError(f"cannot shout {value!r}")

def run(params, context):
    return helper(params["text"])
'''
SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}, "times": {"type": "integer"}},
          "required": ["text"], "additionalProperties": False}


def _headers(account: dict[str, Any]) -> dict[str, str]:
    return {**bearer(account), "Content-Type": "application/json"}


def _put(client: Any, account: dict[str, Any], name: str, body: Any) -> Any:
    return client.http.put(f"/taskport/v1/task-types/{name}", body=json.dumps(body),
                           headers=_headers(account))


def _body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


@pytest.fixture
def shout(client: Any, account: dict[str, Any]) -> dict[str, Any]:
    """The type `shout`, backed by SHOUT, with a parameter schema and one declared file."""
    assert put_script(client, account, SCRIPT_PATH, SHOUT).status_code == 200
    response = _put(client, account, "shout", {"script_path": SCRIPT_PATH, "description": "Upper-cases text",
                                               "params_schema": SCHEMA, "files": ["shout.txt"]})
    assert response.status_code == 201, response.body
    return account


def test_put_task_type_creates_then_replaces(client, shout):
    created = _body(client.http.get("/taskport/v1/task-types/shout", headers=bearer(shout)))
    assert created["name"] == "shout" and created["builtin"] is False
    assert (created["script_path"], created["files"], created["params_schema"]) == (SCRIPT_PATH, ["shout.txt"], SCHEMA)
    again = _put(client, shout, "shout", {"script_path": SCRIPT_PATH})
    assert again.status_code == 200
    replaced = _body(again)
    assert replaced["params_schema"] is None and replaced["files"] is None
    assert replaced["created_at"] == created["created_at"]


def test_list_task_types_shows_builtins_then_the_accounts(client, shout):
    listed = _body(client.http.get("/taskport/v1/task-types", headers=bearer(shout)))["task_types"]
    names = [t["name"] for t in listed]
    assert {"hello", "image.thumb", "image.thumbs", "image.info"} <= set(names)
    assert names[-1] == "shout"
    assert all(t["builtin"] for t in listed[:-1])


def test_delete_task_type_then_it_is_gone(client, shout):
    assert client.http.delete("/taskport/v1/task-types/shout", headers=bearer(shout)).status_code == 204
    assert client.http.get("/taskport/v1/task-types/shout", headers=bearer(shout)).status_code == 404
    assert client.http.delete("/taskport/v1/task-types/shout", headers=bearer(shout)).status_code == 404
    refused = post(client, "/v1/create", {"tasks": {"task_name": "shout", "text": "x"}}, secret_headers(shout))
    assert refused.status_code == 400


@pytest.mark.parametrize("name, body, field", [
    ("hello", {"script_path": SCRIPT_PATH}, "name"),
    ("Bad Name", {"script_path": SCRIPT_PATH}, "name"),
    ("shout", {"script_path": "/missing.py"}, "script_path"),
    ("shout", {"script_path": "relative.py"}, "script_path"),
    ("shout", {"script_path": SCRIPT_PATH, "params_schema": {"type": "nonsense"}}, "params_schema"),
    ("shout", {"script_path": SCRIPT_PATH, "files": ["../x"]}, "files"),
    ("shout", {"script_path": SCRIPT_PATH, "colour": "red"}, "colour"),
])
def test_put_task_type_with_bad_input_names_the_field(client, account, name, body, field):
    assert put_script(client, account, SCRIPT_PATH, SHOUT).status_code == 200
    response = _put(client, account, name, body)
    assert response.status_code in (400, 409), response.body
    assert _body(response)["error"]["field"] == field
    assert response.status_code == (409 if name == "hello" else 400)


def test_task_types_need_the_account_token(client, account):
    assert client.http.get("/taskport/v1/task-types").status_code == 401
    assert client.http.get("/taskport/v1/task-types", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_another_accounts_task_type_is_invisible(client, shout):
    other = create_account(client, "globex")
    assert client.http.get("/taskport/v1/task-types/shout", headers=bearer(other)).status_code == 404
    listed = _body(client.http.get("/taskport/v1/task-types", headers=bearer(other)))["task_types"]
    assert "shout" not in [t["name"] for t in listed]
    refused = post(client, "/v1/create", {"tasks": {"task_name": "shout", "text": "x"}}, secret_headers(other))
    assert refused.status_code == 400
    assert client.http.delete("/taskport/v1/task-types/shout", headers=bearer(other)).status_code == 404


def test_account_task_type_runs_in_the_sandbox_through_the_worker(client, shout, running_worker):
    response = post(client, "/v1/create", {"tasks": {"task_name": "shout", "text": "hey"}, "block": True},
                    secret_headers(shout))
    assert response.status_code == 200, response.body
    [status] = _body(response)
    assert status["status"] == "success", status
    assert status["result"] == {"shouted": "HEY"}
    assert status["progress"] == 1.0


def test_account_task_type_output_file_is_served_by_create_file(client, shout, running_worker):
    from chalicelib import aws

    response = post(client, "/v1/create_file", {"task": {"task_name": "shout", "text": "file me"}},
                    secret_headers(shout))
    assert response.status_code == 302, response.body
    path = urlsplit(response.headers["Location"]).path
    key = path.split(f"/{get_settings().bucket}/", 1)[-1] if get_settings().bucket in path else path.lstrip("/")
    stored = aws.client("s3").get_object(Bucket=get_settings().bucket, Key=key)
    assert stored["Body"].read() == b"FILE ME"
    assert stored["ContentType"] == "text/plain"


def test_account_task_type_params_are_checked_against_its_schema(client, shout):
    for params, field in [({}, "text"), ({"text": 3}, "text"), ({"text": "a", "loud": True}, "loud"),
                          ({"text": "a", "times": "x"}, "times")]:
        response = post(client, "/v1/create", {"tasks": {"task_name": "shout", **params}}, secret_headers(shout))
        assert response.status_code == 400, (params, response.body)
        [error] = _body(response)["errors"]
        assert error["name"].endswith(field), (params, error)


def test_account_task_type_that_raises_ends_in_error_with_its_message(client, account, running_worker):
    assert put_script(client, account, "/tasks/raises.py", RAISES).status_code == 200
    assert _put(client, account, "raiser", {"script_path": "/tasks/raises.py"}).status_code == 201
    response = post(client, "/v1/create", {"tasks": {"task_name": "raiser", "text": "boom"}, "block": True},
                    secret_headers(account))
    [status] = _body(response)
    assert status["status"] == "error", status
    assert "cannot shout 'boom'" in json.dumps(status)
