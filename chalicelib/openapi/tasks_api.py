"""The task API (/v1/...): create, stream, status and files of built-in and account task types."""
from __future__ import annotations

from typing import Any

from chalicelib.openapi.common import SECRET, answer, body, errors, operation, path_param, query_param, ref

TAG = "Tasks (/v1)"
NDJSON = "application/x-ndjson"
ERROR = "TaskError"

SCHEMAS: dict[str, Any] = {
    ERROR: {
        "type": "object", "required": ["status"],
        "description": "400 lists what is wrong in `errors`; other statuses carry `message`.",
        "properties": {
            "status": {"const": "error"},
            "message": {"type": "string"},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["name", "location", "description"],
                "properties": {"name": {"type": "string"},
                               "location": {"enum": ["body", "querystring", "header", "path"]},
                               "description": {"type": "string"}}}},
        },
    },
    "TaskDefinition": {
        "type": "object", "required": ["task_name"],
        "description": "`task_name` and the task type's own parameters.",
        "properties": {"task_name": {"type": "string", "minLength": 1}},
        "additionalProperties": True,
    },
    "TaskStatus": {
        "type": "object", "required": ["status", "key", "events"],
        "properties": {
            "status": {"enum": ["queued", "executing", "success", "error"]},
            "key": {"type": "string"},
            "events": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "ISO 8601 times of `queued`, `started`, `completed`."},
            "progress": {"description": "The last progress the task reported."},
            "result": {"description": "The result (success) or the error message (error, \"canceled\")."},
        },
    },
    "TaskStatuses": {"type": "array", "items": ref("TaskStatus")},
}

STATUS_EXAMPLE = {"status": "success", "key": "8f0c5e0d6a6b4c1d9f3e2a1b0c9d8e7f",
                  "events": {"queued": "2026-01-01T00:00:00Z", "started": "2026-01-01T00:00:00.1Z",
                             "completed": "2026-01-01T00:00:00.2Z"}, "result": "Hello World"}
CREATE_EXAMPLE = {"tasks": {"task_name": "hello", "name": "World"}, "block": True}
CREATE_BODY = {
    "type": "object", "required": ["tasks"],
    "properties": {
        "tasks": {"anyOf": [ref("TaskDefinition"), {"type": "array", "items": ref("TaskDefinition"),
                                                      "minItems": 1}]},
        "block": {"type": "boolean", "description": "Wait (up to 25 s) for the tasks to finish."},
        "secret": {"type": "string"}, "api_key": {"type": "string"},
    },
}
MEDIA = ("application/json", "text/plain")
FAILURES = errors(ERROR, {400: "The request is invalid (see `errors`).", 401: "Credentials are missing or wrong.",
                          403: "The Referer is not on the account's whitelist.",
                          404: "No such task type, task or file.", 405: "Method not allowed.",
                          413: "The body is over the limit.", 415: "Unsupported content type.",
                          500: "Internal error."})
LOOKUP_FAILURES = {k: v for k, v in FAILURES.items() if k not in ("403", "413", "415")}
STATUSES = answer("One status per task, in the order asked.", ref("TaskStatuses"), [STATUS_EXAMPLE])
STREAM = answer("NDJSON: the first line is the list of statuses, then one line per status change, "
                "until every task finished or the wait ended.", {"type": "string"},
                '[{"status": "queued", "key": "8f0c...", "events": {}}]\n{"status": "success", ...}\n',
                media=NDJSON)
REDIRECT = {"description": "To the output file (a presigned URL), or, when the wait ended first, to "
                           "`/v1/file?task=<key>` with the current status as body.",
            "headers": {"Location": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": ref("TaskStatus"), "example": {
                "status": "executing", "key": STATUS_EXAMPLE["key"], "events": {"queued": "2026-01-01T00:00:00Z"}}}}}
FAILED_FILE = answer("The task failed: its status.", {"anyOf": [ref("TaskStatus"), ref(ERROR)]},
                     {**STATUS_EXAMPLE, "status": "error", "result": "could not fetch the image"})
FILENAME = path_param("filename", "Which output file, for task types with several.", "thumb.png")
KEYS = query_param("tasks", "Task keys (repeat the parameter for several).",
                   {"type": "array", "items": {"type": "string"}}, required=True,
                   example=["8f0c5e0d6a6b4c1d9f3e2a1b0c9d8e7f"])
TASK_KEY = query_param("task", "The task key.", required=True, example="8f0c5e0d6a6b4c1d9f3e2a1b0c9d8e7f")
BLOCK = query_param("block", "Wait (up to 25 s) for the tasks to finish.", {"type": "boolean"})


def _create_file(operation_id: str, named: bool) -> dict[str, Any]:
    params = [FILENAME] if named else []
    get = operation(
        f"{operation_id}Get", "Create one task from the query string, wait, and redirect to its file",
        TAG, security=SECRET, parameters=[
            *params, query_param("task_name", "The task type.", required=True, example="image.thumb"),
            query_param("api_key", "The api key (with a whitelisted Referer)."),
            query_param("secret", "The secret key.")],
        description="The task's parameters are further query parameters; usable as an `<img src>`.",
        responses={"302": REDIRECT, "400": FAILED_FILE,
                   **{k: v for k, v in FAILURES.items() if k not in ("400", "413", "415")}})
    post = operation(
        f"{operation_id}Post", "Create one task, wait, and redirect to its file", TAG, security=SECRET,
        parameters=params,
        request_body=body({"type": "object", "required": ["task"], "properties": {
            "task": ref("TaskDefinition"), "secret": {"type": "string"}, "api_key": {"type": "string"}}},
            {"task": {"task_name": "image.thumb", "url": "https://example.com/cat.jpg", "size": 128}},
            required=False, media_types=MEDIA),
        responses={"302": REDIRECT, "400": FAILED_FILE, **{k: v for k, v in FAILURES.items() if k != "400"}})
    return {"get": get, "post": post}


def _file(operation_id: str, named: bool) -> dict[str, Any]:
    return {"get": operation(
        operation_id, "Wait for a task and redirect to its output file", TAG, security=[*SECRET, {}],
        parameters=[*([FILENAME] if named else []), TASK_KEY],
        description="No credentials needed: the task key is the capability.",
        responses={"302": REDIRECT, "400": FAILED_FILE,
                   **{k: v for k, v in LOOKUP_FAILURES.items() if k != "400"}})}


PATHS: dict[str, Any] = {
    "/v1/create": {"post": operation(
        "createTasks", "Create one task or a list of tasks", TAG, security=SECRET,
        request_body=body(CREATE_BODY, CREATE_EXAMPLE, required=False, media_types=MEDIA),
        parameters=[BLOCK],
        responses={"200": STATUSES, **FAILURES})},
    "/v1/create_stream": {"post": operation(
        "createTasksStream", "Create tasks and stream their statuses as NDJSON", TAG, security=SECRET,
        request_body=body(CREATE_BODY, {"tasks": [{"task_name": "hello", "name": "Ada"}]}, required=False,
                          media_types=MEDIA),
        responses={"200": STREAM, **FAILURES})},
    "/v1/create_file": _create_file("createFile", False),
    "/v1/create_file/{filename}": _create_file("createNamedFile", True),
    "/v1/status": {"get": operation(
        "getTaskStatus", "Statuses of tasks by key", TAG, security=[*SECRET, {}], parameters=[KEYS, BLOCK],
        description="No credentials needed for engine keys; with credentials, the account's tasks.",
        responses={"200": STATUSES, **LOOKUP_FAILURES})},
    "/v1/status_stream": {"get": operation(
        "streamTaskStatus", "Stream the statuses of tasks as NDJSON", TAG, security=[*SECRET, {}],
        parameters=[KEYS], responses={"200": STREAM, **LOOKUP_FAILURES})},
    "/v1/file": _file("getTaskFile", False),
    "/v1/file/{filename}": _file("getNamedTaskFile", True),
}

