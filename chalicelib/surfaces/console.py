"""The web console (/console) and the few native routes it needs that the token cannot reach elsewhere.

The console signs in with the account token only. Workflows (OneSpace) take HTTP Basic, and no
surface cancels an arbitrary task or lists its output files; so those operations are offered
here under /taskport/v1 with Bearer auth, each one call into the domain functions the other
surfaces use.
"""
from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from chalice import Response

from chalicelib import auth, workflows
from chalicelib.auth import Principal
from chalicelib.engine import outputs
from chalicelib.engine import tasks as engine
from chalicelib.engine.tasks import Task
from chalicelib.errors import Invalid, NotFound
from chalicelib.surfaces.http import Surface, json_object, json_response, query
from chalicelib.surfaces.onespace import delivery_view, workflow_view
from chalicelib.surfaces.render import taskport_error

surface = Surface("console", taskport_error)
blueprint = surface.blueprint

ROOT = "/taskport/v1"
ASSETS = Path(__file__).resolve().parents[1] / "console"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
# No inline script or style, nothing from another origin; data calls go to this origin only.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _asset(name: str) -> tuple[str, str]:
    """(text, content type) of a file shipped in chalicelib/console/; NotFound for anything else."""
    path = ASSETS / name
    content_type = CONTENT_TYPES.get(path.suffix)
    if content_type is None or path.parent != ASSETS or not path.is_file():
        raise NotFound(f"no console asset {name!r}")
    return path.read_text(encoding="utf-8"), content_type


def _serve(name: str) -> Response:
    text, content_type = _asset(name)
    return Response(body=text, headers={"Content-Type": content_type, **SECURITY_HEADERS})


@surface.route("/console", methods=["GET"])
def console_page() -> Response:
    return _serve("index.html")


@surface.route("/console/{name}", methods=["GET"])
def console_asset(name: str) -> Response:
    return _serve(name)


def _principal() -> Principal:
    return auth.bearer(surface.request.headers)


def _iso(value: dt.datetime | str | None) -> str | None:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    return value.replace("+00:00", "Z") if value else None


def _task_view(task: Task) -> dict[str, Any]:
    params = task.params or {}
    return {"id": params.get("task_id"), "key": task.key, "status": task.status,
            "input": params.get("input"), "output": task.result,
            "error": task.error, "created_at": _iso(task.created_at),
            "updated_at": _iso(task.updated_at)}


def _statuses(raw: str | None) -> tuple[str, ...] | None:
    if not raw:
        return None
    wanted = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [s for s in wanted if s not in engine.STATUSES]
    if unknown or not wanted:
        raise Invalid(f"status must be among {', '.join(engine.STATUSES)}", field="status")
    return wanted


def _limit(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    if not raw.isdigit() or int(raw) == 0:
        raise Invalid("limit must be a positive whole number", field="limit")
    return int(raw)


@surface.route(ROOT + "/tasks/{key}/files", methods=["GET"])
def task_files(key: str) -> Response:
    principal = _principal()
    task = engine.get_task(unquote(key), principal.account_id)
    return json_response({"files": [{"name": name, "url": outputs.url(task.key, name)}
                                    for name in task.files]})


@surface.route(ROOT + "/tasks/{key}/cancel", methods=["POST"])
def cancel_task(key: str) -> Response:
    principal = _principal()
    task = engine.cancel_task(unquote(key), principal.account_id)
    return json_response({"key": task.key, "status": task.status})


@surface.route(ROOT + "/workflows", methods=["GET"])
def list_workflows() -> Response:
    principal = _principal()
    return json_response({"workflows": [workflow_view(w) for w in
                                        workflows.list_workflows(principal.account_id)]})


@surface.route(ROOT + "/workflows/{handle}", methods=["GET"])
def get_workflow(handle: str) -> Response:
    principal = _principal()
    return json_response(workflow_view(workflows.get_workflow(principal.account_id, handle)))


@surface.route(ROOT + "/workflows/{handle}/webhook-secret/rotate", methods=["POST"])
def rotate_webhook_secret(handle: str) -> Response:
    principal = _principal()
    workflow, secret = workflows.rotate_secret(principal.account_id, handle)
    return json_response(workflow_view(workflow, secret))


@surface.route(ROOT + "/workflows/{handle}/tasks", methods=["GET"])
def list_workflow_tasks(handle: str) -> Response:
    principal = _principal()
    params = query(surface.request)
    tasks, cursor = workflows.list_tasks(principal.account_id, principal.workspace, handle,
                                         _statuses(params.get("status")),
                                         _limit(params.get("limit")), params.get("cursor"))
    return json_response({"tasks": [_task_view(t) for t in tasks], "next_cursor": cursor})


@surface.route(ROOT + "/workflows/{handle}/tasks/{task_id}", methods=["GET"])
def get_workflow_task(handle: str, task_id: str) -> Response:
    principal = _principal()
    key = workflows.task_key(principal.account_id, handle, workflows.normalize_task_id(task_id))
    return json_response(_task_view(engine.get_task(key, principal.account_id)))


@surface.route(ROOT + "/workflows/{handle}/tasks/{task_id}/complete", methods=["POST"])
def complete_workflow_task(handle: str, task_id: str) -> Response:
    principal = _principal()
    body = json_object(surface.request)
    return json_response(_task_view(workflows.complete_task(principal.account_id, handle,
                                                            task_id, body.get("output"))))


@surface.route(ROOT + "/workflows/{handle}/tasks/{task_id}/cancel", methods=["POST"])
def cancel_workflow_task(handle: str, task_id: str) -> Response:
    principal = _principal()
    return json_response(_task_view(workflows.cancel_task(principal.account_id, handle, task_id)))


@surface.route(ROOT + "/workflows/{handle}/tasks/{task_id}/deliveries", methods=["GET"])
def list_deliveries(handle: str, task_id: str) -> Response:
    principal = _principal()
    deliveries = workflows.list_deliveries(principal.account_id, handle, task_id)
    return json_response({"deliveries": [delivery_view(d) for d in deliveries]})


@surface.route(ROOT + "/workflows/{handle}/tasks/{task_id}/deliveries/replay", methods=["POST"])
def replay_delivery(handle: str, task_id: str) -> Response:
    principal = _principal()
    return json_response(delivery_view(workflows.replay(principal.account_id, handle, task_id)),
                         202)
