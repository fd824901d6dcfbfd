"""Property-based fuzz of every route's body, path and query: no input ever answers 5xx.

Routes are read from the app, so a route added later is fuzzed without editing this file. Each
example picks a route, a credential scheme (real ones, so that bodies get past authentication,
or garbage), path values, a query string and a body from strategies that mix plausible field
names with hostile values (deep nesting, huge integers, NaN, lone surrogates, random bytes).
`TASKPORT_FUZZ_EXAMPLES` raises the number of examples for a longer run (docs/hardening.md).
"""
from __future__ import annotations

import base64
import json
import os
import re
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import admin_headers

EXAMPLES = int(os.environ.get("TASKPORT_FUZZ_EXAMPLES", "500"))
GUID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
FIELDS = ["tasks", "task_name", "name", "handle", "input", "output", "path", "url", "size",
          "handler_script_path", "enabled", "input_fields", "webhook_url", "referrers",
          "packageHandle", "instanceHandle", "workspaceHandle", "config", "source", "taskId",
          "fetchIfExists", "secret", "api_key", "block", "pageSize", "pageToken", "id", "key",
          "arguments", "background", "type", "required", "status", "limit", "cursor"]
QUERY_FIELDS = ["tasks", "key", "block", "limit", "offset", "cursor", "prefix", "path", "status",
                "api_key", "secret", "background", "handler", "state", "enabled", "event"]
CONTENT_TYPES = ["application/json", "text/plain", "application/octet-stream", "text/html",
                 "application/x-www-form-urlencoded", "application/json; charset=latin-1", ""]
HOSTILE_FRAGMENTS = [b"[" * 5000 + b"]" * 5000, b'{"a":' * 100 + b"1" + b"}" * 100,
                     b"1" * 5000, b"NaN", b"-Infinity", b"1e999", b'"\\ud800"', b'"\\udfff\\ud800"',
                     b'{"tasks": [{"task_name": "hello", "name": "\\ud800"}]}', b"\xff\xfe\x00",
                     b'{"tasks": {"task_name": "hello", "name": "x"}, "block": true}']

scalars = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=30) | st.sampled_from(["hello", "x", GUID, "/a/b.py", "", "0"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner,
                                        max_size=5), max_leaves=15)
json_bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6).map(
    lambda body: json.dumps(body, allow_nan=True).encode())
bodies = (json_bodies | values.map(lambda v: json.dumps(v, allow_nan=True).encode())
          | st.sampled_from(HOSTILE_FRAGMENTS) | st.binary(max_size=64) | st.just(b""))
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)
path_values = st.sampled_from([GUID, "acme", "default", "x", "token", "thumb", "..", "%00"]) \
    | st.text(max_size=20)
queries = st.dictionaries(st.sampled_from(QUERY_FIELDS) | st.text(min_size=1, max_size=8),
                          st.text(max_size=30) | st.sampled_from(["true", "-1", "9" * 5000, GUID]),
                          max_size=4)


def _routes() -> list[tuple[str, str]]:
    from app import app

    return sorted((path, method) for path, entries in app.routes.items() for method in entries)


def _schemes(account: dict[str, Any]) -> dict[str, dict[str, str]]:
    creds = account["credentials"]
    basic = base64.b64encode(f"{creds['client_handle']}:{creds['access_key']}".encode()).decode()
    return {
        "none": {},
        "admin": {"Authorization": admin_headers()["Authorization"]},
        "bearer": {"Authorization": f"Bearer {creds['token']}", "X-Workspace-Handle": "default"},
        "basic": {"Authorization": f"Basic {basic}"},
        "secret": {"Authorization": f"Secret {creds['secret_key']}"},
        "api key": {"Authorization": f"Api-Key {creds['api_key']}",
                    "Referer": "https://app.example.com/"},
    }


class Tally:
    """What the fuzz sent and what came back 5xx."""

    def __init__(self) -> None:
        self.requests = 0
        self.failures: list[str] = []


@pytest.fixture
def fast_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocking calls and streams give up at once, so that examples stay fast."""
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_BLOCK_WAIT_SECONDS", "0.05")
    monkeypatch.setenv("TASKPORT_HANDLER_WALL_SECONDS", "2")
    config.get_settings.cache_clear()


def test_no_input_answers_5xx_on_any_route(client, account, fast_waits):
    routes = _routes()
    schemes = _schemes(account)
    tally = Tally()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(routes), scheme=st.sampled_from(sorted(schemes)),
           path_value=path_values, query=queries, body=bodies,
           content_type=st.sampled_from(CONTENT_TYPES),
           extra=st.dictionaries(st.sampled_from(["Referer", "X-Workspace-Handle", "Authorization",
                                                  "CS-API-Version", "X-Task-Background"]),
                                 header_text, max_size=2))
    def one_request(route: tuple[str, str], scheme: str, path_value: str,
                    query: dict[str, str], body: bytes, content_type: str,
                    extra: dict[str, str]) -> None:
        path, method = route
        url = re.sub(r"\{(\w+)\}", lambda _: quote(path_value, safe="") or "x", path)
        if query:
            url = f"{url}?{urlencode(query)}"
        headers = {**schemes[scheme], **({"Content-Type": content_type} if content_type else {}),
                   **extra}
        tally.requests += 1
        response = client.http.request(method, url, headers=headers,
                                       body=body if method in ("POST", "PUT", "PATCH") else b"")
        if response.status_code >= 500:
            tally.failures.append(f"{response.status_code} {method} {url[:120]} [{scheme}] "
                                  f"{body[:80]!r} -> {response.body[:160]!r}")

    one_request()
    print(f"\nfuzz: {tally.requests} requests over {len(routes)} routes, "
          f"{len(tally.failures)} answered 5xx")
    assert not tally.failures, "\n".join(tally.failures[:30])
