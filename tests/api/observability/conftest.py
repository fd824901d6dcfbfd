"""Fixtures for logs, runs and Taskport's own API: captured log lines, bearer headers, scripts."""
from __future__ import annotations

import json
from typing import Any
from collections.abc import Callable, Iterator

import pytest

from tests.api.instabase.conftest import create_endpoint, put_script


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON log lines printed so far (TASKPORT_LOG_FORMAT=json), parsed."""
    from chalicelib import config
    from chalicelib.observability import logs

    monkeypatch.setenv("TASKPORT_LOG_FORMAT", "json")
    config.get_settings.cache_clear()
    logs.configure()
    printed: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        for line in capsys.readouterr().out.splitlines():
            if line.startswith("{") and '"level"' in line:
                printed.append(json.loads(line))
        return list(printed)

    yield read
    monkeypatch.delenv("TASKPORT_LOG_FORMAT")
    config.get_settings.cache_clear()
    logs.configure()


def token(account: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {account['credentials']['token']}"}


def get(client: Any, path: str, account: dict[str, Any]) -> tuple[int, Any]:
    response = client.http.get(path, headers=token(account))
    return response.status_code, json.loads(response.body)


def script_endpoint(client: Any, account: dict[str, Any], source: str, path: str = "probe",
                    script: str = "/s/probe.py") -> str:
    assert put_script(client, account, script, source).status_code == 200
    assert create_endpoint(client, account, f"id-{path}", path, script).status_code == 201
    return f"id-{path}"


RAISES = '''print("about to fail")

def handler(request, *args, **kwargs):
    import sys
    print("to stderr", file=sys.stderr)
    raise ValueError("no such order")
'''

PRINTS = '''def handler(request, *args, **kwargs):
    print("hello from the handler")
    return "ok"
'''
