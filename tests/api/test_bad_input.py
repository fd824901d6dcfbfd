"""Every route, fed bad input with every credential scheme: a 4xx in the surface's format, never a 500.

The routes are read from the app itself, so a route added later is covered without editing this
file. Path parameters get plausible values (a workflow task id must look like a GUID to get past
the first check, for instance) so that the bodies reach the code that parses them.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from tests.conftest import admin_headers

GUID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
PARAMS = {"id": GUID, "task_id": GUID, "filename": "thumb", "kind": "token", "handle": "acme"}
BODIES = {
    "malformed JSON": b'{"tasks": [',
    "a JSON array": b"[1, 2, 3]",
    "a JSON string": b'"hello"',
    "not UTF-8": b'{"name": "\xff\xfe"}',
    "wrong types": json.dumps({key: 12345 for key in (
        "tasks", "handle", "name", "input", "output", "path", "handler_script_path", "enabled",
        "input_fields", "webhook_url", "referrers", "packageHandle", "config", "source", "taskId",
        "fetchIfExists", "secret", "api_key")}).encode(),
    "an empty object": b"{}",
}
BODY_METHODS = ("POST", "PUT", "PATCH")
# Routes that read no body: any body is ignored, so a bad one may succeed.
BODYLESS = {"/admin/v1/accounts/{handle}/credentials/{kind}/rotate"}


def _routes() -> list[tuple[str, str]]:
    from app import app

    return sorted((path, method) for path, entries in app.routes.items() for method in entries)


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: PARAMS.get(match.group(1), "x"), path)


def _credentials(account: dict[str, Any]) -> dict[str, dict[str, str]]:
    creds = account["credentials"]
    basic = base64.b64encode(f"{creds['client_handle']}:{creds['access_key']}".encode()).decode()
    return {
        "none": {},
        "admin": {"Authorization": admin_headers()["Authorization"]},
        "bearer": {"Authorization": f"Bearer {creds['token']}"},
        "basic": {"Authorization": f"Basic {basic}"},
        "secret": {"Authorization": f"Secret {creds['secret_key']}"},
    }


def _assert_rendered_4xx(response: Any, what: str) -> None:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.body[:300]!r}"
    _assert_rendered(response, what)


def _assert_rendered(response: Any, what: str) -> None:
    content_type = response.headers.get("Content-Type") or response.headers.get("content-type") or ""
    assert content_type.startswith("application/json"), f"{what}: {content_type}"
    body = json.loads(response.body)
    assert body and "Message" not in body, f"{what}: Chalice's own error body {body}"


def test_bad_bodies_answer_4xx_in_the_surface_format_on_every_route(client, account):
    failures = []
    for path, method in _routes():
        if method not in BODY_METHODS:
            continue
        for scheme, auth in _credentials(account).items():
            for label, body in BODIES.items():
                response = client.http.request(method, _url(path), body=body,
                                               headers={**auth, "Content-Type": "application/json"})
                what = f"{method} {path} [{scheme}] with {label}"
                try:
                    if path in BODYLESS:
                        assert response.status_code < 500, what
                    else:
                        _assert_rendered_4xx(response, what)
                except AssertionError as err:
                    failures.append(str(err))
    assert not failures, "\n".join(failures[:40])


def test_oversized_bodies_answer_413_on_every_route(client, account, monkeypatch):
    monkeypatch.setenv("TASKPORT_MAX_BODY_BYTES", "1000")
    from chalicelib import config

    config.get_settings.cache_clear()
    body = json.dumps({"name": "x" * 2000}).encode()
    failures = []
    for path, method in _routes():
        if method not in BODY_METHODS:
            continue
        for scheme, auth in _credentials(account).items():
            response = client.http.request(method, _url(path), body=body,
                                           headers={**auth, "Content-Type": "application/json"})
            what = f"{method} {path} [{scheme}]"
            if scheme == "none" or path in BODYLESS or response.status_code in (401, 404):
                # Credentials are checked first, and a missing entity is a 404 before the body.
                if response.status_code >= 400:
                    try:
                        _assert_rendered_4xx(response, what)
                    except AssertionError as err:
                        failures.append(str(err))
                continue
            if response.status_code != 413:
                failures.append(f"{what}: {response.status_code} {response.body[:200]!r}")
    assert not failures, "\n".join(failures[:40])


@pytest.mark.parametrize("query", ["tasks=", "block=maybe", "offset=-1&limit=abc", "limit=100000",
                                   "status=nonsense", "prefix=../..", "path=", "api_key=nope"])
def test_bad_query_strings_never_answer_500(client, account, query):
    failures = []
    for path, method in _routes():
        if method not in ("GET", "DELETE"):
            continue
        for scheme, auth in _credentials(account).items():
            response = client.http.request(method, f"{_url(path)}?{query}", headers=auth)
            what = f"{method} {path}?{query} [{scheme}]"
            try:
                assert response.status_code < 500, f"{what}: {response.status_code} {response.body[:200]!r}"
                if response.status_code >= 400:
                    _assert_rendered(response, what)
            except AssertionError as err:
                failures.append(str(err))
    assert not failures, "\n".join(failures[:40])
