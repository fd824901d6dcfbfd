"""The OpenAPI document: true to the routes, valid, served without credentials, and answers fit it."""
from __future__ import annotations

import base64
import json
import re
from typing import Any

from openapi_spec_validator import validate

from chalicelib.openapi import document
from tests.conftest import admin_headers
from tests.openapi_check import assert_answer_matches

METHODS = {"get", "post", "put", "patch", "delete"}


def _json(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **(headers or {})}


def test_every_route_is_described_and_every_described_path_is_a_route() -> None:
    from app import app

    routes = {path: {m.lower() for m in methods} for path, methods in app.routes.items()}
    described = {path: set(item) & METHODS for path, item in document()["paths"].items()}
    assert routes == described


def test_document_validates_as_openapi_3_1() -> None:
    assert document()["openapi"].startswith("3.1")
    validate(document())


def test_every_operation_has_an_example_errors_and_security() -> None:
    schemes = set(document()["components"]["securitySchemes"])
    assert {"Secret", "ApiKey", "Referer", "Basic", "Bearer", "Admin"} <= schemes
    for path, item in document()["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            media = [*((op.get("requestBody") or {}).get("content") or {}).values(),
                     *(c for r in op["responses"].values() for c in (r.get("content") or {}).values())]
            assert any("example" in m for m in media), f"{where} has no example"
            assert "security" in op, where
            for requirement in op["security"]:
                assert set(requirement) <= schemes, where
            if op["security"]:
                assert "401" in op["responses"], f"{where} does not document 401"
                error = op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
                assert error.endswith("Error"), where
            assert any(status.startswith("2") or status.startswith("3") for status in op["responses"]), where


def test_openapi_json_is_served_without_credentials(client: Any) -> None:
    answer = client.http.get("/openapi.json")
    assert answer.status_code == 200
    assert json.loads(answer.body) == json.loads(json.dumps(document()))


def test_docs_page_renders_the_document_from_nothing_but_itself(client: Any) -> None:
    answer = client.http.get("/docs")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    page = answer.body.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page loads something from elsewhere"
    embedded = page.split('<script type="application/json" id="openapi">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded)["paths"].keys() == document()["paths"].keys()


def test_task_api_answers_fit_the_document(client: Any, account: dict[str, Any]) -> None:
    secret = {"Authorization": f"Secret {account['credentials']['secret_key']}"}
    created = client.http.post("/v1/create", headers=_json(secret),
                               body=json.dumps({"tasks": [{"task_name": "hello", "name": "Ada"}]}))
    [status] = assert_answer_matches("/v1/create", "post", created)
    assert_answer_matches("/v1/status", "get", client.http.get(f"/v1/status?tasks={status['key']}"))
    assert_answer_matches("/v1/create", "post", client.http.post(
        "/v1/create", headers=_json(secret), body=json.dumps({"tasks": [{"name": "x"}]})))
    assert_answer_matches("/v1/create", "post", client.http.post(
        "/v1/create", headers=_json(), body=json.dumps({"tasks": {"task_name": "hello"}})))


def test_workflow_answers_fit_the_document(client: Any, account: dict[str, Any]) -> None:
    creds = account["credentials"]
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"{creds['client_handle']}:{creds['access_key']}".encode()).decode()}
    assert_answer_matches("/workflows/{handle}", "put", client.http.put(
        "/workflows/review", headers=_json(basic), body=json.dumps({"name": "Review", "input_fields": ["url"]})))
    assert_answer_matches("/workflows/{handle}/tasks/{task_id}", "put", client.http.put(
        "/workflows/review/tasks/t1", headers=_json(basic), body=json.dumps({"input": {"url": "u"}})))
    assert_answer_matches("/workflows/{handle}/tasks", "get", client.http.get(
        "/workflows/review/tasks?status=open", headers=basic))
    assert_answer_matches("/workflows", "get", client.http.get("/workflows", headers=basic))
    assert_answer_matches("/workflows", "get", client.http.get("/workflows"))
    assert_answer_matches("/workflows/{handle}", "get", client.http.get("/workflows/nope", headers=basic))


def test_endpoint_and_file_answers_fit_the_document(client: Any, account: dict[str, Any]) -> None:
    bearer = {"Authorization": f"Bearer {account['credentials']['token']}"}
    assert_answer_matches("/api/v1/fs/files", "put", client.http.put(
        "/api/v1/fs/files?path=/s/hello.py", headers={**bearer, "Content-Type": "text/plain"},
        body=b"def handler(request, *args, **kwargs):\n    return 'hi'\n"))
    assert_answer_matches("/api/v1/fs/list", "get", client.http.get("/api/v1/fs/list?prefix=/s/", headers=bearer))
    assert_answer_matches("/api/v1/http-endpoint/{endpoint_id}", "put", client.http.put(
        "/api/v1/http-endpoint/hello", headers=_json(bearer),
        body=json.dumps({"path": "hello", "handler_script_path": "/s/hello.py"})))
    assert_answer_matches("/api/v1/http-endpoint/{endpoint_id}", "get", client.http.get(
        "/api/v1/http-endpoint/hello", headers=bearer))
    assert_answer_matches("/api/v1/http-endpoint/list", "get", client.http.get(
        "/api/v1/http-endpoint/list", headers=bearer))
    assert_answer_matches("/api/v1/http-endpoint/{endpoint_id}", "get", client.http.get(
        "/api/v1/http-endpoint/missing", headers=bearer))
    assert_answer_matches("/api/v1/fs/list", "get", client.http.get("/api/v1/fs/list"))


def test_package_answers_fit_the_document(client: Any, account: dict[str, Any]) -> None:
    bearer = _json({"Authorization": f"Bearer {account['credentials']['token']}"})
    assert_answer_matches("/api/v1/workspace/create", "post", client.http.post(
        "/api/v1/workspace/create", headers=bearer, body=json.dumps({"handle": "research"})))
    assert_answer_matches("/api/v1/workspace/list", "post", client.http.post(
        "/api/v1/workspace/list", headers=bearer, body=b"{}"))
    assert_answer_matches("/api/v1/package/create", "post", client.http.post(
        "/api/v1/package/create", headers=bearer, body=json.dumps({"handle": "greeter"})))
    assert_answer_matches("/api/v1/package/get", "post", client.http.post(
        "/api/v1/package/get", headers=bearer, body=json.dumps({"handle": "absent"})))
    assert_answer_matches("/api/v1/package/list", "post", client.http.post(
        "/api/v1/package/list", headers=_json(), body=b"{}"))


def test_admin_answers_fit_the_document(client: Any) -> None:
    assert_answer_matches("/admin/v1/accounts", "post", client.http.post(
        "/admin/v1/accounts", headers=admin_headers(), body=json.dumps({"handle": "initech"})))
    assert_answer_matches("/admin/v1/accounts/{handle}", "get", client.http.get(
        "/admin/v1/accounts/initech", headers=admin_headers()))
    assert_answer_matches("/admin/v1/accounts/{handle}", "get", client.http.get("/admin/v1/accounts/initech"))
    assert_answer_matches("/health", "get", client.http.get("/health"))
