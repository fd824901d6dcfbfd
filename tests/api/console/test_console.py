"""The console's pages (no credentials, strict CSP) and its native workflow and cancel routes."""
from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.conftest import create_account

WEBHOOK = "https://example.com/hook"


@pytest.fixture(autouse=True)
def public_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """example.com resolves to nothing here: let the egress guard skip the look-up."""
    from chalicelib import config

    monkeypatch.setenv("TASKPORT_EGRESS_ALLOW", "0.0.0.0/0")
    config.get_settings.cache_clear()


def _bearer(account: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {account['credentials']['token']}",
            "Content-Type": "application/json"}


def _basic(account: dict[str, Any]) -> dict[str, str]:
    creds = account["credentials"]
    raw = f"{creds['client_handle']}:{creds['access_key']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode(),
            "Content-Type": "application/json"}


def _workflow_task(client: Any, account: dict[str, Any], handle: str = "review") -> str:
    response = client.http.put(f"/workflows/{handle}", headers=_basic(account), body=json.dumps(
        {"name": "Review", "input_fields": ["url"], "webhook_url": WEBHOOK}))
    assert response.status_code == 201, response.body
    task_id = str(uuid.uuid4())
    response = client.http.put(f"/workflows/{handle}/tasks/{task_id}", headers=_basic(account),
                               body=json.dumps({"input": {"url": "https://example.com/a"}}))
    assert response.status_code == 201, response.body
    return task_id


def test_console_page_loads_without_credentials_with_strict_csp(client: Any) -> None:
    response = client.http.get("/console")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert b'src="console/app.js"' in response.body  # relative: works under a stage prefix


def test_console_assets_served_as_modules_and_css(client: Any) -> None:
    script = client.http.get("/console/app.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert client.http.get("/console/style.css").headers["Content-Type"].startswith("text/css")


def test_console_asset_unknown_answers_404(client: Any) -> None:
    for name in ("missing.js", "..%2Fapp.py", "README"):
        response = client.http.get(f"/console/{name}")
        assert response.status_code == 404, name
        assert json.loads(response.body)["error"]["type"] == "NotFound"


def test_console_assets_do_not_set_html_from_values() -> None:
    from chalicelib.surfaces.console import ASSETS

    for path in ASSETS.glob("*.js"):
        text = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{path.name} uses {sink}"


def test_workflows_listed_with_token(client: Any, account: dict[str, Any]) -> None:
    _workflow_task(client, account)
    response = client.http.get("/taskport/v1/workflows", headers=_bearer(account))
    assert response.status_code == 200, response.body
    [workflow] = json.loads(response.body)["workflows"]
    assert (workflow["handle"], workflow["webhook_url"]) == ("review", WEBHOOK)
    assert "webhook_secret" not in workflow


def test_workflows_refused_with_wrong_token(client: Any, account: dict[str, Any]) -> None:
    response = client.http.get("/taskport/v1/workflows",
                               headers={"Authorization": "Bearer tpt_wrong"})
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["message"] == "invalid credentials"


def test_workflow_tasks_filtered_by_status(client: Any, account: dict[str, Any]) -> None:
    task_id = _workflow_task(client, account)
    headers = _bearer(account)
    open_tasks = json.loads(client.http.get("/taskport/v1/workflows/review/tasks?status=queued,"
                                            "executing,error", headers=headers).body)["tasks"]
    assert [t["id"] for t in open_tasks] == [task_id]
    done = json.loads(client.http.get("/taskport/v1/workflows/review/tasks?status=success",
                                      headers=headers).body)["tasks"]
    assert done == []
    bad = client.http.get("/taskport/v1/workflows/review/tasks?status=open", headers=headers)
    assert (bad.status_code, json.loads(bad.body)["error"]["field"]) == (400, "status")


def test_workflow_task_completed_then_its_delivery_listed_and_replayed(
        client: Any, account: dict[str, Any]) -> None:
    task_id = _workflow_task(client, account)
    headers = _bearer(account)
    base = f"/taskport/v1/workflows/review/tasks/{task_id}"
    done = client.http.post(base + "/complete", headers=headers,
                            body=json.dumps({"output": {"url": "ok"}}))
    assert done.status_code == 200, done.body
    assert json.loads(done.body)["status"] == "success"
    got = json.loads(client.http.get(base, headers=headers).body)
    assert (got["status"], got["output"]) == ("success", {"url": "ok"})
    deliveries = json.loads(client.http.get(base + "/deliveries", headers=headers).body)
    assert [d["event"] for d in deliveries["deliveries"]] == ["completed"]
    replayed = client.http.post(base + "/deliveries/replay", headers=headers)
    assert replayed.status_code == 202, replayed.body
    again = json.loads(client.http.get(base + "/deliveries", headers=headers).body)["deliveries"]
    assert len(again) == 2


def test_workflow_task_canceled_then_cancel_again_refused(client: Any,
                                                          account: dict[str, Any]) -> None:
    task_id = _workflow_task(client, account)
    headers = _bearer(account)
    url = f"/taskport/v1/workflows/review/tasks/{task_id}/cancel"
    first = client.http.post(url, headers=headers)
    assert json.loads(first.body)["status"] == "canceled"
    second = client.http.post(url, headers=headers)
    assert second.status_code == 403
    assert json.loads(second.body)["error"]["type"] == "NotCancelable"


def test_webhook_secret_rotated_shows_new_secret_once(client: Any, account: dict[str, Any]) -> None:
    _workflow_task(client, account)
    headers = _bearer(account)
    rotated = client.http.post("/taskport/v1/workflows/review/webhook-secret/rotate",
                               headers=headers)
    assert json.loads(rotated.body)["webhook_secret"].startswith("whsec_")
    again = json.loads(client.http.get("/taskport/v1/workflows/review", headers=headers).body)
    assert "webhook_secret" not in again


def test_task_canceled_by_key_while_open(client: Any, account: dict[str, Any]) -> None:
    created = client.http.post("/v1/create", headers={
        "Authorization": f"Secret {account['credentials']['secret_key']}",
        "Content-Type": "application/json"}, body=json.dumps({"tasks": [{"task_name": "hello", "name": "Ada"}]}))
    key = json.loads(created.body)[0]["key"]
    canceled = client.http.post(f"/taskport/v1/tasks/{key}/cancel", headers=_bearer(account))
    assert (canceled.status_code, json.loads(canceled.body)["status"]) == (200, "canceled")
    again = client.http.post(f"/taskport/v1/tasks/{key}/cancel", headers=_bearer(account))
    assert again.status_code == 409


def test_other_accounts_workflow_and_task_answer_404(client: Any, account: dict[str, Any]) -> None:
    task_id = _workflow_task(client, account)
    other = _bearer(create_account(client, "globex"))
    for path in ("/taskport/v1/workflows/review", f"/taskport/v1/workflows/review/tasks/{task_id}",
                 f"/taskport/v1/workflows/review/tasks/{task_id}/deliveries"):
        assert client.http.get(path, headers=other).status_code == 404, path
    key = f"wf:{account['id']}:review:{task_id}"
    assert client.http.post(f"/taskport/v1/tasks/{key}/cancel", headers=other).status_code == 404
