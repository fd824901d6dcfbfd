"""`/{workspace}/{instance}/{method}` never shadows another route with three segments."""
from __future__ import annotations

import base64
import json
from collections import defaultdict

import pytest

from tests.api.steamship.conftest import bearer
from tests.conftest import admin_headers

CATCH_ALL = "/{workspace}/{instance}/{method}"


def _routes() -> list[str]:
    from app import app

    return sorted(app.routes)


def _concrete(route: str) -> str:
    return "/".join("x" if part.startswith("{") else part for part in route.split("/"))


def test_three_segment_routes_resolve_to_their_own_view_in_chalice_matcher():
    from chalice.local import RouteMatcher

    matcher = RouteMatcher(_routes())
    three = [r for r in _routes() if r.count("/") == 3 and r != CATCH_ALL]
    assert "/workflows/{handle}/tasks" in three and "/admin/v1/accounts" in three
    for route in three:
        assert matcher.match_route(_concrete(route)).route == route


def test_route_tree_is_valid_for_api_gateway():
    # API Gateway prefers a static segment over a variable one at each level, and refuses two
    # variable siblings with different names; the catch-all must be the only variable at the root.
    variables: dict[str, set[str]] = defaultdict(set)
    for route in _routes():
        parts = route.split("/")[1:]
        for depth, part in enumerate(parts):
            if part.startswith("{"):
                variables["/".join(parts[:depth])].add(part)
    assert all(len(names) == 1 for names in variables.values()), variables
    assert variables[""] == {"{workspace}"}


def test_reserved_workspace_handles_cover_every_first_segment():
    from chalicelib.accounts.workspaces import HANDLE_PATTERN, RESERVED_HANDLES

    # A segment that is no valid handle (openapi.json) can never be read as a workspace.
    first = {route.split("/")[1] for route in _routes() if route != CATCH_ALL}
    assert {f for f in first if HANDLE_PATTERN.match(f)} <= set(RESERVED_HANDLES)
    assert {"console", "docs", "taskport"} <= set(RESERVED_HANDLES)


def test_workflow_tasks_route_is_served_by_workflows(client, account):
    credentials = account["credentials"]
    token = base64.b64encode(
        f"{credentials['client_handle']}:{credentials['access_key']}".encode()).decode()
    response = client.http.get("/workflows/titles/tasks",
                               headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 404
    assert response.json_body["code"] == "66868"


def test_admin_accounts_route_is_served_by_admin(client, account):
    response = client.http.get("/admin/v1/accounts", headers=admin_headers())
    assert response.status_code == 405 and "error" in response.json_body
    response = client.http.post("/admin/v1/accounts", headers=admin_headers(),
                                body=json.dumps({"handle": "third"}))
    assert response.status_code == 201


def test_task_api_file_routes_are_served_by_task_api(client, account):
    response = client.http.get("/v1/file/out.png?key=" + "A" * 26)
    assert response.json_body["status"] == "error"
    response = client.http.post("/v1/create_file/out.png", body="{}",
                                headers={"Content-Type": "application/json"})
    assert response.json_body["status"] == "error"


@pytest.mark.parametrize("path", ["/api/v1/fs", "/admin/v1/nothing", "/workflows/x/other",
                                  "/v1/nothing/here", "/health/a/b"])
def test_paths_under_other_surfaces_never_reach_a_workspace(client, account, path):
    response = client.http.post(path, body="{}", headers=bearer(account))
    assert response.status_code == 404
    assert response.json_body["task"]["taskMessage"].startswith("no workspace")
