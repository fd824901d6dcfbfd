"""Workspaces: create (fetchIfExists both ways), get, list with pages, delete with instances."""
from __future__ import annotations

import base64
import json

import pytest

from tests.api.steamship.conftest import call, failure


def test_create_workspace_answers_workspace_in_data(client, account):
    status, answer = call(client, account, "workspace/create", {"handle": "research"})
    assert status == 200
    workspace = answer["data"]["workspace"]
    assert workspace["handle"] == "research"
    assert len(workspace["id"]) == 32 and workspace["createdAt"].endswith("Z")


def test_create_workspace_fetches_existing_when_fetch_if_exists(client, account):
    _, first = call(client, account, "workspace/create", {"handle": "research"})
    status, again = call(client, account, "workspace/create",
                         {"handle": "research", "fetchIfExists": True})
    assert status == 200
    assert again["data"]["workspace"] == first["data"]["workspace"]


def test_create_workspace_conflicts_without_fetch_if_exists(client, account):
    call(client, account, "workspace/create", {"handle": "research"})
    status, answer = call(client, account, "workspace/create",
                          {"handle": "research", "fetchIfExists": False})
    assert failure(409, answer)[:2] == (409, "failed")
    assert "research" in answer["task"]["taskMessage"]
    assert status == 409


def test_create_workspace_fetches_existing_default(client, account):
    status, answer = call(client, account, "workspace/create",
                          {"handle": "default", "fetchIfExists": True})
    assert status == 200 and answer["data"]["workspace"]["handle"] == "default"


@pytest.mark.parametrize("handle", ["api", "v1", "admin", "workflows", "health"])
def test_create_workspace_refuses_reserved_handle(client, account, handle):
    status, answer = call(client, account, "workspace/create", {"handle": handle})
    assert status == 400 and "reserved" in failure(400, answer)[2]


@pytest.mark.parametrize("body", [{}, {"handle": ""}, {"handle": "Has Caps"}, {"handle": 7},
                                  {"handle": "-dash-first"}, {"handle": "x" * 65}])
def test_create_workspace_refuses_bad_handle(client, account, body):
    status, answer = call(client, account, "workspace/create", body)
    assert status == 400 and "handle" in failure(400, answer)[2]


def test_create_workspace_refuses_non_boolean_fetch_if_exists(client, account):
    status, answer = call(client, account, "workspace/create",
                          {"handle": "research", "fetchIfExists": "yes"})
    assert status == 400 and "fetchIfExists" in failure(400, answer)[2]


def test_create_workspace_refuses_bad_json(client, account):
    status, answer = call(client, account, "workspace/create", raw=b'{"handle": ')
    assert status == 400 and "not valid JSON" in failure(400, answer)[2]


def test_create_workspace_refuses_json_that_is_not_an_object(client, account):
    status, answer = call(client, account, "workspace/create", raw=b'["research"]')
    assert status == 400 and "object" in failure(400, answer)[2]


def test_workspace_routes_refuse_missing_or_wrong_token(client, account):
    status, answer = call(client, None, "workspace/list")
    assert status == 401 and failure(401, answer)[1] == "failed"
    wrong = {"credentials": {"token": "tpt_not-a-token"}}
    status, answer = call(client, wrong, "workspace/list")
    assert status == 401


def test_workspace_routes_refuse_other_credential_kinds(client, account):
    response = client.http.post("/api/v1/workspace/list", body="{}", headers={
        "Authorization": f"Bearer {account['credentials']['secret_key']}",
        "Content-Type": "application/json"})
    assert response.status_code == 401


def test_get_workspace_by_handle_and_by_id(client, account):
    _, created = call(client, account, "workspace/create", {"handle": "research"})
    workspace = created["data"]["workspace"]
    assert call(client, account, "workspace/get", {"handle": "research"}) == (
        200, {"data": {"workspace": workspace}})
    assert call(client, account, "workspace/get", {"id": workspace["id"]}) == (
        200, {"data": {"workspace": workspace}})


def test_get_workspace_requires_handle_or_id(client, account):
    status, answer = call(client, account, "workspace/get", {})
    assert status == 400 and "handle or id" in failure(400, answer)[2]
    status, answer = call(client, account, "workspace/get", {"id": 5})
    assert status == 400


def test_get_workspace_unknown_answers_404(client, account):
    status, answer = call(client, account, "workspace/get", {"handle": "nowhere"})
    assert failure(status, answer)[:2] == (404, "failed")
    status, answer = call(client, account, "workspace/get", {"id": "0" * 32})
    assert status == 404


def test_get_workspace_of_other_account_answers_like_missing(client, account, other_account):
    _, created = call(client, account, "workspace/create", {"handle": "research"})
    by_handle = call(client, other_account, "workspace/get", {"handle": "research"})
    missing = call(client, other_account, "workspace/get", {"handle": "nowhere"})
    assert by_handle[0] == missing[0] == 404
    assert by_handle[1]["task"]["taskMessage"].replace("research", "X") == \
        missing[1]["task"]["taskMessage"].replace("nowhere", "X")
    status, _ = call(client, other_account, "workspace/get",
                     {"id": created["data"]["workspace"]["id"]})
    assert status == 404


def test_list_workspaces_pages_through_all(client, account):
    for handle in ("alpha", "beta"):
        call(client, account, "workspace/create", {"handle": handle})
    seen, token = [], None
    for _ in range(5):
        body = {"pageSize": 1, **({"pageToken": token} if token else {})}
        status, answer = call(client, account, "workspace/list", body)
        assert status == 200
        seen += [w["handle"] for w in answer["data"]["workspaces"]]
        token = answer["data"].get("nextPageToken")
        if token is None:
            break
    assert seen == ["alpha", "beta", "default"]


def test_list_workspaces_refuses_bad_page_arguments(client, account):
    assert call(client, account, "workspace/list", {"pageSize": 0})[0] == 400
    assert call(client, account, "workspace/list", {"pageSize": "2"})[0] == 400
    assert call(client, account, "workspace/list", {"pageToken": "%%%"})[0] == 400


def test_list_workspaces_refuses_token_of_another_account(client, account, other_account):
    call(client, account, "workspace/create", {"handle": "alpha"})
    _, answer = call(client, account, "workspace/list", {"pageSize": 1})
    token = answer["data"]["nextPageToken"]
    status, answer = call(client, other_account, "workspace/list", {"pageToken": token})
    assert status == 400 and "another listing" in failure(400, answer)[2]
    forged = base64.urlsafe_b64encode(json.dumps({"pk": {"S": "x"}}).encode()).decode()
    assert call(client, account, "workspace/list", {"pageToken": forged})[0] == 400


def test_list_workspaces_shows_only_own(client, account, other_account):
    call(client, other_account, "workspace/create", {"handle": "theirs"})
    _, answer = call(client, account, "workspace/list")
    assert [w["handle"] for w in answer["data"]["workspaces"]] == ["default"]


def test_delete_workspace_removes_it_and_its_instances(client, account, package):
    call(client, account, "workspace/create", {"handle": "research"})
    status, answer = call(client, account, "package/instance/create",
                          {"packageHandle": "greeter", "handle": "hi"}, workspace="research")
    assert status == 200, answer
    status, answer = call(client, account, "workspace/delete", {"handle": "research"})
    assert status == 200 and answer["data"]["workspace"]["handle"] == "research"
    assert call(client, account, "workspace/get", {"handle": "research"})[0] == 404
    assert call(client, account, "package/instance/get", {"handle": "hi"},
                workspace="research")[0] == 404

    call(client, account, "workspace/create", {"handle": "research"})
    _, listed = call(client, account, "package/instance/list", workspace="research")
    assert listed["data"]["packageInstances"] == []


def test_delete_default_workspace_is_forbidden(client, account):
    status, answer = call(client, account, "workspace/delete", {"handle": "default"})
    assert status == 403 and "default" in failure(403, answer)[2]


def test_delete_workspace_unknown_or_other_accounts_answers_404(client, account, other_account):
    call(client, account, "workspace/create", {"handle": "research"})
    assert call(client, other_account, "workspace/delete", {"handle": "research"})[0] == 404
    assert call(client, account, "workspace/delete", {"handle": "nowhere"})[0] == 404
    assert call(client, account, "workspace/get", {"handle": "research"})[0] == 200


def test_unknown_workspace_header_answers_404(client, account, package):
    status, answer = call(client, account, "package/instance/create",
                          {"packageHandle": "greeter", "handle": "hi"}, workspace="nowhere")
    assert status == 404 and "nowhere" in failure(404, answer)[2]
    assert call(client, account, "package/instance/list", workspace="nowhere")[0] == 404
