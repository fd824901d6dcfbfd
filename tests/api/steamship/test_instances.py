"""Package instances: create as the seed shows (fetchIfExists both ways), get, list, delete."""
from __future__ import annotations

import pytest

from tests.api.steamship.conftest import call, failure, make_package

SEED_BODY = {"packageHandle": "greeter", "handle": "your-new-instance-handle",
             "packageVersionHandle": "1.0.0", "fetchIfExists": True, "config": {"key1": "value1"}}
NEWER = "def greet(config, name='World'):\n    return 'v2 ' + name\n"


def test_create_instance_with_seed_body(client, account, package):
    status, answer = call(client, account, "package/instance/create", SEED_BODY)
    assert status == 200
    instance = answer["data"]["packageInstance"]
    assert {k: instance[k] for k in ("handle", "packageHandle", "packageVersionHandle",
                                     "workspaceHandle", "config")} == {
        "handle": "your-new-instance-handle", "packageHandle": "greeter",
        "packageVersionHandle": "1.0.0", "workspaceHandle": "default",
        "config": {"key1": "value1"}}
    assert instance["packageVersionId"] == package["id"]


def test_create_instance_uses_latest_version_when_none_named(client, account, package):
    call(client, account, "package/version/create",
         {"packageHandle": "greeter", "handle": "2.0.0", "source": NEWER})
    _, latest = call(client, account, "package/instance/create",
                     {"packageHandle": "greeter", "handle": "new"})
    assert latest["data"]["packageInstance"]["packageVersionHandle"] == "2.0.0"
    assert latest["data"]["packageInstance"]["config"] == {}
    _, pinned = call(client, account, "package/instance/create",
                     {"packageHandle": "greeter", "handle": "old", "packageVersionHandle": "1.0.0"})
    assert pinned["data"]["packageInstance"]["packageVersionHandle"] == "1.0.0"


def test_create_instance_conflicts_without_fetch_if_exists(client, account, instance):
    status, answer = call(client, account, "package/instance/create",
                          {"packageHandle": "greeter", "handle": "hi", "fetchIfExists": False})
    assert status == 409 and "hi" in failure(409, answer)[2]
    status, _ = call(client, account, "package/instance/create",
                     {"packageHandle": "greeter", "handle": "hi"})
    assert status == 409


def test_create_instance_fetches_existing_with_fetch_if_exists(client, account, instance):
    status, answer = call(client, account, "package/instance/create", {
        "packageHandle": "greeter", "handle": "hi", "fetchIfExists": True,
        "config": {"greeting": "Other"}})
    assert status == 200 and answer["data"]["packageInstance"] == instance


def test_create_instance_fetch_if_exists_refuses_other_package(client, account, instance):
    make_package(client, account, handle="other", source=NEWER)
    status, answer = call(client, account, "package/instance/create",
                          {"packageHandle": "other", "handle": "hi", "fetchIfExists": True})
    assert status == 409 and "greeter" in failure(409, answer)[2]


def test_create_instance_same_handle_in_two_workspaces(client, account, instance):
    call(client, account, "workspace/create", {"handle": "research"})
    status, answer = call(client, account, "package/instance/create",
                          {"packageHandle": "greeter", "handle": "hi"}, workspace="research")
    assert status == 200
    assert answer["data"]["packageInstance"]["workspaceHandle"] == "research"
    assert answer["data"]["packageInstance"]["id"] != instance["id"]


@pytest.mark.parametrize("body, status, says", [
    ({"packageHandle": "nothing", "handle": "hi"}, 404, "nothing"),
    ({"packageHandle": "greeter", "handle": "hi", "packageVersionHandle": "9.9.9"}, 404, "9.9.9"),
    ({"handle": "hi"}, 400, "packageHandle"),
    ({"packageHandle": "greeter"}, 400, "handle"),
    ({"packageHandle": "greeter", "handle": "hi", "config": ["x"]}, 400, "config"),
    ({"packageHandle": "greeter", "handle": "hi", "fetchIfExists": 1}, 400, "fetchIfExists"),
    ({"packageHandle": "greeter", "handle": "hi", "packageVersionHandle": 1}, 400,
     "packageVersionHandle"),
    ({"packageHandle": "greeter", "handle": "hi", "config": {"k": "x" * 70000}}, 413, "config"),
])
def test_create_instance_refuses_wrong_request(client, account, package, body, status, says):
    got, answer = call(client, account, "package/instance/create", body)
    assert got == status and says in failure(status, answer)[2]


def test_create_instance_of_package_without_versions_answers_404(client, account):
    call(client, account, "package/create", {"handle": "empty"})
    status, answer = call(client, account, "package/instance/create",
                          {"packageHandle": "empty", "handle": "hi"})
    assert status == 404 and "no version" in failure(404, answer)[2]


def test_create_instance_of_other_accounts_package_answers_404(client, account, other_account,
                                                                package):
    status, _ = call(client, other_account, "package/instance/create",
                     {"packageHandle": "greeter", "handle": "hi"})
    assert status == 404


def test_get_instance_by_handle_and_id(client, account, instance):
    assert call(client, account, "package/instance/get", {"handle": "hi"}) == (
        200, {"data": {"packageInstance": instance}})
    assert call(client, account, "package/instance/get", {"id": instance["id"]}) == (
        200, {"data": {"packageInstance": instance}})
    assert call(client, account, "package/instance/get", {})[0] == 400


def test_get_instance_unknown_elsewhere_or_other_accounts_answers_404(client, account,
                                                                      other_account, instance):
    assert call(client, account, "package/instance/get", {"handle": "nope"})[0] == 404
    assert call(client, account, "package/instance/get", {"id": "0" * 32})[0] == 404
    call(client, account, "workspace/create", {"handle": "research"})
    assert call(client, account, "package/instance/get", {"handle": "hi"},
                workspace="research")[0] == 404
    status, answer = call(client, other_account, "package/instance/get", {"handle": "hi"})
    assert failure(status, answer)[:2] == (404, "failed")
    assert call(client, other_account, "package/instance/get", {"id": instance["id"]})[0] == 404


def test_list_instances_of_workspace(client, account, instance):
    call(client, account, "package/instance/create", {"packageHandle": "greeter", "handle": "a"})
    call(client, account, "workspace/create", {"handle": "research"})
    call(client, account, "package/instance/create", {"packageHandle": "greeter", "handle": "b"},
         workspace="research")
    _, answer = call(client, account, "package/instance/list")
    assert [i["handle"] for i in answer["data"]["packageInstances"]] == ["a", "hi"]
    _, answer = call(client, account, "package/instance/list", workspace="research")
    assert [i["handle"] for i in answer["data"]["packageInstances"]] == ["b"]


def test_delete_instance_stops_invocations(client, account, instance, other_account):
    assert call(client, other_account, "package/instance/delete", {"handle": "hi"})[0] == 404
    status, answer = call(client, account, "package/instance/delete", {"handle": "hi"})
    assert status == 200 and answer["data"]["packageInstance"]["id"] == instance["id"]
    assert call(client, account, "package/instance/get", {"handle": "hi"})[0] == 404
    response = client.http.post("/default/hi/add", body='{"a": 1, "b": 2}', headers={
        "Authorization": f"Bearer {account['credentials']['token']}",
        "Content-Type": "application/json"})
    assert response.status_code == 404
    assert call(client, account, "package/instance/delete", {"handle": "hi"})[0] == 404
