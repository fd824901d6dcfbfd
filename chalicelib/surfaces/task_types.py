"""Taskport's own API for task types (/taskport/v1/task-types): the account's and the built-ins."""
from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib import auth, tasktypes
from chalicelib.surfaces.http import Surface, json_object, json_response
from chalicelib.surfaces.render import taskport_error
from chalicelib.tasktypes import TaskTypeView

surface = Surface("taskport-task-types", taskport_error)
blueprint = surface.blueprint

ROOT = "/taskport/v1/task-types"


def _account_id() -> str:
    return auth.bearer(surface.request.headers).account_id


def _view(found: TaskTypeView) -> dict[str, Any]:
    view: dict[str, Any] = {"name": found.name, "builtin": found.builtin,
                            "description": found.description, "params_schema": found.params_schema,
                            "files": list(found.files) if found.files is not None else None}
    if not found.builtin:
        view.update(script_path=found.script_path, created_at=found.created_at,
                    updated_at=found.updated_at)
    return view


@surface.route(ROOT, methods=["GET"])
def list_task_types() -> Response:
    return json_response({"task_types": [_view(t) for t in tasktypes.list_types(_account_id())]})


@surface.route(ROOT + "/{name}", methods=["PUT"])
def put_task_type(name: str) -> Response:
    account_id = _account_id()
    saved, created = tasktypes.save(account_id, name, json_object(surface.request))
    return json_response(_view(tasktypes.view_of(saved)), 201 if created else 200)


@surface.route(ROOT + "/{name}", methods=["GET"])
def get_task_type(name: str) -> Response:
    return json_response(_view(tasktypes.get(_account_id(), name)))


@surface.route(ROOT + "/{name}", methods=["DELETE"])
def delete_task_type(name: str) -> Response:
    tasktypes.delete(_account_id(), name)
    return Response(body="", status_code=204)
