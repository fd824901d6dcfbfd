"""Steamship-style API: workspaces, packages, versions, instances (/api/v1/...), task status, and
method invocation (/{workspace}/{instance}/{method}); Bearer auth, the Engine Response Format."""
from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib import auth
from chalicelib.auth import Principal
from chalicelib.errors import Invalid, MalformedBody
from chalicelib.engine.status import TaskStatus
from chalicelib.models.accounts import Workspace
from chalicelib.models.packages import Package, PackageInstance, PackageVersion
from chalicelib.models.tasks import Task
from chalicelib.accounts import workspaces
from chalicelib.packages import builds, catalog, invocation
from chalicelib.packages.pages import PageRequest, page_request
from chalicelib.surfaces import multipart
from chalicelib.surfaces.http import (Surface, json_body, json_object, json_response, query,
                                      raw_body)
from chalicelib.surfaces.render import steamship_error

surface = Surface("steamship", steamship_error)
blueprint = surface.blueprint

ROOT = "/api/v1"
WORKSPACE_HEADER = "x-workspace-handle"
WORKSPACE_ID_HEADER = "x-workspace-id"
BACKGROUND_PARAMETER = "background"
BACKGROUND_HEADER = "x-task-background"
# The official client asks for deferred and chained work with these; the engine has neither.
UNSUPPORTED_TASK_HEADERS = {"x-task-delay-ms": "a delay", "x-task-run-after": "a start time",
                            "x-task-dependency": "dependencies on other tasks"}
TASK_STATES = {TaskStatus.QUEUED: "waiting", TaskStatus.EXECUTING: "running",
               TaskStatus.SUCCESS: "succeeded", TaskStatus.ERROR: "failed",
               TaskStatus.CANCELED: "failed"}


def _principal() -> Principal:
    return auth.bearer(surface.request.headers, WORKSPACE_HEADER)


def _header(name: str) -> str | None:
    value = surface.request.headers.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _workspace(principal: Principal, body: dict[str, Any] | None = None) -> Workspace:
    """The workspace a call works in: the body's `workspaceId`, else the X-Workspace-Id header
    (what the official client sends), else X-Workspace-Handle, else `default`."""
    workspace_id = (body or {}).get("workspaceId")
    if workspace_id is None:
        workspace_id = _header(WORKSPACE_ID_HEADER)
    if workspace_id is not None:
        return workspaces.lookup(principal.account_id, workspace_id=workspace_id)
    return workspaces.find(principal.account_id, principal.workspace)


def _body() -> dict[str, Any]:
    return json_object(surface.request, required=False)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:  # the official client sends null for every field it leaves unset
        return False
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false", field=name)
    return value


def _page(body: dict[str, Any]) -> PageRequest:
    return page_request(body.get("pageSize"), body.get("pageToken"))


def _data(data: dict[str, Any], token: str | None = None) -> Response:
    if token:
        data = {**data, "nextPageToken": token}
    return json_response({"data": data})


def _iso(stamp: str) -> str:
    return stamp.replace("+00:00", "Z")


def _workspace_view(workspace: Workspace) -> dict[str, Any]:
    return {"id": workspace.workspace_id, "handle": workspace.handle,
            "createdAt": _iso(workspace.created_at)}


def _package_view(package: Package) -> dict[str, Any]:
    return {"id": package.package_id, "handle": package.handle,
            "latestVersionHandle": package.latest_version, "createdAt": _iso(package.created_at)}


def _version_view(version: PackageVersion) -> dict[str, Any]:
    return {"id": version.version_id, "handle": version.handle, "packageId": version.package_id,
            "packageHandle": version.package_handle,
            "methods": [{"name": m.name, "background": m.background,
                         "parameters": list(m.parameters)} for m in version.methods],
            "configTemplate": version.config_template, "runtime": version.runtime,
            "createdAt": _iso(version.created_at)}


def _invocation_url(instance: PackageInstance) -> str:
    headers = surface.request.headers
    scheme = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip()
    host = headers.get("host") or "localhost"
    return f"{scheme}://{host}/{instance.workspace_handle}/{instance.handle}/"


def _instance_view(instance: PackageInstance, principal: Principal) -> dict[str, Any]:
    return {"id": instance.instance_id, "handle": instance.handle,
            "userHandle": principal.account.handle, "userId": principal.account_id,
            "invocationURL": _invocation_url(instance),
            "packageId": instance.package_id, "packageHandle": instance.package_handle,
            "packageVersionId": instance.version_id,
            "packageVersionHandle": instance.version_handle,
            "workspaceId": instance.workspace_id, "workspaceHandle": instance.workspace_handle,
            "config": instance.config, "createdAt": _iso(instance.created_at)}


def _task_view(task: Task) -> dict[str, Any]:
    view = {"taskId": task.key, "taskState": TASK_STATES[task.status],
            "taskCreatedOn": _iso(task.created_at), "taskLastModifiedOn": _iso(task.updated_at)}
    if task.error:
        view["taskMessage"] = task.error
    return view


def _status_view(task: Task) -> dict[str, Any]:
    """The task as the official client's `Task` model reads it (the answer's `status`)."""
    view = {"taskId": task.key, "state": TASK_STATES[task.status],
            "taskCreatedOn": _iso(task.created_at), "taskLastModifiedOn": _iso(task.updated_at)}
    if task.error:
        # The package's own code where its method raised one, as a synchronous call answers.
        view.update(statusMessage=task.error, statusCode=task.error_code or "TaskFailed")
    return view


def _task_answer(task: Task) -> dict[str, Any]:
    """The seed's `task` object and the client's `status` object, side by side."""
    answer: dict[str, Any] = {"task": _task_view(task), "status": _status_view(task)}
    if task.status == "success" and task.task_type == builds.TASK_TYPE:
        answer["data"] = {"packageVersion": _version_view(
            builds.built_version(task.account_id, task.result))}
    elif task.status == "success":
        answer["data"] = task.result
    return answer


@surface.route(f"{ROOT}/workspace/create", methods=["POST"])
def create_workspace() -> Response:
    principal, body = _principal(), _body()
    created = workspaces.create(principal.account_id, body.get("handle"),
                                _flag(body, "fetchIfExists"))
    return _data({"workspace": _workspace_view(created)})


@surface.route(f"{ROOT}/workspace/get", methods=["POST"])
def get_workspace() -> Response:
    principal, body = _principal(), _body()
    found = workspaces.lookup(principal.account_id, body.get("handle"), body.get("id"))
    return _data({"workspace": _workspace_view(found)})


@surface.route(f"{ROOT}/workspace/list", methods=["POST"])
def list_workspaces() -> Response:
    principal, body = _principal(), _body()
    found, token = workspaces.list_page(principal.account_id, _page(body))
    return _data({"workspaces": [_workspace_view(w) for w in found]}, token)


@surface.route(f"{ROOT}/workspace/delete", methods=["POST"])
def delete_workspace() -> Response:
    principal, body = _principal(), _body()
    deleted = workspaces.delete(principal.account_id, body.get("handle"), body.get("id"))
    return _data({"workspace": _workspace_view(deleted)})


@surface.route(f"{ROOT}/package/create", methods=["POST"])
def create_package() -> Response:
    principal, body = _principal(), _body()
    created = catalog.create_package(principal.account_id, body.get("handle"),
                                     _flag(body, "fetchIfExists"))
    return _data({"package": _package_view(created)})


@surface.route(f"{ROOT}/package/get", methods=["POST"])
def get_package() -> Response:
    principal, body = _principal(), _body()
    return _data({"package": _package_view(
        catalog.get_package(principal.account_id, body.get("handle"), body.get("id")))})


@surface.route(f"{ROOT}/package/delete", methods=["POST"])
def delete_package() -> Response:
    principal, body = _principal(), _body()
    return _data({"package": _package_view(
        catalog.delete_package(principal.account_id, body.get("handle"), body.get("id")))})


@surface.route(f"{ROOT}/package/list", methods=["POST"])
def list_packages() -> Response:
    principal, body = _principal(), _body()
    found, token = catalog.list_packages(principal.account_id, _page(body))
    return _data({"packages": [_package_view(p) for p in found]}, token)


@surface.route(f"{ROOT}/package/version/create", methods=["POST"],
               content_types=["application/json", "multipart/form-data"])
def create_version() -> Response:
    principal = _principal()
    if surface.request.headers.get("content-type", "").lower().startswith("multipart/"):
        upload = multipart.form(raw_body(surface.request),
                                surface.request.headers.get("content-type", ""))
        task = builds.start_build(principal.account_id, _workspace(principal).handle, upload.fields,
                                  upload.file)
        return json_response(_task_answer(task))
    body = _body()
    created = catalog.create_version(principal.account_id, body.get("packageHandle"),
                                     body.get("handle"), body.get("source"))
    return _data({"packageVersion": _version_view(created)})


@surface.route(f"{ROOT}/package/version/get", methods=["POST"])
def get_version() -> Response:
    principal, body = _principal(), _body()
    return _data({"packageVersion": _version_view(catalog.get_version(
        principal.account_id, body.get("packageHandle"), body.get("handle"), body.get("id")))})


@surface.route(f"{ROOT}/package/version/delete", methods=["POST"])
def delete_version() -> Response:
    principal, body = _principal(), _body()
    return _data({"packageVersion": _version_view(catalog.delete_version(
        principal.account_id, body.get("packageHandle"), body.get("handle"), body.get("id")))})


@surface.route(f"{ROOT}/package/version/list", methods=["POST"])
def list_versions() -> Response:
    principal, body = _principal(), _body()
    found, token = catalog.list_versions(principal.account_id, body.get("packageHandle"),
                                         _page(body))
    return _data({"packageVersions": [_version_view(v) for v in found]}, token)


@surface.route(f"{ROOT}/package/instance/create", methods=["POST"])
def create_instance() -> Response:
    principal, body = _principal(), _body()
    fetch_if_exists = _flag(body, "fetchIfExists")
    created = catalog.create_instance(principal.account_id, _workspace(principal, body), body,
                                      fetch_if_exists)
    return _data({"packageInstance": _instance_view(created, principal)})


@surface.route(f"{ROOT}/package/instance/get", methods=["POST"])
def get_instance() -> Response:
    principal, body = _principal(), _body()
    found = catalog.lookup_instance(principal.account_id, _workspace(principal, body),
                                    body.get("handle"), body.get("id"))
    return _data({"packageInstance": _instance_view(found, principal)})


@surface.route(f"{ROOT}/package/instance/list", methods=["POST"])
def list_instances() -> Response:
    principal, body = _principal(), _body()
    page = _page(body)
    found, token = catalog.list_instances(principal.account_id, _workspace(principal, body), page)
    return _data({"packageInstances": [_instance_view(i, principal) for i in found]}, token)


@surface.route(f"{ROOT}/package/instance/delete", methods=["POST"])
def delete_instance() -> Response:
    principal, body = _principal(), _body()
    deleted = catalog.delete_instance(principal.account_id, _workspace(principal, body),
                                      body.get("handle"), body.get("id"))
    return _data({"packageInstance": _instance_view(deleted, principal)})


@surface.route(f"{ROOT}/task/status", methods=["POST"])
def task_status() -> Response:
    principal, body = _principal(), _body()
    return json_response(_task_answer(invocation.task_status(principal.account_id,
                                                            body.get("taskId"))))


def _truth(raw: str | None, name: str) -> bool:
    if raw is None:
        return False
    if raw.lower() not in ("true", "false"):
        raise Invalid(f"{name} must be true or false", field=name)
    return raw.lower() == "true"


def _background() -> bool:
    for header, what in UNSUPPORTED_TASK_HEADERS.items():
        if _header(header) is not None:
            raise Invalid(f"{header} is not supported: this engine cannot give a task {what}; "
                          "start the call when it should run", field=header)
    return _truth(query(surface.request).get(BACKGROUND_PARAMETER), BACKGROUND_PARAMETER) or \
        _truth(_header(BACKGROUND_HEADER), BACKGROUND_HEADER)


def _arguments() -> dict[str, Any]:
    request = surface.request
    if request.method == "GET":
        return {name: value for name, value in query(request).items()
                if name != BACKGROUND_PARAMETER}
    arguments = json_body(request, required=False)
    if arguments is None:
        return {}
    if not isinstance(arguments, dict):
        raise MalformedBody("the body must be a JSON object of the method's arguments")
    return arguments


@surface.route("/{workspace}/{instance}/{method}", methods=["GET", "POST"])
def invoke(workspace: str, instance: str, method: str) -> Response:
    principal = _principal()
    background = _background()
    called = invocation.invoke(principal.account_id, workspace, instance, method, _arguments(),
                               background, surface.request.method)
    if called.task is not None:
        return json_response(_task_answer(called.task))
    return json_response({"data": called.value})
