"""Taskport's own API (/taskport/v1/...) and the API description itself (/openapi.json, /docs)."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import (ANY, BEARER, NONE, OBJECT, STRING, answer, errors, nullable,
                                       operation, path_param, query_param, ref)

TAG = "Taskport (/taskport/v1)"
ERROR = "TaskportError"  # shared with the admin API (admin_api.SCHEMAS)

NUMBER = {"type": "number"}
RUN_STATUSES = ["ok", "error", "timeout", "killed", "refused"]
TASK_STATUSES = ["queued", "executing", "success", "error", "canceled"]
# docs/observability.md is the prose of these shapes.
SCHEMAS: dict[str, Any] = {
    "NativeTask": {"type": "object", "required": ["key", "type", "status", "created_at", "updated_at",
                                                  "progress", "attempts", "last_attempt"],
                   "properties": {
                       "key": STRING, "type": STRING, "status": {"enum": TASK_STATUSES},
                       "created_at": STRING, "updated_at": STRING, "progress": ANY,
                       "attempts": {"type": "integer"}, "result": ANY, "error": nullable(STRING),
                       "last_attempt": nullable({"type": "object", "required": ["number", "status"],
                                                 "properties": {
                                                     "number": {"type": "integer"},
                                                     "status": {"enum": ["failed", "succeeded",
                                                                         "canceled"]},
                                                     "error": nullable(STRING)}})}},
    "Run": {"type": "object", "required": ["id", "kind", "subject", "status", "started_at",
                                           "duration_ms", "stdout", "stderr", "truncated", "error"],
            "properties": {
                "id": STRING, "kind": {"enum": ["endpoint", "method", "task", "workflow", "build"]},
                "subject": OBJECT, "status": {"enum": RUN_STATUSES}, "started_at": STRING,
                "duration_ms": NUMBER, "cpu_ms": nullable(NUMBER),
                "max_rss_bytes": nullable({"type": "integer"}),
                "http_status": nullable({"type": "integer"}), "stdout": STRING, "stderr": STRING,
                "truncated": {"type": "object", "properties": {"stdout": {"type": "boolean"},
                                                               "stderr": {"type": "boolean"}}},
                "error": nullable({"type": "object", "required": ["type", "message"], "properties": {
                    "type": STRING, "message": STRING, "traceback": STRING}}),
                "expires_at": nullable(STRING)}},
}
FAILURES = errors(ERROR, {400: "A bad limit, cursor or filter.",
                          401: "The account token is missing or wrong.",
                          404: "No such task or run (also another account's)."})
PAGE = [query_param("limit", "1-100, default 50.", {"type": "integer", "minimum": 1, "maximum": 100}),
        query_param("cursor", "`next_cursor` of the previous page (same filters).")]
RUN_EXAMPLE = {"id": "run_1796304339151a4de9d9d30ab", "kind": "endpoint",
               "subject": {"endpoint": "hello", "path": "hello", "script": "/s/hello.py"},
               "status": "error", "started_at": "2026-12-03T13:25:39.151+00:00", "duration_ms": 18.5,
               "cpu_ms": 6.2, "max_rss_bytes": 31457280, "http_status": 500, "stdout": "hi\n",
               "stderr": "", "truncated": {"stdout": False, "stderr": False},
               "error": {"type": "ValueError", "message": "no such order",
                         "traceback": "Traceback (most recent call last):\n  File \"/s/hello.py\", "
                                      "line 3, in handler\nValueError: no such order\n"},
               "expires_at": "2026-12-10T13:25:39.151+00:00"}
TASK_EXAMPLE = {"key": "FY2IVFP4XVMHVYHVJC2QIE5MBY", "type": "hello", "status": "success",
                "created_at": "2026-12-03T13:25:39.151+00:00",
                "updated_at": "2026-12-03T13:25:40.002+00:00", "progress": None, "attempts": 1,
                "last_attempt": {"number": 1, "status": "succeeded", "error": None},
                "result": "Hello Ada"}


def _op(operation_id: str, summary: str, responses: dict[str, Any],
        params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return operation(operation_id, summary, TAG, security=BEARER, parameters=params,
                     responses={**responses, **FAILURES})


def _page(name: str, item: str) -> dict[str, Any]:
    return {"type": "object", "required": [name, "next_cursor"], "properties": {
        name: {"type": "array", "items": ref(item)}, "next_cursor": nullable(STRING)}}

PATHS: dict[str, Any] = {
    "/taskport/v1/tasks": {"get": _op(
        "listTasks", "The account's tasks of every surface, newest first",
        {"200": answer("A page of tasks.", _page("tasks", "NativeTask"),
                       {"tasks": [TASK_EXAMPLE], "next_cursor": None})},
        [query_param("status", "Only tasks in this state.", {"enum": TASK_STATUSES}),
         query_param("type", "Only tasks of this type.", example="hello"), *PAGE])},
    "/taskport/v1/tasks/{key}": {"get": _op(
        "getNativeTask", "One task, its events and its runs (attempts), newest first",
        {"200": answer("The task.", {"allOf": [ref("NativeTask"), {"type": "object", "required": [
            "events", "runs"], "properties": {"events": OBJECT, "runs": {
                "type": "array", "items": ref("Run")}}}]},
            {**TASK_EXAMPLE, "events": {"queued": "2026-12-03T13:25:39.151+00:00"}, "runs": []})},
        [path_param("key", "The task's key (any surface's).", "FY2IVFP4XVMHVYHVJC2QIE5MBY")])},
    "/taskport/v1/runs": {"get": _op(
        "listRuns", "The account's runs, newest first (at most one of endpoint, task, instance, "
                    "workflow)",
        {"200": answer("A page of runs.", _page("runs", "Run"), {"runs": [RUN_EXAMPLE],
                                                                 "next_cursor": None})},
        [query_param("endpoint", "An HTTP endpoint's id."), query_param("task", "A task's key."),
         query_param("instance", "A package instance: `<workspace>/<instance>`.",
                     example="default/hi"),
         query_param("workflow", "A workflow's handle."),
         query_param("kind", "Only runs of this kind.",
                     {"enum": ["endpoint", "method", "task", "workflow", "build"]}),
         query_param("status", "Only runs that ended so.", {"enum": RUN_STATUSES}), *PAGE])},
    "/taskport/v1/runs/{run_id}": {"get": _op(
        "getRun", "One run", {"200": answer("The run.", ref("Run"), RUN_EXAMPLE)},
        [path_param("run_id", "The run's id.", "run_1796304339151a4de9d9d30ab")])},
    "/openapi.json": {"get": operation(
        "getOpenApi", "This document (OpenAPI 3.1)", TAG, security=NONE, responses={"200": answer(
            "The OpenAPI document.", {"type": "object", "required": ["openapi", "paths"]},
            {"openapi": "3.1.0", "info": {"title": "Taskport"}, "paths": {}})})},
    "/docs": {"get": operation(
        "getDocs", "This document as a web page", TAG, security=NONE, responses={"200": answer(
            "A self-contained HTML page that renders /openapi.json.", STRING, "<!doctype html>...",
            media="text/html")})},
}
