"""Admin API and /health over chalice.test.Client."""
from __future__ import annotations

import json

from tests.conftest import admin_headers, create_account


def test_health_answers_ok_without_credentials(client):
    response = client.http.get("/health")
    assert response.status_code == 200
    # No local sandbox server in this test: the sandbox is the Lambda function, not checked.
    assert json.loads(response.body) == {"status": "ok", "sandbox": "lambda"}


def test_create_account_returns_every_credential_once(client):
    body = create_account(client, "initech", ["app.initech.com"])
    assert body["handle"] == "initech"
    assert body["referrers"] == ["app.initech.com"]
    credentials = body["credentials"]
    assert set(credentials) == {"token", "secret_key", "api_key", "client_handle", "access_key"}
    assert credentials["client_handle"] == "initech"
    assert len({credentials[k] for k in ("token", "secret_key", "api_key", "access_key")}) == 4

    shown = client.http.get("/admin/v1/accounts/initech", headers=admin_headers())
    assert shown.status_code == 200
    assert "credentials" not in json.loads(shown.body)
    assert credentials["token"] not in shown.body.decode()


def test_create_account_with_repeated_handle_is_409(client):
    create_account(client, "initech")
    again = client.http.post("/admin/v1/accounts", headers=admin_headers(),
                             body=json.dumps({"handle": "initech"}))
    assert again.status_code == 409
    assert json.loads(again.body)["error"]["field"] == "handle"


def test_create_account_without_admin_token_is_401(client):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = client.http.post("/admin/v1/accounts", body=json.dumps({"handle": "x1"}),
                                    headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 401


def test_create_account_with_bad_input_is_400(client):
    cases = [b"{not json", b"[1, 2]", json.dumps({"handle": "UPPER case"}).encode(),
             json.dumps({"handle": 7}).encode(), json.dumps({"handle": "ok1", "referrers": "x"}).encode(),
             b"\xff\xfe{}"]
    for body in cases:
        response = client.http.post("/admin/v1/accounts", headers=admin_headers(), body=body)
        assert response.status_code == 400, body
        assert json.loads(response.body)["error"]["message"]


def test_oversized_body_is_413_not_500(client, monkeypatch):
    monkeypatch.setenv("TASKPORT_MAX_BODY_BYTES", "100")
    from chalicelib import config
    config.get_settings.cache_clear()
    response = client.http.post("/admin/v1/accounts", headers=admin_headers(),
                                body=json.dumps({"handle": "big", "pad": "x" * 200}))
    assert response.status_code == 413


def test_rotate_credential_returns_new_secret_and_kills_old(client):
    from chalicelib import auth
    from chalicelib.errors import Unauthorized
    import pytest

    body = create_account(client, "initech")
    old = body["credentials"]["secret_key"]
    assert auth.verify_secret(old, "secret_key").account.handle == "initech"

    rotated = client.http.post("/admin/v1/accounts/initech/credentials/secret_key/rotate",
                               headers=admin_headers())
    assert rotated.status_code == 200
    new = json.loads(rotated.body)["credentials"]["secret_key"]
    assert new != old
    assert auth.verify_secret(new, "secret_key").account.handle == "initech"
    with pytest.raises(Unauthorized):
        auth.verify_secret(old, "secret_key")


def test_revoke_credential_removes_it(client):
    create_account(client, "initech")
    response = client.http.delete("/admin/v1/accounts/initech/credentials/token",
                                  headers=admin_headers())
    assert response.status_code == 200
    assert "token" not in json.loads(response.body)["credential_kinds"]


def test_rotate_unknown_kind_or_account(client):
    create_account(client, "initech")
    bad_kind = client.http.post("/admin/v1/accounts/initech/credentials/password/rotate",
                                headers=admin_headers())
    assert bad_kind.status_code == 400
    missing = client.http.post("/admin/v1/accounts/nobody/credentials/token/rotate",
                               headers=admin_headers())
    assert missing.status_code == 404


def test_set_referrers_replaces_whitelist(client):
    create_account(client, "initech", ["a.example.com"])
    response = client.http.put("/admin/v1/accounts/initech/referrers", headers=admin_headers(),
                               body=json.dumps({"referrers": ["b.example.com"]}))
    assert response.status_code == 200
    assert json.loads(response.body)["referrers"] == ["b.example.com"]


def test_wrong_content_type_and_method_answer_in_the_surface_format(client):
    response = client.http.post("/admin/v1/accounts", body="handle=x",
                                headers={**admin_headers(), "Content-Type": "text/plain"})
    assert response.status_code == 415
    assert json.loads(response.body)["error"]["type"] == "UnsupportedMediaType"
    response = client.http.patch("/admin/v1/accounts", headers=admin_headers(), body="{}")
    assert response.status_code == 405
    assert json.loads(response.body)["error"]["type"] == "MethodNotAllowed"
