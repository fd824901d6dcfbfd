"""Taskport's own API (/taskport/v1/...): the account's tasks and runs, for the console and the CLI."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalice import Response

from chalicelib import auth, runs
from chalicelib.auth import Principal
from chalicelib.models.runs import Run
from chalicelib.models.tasks import Task
from chalicelib.runs import history
from chalicelib.surfaces.http import Surface, json_response, query
from chalicelib.surfaces.render import taskport_error

surface = Surface("taskport", taskport_error)
blueprint = surface.blueprint

ROOT = "/taskport/v1"


def principal() -> Principal:
    """The caller, from `Authorization: Bearer <account token>`."""
    return auth.bearer(surface.request.headers)


def _task_view(task: Task) -> dict[str, Any]:
    view: dict[str, Any] = {
        "key": task.key, "type": task.task_type, "status": task.status,
        "created_at": task.created_at, "updated_at": task.updated_at, "progress": task.progress,
        "attempts": task.attempt, "last_attempt": history.last_attempt(task)}
    if task.status == "success":
        view["result"] = task.result
    else:
        view["error"] = task.error
    return view


def _run_view(run: Run) -> dict[str, Any]:
    return {"id": run.run_id, "kind": run.kind, "subject": run.subject, "status": run.status,
            "started_at": run.started_at, "duration_ms": run.duration_ms, "cpu_ms": run.cpu_ms,
            "max_rss_bytes": run.max_rss_bytes, "http_status": run.http_status,
            "stdout": run.stdout, "stderr": run.stderr,
            "truncated": {"stdout": run.stdout_truncated, "stderr": run.stderr_truncated},
            "error": run.error, "expires_at": run.expires_at}


@surface.route(f"{ROOT}/tasks", methods=["GET"])
def list_tasks() -> Response:
    account_id = principal().account_id
    params = query(surface.request)
    tasks, cursor = history.list_tasks(account_id, params.get("status"), params.get("type"),
                                       history.page_size(params.get("limit")),
                                       params.get("cursor"))
    return json_response({"tasks": [_task_view(task) for task in tasks], "next_cursor": cursor})


@surface.route(f"{ROOT}/tasks/{{key}}", methods=["GET"])
def get_task(key: str) -> Response:
    task, task_runs = history.task_with_runs(principal().account_id, unquote(key))
    return json_response({**_task_view(task), "events": task.events,
                          "runs": [_run_view(run) for run in task_runs]})


@surface.route(f"{ROOT}/runs", methods=["GET"])
def list_runs() -> Response:
    account_id = principal().account_id
    params = query(surface.request)
    found, cursor = runs.search(
        account_id, endpoint=params.get("endpoint"), task=params.get("task"),
        instance=params.get("instance"), workflow=params.get("workflow"),
        kind=params.get("kind"), status=params.get("status"),
        limit=history.page_size(params.get("limit")), cursor=params.get("cursor"))
    return json_response({"runs": [_run_view(run) for run in found], "next_cursor": cursor})


@surface.route(f"{ROOT}/runs/{{run_id}}", methods=["GET"])
def get_run(run_id: str) -> Response:
    return json_response(_run_view(runs.get(principal().account_id, run_id)))
