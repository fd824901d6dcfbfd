"""Every credential scheme against real (emulated) storage: right, wrong, missing, revoked, other."""
from __future__ import annotations

import base64
import json

import pytest

from chalicelib import auth
from chalicelib.errors import Unauthorized
from tests.conftest import admin_headers


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _revoke(client, handle: str, kind: str) -> None:
    response = client.http.delete(f"/admin/v1/accounts/{handle}/credentials/{kind}",
                                  headers=admin_headers())
    assert response.status_code == 200


def test_bearer_accepts_the_token_and_reads_the_workspace_header(account):
    token = account["credentials"]["token"]
    principal = auth.bearer({"authorization": f"Bearer {token}"})
    assert (principal.account.handle, principal.workspace, principal.kind) == ("acme", "default", "token")
    scoped = auth.bearer({"authorization": f"Bearer {token}", "x-workspace-handle": "team"},
                         workspace_header="x-workspace-handle")
    assert scoped.workspace == "team"


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer "}, {"authorization": "Bearer nope"},
                                     {"authorization": "Token abc"}])
def test_bearer_refuses_missing_or_wrong_tokens(account, headers):
    with pytest.raises(Unauthorized):
        auth.bearer(headers)


def test_bearer_refuses_other_kinds_of_secret(account):
    for kind in ("secret_key", "api_key", "access_key"):
        with pytest.raises(Unauthorized):
            auth.bearer({"authorization": f"Bearer {account['credentials'][kind]}"})


def test_bearer_refuses_a_revoked_token(client, account):
    token = account["credentials"]["token"]
    auth.bearer({"authorization": f"Bearer {token}"})
    _revoke(client, "acme", "token")
    with pytest.raises(Unauthorized):
        auth.bearer({"authorization": f"Bearer {token}"})


def test_credentials_resolve_to_their_own_account(account, other_account):
    mine = auth.bearer({"authorization": f"Bearer {account['credentials']['token']}"})
    theirs = auth.bearer({"authorization": f"Bearer {other_account['credentials']['token']}"})
    assert mine.account_id == account["id"]
    assert theirs.account_id == other_account["id"]
    assert mine.account_id != theirs.account_id


def test_basic_accepts_client_handle_and_access_key(account):
    principal = auth.basic(_basic("acme", account["credentials"]["access_key"]))
    assert principal.account.handle == "acme" and principal.kind == "access_key"


def test_basic_refuses_wrong_handle_wrong_key_and_malformed(account, other_account):
    key = account["credentials"]["access_key"]
    cases = [_basic("globex", key), _basic("acme", "tpk_wrong"), _basic("acme", ""),
             _basic("acme", other_account["credentials"]["access_key"]),
             {"Authorization": "Basic !!!notbase64"}, {"Authorization": "Basic " +
                                                       base64.b64encode(b"no-colon").decode()},
             {}, {"Authorization": f"Bearer {key}"}]
    for headers in cases:
        with pytest.raises(Unauthorized):
            auth.basic(headers)


def test_basic_refuses_a_revoked_access_key(client, account):
    headers = _basic("acme", account["credentials"]["access_key"])
    auth.basic(headers)
    _revoke(client, "acme", "access_key")
    with pytest.raises(Unauthorized):
        auth.basic(headers)


def test_secret_key_in_header_body_or_query(account):
    secret = account["credentials"]["secret_key"]
    assert auth.secret_or_api_key({"Authorization": f"Secret {secret}"}, {}).kind == "secret_key"
    assert auth.secret_or_api_key({}, {"secret": secret}).account.handle == "acme"


def test_api_key_needs_a_whitelisted_referrer(account):
    key = account["credentials"]["api_key"]
    ok = auth.secret_or_api_key({"Authorization": f"Api-Key {key}",
                                 "Referer": "https://app.example.com/page"}, {})
    assert ok.kind == "api_key"
    assert auth.secret_or_api_key({"referrer": "http://app.example.com/"}, {"api_key": key}).kind == "api_key"
    for headers in ({}, {"Referer": "https://evil.example.net/"},
                    {"Referer": "https://app.example.com.evil.net/"}, {"Referer": "not a url"}):
        with pytest.raises(Unauthorized):
            auth.secret_or_api_key({"Authorization": f"Api-Key {key}", **headers}, {})


@pytest.mark.parametrize("params", [{}, {"secret": "tps_wrong"}, {"api_key": "tpa_wrong"},
                                    {"secret": 12}, {"api_key": ["x"]}])
def test_task_api_schemes_refuse_missing_or_wrong(account, params):
    with pytest.raises(Unauthorized):
        auth.secret_or_api_key({"Referer": "https://app.example.com/"}, params)


def test_secret_key_is_not_an_api_key_and_back(account):
    with pytest.raises(Unauthorized):
        auth.secret_or_api_key({}, {"secret": account["credentials"]["api_key"]})
    with pytest.raises(Unauthorized):
        auth.secret_or_api_key({"Referer": "https://app.example.com/"},
                               {"api_key": account["credentials"]["secret_key"]})


def test_rotated_secret_key_works_and_old_one_does_not(client, account):
    old = account["credentials"]["secret_key"]
    response = client.http.post("/admin/v1/accounts/acme/credentials/secret_key/rotate",
                                headers=admin_headers())
    new = json.loads(response.body)["credentials"]["secret_key"]
    assert auth.secret_or_api_key({}, {"secret": new}).account.handle == "acme"
    with pytest.raises(Unauthorized):
        auth.secret_or_api_key({}, {"secret": old})


@pytest.mark.parametrize("referrer, whitelist, allowed", [
    ("https://app.example.com/x", ("app.example.com",), True),
    ("https://APP.example.com/x", ("app.example.com",), True),
    ("https://a.b.example.com/", ("*.example.com",), True),
    ("https://example.com/", ("*.example.com",), True),
    ("https://badexample.com/", ("*.example.com",), False),
    ("https://app.example.com:8443/", ("https://app.example.com:8443",), True),
    ("http://app.example.com:8443/", ("https://app.example.com:8443",), False),
    ("https://app.example.com/", (), False),
    (None, ("app.example.com",), False),
])
def test_referrer_whitelist_matching(referrer, whitelist, allowed):
    assert auth.referrer_allowed(referrer, whitelist) is allowed


def test_warm_process_authenticates_without_dynamodb_reads(account):
    from chalicelib.models.accounts import CredentialRecord

    token = account["credentials"]["token"]
    auth.bearer({"authorization": f"Bearer {token}"})
    calls = []
    original = CredentialRecord.get

    def counting_get(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    CredentialRecord.get = counting_get
    try:
        for _ in range(20):
            auth.bearer({"authorization": f"Bearer {token}"})
    finally:
        CredentialRecord.get = original
    assert calls == []


def test_credential_cache_expires_entries():
    now = [0.0]
    lookups = []
    cache = auth.CredentialCache(lambda h: lookups.append(h), ttl=10, clock=lambda: now[0])
    cache.get("h1")
    cache.get("h1")
    assert lookups == ["h1"]
    now[0] = 11
    cache.get("h1")
    assert lookups == ["h1", "h1"]
