"""Workflows and workflow tasks (/workflows/...), the OneSpace wire format, HTTP Basic auth."""
from __future__ import annotations

import datetime as dt
from typing import Any

from chalice import Response

from chalicelib import auth, workflows
from chalicelib.auth import Principal
from chalicelib.engine.status import TaskStatus
from chalicelib.errors import Invalid
from chalicelib.models.webhooks import Delivery
from chalicelib.models.workflows import Workflow
from chalicelib.runs import history
from chalicelib.surfaces.http import Surface, json_object, json_response, query
from chalicelib.surfaces.render import ONESPACE_API_VERSION, onespace_error

surface = Surface("onespace", onespace_error)
blueprint = surface.blueprint

STATUS_CODES = {TaskStatus.QUEUED: "open", TaskStatus.EXECUTING: "open", TaskStatus.ERROR: "open",
                TaskStatus.SUCCESS: "completed", TaskStatus.CANCELED: "canceled"}
LIST_FILTERS = {"open": (TaskStatus.QUEUED, TaskStatus.EXECUTING, TaskStatus.ERROR),
                "completed": (TaskStatus.SUCCESS,), "canceled": (TaskStatus.CANCELED,), "all": None}


def _principal() -> Principal:
    """The caller (HTTP Basic), and the CS-API-Version check every route makes."""
    principal = auth.basic(surface.request.headers)
    problem = _version_problem(surface.request.headers.get("cs-api-version"))
    if problem:
        raise Invalid("invalid CS-API-Version", fields={"CS-API-Version": problem})
    return principal


def _version_problem(version: str | None) -> str | None:
    if version is None:
        return None
    try:
        asked = dt.date.fromisoformat(version.strip()) if len(version.strip()) == 10 else None
    except ValueError:
        asked = None
    if asked is None:
        return "Must be an ISO 8601 date (YYYY-MM-DD)."
    if asked < dt.date.fromisoformat(ONESPACE_API_VERSION):
        return f"No API version on or before {version}; the first is {ONESPACE_API_VERSION}."
    return None


def _task_id(task_id: str) -> str:
    try:
        return workflows.normalize_task_id(task_id)
    except Invalid as exc:
        raise Invalid(exc.message, fields={"id": exc.message}) from exc


def _answer(body: Any, status_code: int = 200) -> Response:
    return json_response(body, status_code, {"CS-API-Version": ONESPACE_API_VERSION})


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def workflow_view(workflow: Workflow, secret: str | None = None) -> dict[str, Any]:
    """A workflow as this API shows it (the console shows the same)."""
    view: dict[str, Any] = {
        "handle": workflow.handle, "name": workflow.name,
        "input_fields": list(workflow.input_fields), "webhook_url": workflow.webhook_url,
        "handler_script_path": workflow.handler_script_path,
        "mode": "automated" if workflow.automated else "manual",
        "webhook_enabled": workflow.webhook_enabled,
        "webhook_disabled_reason": workflow.webhook_disabled_reason,
        "created_at": _iso(workflow.created_at), "updated_at": _iso(workflow.updated_at),
    }
    if secret is not None:
        view["webhook_secret"] = secret
    return view


def _status(task: Any) -> dict[str, Any]:
    code = STATUS_CODES[task.status]
    return {"code": code, "cancelable": task.status in workflows.CANCELABLE_STATES,
            "canceled": code == "canceled", "completed": code == "completed"}


def _task_view(task: Any, with_output: bool = True) -> dict[str, Any]:
    view = {"id": task.params["task_id"], "status": _status(task), "input": task.params["input"]}
    if with_output:
        view["output"] = task.result if task.status == TaskStatus.SUCCESS else None
    if "script" in task.params:  # an automated workflow's task: how its script's run went
        view["last_attempt"] = history.last_attempt(task)
    return view


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    """A webhook delivery with its attempts (the console shows the same)."""
    return {
        "id": delivery.delivery_id, "webhook_id": delivery.webhook_id, "event": delivery.event,
        "status": delivery.status, "reason": delivery.reason,
        "created_at": _iso(delivery.created_at), "next_attempt_at": _iso(delivery.next_attempt_at),
        "attempts": [{"at": _iso(a.at), "url": a.url, "status_code": a.status_code,
                      "error": a.error, "duration_ms": a.duration_ms} for a in delivery.attempts],
    }


@surface.route("/workflows", methods=["GET"])
def list_workflows() -> Response:
    principal = _principal()
    return _answer({"workflows": [workflow_view(w) for w in
                                  workflows.list_workflows(principal.account_id)]})


@surface.route("/workflows/{handle}", methods=["PUT"])
def put_workflow(handle: str) -> Response:
    principal = _principal()
    saved = workflows.save_workflow(principal.account_id, handle, json_object(surface.request))
    return _answer(workflow_view(saved.workflow, saved.secret), 201 if saved.created else 200)


@surface.route("/workflows/{handle}", methods=["GET"])
def get_workflow(handle: str) -> Response:
    principal = _principal()
    return _answer(workflow_view(workflows.get_workflow(principal.account_id, handle)))


@surface.route("/workflows/{handle}/webhook-secret/rotate", methods=["POST"])
def rotate_webhook_secret(handle: str) -> Response:
    principal = _principal()
    workflow, secret = workflows.rotate_secret(principal.account_id, handle)
    return _answer(workflow_view(workflow, secret))


@surface.route("/workflows/{handle}/tasks", methods=["GET"])
def list_tasks(handle: str) -> Response:
    principal = _principal()
    params = query(surface.request)
    wanted = params.get("status", "all")
    if wanted not in LIST_FILTERS:
        raise Invalid("unknown status filter", fields={
            "status": f"Must be one of {', '.join(LIST_FILTERS)}."})
    try:
        limit = int(params["limit"]) if "limit" in params else None
    except ValueError as exc:
        raise Invalid("limit must be a number", fields={
            "limit": "Must be a whole number."}) from exc
    tasks, cursor = workflows.list_tasks(principal.account_id, principal.workspace, handle,
                                         LIST_FILTERS[wanted], limit, params.get("cursor"))
    return _answer({"tasks": [_task_view(t) for t in tasks], "cursor": cursor})


@surface.route("/workflows/{handle}/tasks/{task_id}", methods=["PUT"])
def put_task(handle: str, task_id: str) -> Response:
    principal = _principal()
    task_id = _task_id(task_id)
    body = json_object(surface.request)
    task, created = workflows.create_task(principal.account_id, principal.workspace, handle,
                                          task_id, body.get("input"))
    return _answer(_task_view(task, with_output=False), 201 if created else 200)


@surface.route("/workflows/{handle}/tasks/{task_id}", methods=["GET"])
def get_task(handle: str, task_id: str) -> Response:
    principal = _principal()
    return _answer(_task_view(workflows.get_task(principal.account_id, handle, _task_id(task_id))))


@surface.route("/workflows/{handle}/tasks/{task_id}", methods=["DELETE"])
def cancel_task(handle: str, task_id: str) -> Response:
    principal = _principal()
    task = workflows.cancel_task(principal.account_id, handle, _task_id(task_id))
    return _answer(_task_view(task))


@surface.route("/workflows/{handle}/tasks/{task_id}/complete", methods=["POST"])
def complete_task(handle: str, task_id: str) -> Response:
    principal = _principal()
    task_id = _task_id(task_id)
    body = json_object(surface.request)
    return _answer(_task_view(workflows.complete_task(principal.account_id, handle, task_id,
                                                      body.get("output"))))


@surface.route("/workflows/{handle}/tasks/{task_id}/deliveries", methods=["GET"])
def list_deliveries(handle: str, task_id: str) -> Response:
    principal = _principal()
    deliveries = workflows.list_deliveries(principal.account_id, handle, _task_id(task_id))
    return _answer({"deliveries": [delivery_view(d) for d in deliveries]})


@surface.route("/workflows/{handle}/tasks/{task_id}/deliveries/replay", methods=["POST"])
def replay_delivery(handle: str, task_id: str) -> Response:
    principal = _principal()
    delivery = workflows.replay(principal.account_id, handle, _task_id(task_id))
    return _answer(delivery_view(delivery), 202)
