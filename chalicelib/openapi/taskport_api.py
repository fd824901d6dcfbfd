"""Taskport's own API (/taskport/v1/...): tasks, runs, task types, the console's workflow views; the console
and the API description itself (/console, /openapi.json, /docs)."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import (BEARER, NONE, STRING, answer, body, errors, nullable, operation, path_param,
                                       query_param, ref)

TAG = "Taskport (/taskport/v1)"
ERROR = "TaskportError"  # shared with the admin API (admin_api.SCHEMAS)
ROOT = "/taskport/v1"
STATES = ["queued", "executing", "success", "error", "canceled"]
TIME = nullable(STRING)

SCHEMAS: dict[str, Any] = {
    "AccountTask": {"type": "object", "required": ["key", "type", "status"], "properties": {
        "key": STRING, "type": STRING, "status": {"enum": STATES}, "created_at": TIME, "updated_at": TIME,
        "progress": {}, "attempts": nullable({"type": "integer"}), "last_attempt": {}, "result": {},
        "error": nullable(STRING), "events": {"type": "object"},
        "runs": {"type": "array", "items": ref("Run")}}},
    "Run": {"type": "object", "required": ["id", "kind", "status"], "properties": {
        "id": STRING, "kind": STRING, "subject": {"description": "What ran: endpoint, task, instance..."},
        "status": STRING, "started_at": TIME,
        "duration_ms": nullable({"type": "number"}), "cpu_ms": nullable({"type": "number"}),
        "max_rss_bytes": nullable({"type": "integer"}), "http_status": nullable({"type": "integer"}),
        "stdout": nullable(STRING), "stderr": nullable(STRING),
        "truncated": {"type": "object", "properties": {"stdout": {}, "stderr": {}}},
        "error": {"description": "On failure: the exception's type, message and the user's own traceback."},
        "expires_at": {}}},
    "TaskType": {"type": "object", "required": ["name", "builtin"], "properties": {
        "name": STRING, "builtin": {"type": "boolean"}, "description": nullable(STRING),
        "params_schema": {"description": "JSON Schema of the task's parameters."},
        "files": nullable({"type": "array", "items": STRING}), "script_path": STRING,
        "created_at": TIME, "updated_at": TIME}},
    "ConsoleWorkflowTask": {"type": "object", "required": ["key", "status"], "properties": {
        "id": nullable(STRING), "key": STRING, "status": {"enum": STATES}, "input": {}, "output": {},
        "error": nullable(STRING), "created_at": TIME, "updated_at": TIME}},
}
FAILURES = errors(ERROR, {400: "Invalid request.", 401: "The token is missing or wrong.", 404: "Not found.",
                          405: "Method not allowed.", 409: "Conflict.", 413: "Body over the limit.",
                          415: "Unsupported content type.", 500: "Internal error."})
LIMIT = query_param("limit", "Page size.", {"type": "integer", "minimum": 1}, example=50)
CURSOR = query_param("cursor", "The `next_cursor` of the previous page.")
KEY = path_param("key", "The task key.", "8f0c5e0d6a6b4c1d9f3e2a1b0c9d8e7f")
HANDLE = path_param("handle", "The workflow handle.", "review")
TASK_ID = path_param("task_id", "The workflow task id (a GUID).", "1cbe149a-59f2-425f-ac02-2d0ea3e3a7fe")
NAME = path_param("name", "The task type name.", "resize")
TASK = {"key": "8f0c5e0d6a6b4c1d9f3e2a1b0c9d8e7f", "type": "hello", "status": "success",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:01Z", "progress": None,
        "attempts": 1, "last_attempt": None, "result": "Hello World"}
RUN = {"id": "r-1", "kind": "endpoint", "subject": {"endpoint": "hello", "path": "hello"}, "status": "ok",
       "started_at": "2026-01-01T00:00:00Z",
       "duration_ms": 12.5, "cpu_ms": 9.0, "max_rss_bytes": 31457280, "http_status": 200, "stdout": "", "stderr": "",
       "truncated": {"stdout": False, "stderr": False}, "error": None, "expires_at": 1767225600}
TYPE = {"name": "hello", "builtin": True, "description": "Says hello.", "params_schema": {
    "type": "object", "properties": {"name": {"type": "string"}}}, "files": None}
WORKFLOW_TASK = {"id": "1cbe149a-59f2-425f-ac02-2d0ea3e3a7fe", "key": "wf-key", "status": "queued",
                 "input": {"url": "https://example.com"}, "output": None, "error": None,
                 "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}


def _list(name: str, schema: str, example: Any) -> dict[str, Any]:
    return answer("One page; `next_cursor` (null at the end) fetches the next.", {
        "type": "object", "required": [name], "properties": {
            name: {"type": "array", "items": ref(schema)}, "next_cursor": nullable(STRING)}},
        {name: [example], "next_cursor": None})


def _op(operation_id: str, summary: str, responses: dict[str, Any], params: list[dict[str, Any]] | None = None,
        request_body: dict[str, Any] | None = None, description: str | None = None) -> dict[str, Any]:
    return operation(operation_id, summary, TAG, security=BEARER, parameters=params, request_body=request_body,
                     responses={**responses, **FAILURES}, description=description)


PATHS: dict[str, Any] = {
    f"{ROOT}/tasks": {"get": _op("listAccountTasks", "The account's tasks, newest first", {
        "200": _list("tasks", "AccountTask", TASK)}, [
        query_param("status", "Only these statuses (comma-separated).", example="error"),
        query_param("type", "Only this task type.", example="hello"), LIMIT, CURSOR])},
    f"{ROOT}/tasks/{{key}}": {"get": _op("getAccountTask", "A task with its events and runs", {
        "200": answer("The task.", ref("AccountTask"), {**TASK, "events": {}, "runs": [RUN]})}, [KEY])},
    f"{ROOT}/runs": {"get": _op("listRuns", "Run records (every execution of code), newest first", {
        "200": _list("runs", "Run", RUN)}, [
        query_param("endpoint", "Only this HTTP endpoint's runs.", example="hello"),
        query_param("task", "Only this task's runs."), query_param("instance", "Only this package instance's."),
        query_param("workflow", "Only this workflow's."), query_param("kind", "Only this kind of run."),
        query_param("status", "Only runs with this status."), LIMIT, CURSOR])},
    f"{ROOT}/runs/{{run_id}}": {"get": _op("getRun", "One run record", {
        "200": answer("The run.", ref("Run"), RUN)}, [path_param("run_id", "The run id.", "r-1")])},
    f"{ROOT}/task-types": {"get": _op("listTaskTypes", "The task types this account can create", {
        "200": answer("Built-ins and the account's own.", {"type": "object", "required": ["task_types"],
                                                            "properties": {"task_types": {
                                                                "type": "array", "items": ref("TaskType")}}},
                      {"task_types": [TYPE]})})},
    f"{ROOT}/task-types/{{name}}": {
        "put": _op("putTaskType", "Create or replace an account task type run by a script", {
            "200": answer("Replaced.", ref("TaskType"), {**TYPE, "name": "resize", "builtin": False}),
            "201": answer("Created.", ref("TaskType"), {**TYPE, "name": "resize", "builtin": False})}, [NAME],
            body({"type": "object", "required": ["script_path"], "properties": {
                "script_path": STRING, "description": STRING, "params_schema": {"type": "object"},
                "files": {"type": "array", "items": STRING}}},
                {"script_path": "/scripts/resize.py", "description": "Resize an image",
                 "params_schema": {"type": "object", "properties": {"url": {"type": "string"}}}})),
        "get": _op("getTaskType", "One task type", {"200": answer("The type.", ref("TaskType"), TYPE)}, [NAME]),
        "delete": _op("deleteTaskType", "Delete an account task type", {"204": {"description": "Deleted."}},
                      [NAME]),
    },
    "/openapi.json": {"get": operation(
        "getOpenApi", "This document (OpenAPI 3.1)", TAG, security=NONE, responses={"200": answer(
            "The OpenAPI document.", {"type": "object", "required": ["openapi", "paths"]},
            {"openapi": "3.1.0", "info": {"title": "Taskport"}, "paths": {}})})},
    "/docs": {"get": operation(
        "getDocs", "This document as a web page", TAG, security=NONE, responses={"200": answer(
            "A self-contained HTML page that renders /openapi.json.", STRING, "<!doctype html>...",
            media="text/html")})},
}
