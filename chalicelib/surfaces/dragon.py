"""Task API ("dragon", /v1/...): the seed's wire format over the engine, nothing more."""
from __future__ import annotations

import json
from typing import Any
from collections.abc import Mapping
from urllib.parse import quote

from chalice import Response

from chalicelib import auth, waits
from chalicelib.config import get_settings
from chalicelib.engine import outputs
from chalicelib.engine import tasks as engine
from chalicelib.engine.tasks import Task, TaskSpec
from chalicelib.errors import Invalid, NotFound
from chalicelib.surfaces.http import Surface, json_object, json_response, query, query_list
from chalicelib.surfaces.render import dragon_error

surface = Surface("dragon", dragon_error)
blueprint = surface.blueprint

# text/plain too, so that browsers may POST without a CORS preflight.
JSON_BODIES = ["application/json", "text/plain"]
NDJSON = "application/x-ndjson"
CREDENTIAL_PARAMS = ("secret", "api_key")
TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off", "")
ENGINE_FIELDS = {"task_type": "task_name"}


def status_view(task: Task) -> dict[str, Any]:
    """A task in the seed's status format; canceled reads as an error whose result is "canceled"."""
    view: dict[str, Any] = {
        "status": engine.ERROR if task.status == engine.CANCELED else task.status,
        "key": task.key,
        "events": {name: task.events[name] for name in ("queued", "started", "completed")
                   if name in task.events},
    }
    if task.progress is not None:
        view["progress"] = task.progress
    if task.status == engine.SUCCESS:
        view["result"] = task.result
    elif task.finished:
        view["result"] = task.error or task.status
    return view


def _flag(value: Any, name: str, location: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise Invalid(f"{name} must be a boolean", field=name, location=location)


def _field_name(prefix: str | None, index: int | None, field: str | None) -> str:
    """Where a value sits in the request: "tasks.1.url", "task.size", or "url" in a query string."""
    field = None if field == "params" else ENGINE_FIELDS.get(field or "", field)
    parts = [p for p in (prefix, None if index is None else str(index), field) if p]
    return ".".join(parts) or "body"


def _create(principal: auth.Principal, definitions: list[Any], *, location: str,
            prefix: str | None, listed: bool) -> list[Task]:
    specs = []
    for index, definition in enumerate(definitions):
        name = _field_name(prefix, index if listed else None, None)
        if not isinstance(definition, dict):
            raise Invalid(f"{name} must be a task definition object", field=name, location=location)
        if "task_name" not in definition:
            field = _field_name(prefix, index if listed else None, "task_name")
            raise Invalid(f"{field} is missing", field=field, location=location)
        params = {k: v for k, v in definition.items() if k != "task_name"}
        specs.append(TaskSpec(task_type=definition["task_name"], params=params))
    try:
        return engine.create_tasks(principal.account_id, principal.workspace, specs)
    except Invalid as err:
        at = err.index if listed else None
        name = "tasks" if err.field == "tasks" else _field_name(prefix, at, err.field)
        raise Invalid(err.message, field=name, location=location) from err


def _params() -> dict[str, Any]:
    """Body and query merged (the body wins), for credentials and `block`."""
    return {**query(surface.request), **json_object(surface.request, required=False)}


def _block(body: Mapping[str, Any]) -> bool:
    """The `block` flag, from the body or else the query string."""
    if "block" in body:
        return _flag(body["block"], "block", "body")
    return _flag(query(surface.request).get("block"), "block", "querystring")


def _principal() -> auth.Principal:
    request = surface.request
    return auth.secret_or_api_key(request.headers, _params() if request.method == "POST"
                                  else query(request))


def _viewer() -> str | None:
    """The account of a caller that presents credentials (checked), else None (keys are capabilities)."""
    request = surface.request
    if not auth.has_credentials(request.headers, query(request)):
        return None
    return auth.secret_or_api_key(request.headers, query(request)).account_id


def _task_definitions(body: Mapping[str, Any]) -> tuple[list[Any], bool]:
    if "tasks" not in body:
        raise Invalid("tasks is missing", field="tasks", location="body")
    tasks = body["tasks"]
    if isinstance(tasks, list):
        if not tasks:
            raise Invalid("tasks is empty", field="tasks", location="body")
        return tasks, True
    return [tasks], False


def _keys(account_id: str | None) -> list[str]:
    keys = query_list(surface.request, "tasks")
    if not keys:
        raise Invalid("tasks is missing", field="tasks", location="querystring")
    limit = get_settings().max_tasks_per_request
    if len(keys) > limit:
        raise Invalid(f"at most {limit} tasks in one request, got {len(keys)}", field="tasks",
                      location="querystring")
    for key in keys:
        engine.check_capability(key, account_id, "tasks")
    return keys


def _caller(account_id: str | None) -> str:
    """Whose wait slots a waiting request takes: its account, else its source address."""
    if account_id:
        return f"account:{account_id}"
    identity = (surface.request.context or {}).get("identity") or {}
    return f"address:{identity.get('sourceIp') or 'unknown'}"


def _ndjson(keys: list[str], account_id: str | None, initial: list[Task] | None = None,
            caller: str | None = None) -> Response:
    with waits.waiting(caller or _caller(account_id)):
        return _ndjson_lines(keys, account_id, initial)


def _ndjson_lines(keys: list[str], account_id: str | None, initial: list[Task] | None) -> Response:
    lines = []
    for index, batch in enumerate(engine.watch(keys, get_settings().block_wait_seconds, account_id,
                                               initial=initial)):
        views = [status_view(task) for task in batch]
        lines.extend([json.dumps(views)] if index == 0 else [json.dumps(v) for v in views])
    return Response(body="\n".join(lines) + "\n", status_code=200, headers={"Content-Type": NDJSON})


def _statuses(tasks: list[Task]) -> Response:
    return json_response([status_view(task) for task in tasks])


def _check_declared_file(principal: auth.Principal, definition: Any, filename: str | None) -> None:
    """Refuse a filename the task type cannot output before the task is created."""
    name = definition.get("task_name") if isinstance(definition, dict) else None
    if isinstance(name, str) and name:
        outputs.choose(engine.output_files(principal.account_id, name), filename)


def _file_answer(task: Task, filename: str | None, account_id: str | None, retry_path: str,
                 caller: str | None = None) -> Response:
    """Wait for the task, then redirect to its file; 400 with its status when it failed.

    When the wait ends first, redirect to /v1/file for the same task, so that a browser (an
    <img> tag) keeps waiting instead of showing an error.
    """
    outputs.choose(engine.output_files(task.account_id, task.task_type), filename)
    with waits.waiting(caller or _caller(account_id)):
        task = engine.wait_for([task.key], get_settings().block_wait_seconds, account_id,
                               initial=[task])[0]
    if not task.finished:
        location = f"{retry_path}?task={quote(task.key)}"
        return Response(body=json.dumps(status_view(task)), status_code=302,
                        headers={"Location": location, "Content-Type": "application/json"})
    if task.status != engine.SUCCESS:
        return json_response(status_view(task), 400)
    name = outputs.choose(task.files, filename)
    if name is None:  # a finished task always lists its files; an old record may not
        raise NotFound("this task has no output file")
    return Response(body="", status_code=302, headers={"Location": outputs.url(task.key, name)})


def _retry_path(filename: str | None, depth: int) -> str:
    """A relative URL of /v1/file[/{filename}] from a route `depth` segments below /v1/."""
    up = "../" * depth
    return f"{up}file/{quote(filename, safe='')}" if filename is not None else f"{up}file"


@surface.route("/v1/create", methods=["POST"], content_types=JSON_BODIES, cors=True)
def create() -> Response:
    body = json_object(surface.request, required=False)
    principal = _principal()
    definitions, listed = _task_definitions(body)
    block = _block(body)
    tasks = _create(principal, definitions, location="body", prefix="tasks", listed=listed)
    if block:
        with waits.waiting(_caller(principal.account_id)):
            tasks = engine.wait_for([t.key for t in tasks], get_settings().block_wait_seconds,
                                    initial=tasks)
    return _statuses(tasks)


def _create_file_post(filename: str | None, depth: int) -> Response:
    body = json_object(surface.request, required=False)
    principal = _principal()
    if "task" not in body:
        raise Invalid("task is missing", field="task", location="body")
    _check_declared_file(principal, body["task"], filename)
    task = _create(principal, [body["task"]], location="body", prefix="task", listed=False)[0]
    return _file_answer(task, filename, None, _retry_path(filename, depth),
                        _caller(principal.account_id))


@surface.route("/v1/create_file", methods=["POST"], content_types=JSON_BODIES, cors=True)
def create_file_post() -> Response:
    return _create_file_post(None, 0)


@surface.route("/v1/create_file/{filename}", methods=["POST"], content_types=JSON_BODIES, cors=True)
def create_file_post_named(filename: str) -> Response:
    return _create_file_post(filename, 1)


def _create_file_get(filename: str | None, depth: int) -> Response:
    principal = _principal()
    definition = {k: v for k, v in query(surface.request).items() if k not in CREDENTIAL_PARAMS}
    _check_declared_file(principal, definition, filename)
    task = _create(principal, [definition], location="querystring", prefix=None, listed=False)[0]
    return _file_answer(task, filename, None, _retry_path(filename, depth),
                        _caller(principal.account_id))


@surface.route("/v1/create_file", methods=["GET"], cors=True)
def create_file_get() -> Response:
    return _create_file_get(None, 0)


@surface.route("/v1/create_file/{filename}", methods=["GET"], cors=True)
def create_file_get_named(filename: str) -> Response:
    return _create_file_get(filename, 1)


@surface.route("/v1/create_stream", methods=["POST"], content_types=JSON_BODIES, cors=True)
def create_stream() -> Response:
    body = json_object(surface.request, required=False)
    principal = _principal()
    definitions, listed = _task_definitions(body)
    tasks = _create(principal, definitions, location="body", prefix="tasks", listed=listed)
    return _ndjson([task.key for task in tasks], None, tasks, _caller(principal.account_id))


@surface.route("/v1/status", methods=["GET"], cors=True)
def status() -> Response:
    account_id = _viewer()
    keys = _keys(account_id)
    if _flag(query(surface.request).get("block"), "block", "querystring"):
        with waits.waiting(_caller(account_id)):
            return _statuses(engine.wait_for(keys, get_settings().block_wait_seconds, account_id))
    return _statuses(engine.get_tasks(keys, account_id))


@surface.route("/v1/status_stream", methods=["GET"], cors=True)
def status_stream() -> Response:
    account_id = _viewer()
    return _ndjson(_keys(account_id), account_id)


def _file(filename: str | None, depth: int) -> Response:
    account_id = _viewer()
    key = query(surface.request).get("task")
    if not key:
        raise Invalid("task is missing", field="task", location="querystring")
    engine.check_capability(key, account_id, "tasks")
    task = engine.get_task(key, account_id)
    return _file_answer(task, filename, account_id, _retry_path(filename, depth))


@surface.route("/v1/file", methods=["GET"], cors=True)
def file() -> Response:
    return _file(None, 0)


@surface.route("/v1/file/{filename}", methods=["GET"], cors=True)
def file_named(filename: str) -> Response:
    return _file(filename, 1)
