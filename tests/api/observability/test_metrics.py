"""EMF metric lines: requests by surface and status class, tasks by type, sandbox calls."""
from __future__ import annotations

import json

import pytest

from tests.api.dragon.conftest import drain, secret_headers
from tests.api.observability.conftest import PRINTS, script_endpoint, token


@pytest.fixture
def emf(monkeypatch, capsys):
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_METRICS", "true")
    config.get_settings.cache_clear()

    def read() -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for line in capsys.readouterr().out.splitlines():
            if line.startswith('{"_aws"'):
                blob = json.loads(line)
                [[metric]] = [d["Metrics"] for d in blob["_aws"]["CloudWatchMetrics"]]
                assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Taskport"
                found.setdefault(metric["Name"], []).append(blob)
        return found

    return read


def test_requests_tasks_and_sandbox_calls_emit_emf_metrics(client, account, world, emf):
    response = client.http.post("/v1/create", headers=secret_headers(account),
                                body=json.dumps({"tasks": {"task_name": "hello", "name": "A"}}))
    assert response.status_code == 200
    drain(world["tasks_queue"])
    script_endpoint(client, account, PRINTS)
    client.http.get("/api/v1/http-endpoint/u/probe", headers=token(account))
    client.http.get("/taskport/v1/runs?limit=0", headers=token(account))
    found = emf()
    classes = {(b["surface"], b["status_class"]) for b in found["ApiRequests"]}
    assert {("dragon", "2xx"), ("instabase", "2xx"), ("taskport", "4xx")} <= classes
    assert [b["type"] for b in found["TasksCreated"]] == ["hello"]
    assert [b["type"] for b in found["TasksSucceeded"]] == ["hello"]
    assert found["TaskDuration"][0]["TaskDuration"][0] > 0
    assert {b["outcome"] for b in found["SandboxCalls"]} == {"ok"}
    assert found["SandboxDuration"][0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == \
        "Milliseconds"


def test_metrics_are_off_unless_asked_for(client, account, capsys):
    client.http.get("/taskport/v1/runs", headers=token(account))
    assert '"_aws"' not in capsys.readouterr().out
