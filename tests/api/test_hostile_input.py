"""Inputs a hostile test found answering 500: each answers a 4xx in its surface's format."""
from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import create_account


def _status_and_body(response: Any) -> tuple[int, Any]:
    return response.status_code, json.loads(response.body)


def _bearer(account: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {account['credentials']['token']}",
            "Content-Type": "application/json"}


def _basic(account: dict[str, Any]) -> dict[str, str]:
    creds = account["credentials"]
    token = base64.b64encode(f"{creds['client_handle']}:{creds['access_key']}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


DEEP = b"[" * 10000 + b"]" * 10000
HOSTILE_BODIES = {
    "10,000-level nesting": DEEP,
    "65-level nesting": b'{"tasks": ' + b"[" * 65 + b"]" * 65 + b"}",
    "a 5,000-digit integer": b'{"tasks": ' + b"1" * 5000 + b"}",
    "a 200-digit integer": b'{"tasks": [{"task_name": "hello", "n": ' + b"9" * 200 + b"}]}",
    "NaN": b'{"tasks": [{"task_name": "hello", "name": "x", "n": NaN}]}',
    "Infinity": b'{"tasks": [{"task_name": "hello", "name": "x", "n": -Infinity}]}',
    "a float beyond double range": b'{"tasks": [{"task_name": "hello", "name": "x", "n": 1e400}]}',
    "a lone surrogate": b'{"tasks": [{"task_name": "hello", "name": "\\ud800"}]}',
    "a lone surrogate as a key": b'{"tasks": [{"task_name": "hello", "\\udfff": 1}]}',
}


@pytest.mark.parametrize("label", list(HOSTILE_BODIES))
def test_hostile_json_answers_400_before_authentication(client, label):
    response = client.http.post("/v1/create", body=HOSTILE_BODIES[label],
                                headers={"Content-Type": "application/json"})
    status, body = _status_and_body(response)
    assert status == 400, (label, response.body[:300])
    assert body["status"] == "error" and body["errors"][0]["location"] == "body"


def test_nan_is_not_accepted_or_echoed_with_credentials(client, account):
    body = (b'{"tasks": [{"task_name": "hello", "name": "x", "n": NaN}], "block": true, '
            b'"secret": "%s"}' % account["credentials"]["secret_key"].encode())
    response = client.http.post("/v1/create", body=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "NaN" in json.loads(response.body)["errors"][0]["description"]


def test_surrogate_pair_is_a_character_and_accepted(client, account):
    text = b'{"tasks": [{"task_name": "hello", "name": "\\ud83d\\ude00"}], "secret": "%s"}' % (
        account["credentials"]["secret_key"].encode())
    response = client.http.post("/v1/create", body=text, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.body


def test_lone_surrogate_in_workflow_put_answers_65464(client, account):
    body = b'{"name": "T\\ud800", "input_fields": [], "webhook_url": "https://example.com/h"}'
    response = client.http.put("/workflows/titles", headers=_basic(account), body=body)
    status, answer = _status_and_body(response)
    assert (status, answer["code"]) == (400, "65464")


def test_lone_surrogate_in_package_version_answers_400_failed_task(client, account):
    response = client.http.post("/api/v1/package/create", headers=_bearer(account),
                                body=json.dumps({"handle": "pkg"}))
    assert response.status_code == 200, response.body
    body = b'{"packageHandle": "pkg", "handle": "1.0", "source": "x = \\"\\udc00\\""}'
    response = client.http.post("/api/v1/package/version/create", headers=_bearer(account),
                                body=body)
    status, answer = _status_and_body(response)
    assert status == 400 and answer["task"]["taskState"] == "failed"


@pytest.mark.parametrize("cursor", ["abc", "zzzz", "x" * 2000, quote("%00"),
                                    base64.urlsafe_b64encode(b"/other/").decode(),
                                    base64.urlsafe_b64encode(b"\xff\xfe").decode()])
def test_file_list_cursor_not_issued_answers_400(client, account, cursor):
    response = client.http.get(f"/api/v1/fs/list?prefix=/p/&cursor={cursor}",
                               headers=_bearer(account))
    status, answer = _status_and_body(response)
    assert status == 400 and answer["status"] == "ERROR", response.body


def test_file_list_cursor_pages_through_every_file(client, account):
    paths = [f"/p/{n}.py" for n in range(5)]
    for path in paths:
        assert client.http.put(f"/api/v1/fs/files?path={quote(path)}", body=b"x",
                               headers={**_bearer(account), "Content-Type": "text/plain"}
                               ).status_code < 300
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        answer = json.loads(client.http.get(f"/api/v1/fs/list?prefix=/p/&limit=2{cursor}",
                                            headers=_bearer(account)).body)
        seen += [f["path"] for f in answer["files"]]
        if "cursor" not in answer:
            break
        cursor = f"&cursor={quote(answer['cursor'])}"
    assert seen == paths


def _crafted(payload: Any, hash_key: str) -> str:
    """A cursor of the right listing (G: the workflow's group key) with a crafted start key."""
    text = json.dumps(payload).replace('"G"', json.dumps(hash_key))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("payload", [
    {"s": 1e300, "k": None},
    {"s": -1, "k": None},
    {"s": 0, "k": {"group_pk": "x"}},
    {"s": 0, "k": {"group_pk": {"S": "G"}}},
    {"s": 0, "k": {"group_pk": {"S": "G"}, "pk": {"S": "TASK#x"}, "sk": {"S": "TASK"},
                   "group_sk": {"S": "x"}, "extra": {"S": "x"}}},
    {"s": 0, "k": {"pk": {"N": "1"}, "sk": {"S": "TASK"}, "group_pk": {"S": "G"},
                   "group_sk": {"S": "x"}}},
    {"s": 0, "k": {"pk": {"S": ""}, "sk": {"S": "TASK"}, "group_pk": {"S": "G"},
                   "group_sk": {"S": "x"}}},
    {"s": 0, "k": {"pk": {"S": "TASK#\ud800"}, "sk": {"S": "TASK"}, "group_pk": {"S": "G"},
                   "group_sk": {"S": "x"}}},
    [1, 2],
])
def test_workflow_task_list_crafted_cursor_answers_400(client, account, payload):
    basic = _basic(account)
    assert client.http.put("/workflows/titles", headers=basic, body=json.dumps({
        "name": "T", "input_fields": [], "webhook_url": "https://example.com/h"})).status_code == 201
    cursor = _crafted(payload, f"{account['id']}#default#wf:titles")
    response = client.http.get(f"/workflows/titles/tasks?cursor={cursor}", headers=basic)
    status, answer = _status_and_body(response)
    assert status == 400 and answer["code"] == "54421", response.body


def test_workflow_task_list_deep_cursor_answers_400(client, account):
    basic = _basic(account)
    client.http.put("/workflows/titles", headers=basic, body=json.dumps({
        "name": "T", "input_fields": [], "webhook_url": "https://example.com/h"}))
    cursor = base64.urlsafe_b64encode(DEEP).decode()
    response = client.http.get(f"/workflows/titles/tasks?cursor={cursor}", headers=basic)
    assert response.status_code == 400


@pytest.mark.parametrize("referrer", ["http://[::1", "http://[zz]/", "https://[::1]:x/",
                                      "http://app.example.com:99999/"])
@pytest.mark.parametrize("route", ["/v1/create", "/v1/status", "/v1/file"])
def test_malformed_referer_with_api_key_answers_401(client, account, referrer, route):
    headers = {"Authorization": f"Api-Key {account['credentials']['api_key']}",
               "Referer": referrer, "Content-Type": "application/json"}
    if route == "/v1/create":
        response = client.http.post(route, headers=headers,
                                    body=json.dumps({"tasks": {"task_name": "hello", "name": "x"}}))
    else:
        response = client.http.get(f"{route}?tasks=x&key=x", headers=headers)
    status, answer = _status_and_body(response)
    assert status == 401 and answer["status"] == "error", response.body


@pytest.mark.parametrize("value", ["Basic é", "Basic YWNt\u00e9", "Basic \u00ff\u00fe"])
def test_non_ascii_basic_credentials_answer_401(client, value):
    response = client.http.get("/workflows", headers={"Authorization": value})
    status, answer = _status_and_body(response)
    assert (status, answer["code"]) == (401, "40100")


@pytest.mark.parametrize("referrer, whitelist, allowed", [
    ("https://app.example.com/x", ("app.example.com",), True),
    ("http://localhost:8000/console", ("localhost",), True),
    ("https://app.example.com:99999/", ("app.example.com",), False),
    ("https://app.example.com:0/", ("app.example.com",), False),
    ("https://app.example.com:abc/", ("app.example.com",), False),
    ("ftp://app.example.com/", ("app.example.com",), False),
    ("javascript://app.example.com/", ("app.example.com",), False),
    ("https://evil.net@app.example.com/", ("app.example.com",), False),
    ("https://app.example.com@evil.net/", ("app.example.com",), False),
    ("https://app.example.com:443/", ("https://app.example.com",), True),
    ("https://app.example.com/", ("https://app.example.com",), True),
    ("https://app.example.com:8443/", ("https://app.example.com",), False),
    ("http://app.example.com/", ("https://app.example.com",), False),
    ("https://app.example.com:8443/", ("https://app.example.com:8443",), True),
    ("https://app.example.com/", ("https://app.example.com:99999",), False),
    ("http://[::1]:8000/", ("http://[::1]:8000",), True),
])
def test_referrer_whitelist_pins_scheme_and_port(referrer, whitelist, allowed):
    from chalicelib import auth

    assert auth.referrer_allowed(referrer, whitelist) is allowed


def test_origin_entry_with_invalid_port_never_crashes_auth(client):
    created = create_account(client, "ports", ["https://app.example.com:99999", "app.example.com"])
    headers = {"Authorization": f"Api-Key {created['credentials']['api_key']}",
               "Referer": "https://app.example.com/"}
    response = client.http.get("/v1/status?tasks=x", headers=headers)
    assert response.status_code < 500


@pytest.mark.parametrize("payload", [
    {"s": 0, "k": {"account_id": "A"}},
    {"s": 0, "k": {"pk": {"S": "TASK#x"}, "sk": {"S": "TASK"}, "account_id": {"S": "A"},
                   "created_at": {"N": "1"}}},
    {"s": 0, "k": {"pk": {"S": "TASK#\ud800"}, "sk": {"S": "TASK"}, "account_id": {"S": "A"},
                   "created_at": {"S": "x"}}},
])
def test_native_task_list_crafted_cursor_answers_400(client, account, payload):
    text = json.dumps(payload).replace('"A"', json.dumps(account["id"]))
    cursor = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    response = client.http.get(f"/taskport/v1/tasks?cursor={cursor}", headers=_bearer(account))
    assert response.status_code == 400, response.body
    assert "error" in json.loads(response.body)
