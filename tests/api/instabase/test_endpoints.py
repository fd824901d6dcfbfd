"""HTTP endpoints: create, update, get, delete, list (the seed's shapes), and their errors."""
from __future__ import annotations

import json

import pytest

from tests.api.instabase.conftest import HELLO_PATH, bearer, create_endpoint

ROOT = "/api/v1/http-endpoint"


def patch(client, account, endpoint_id, body):
    return client.http.patch(f"{ROOT}/{endpoint_id}", body=json.dumps(body),
                             headers={**bearer(account), "Content-Type": "application/json"})


def listing(client, account, query=""):
    response = client.http.get(f"{ROOT}/list{query}", headers=bearer(account))
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def test_create_answers_201_with_id(client, account):
    response = create_endpoint(client, account, "my-endpoint-id", "helloworld")
    assert response.status_code == 201
    assert json.loads(response.body) == {"id": "my-endpoint-id"}


def test_get_answers_the_seed_shape(client, account):
    create_endpoint(client, account, "my-endpoint-id", "helloworld")
    response = client.http.get(f"{ROOT}/my-endpoint-id", headers=bearer(account))
    assert response.status_code == 200
    assert json.loads(response.body) == {"id": "my-endpoint-id", "path": "helloworld",
                                         "handler_script_path": HELLO_PATH, "state": "ENABLED"}


def test_repeated_id_is_409(client, account):
    create_endpoint(client, account, "e1", "p1")
    response = create_endpoint(client, account, "e1", "p2")
    assert response.status_code == 409
    assert json.loads(response.body)["status"] == "ERROR"


def test_repeated_path_is_409(client, account):
    create_endpoint(client, account, "e1", "p1")
    response = create_endpoint(client, account, "e2", "p1")
    assert response.status_code == 409
    assert "p1" in json.loads(response.body)["msg"]


def test_ids_and_paths_are_per_account(client, account, other_account):
    assert create_endpoint(client, account, "e1", "p1").status_code == 201
    assert create_endpoint(client, other_account, "e1", "p1").status_code == 201


@pytest.mark.parametrize("endpoint_id", ["list", "u"])
def test_reserved_ids_are_400(client, account, endpoint_id):
    response = create_endpoint(client, account, endpoint_id, "p1")
    assert response.status_code in (400, 405)
    if endpoint_id == "u":
        assert response.status_code == 400


@pytest.mark.parametrize("body", [{"path": "has space", "handler_script_path": HELLO_PATH},
                                  {"path": "a/b", "handler_script_path": HELLO_PATH},
                                  {"path": "", "handler_script_path": HELLO_PATH},
                                  {"path": "ok"},
                                  {"handler_script_path": HELLO_PATH},
                                  {"path": "ok", "handler_script_path": "/a/../b.py"},
                                  {"path": "ok", "handler_script_path": ""},
                                  {"path": "ok", "handler_script_path": HELLO_PATH, "enabled": "yes"}])
def test_create_with_bad_body_is_400(client, account, body):
    response = client.http.put(f"{ROOT}/e1", body=json.dumps(body),
                               headers={**bearer(account), "Content-Type": "application/json"})
    assert response.status_code == 400, body
    assert json.loads(response.body)["msg"]


def test_create_with_malformed_json_is_400(client, account):
    response = client.http.put(f"{ROOT}/e1", body=b"{nope",
                               headers={**bearer(account), "Content-Type": "application/json"})
    assert response.status_code == 400


def test_update_changes_path_handler_and_state(client, account):
    create_endpoint(client, account, "e1", "p1")
    response = patch(client, account, "e1", {"id": "e1", "path": "p2",
                                             "handler_script_path": "/x/h.py", "enabled": False})
    assert response.status_code == 200
    assert json.loads(response.body) == {"id": "e1"}
    shown = json.loads(client.http.get(f"{ROOT}/e1", headers=bearer(account)).body)
    assert shown == {"id": "e1", "path": "p2", "handler_script_path": "/x/h.py",
                     "state": "DISABLED"}
    # the old path is free again, the new one taken
    assert create_endpoint(client, account, "e2", "p1").status_code == 201
    assert create_endpoint(client, account, "e3", "p2").status_code == 409


def test_update_to_a_taken_path_is_409_and_changes_nothing(client, account):
    create_endpoint(client, account, "e1", "p1")
    create_endpoint(client, account, "e2", "p2")
    assert patch(client, account, "e1", {"path": "p2"}).status_code == 409
    assert json.loads(client.http.get(f"{ROOT}/e1", headers=bearer(account)).body)["path"] == "p1"


@pytest.mark.parametrize("body", [{"path": ""}, {"handler_script_path": ""}, {"enabled": "false"},
                                  {"path": "bad path"}, {"id": "other"}])
def test_update_with_bad_values_is_400(client, account, body):
    create_endpoint(client, account, "e1", "p1")
    assert patch(client, account, "e1", body).status_code == 400


def test_update_missing_endpoint_is_404(client, account):
    assert patch(client, account, "nope", {"enabled": False}).status_code == 404


def test_delete_answers_200_json_and_frees_id_and_path(client, account):
    create_endpoint(client, account, "e1", "p1")
    response = client.http.delete(f"{ROOT}/e1", headers=bearer(account))
    assert response.status_code == 200
    assert json.loads(response.body) == {"id": "e1"}
    assert client.http.get(f"{ROOT}/e1", headers=bearer(account)).status_code == 404
    assert create_endpoint(client, account, "e1", "p1").status_code == 201


def test_delete_missing_is_404(client, account):
    response = client.http.delete(f"{ROOT}/nope", headers=bearer(account))
    assert response.status_code == 404
    assert json.loads(response.body)["status"] == "ERROR"


def test_another_accounts_endpoint_is_missing(client, account, other_account):
    create_endpoint(client, account, "e1", "p1")
    for method in ("get", "delete"):
        response = getattr(client.http, method)(f"{ROOT}/e1", headers=bearer(other_account))
        assert response.status_code == 404
    assert patch(client, other_account, "e1", {"enabled": False}).status_code == 404
    assert listing(client, other_account) == {"endpoints": []}


def _three(client, account):
    create_endpoint(client, account, "a", "pa", "/h/one.py")
    create_endpoint(client, account, "b", "pb", "/h/two.py")
    create_endpoint(client, account, "c", "pc", "/h/one.py")
    patch(client, account, "c", {"enabled": False})


def test_list_without_filters_answers_every_endpoint(client, account):
    _three(client, account)
    body = listing(client, account)
    assert set(body) == {"endpoints"}
    assert [e["id"] for e in body["endpoints"]] == ["a", "b", "c"]
    assert body["endpoints"][2] == {"id": "c", "path": "pc", "handler_script_path": "/h/one.py",
                                    "state": "DISABLED"}


def test_list_by_id_echoes_the_id(client, account):
    _three(client, account)
    assert listing(client, account, "?id=b") == {"id": "b", "endpoints": [
        {"id": "b", "path": "pb", "handler_script_path": "/h/two.py", "state": "ENABLED"}]}
    assert listing(client, account, "?id=zz") == {"id": "zz", "endpoints": []}


@pytest.mark.parametrize("query,ids", [
    ("?path=pa", ["a"]),
    ("?handler=/h/one.py", ["a", "c"]),
    ("?handler_script_path=/h/two.py", ["b"]),
    ("?state=ENABLED", ["a", "b"]),
    ("?state=disabled", ["c"]),
    ("?enabled=true", ["a", "b"]),
    ("?enabled=false", ["c"]),
    ("?handler=/h/one.py&state=ENABLED", ["a"]),
    ("?state=ENABLED&enabled=false", []),
    ("?offset=1", ["b", "c"]),
    ("?limit=2", ["a", "b"]),
    ("?offset=1&limit=1", ["b"]),
    ("?offset=5", []),
])
def test_list_filters_and_pages(client, account, query, ids):
    _three(client, account)
    assert [e["id"] for e in listing(client, account, query)["endpoints"]] == ids


@pytest.mark.parametrize("query", ["?state=ON", "?enabled=yes", "?offset=-1", "?limit=0",
                                   "?limit=x"])
def test_list_with_bad_filter_is_400(client, account, query):
    response = client.http.get(f"{ROOT}/list{query}", headers=bearer(account))
    assert response.status_code == 400
    assert json.loads(response.body)["status"] == "ERROR"


@pytest.mark.parametrize("method,url", [("get", f"{ROOT}/list"), ("get", f"{ROOT}/e1"),
                                        ("delete", f"{ROOT}/e1"), ("put", f"{ROOT}/e1")])
def test_management_needs_a_bearer_token(client, method, url):
    response = getattr(client.http, method)(url, headers={"Authorization": "Bearer nope",
                                                          "Content-Type": "application/json"},
                                            body=b"{}")
    assert response.status_code == 401
    assert json.loads(response.body)["status"] == "ERROR"
