"""Workflows over the API: create, update, read, list, rotate the secret, refused webhook URLs."""
from __future__ import annotations

import json

from tests.api.onespace.conftest import basic_headers, put_workflow


def test_put_workflow_creates_with_secret_then_updates_without(client, basic):
    created = put_workflow(client, basic, input_fields=["a"])
    assert created.status_code == 201
    body = json.loads(created.body)
    assert body["webhook_secret"].startswith("whsec_")
    assert body["handle"] == "titles" and body["mode"] == "manual"
    assert body["input_fields"] == ["a"] and body["webhook_enabled"] is True
    assert created.headers["CS-API-Version"] == "2014-08-28"

    updated = put_workflow(client, basic, name="Renamed", input_fields=["a", "b"],
                           handler_script_path="/scripts/titles.py")
    assert updated.status_code == 200
    body = json.loads(updated.body)
    assert "webhook_secret" not in body
    assert body["name"] == "Renamed" and body["input_fields"] == ["a", "b"]
    assert body["mode"] == "automated" and body["handler_script_path"] == "/scripts/titles.py"


def test_get_and_list_workflows_never_show_the_secret(client, basic):
    put_workflow(client, basic, handle="one")
    put_workflow(client, basic, handle="two")
    got = client.http.get("/workflows/one", headers=basic)
    assert got.status_code == 200
    assert json.loads(got.body)["handle"] == "one" and "webhook_secret" not in json.loads(got.body)
    listed = json.loads(client.http.get("/workflows", headers=basic).body)["workflows"]
    assert [w["handle"] for w in listed] == ["one", "two"]
    assert all("webhook_secret" not in w for w in listed)


def test_get_unknown_workflow_is_404_66868(client, basic):
    response = client.http.get("/workflows/nope", headers=basic)
    assert response.status_code == 404
    assert json.loads(response.body) == {"code": "66868", "message": "Invalid Task endpoint.",
                                         "data": None}


def test_other_account_cannot_see_workflow(client, basic, other_account):
    put_workflow(client, basic)
    response = client.http.get("/workflows/titles", headers=basic_headers(other_account))
    assert response.status_code == 404
    assert json.loads(client.http.get("/workflows", headers=basic_headers(other_account)).body) == {
        "workflows": []}


def test_rotate_secret_returns_a_new_one(client, basic):
    first = json.loads(put_workflow(client, basic).body)["webhook_secret"]
    rotated = client.http.post("/workflows/titles/webhook-secret/rotate", headers=basic)
    assert rotated.status_code == 200
    second = json.loads(rotated.body)["webhook_secret"]
    assert second.startswith("whsec_") and second != first
    missing = client.http.post("/workflows/nope/webhook-secret/rotate", headers=basic)
    assert missing.status_code == 404


def test_put_workflow_refuses_literal_private_webhook_url(client, basic):
    for url, reason in [("http://169.254.169.254/latest", "link-local"),
                        ("http://10.0.0.7/hook", "private"), ("ftp://example.com/x", "http")]:
        response = put_workflow(client, basic, webhook_url=url)
        assert response.status_code == 400, url
        body = json.loads(response.body)
        assert body["code"] == "54421"
        assert reason in body["data"]["webhook_url"]


def test_put_workflow_with_bad_definition_names_each_field(client, basic):
    response = client.http.put("/workflows/titles", headers=basic, body=json.dumps(
        {"name": "", "input_fields": "a", "handler_script_path": 5}))
    assert response.status_code == 400
    body = json.loads(response.body)
    assert body["code"] == "54421"
    assert set(body["data"]) == {"name", "input_fields", "webhook_url", "handler_script_path"}


def test_put_workflow_with_bad_handle_or_body(client, basic):
    bad_handle = put_workflow(client, basic, handle="no%20spaces")
    assert bad_handle.status_code == 400 and json.loads(bad_handle.body)["data"]["handle"]
    unparseable = client.http.put("/workflows/titles", headers=basic, body=b"{nope")
    assert unparseable.status_code == 400
    assert json.loads(unparseable.body)["code"] == "65464"


def test_workflow_routes_need_basic_credentials(client, account):
    for headers in ({}, {"Authorization": "Bearer " + account["credentials"]["token"]},
                    {**basic_headers(account), "Authorization": "Basic " + "eDp5"}):
        response = client.http.get("/workflows", headers=headers)
        assert response.status_code == 401
        assert json.loads(response.body)["code"] == "40100"
        assert response.headers["WWW-Authenticate"].startswith("Basic")
