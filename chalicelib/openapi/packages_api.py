"""Workspaces, packages, versions, instances, task status and method calls (Steamship style), Bearer."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import (BEARER, STRING, answer, body, errors, header_param, operation, path_param,
                                       query_param, ref)

TAG = "Packages and workspaces (/api/v1)"
ERROR = "PackageError"
WORKSPACE = header_param("X-Workspace-Handle", "The workspace (default: `default`).", "default")

SCHEMAS: dict[str, Any] = {
    ERROR: {"type": "object", "required": ["task"], "properties": {"task": {
        "type": "object", "required": ["taskState", "taskMessage"], "properties": {
            "taskState": {"const": "failed"}, "taskMessage": STRING, "taskStatusCode": {"type": "integer"}}}}},
    "Workspace": {"type": "object", "required": ["id", "handle"], "properties": {
        "id": STRING, "handle": STRING, "createdAt": STRING}},
    "Package": {"type": "object", "required": ["id", "handle"], "properties": {
        "id": STRING, "handle": STRING, "latestVersionHandle": {"anyOf": [STRING, {"type": "null"}]},
        "createdAt": STRING}},
    "PackageVersion": {"type": "object", "required": ["id", "handle", "packageId", "methods"], "properties": {
        "id": STRING, "handle": STRING, "packageId": STRING, "packageHandle": STRING, "createdAt": STRING,
        "methods": {"type": "array", "items": {"type": "object", "properties": {
            "name": STRING, "background": {"type": "boolean"}, "parameters": {"type": "array"}}}}}},
    "PackageInstance": {"type": "object", "required": ["id", "handle", "packageId"], "properties": {
        "id": STRING, "handle": STRING, "packageId": STRING, "packageHandle": STRING,
        "packageVersionId": STRING, "packageVersionHandle": STRING, "workspaceId": STRING,
        "workspaceHandle": STRING, "config": {}, "createdAt": STRING}},
    "EngineTask": {"type": "object", "required": ["taskId", "taskState"], "properties": {
        "taskId": STRING, "taskState": {"enum": ["waiting", "running", "succeeded", "failed"]},
        "taskMessage": STRING, "taskCreatedOn": STRING, "taskLastModifiedOn": STRING}},
}
FAILURES = errors(ERROR, {400: "Invalid request.", 401: "The token is missing or wrong.",
                          404: "No such workspace, package, version, instance, method or task.",
                          405: "Method not allowed.", 409: "The handle is taken.", 413: "Body over the limit.",
                          415: "Unsupported content type.", 500: "Internal error."})
CALL_FAILURES = {**FAILURES, **errors(ERROR, {502: "The method's answer is over the limit.",
                                               504: "The method timed out."})}
PAGE = {"pageSize": {"type": "integer", "minimum": 1}, "pageToken": {"anyOf": [STRING, {"type": "null"}]}}
WS = {"id": "0c9d8e7f8f0c5e0d6a6b4c1d9f3e2a1b", "handle": "default", "createdAt": "2026-01-01T00:00:00Z"}
PKG = {"id": "9f3e2a1b0c9d8e7f8f0c5e0d6a6b4c1d", "handle": "greeter", "latestVersionHandle": "1.0.0",
       "createdAt": "2026-01-01T00:00:00Z"}
VER = {"id": "2a1b0c9d8e7f8f0c5e0d6a6b4c1d9f3e", "handle": "1.0.0", "packageId": PKG["id"], "packageHandle": "greeter",
       "methods": [{"name": "greet", "background": False, "parameters": ["name"]}],
       "createdAt": "2026-01-01T00:00:00Z"}
INST = {"id": "e7f8f0c5e0d6a6b4c1d9f3e2a1b0c9d8", "handle": "greeter-1", "packageId": PKG["id"],
        "packageHandle": "greeter", "packageVersionId": VER["id"], "packageVersionHandle": "1.0.0",
        "workspaceId": WS["id"], "workspaceHandle": "default", "config": {}, "createdAt": "2026-01-01T00:00:00Z"}
TASK = {"taskId": "8f0c5e0d6a6b4c1d9f3e2a1b0c9d8e7f", "taskState": "succeeded",
        "taskCreatedOn": "2026-01-01T00:00:00Z", "taskLastModifiedOn": "2026-01-01T00:00:01Z"}


def _data(name: str, schema: dict[str, Any], example: Any, paged: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {name: schema}
    if paged:
        props["nextPageToken"] = STRING
    return answer("`data` holds the answer.", {"type": "object", "required": ["data"], "properties": {
        "data": {"type": "object", "required": [name], "properties": props}}}, {"data": {name: example}})


def _op(operation_id: str, summary: str, name: str, schema_name: str, example: Any,
        request: dict[str, Any], request_example: dict[str, Any], *, paged: bool = False,
        workspace: bool = False) -> dict[str, Any]:
    schema = {"type": "array", "items": ref(schema_name)} if paged else ref(schema_name)
    props = {**request, **(PAGE if paged else {})}
    return {"post": operation(
        operation_id, summary, TAG, security=BEARER, parameters=[WORKSPACE] if workspace else None,
        request_body=body({"type": "object", "properties": props}, request_example, required=False),
        responses={"200": _data(name, schema, [example] if paged else example, paged), **FAILURES})}


HANDLE_OR_ID = {"handle": STRING, "id": STRING}
PATHS: dict[str, Any] = {
    "/api/v1/workspace/create": _op("createWorkspace", "Create a workspace", "workspace", "Workspace", WS,
                                    {"handle": STRING, "fetchIfExists": {"type": "boolean"}},
                                    {"handle": "research", "fetchIfExists": True}),
    "/api/v1/workspace/get": _op("getWorkspace", "Get a workspace by handle or id", "workspace", "Workspace", WS,
                                 HANDLE_OR_ID, {"handle": "default"}),
    "/api/v1/workspace/list": _op("listWorkspaces", "List workspaces", "workspaces", "Workspace", WS, {},
                                  {"pageSize": 20}, paged=True),
    "/api/v1/workspace/delete": _op("deleteWorkspace", "Delete a workspace", "workspace", "Workspace", WS,
                                    HANDLE_OR_ID, {"handle": "research"}),
    "/api/v1/package/create": _op("createPackage", "Create a package", "package", "Package", PKG,
                                  {"handle": STRING, "fetchIfExists": {"type": "boolean"}}, {"handle": "greeter"}),
    "/api/v1/package/get": _op("getPackage", "Get a package", "package", "Package", PKG, {"handle": STRING},
                               {"handle": "greeter"}),
    "/api/v1/package/delete": _op("deletePackage", "Delete a package, its versions and instances", "package",
                                  "Package", PKG, HANDLE_OR_ID, {"handle": "greeter"}),
    "/api/v1/package/version/delete": _op("deletePackageVersion", "Delete a version and its instances",
                                          "packageVersion", "PackageVersion", VER,
                                          {"id": STRING, "packageHandle": STRING, "handle": STRING},
                                          {"packageHandle": "greeter", "handle": "1.0.0"}),
    "/api/v1/package/list": _op("listPackages", "List packages", "packages", "Package", PKG, {}, {}, paged=True),
    "/api/v1/package/version/create": _op(
        "createPackageVersion", "Create a version from source (a module or a Steamship-style zip)",
        "packageVersion", "PackageVersion", VER,
        {"packageHandle": STRING, "handle": STRING,
         "source": {"description": "Python source text, or a base64 zip (`api.py`, `steamship.json`, "
                                   "`requirements.txt`)."}},
        {"packageHandle": "greeter", "handle": "1.0.0",
         "source": "def greet(name):\n    return 'Hello ' + name\n"}),
    "/api/v1/package/version/get": _op("getPackageVersion", "Get a version", "packageVersion", "PackageVersion",
                                       VER, {"packageHandle": STRING, "handle": STRING},
                                       {"packageHandle": "greeter", "handle": "1.0.0"}),
    "/api/v1/package/version/list": _op("listPackageVersions", "List a package's versions", "packageVersions",
                                        "PackageVersion", VER, {"packageHandle": STRING},
                                        {"packageHandle": "greeter"}, paged=True),
    "/api/v1/package/instance/create": _op(
        "createPackageInstance", "Create an instance of a version in the workspace", "packageInstance",
        "PackageInstance", INST, {"handle": STRING, "packageHandle": STRING, "packageVersionHandle": STRING,
                                  "config": {"type": "object"}, "fetchIfExists": {"type": "boolean"}},
        {"handle": "greeter-1", "packageHandle": "greeter"}, workspace=True),
    "/api/v1/package/instance/get": _op("getPackageInstance", "Get an instance", "packageInstance",
                                        "PackageInstance", INST, HANDLE_OR_ID, {"handle": "greeter-1"},
                                        workspace=True),
    "/api/v1/package/instance/list": _op("listPackageInstances", "List the workspace's instances",
                                         "packageInstances", "PackageInstance", INST, {}, {}, paged=True,
                                         workspace=True),
    "/api/v1/package/instance/delete": _op("deletePackageInstance", "Delete an instance", "packageInstance",
                                           "PackageInstance", INST, HANDLE_OR_ID, {"handle": "greeter-1"},
                                           workspace=True),
    "/api/v1/task/status": {"post": operation(
        "getEngineTaskStatus", "Status of a background method call", TAG, security=BEARER,
        request_body=body({"type": "object", "properties": {"taskId": STRING}},
                          {"taskId": TASK["taskId"]}, required=False),
        responses={"200": answer("The task; `data` holds the result once it succeeded.", {
            "type": "object", "required": ["task"], "properties": {"task": ref("EngineTask"), "data": {}}},
            {"data": "Hello Ada", "task": TASK}), **FAILURES})},
}

INVOKE_PARAMS = [path_param("workspace", "The workspace handle.", "default"),
                 path_param("instance", "The instance handle.", "greeter-1"),
                 path_param("method", "The method name.", "greet"),
                 query_param("background", "Run as a task: answer at once with `task`.", {"type": "boolean"})]
INVOKE_ANSWER = answer("`data` holds what the method returned, or `task` when it runs in the background.", {
    "type": "object", "properties": {"data": {}, "task": ref("EngineTask")}}, {"data": "Hello Ada"})
PATHS["/{workspace}/{instance}/{method}"] = {
    "post": operation("invokeMethodPost", "Call a package instance's method with JSON arguments", TAG,
                      security=BEARER, parameters=INVOKE_PARAMS,
                      request_body=body({"type": "object"}, {"name": "Ada"}, required=False),
                      responses={"200": INVOKE_ANSWER, **CALL_FAILURES}),
    "get": operation("invokeMethodGet", "Call a package instance's method with query arguments", TAG,
                     security=BEARER, parameters=INVOKE_PARAMS, responses={"200": INVOKE_ANSWER, **CALL_FAILURES}),
}
